package session

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Under SELinux, sshd and login start the login shell with the user's exec
// context (setexeccon), which overrides the policy's type transition: the
// recorder first runs in the user's domain. EnterRecorderDomain executes
// it once more, so that the transition to vigil_rec_t applies, and
// SetShellExecContext gives the real shell the user's domain back
// (selinux/README.md). Without SELinux both do nothing.

const (
	selinuxEnforce = "/sys/fs/selinux/enforce"
	recorderType   = "vigil_rec_t"
	// reexecEnv marks the second run, so that a policy without the
	// transition cannot loop us. Setting it by hand only leaves the
	// recorder in the user's domain, where the policy lets it write no
	// recording: the session is refused, not unrecorded.
	reexecEnv = "VIGIL_REC_SELINUX_REEXEC"
)

func selinuxEnabled() bool {
	_, err := os.Stat(selinuxEnforce)
	return err == nil
}

// contextType returns the type of a context "user:role:type[:level]".
func contextType(ctx string) string {
	parts := strings.SplitN(strings.TrimRight(ctx, "\x00\n"), ":", 4)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

// EnterRecorderDomain re-executes the running binary with args when
// SELinux is enabled and the process is not in vigil_rec_t. It returns
// only when there is nothing to do, or with the exec's error.
func EnterRecorderDomain(args []string) error {
	if os.Getenv(reexecEnv) != "" {
		os.Unsetenv(reexecEnv) // not for the shell
		return nil
	}
	if !selinuxEnabled() {
		return nil
	}
	cur, err := os.ReadFile("/proc/self/attr/current")
	if err != nil || contextType(string(cur)) == recorderType {
		return nil
	}
	err = syscall.Exec("/proc/self/exe", args, append(os.Environ(), reexecEnv+"=1"))
	return fmt.Errorf("SELinux: re-executing into %s: %w", recorderType, err)
}

// SetShellExecContext makes the next exec on the calling thread, which the
// caller keeps locked (runtime.LockOSThread) until the shell is started,
// run in the domain the recorder was started from.
func SetShellExecContext() error {
	if !selinuxEnabled() {
		return nil
	}
	prev, err := os.ReadFile("/proc/self/attr/prev")
	if err != nil {
		return fmt.Errorf("SELinux: the user's context: %w", err)
	}
	ctx := strings.TrimRight(string(prev), "\x00\n")
	if contextType(ctx) == recorderType {
		return nil // started from within vigil_rec_t: no other domain to go back to
	}
	if err := os.WriteFile("/proc/thread-self/attr/exec", []byte(ctx), 0); err != nil {
		return fmt.Errorf("SELinux: exec context %s for the shell: %w", ctx, err)
	}
	return nil
}
