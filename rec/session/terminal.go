package session

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// TakeTerminal takes the login terminal on standard input away from the
// user before the shell starts, so that nothing the user runs can write to
// the client past the recorder (`printf X > $SSH_TTY`). The login program
// (sshd, login) gave it to the user; claim (policyd, as root) gives it to
// vigil with mode 0600 and hangs up every descriptor open on it, ours
// included, and we open it again as vigil and put it back on our standard
// streams, as the controlling terminal.
//
// It does nothing, and returns false, unless the terminal is the user's
// and the controlling terminal of the session we lead: that is how sshd and
// login start a shell. su and sudo run the shell on the invoker's terminal,
// which the user cannot open anyway. Call it as vigil: the terminal is
// reopened once it is vigil's.
func TakeTerminal(ids IDs, claim func(fd int) error) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(0, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Uid != uint32(ids.UserUID) {
		return false, nil
	}
	if sid, err := unix.IoctlGetInt(0, unix.TIOCGSID); err != nil || sid != os.Getpid() {
		return false, nil
	}
	path, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		return false, fmt.Errorf("login terminal: %w", err)
	}
	// A pty's settings are reset by the hang-up: keep the login program's.
	tio, err := unix.IoctlGetTermios(0, unix.TCGETS)
	if err != nil {
		return false, fmt.Errorf("login terminal %s: %w", path, err)
	}
	// The hang-up sends us, its session leader, SIGHUP.
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)
	if err := claim(0); err != nil {
		return false, err
	}
	// Without O_NOCTTY: a session leader that lost its terminal to the
	// hang-up gets it back as the controlling terminal (SIGWINCH again).
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("reopen login terminal %s: %w", path, err)
	}
	defer unix.Close(fd)
	var again unix.Stat_t
	if err := unix.Fstat(fd, &again); err != nil || again.Rdev != st.Rdev {
		return false, fmt.Errorf("reopen login terminal %s: another device", path)
	}
	for std := 0; std <= 2; std++ {
		var s unix.Stat_t
		if unix.Fstat(std, &s) == nil && s.Mode&unix.S_IFMT == unix.S_IFCHR && s.Rdev == st.Rdev {
			if err := unix.Dup3(fd, std, 0); err != nil {
				return false, fmt.Errorf("login terminal on fd %d: %w", std, err)
			}
		}
	}
	if err := unix.IoctlSetTermios(0, unix.TCSETS, tio); err != nil {
		return false, fmt.Errorf("login terminal %s settings: %w", path, err)
	}
	return true, nil
}
