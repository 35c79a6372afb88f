// Command vigil-rec-session is the login shell that policy hands to a
// recorded user. Installed setuid and setgid vigil: it records the session
// as the vigil account, runs the user's real shell as the user, and then
// gives up the user's identity entirely so the user can neither signal,
// trace nor read the recorder.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/pamenv"
	"github.com/vigil-rec/vigil/conf/version"
	"github.com/vigil-rec/vigil/policyd/dbusapi"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/recorder"
	"github.com/vigil-rec/vigil/rec/session"
	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Paths are fixed, not configurable from the environment: a setuid program
// must not let its caller choose where it writes as vigil.
const (
	lockDir    = "/run/vigil"
	shellsFile = "/etc/shells"
	passwdFile = "/etc/passwd"
)

const usage = `Usage: vigil-rec-session [-l] [-i] [CMD_FILE [ARG...]]
   or: vigil-rec-session [-l] [-i] -c CMD_STRING [CMD_NAME [ARG...]]
   or: vigil-rec-session --configuration | --help | --version
Record the session of the user's real shell (VIGIL_REC_SHELL, TLOG_REC_SESSION_SHELL or
the configured shell); settings come from /etc/vigil/rec.toml, TLOG_REC_SESSION_CONF_TEXT
and VIGIL_REC_CONF.
`

func main() {
	os.Exit(run())
}

func run() int {
	// Everything, the shell's fork or exec included, on one thread: the
	// SELinux exec context for the shell is per thread.
	runtime.LockOSThread()
	if err := session.EnterRecorderDomain(os.Args); err != nil {
		return fail(err)
	}
	ids := session.CurrentIDs()
	// Work as the user except where vigil's identity is needed.
	if err := ids.AsUser(); err != nil {
		return fail(err)
	}
	if len(os.Args) == 2 {
		switch os.Args[1] {
		case "-h", "--help":
			fmt.Print(usage)
			return 0
		case "-v", "--version":
			fmt.Println("vigil-rec-session", version.Version)
			return 0
		case "--configuration":
			return printConfiguration(ids)
		}
	}
	inv, err := session.ParseArgs(os.Args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vigil-rec-session: %v\n%s", err, usage)
		return 2
	}
	st, err := asVigil(ids, func() (settings, error) { return loadConf(ids) })
	c := st.conf
	if err != nil {
		// Without a valid configuration we still know the shell must not
		// run unrecorded: refuse the session.
		return fail(err)
	}
	self, _ := os.Executable()
	var shell string
	if ids.Privileged() {
		shell, err = session.SetuidRealShell(st.shells, os.Getenv, shellsFile, self)
	} else {
		shell, err = session.RealShell(os.Getenv, c.Shell, shellsFile, self)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vigil-rec-session: %v\n", err)
	}
	argv := inv.ShellArgv(shell)
	// Programs that start $SHELL must get the real shell, not us again.
	os.Setenv("SHELL", shell)
	if shell == session.Nologin {
		return execUser(shell, argv)
	}

	sess, err := tlog.SessionID()
	if err != nil {
		return fail(err)
	}
	lock, err := asVigil(ids, func() (*session.Lock, error) { return session.Acquire(lockDir, sess) })
	if errors.Is(err, session.ErrLocked) {
		// The outer recorder of this audit session already records us.
		return execUser(shell, argv)
	}
	if err != nil {
		return fail(err)
	}
	defer asVigil(ids, func() (struct{}, error) { return struct{}{}, lock.Release() })

	return record(ids, c, st.host, inv, shell, argv, sess)
}

func record(ids session.IDs, c conf.Rec, host string, inv session.Invocation, shell string, argv []string, sess uint32) int {
	u, err := user.LookupId(fmt.Sprint(ids.UserUID))
	if err != nil {
		return fail(fmt.Errorf("recorded user: %w", err))
	}
	meta, err := recorder.NewMeta(u.Username, host, os.Getenv)
	if err != nil {
		return fail(err)
	}
	if ids.Privileged() {
		// Whatever the session starts stays below us, so that ending the
		// session (through policyd, once we are vigil only) ends all of it.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fail(fmt.Errorf("child subreaper: %w", err))
		}
		if _, err := asVigil(ids, func() (bool, error) { return session.TakeTerminal(ids, claimTerminal) }); err != nil {
			return fail(fmt.Errorf("cannot take the login terminal from the user, session refused: %w", err))
		}
	}
	type opened struct {
		s   msg.Sink
		key ed25519.PrivateKey
	}
	o, err := asVigil(ids, func() (opened, error) {
		key, err := recorder.LoadKey(c, os.Stderr)
		if err != nil {
			return opened{}, err
		}
		s, err := sink.Open(c, store.Meta{Start: time.Now(), Host: meta.Host, User: meta.User, Rec: meta.Rec})
		return opened{s, key}, err
	})
	if err != nil {
		return fail(err)
	}
	cmd := &exec.Cmd{Path: shell, Args: argv, Env: os.Environ()}
	// A transfer is recorded as sizes and digests only when it has no
	// terminal and is exactly a transfer program the user cannot steer, run
	// here directly with an environment of its own.
	bulk := false
	if inv.Command != nil && c.Transfer.Record == "metadata" && !term.IsTerminal(int(os.Stdin.Fd())) {
		if t, ok := session.BulkTransfer(inv.Command[0], os.Environ()); ok {
			bulk, cmd.Path, cmd.Args, cmd.Env = true, t.Path, t.Argv, t.Env
		}
	}
	if inv.Command == nil && term.IsTerminal(int(os.Stdin.Fd())) && c.Notice != "" {
		fmt.Fprint(os.Stderr, c.Notice)
	}
	if err := session.SetShellExecContext(); err != nil {
		return fail(err)
	}
	opts := recorder.Options{
		Conf: c, Meta: meta, Sink: o.s, Key: o.key, Bulk: bulk,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Started: ids.BecomeVigil,
	}
	if ids.Privileged() {
		opts.Session = signalSession
	}
	// vigil-cmdlog writes the commands of this audit session beside the
	// recording while it is registered.
	unregister, err := asVigil(ids, func() (func() error, error) {
		return session.Register(lockDir, session.Registration{Rec: meta.Rec, Session: sess, Start: time.Now(), User: meta.User, Host: meta.Host})
	})
	if err != nil {
		return fail(err)
	}
	defer asVigil(ids, func() (struct{}, error) { return struct{}{}, unregister() })
	res, err := recorder.Run(cmd, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vigil-rec-session: %v\n", err)
	}
	return res.Status
}

// loadConf reads /etc/vigil/rec.toml and this session's settings.
// Unprivileged (no setuid), the settings are the PAM-provided JSON in the
// environment, as in tlog. In a setuid run the environment is the user's to
// forge: the settings come from policyd itself (for the PAM service
// pam_vigil named), and without policyd only rec.toml counts; the real
// shell is policyd's or /etc/passwd's, and only when neither knows it (a
// user SSSD records) the environment's (session.SetuidRealShell).
func loadConf(ids session.IDs) (settings, error) {
	if !ids.Privileged() {
		c, err := conf.LoadRec(conf.DefaultRecPath, os.Getenv, nil)
		return settings{conf: c}, err
	}
	var st settings
	// Settings never come from the environment here: only policyd's.
	trusted := map[string]string{}
	if u, err := user.LookupId(fmt.Sprint(ids.UserUID)); err == nil {
		st.shells.Files = session.FilesShell(passwdFile, u.Username)
		if d, err := askPolicyd(u.Username, os.Getenv(pamenv.RecService)); err == nil {
			trusted[pamenv.RecConf] = d.Conf
			if d.Record {
				st.shells.Policyd = d.Shell
			}
			st.host = d.host
		} else if os.Getenv(pamenv.RecConf)+os.Getenv(pamenv.TlogSessionConf) != "" {
			fmt.Fprintf(os.Stderr, "vigil-rec-session: %v: recording with %s only\n", err, conf.DefaultRecPath)
		}
	}
	var err error
	st.conf, err = conf.LoadRec(conf.DefaultRecPath, func(k string) string { return trusted[k] }, nil)
	return st, err
}

// settings are the recorder configuration, in a setuid run what trusted
// sources say of the real shell, and the host name from policyd ("" if it
// did not say).
type settings struct {
	conf   conf.Rec
	shells session.ShellSources
	host   string
}

// withPolicyd calls policyd over the system bus (whose default address a
// setuid process always uses; the owner of the name must be root), as the
// identity in force: vigil, for the calls only the recorder may make.
func withPolicyd[T any](within time.Duration, call func(context.Context, *dbusapi.Client) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	c, err := dbusapi.ConnectContext(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer c.Close()
	return call(ctx, c)
}

// decision is policyd's answer for this session.
type decision struct {
	wire.Decision
	host string // the host name recordings carry
}

// askPolicyd gets this session's decision, and the host name policyd
// resolved (the recorder does not wait for DNS at each login).
func askPolicyd(user, service string) (decision, error) {
	return withPolicyd(2*time.Second, func(ctx context.Context, c *dbusapi.Client) (decision, error) {
		d, err := c.Decide(ctx, user, service, "", "")
		if err != nil {
			return decision{}, err
		}
		host, err := c.Host(ctx)
		return decision{d, host}, err
	})
}

// claimTerminal has policyd give the login terminal on fd to vigil.
func claimTerminal(fd int) error {
	_, err := withPolicyd(2*time.Second, func(ctx context.Context, c *dbusapi.Client) (struct{}, error) {
		return struct{}{}, c.ClaimTerminal(ctx, fd)
	})
	return err
}

// signalSession has policyd signal every process below us: once the shell
// runs, we are vigil only and may not signal the user's processes.
func signalSession(sig syscall.Signal) (int, error) {
	return withPolicyd(5*time.Second, func(ctx context.Context, c *dbusapi.Client) (int, error) {
		return c.SignalSession(ctx, sig)
	})
}

func printConfiguration(ids session.IDs) int {
	st, err := asVigil(ids, func() (settings, error) { return loadConf(ids) })
	if err != nil {
		return fail(err)
	}
	os.Stdout.Write(append(st.conf.JSON(), '\n'))
	return 0
}

// asVigil runs fn with vigil's effective identity and returns to the user's.
func asVigil[T any](ids session.IDs, fn func() (T, error)) (T, error) {
	var zero T
	if err := ids.AsVigil(); err != nil {
		return zero, err
	}
	v, err := fn()
	if uerr := ids.AsUser(); uerr != nil {
		return zero, errors.Join(err, uerr)
	}
	return v, err
}

// execUser replaces us with the shell, fully as the user (exec turns the
// effective IDs, already the user's, into the saved IDs too).
func execUser(shell string, argv []string) int {
	if err := session.SetShellExecContext(); err != nil {
		return fail(err)
	}
	err := syscall.Exec(shell, argv, os.Environ())
	return fail(fmt.Errorf("exec %s: %w", shell, err))
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "vigil-rec-session: %v\n", err)
	return 1
}
