// Package pamcheck runs a real PAM session for `vigilctl check USER
// [--service S]`: pam_start on the service's stack, pam_open_session,
// pam_getenvlist, pam_close_session, pam_end, as a login program would but
// without authentication, and reports what the stack did.
//
// It must run as root: session modules (pam_vigil among them) behave as
// they do for sshd or login only when called by root, and Check refuses
// otherwise. It opens a session for real: modules with side effects
// (pam_systemd, pam_lastlog, pam_mkhomedir, ...) have them.
//
// It must run on the process's main thread: pam_loginuid writes
// /proc/self/loginuid, which the kernel accepts only from the thread-group
// leader, and fails the session (PAM_SESSION_ERR) from any other thread. A
// Go program calls Check from its main goroutine after locking it to the
// main thread in an init function (runtime.LockOSThread).
package pamcheck

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/msteinert/pam/v2"
	"golang.org/x/sys/unix"
)

// ErrNotRoot is returned when Check is not run by root.
var ErrNotRoot = errors.New("check must run as root")

// ErrNotMainThread is returned when Check is not called on the main thread.
var ErrNotMainThread = errors.New("check must run on the main thread (pam_loginuid writes /proc/self/loginuid)")

// Options tune the transaction.
type Options struct {
	// ConfDir is the directory of PAM service files to use instead of
	// /etc/pam.d (pam_start_confdir, Linux-PAM >= 1.4); "" for the system's.
	ConfDir string
	// Rhost and Tty become PAM_RHOST and PAM_TTY when not empty.
	Rhost, Tty string
}

// Message is one conversation message from the stack.
type Message struct {
	Style pam.Style // pam.ErrorMsg, pam.TextInfo, or a prompt (answered with an error)
	Text  string
}

// Result is what the stack did.
type Result struct {
	// Status is pam_open_session's return: nil for PAM_SUCCESS, else a
	// pam.Error (e.g. pam.ErrPermDenied).
	Status error
	// Env is the whole PAM environment after open_session, Vigil the
	// VIGIL_* and TLOG_* variables of it.
	Env, Vigil map[string]string
	Messages   []Message
}

// Opened reports whether the session would have been opened.
func (r Result) Opened() bool { return r.Status == nil }

// Check opens and closes a session for user through service's PAM stack.
// The error is about the check itself (not root, pam_start failed, ...); a
// refused session is Result.Status.
func Check(service, user string, opts Options) (Result, error) {
	if os.Geteuid() != 0 {
		return Result{}, ErrNotRoot
	}
	// A PAM handle and its modules stay on one thread: the main one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if unix.Gettid() != os.Getpid() {
		return Result{}, ErrNotMainThread
	}

	var res Result
	conv := pam.ConversationFunc(func(s pam.Style, msg string) (string, error) {
		res.Messages = append(res.Messages, Message{Style: s, Text: msg})
		if s == pam.PromptEchoOn || s == pam.PromptEchoOff {
			// Nobody to answer: check does not authenticate.
			return "", fmt.Errorf("prompt %q in the session stage", msg)
		}
		return "", nil
	})
	var tx *pam.Transaction
	var err error
	if opts.ConfDir != "" {
		tx, err = pam.StartConfDir(service, user, conv, opts.ConfDir)
	} else {
		tx, err = pam.Start(service, user, conv)
	}
	if err != nil {
		return Result{}, fmt.Errorf("pam_start(%s, %s): %w", service, user, err)
	}
	defer tx.End()
	for _, it := range []struct {
		item  pam.Item
		value string
	}{{pam.Rhost, opts.Rhost}, {pam.Tty, opts.Tty}} {
		if it.value == "" {
			continue
		}
		if err := tx.SetItem(it.item, it.value); err != nil {
			return Result{}, fmt.Errorf("pam_set_item: %w", err)
		}
	}

	res.Status = tx.OpenSession(0)
	env, err := tx.GetEnvList()
	if err != nil {
		return res, fmt.Errorf("pam_getenvlist: %w", err)
	}
	res.Env, res.Vigil = env, map[string]string{}
	for k, v := range env {
		if strings.HasPrefix(k, "VIGIL_") || strings.HasPrefix(k, "TLOG_") {
			res.Vigil[k] = v
		}
	}
	if res.Status == nil {
		if err := tx.CloseSession(0); err != nil {
			return res, fmt.Errorf("pam_close_session: %w", err)
		}
	}
	return res, nil
}
