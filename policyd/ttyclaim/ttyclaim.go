// Package ttyclaim takes a recorded user's login terminal away from them
// for the recorder (D-Bus ClaimTerminal). The login program (sshd, login)
// hands the user the terminal it opened for the session, owned by the user
// and writable by group tty; whatever the user writes to it reaches the
// client without passing through the recorder. Once claimed, the terminal
// belongs to the recorder account with mode 0600 and every descriptor
// opened on it before (by any process) is hung up, so only the recorder,
// which opens it again, can use it.
package ttyclaim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/procstat"
)

// Claim is what was taken, for the log.
type Claim struct {
	Major, Minor uint32
	Owner        uint32      // the user who owned the terminal
	Mode         os.FileMode // its permissions before
}

// Take checks that fd is the controlling terminal of process caller, that
// caller leads its session (the login program made it so) and runs for
// the user who owns the terminal, and then gives the terminal to
// recorderUID with mode 0600 and hangs up every descriptor open on it.
//
// The order matters: nobody but root can open the terminal once it is
// chowned, and the hangup then revokes what was opened before (a process
// of the user's that opened the new terminal the moment sshd created it).
func Take(fd, caller int, recorderUID uint32) (Claim, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Claim{}, fmt.Errorf("fstat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return Claim{}, errors.New("not a character device")
	}
	c := Claim{Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev), Owner: st.Uid, Mode: os.FileMode(st.Mode & 0o7777)}
	// Major 5 is /dev/tty, /dev/console and /dev/ptmx: aliases and pty
	// masters, never a session's own terminal.
	if c.Major == 5 {
		return c, fmt.Errorf("device %d:%d is not a session terminal", c.Major, c.Minor)
	}
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return c, fmt.Errorf("device %d:%d is not a terminal: %w", c.Major, c.Minor, err)
	}
	f, err := procstat.Read(caller)
	if err != nil {
		return c, fmt.Errorf("caller %d: %w", caller, err)
	}
	// proc(5): field 6 session, field 7 tty_nr.
	if len(f) < 5 {
		return c, fmt.Errorf("caller %d: short /proc stat", caller)
	}
	sid, err1 := strconv.Atoi(f[6-3])
	ttyNr, err2 := strconv.ParseUint(f[7-3], 10, 32)
	if err1 != nil || err2 != nil {
		return c, fmt.Errorf("caller %d: bad session or tty in /proc stat", caller)
	}
	if sid != caller {
		return c, fmt.Errorf("caller %d does not lead its session (%d)", caller, sid)
	}
	if unix.Major(ttyNr) != c.Major || unix.Minor(ttyNr) != c.Minor {
		return c, fmt.Errorf("device %d:%d is not the controlling terminal of caller %d", c.Major, c.Minor, caller)
	}
	ruid, err := realUID(caller)
	if err != nil {
		return c, err
	}
	if ruid != st.Uid || ruid == 0 {
		return c, fmt.Errorf("terminal %d:%d is owned by uid %d, caller %d runs for uid %d", c.Major, c.Minor, st.Uid, caller, ruid)
	}
	if err := unix.Fchown(fd, int(recorderUID), -1); err != nil {
		return c, fmt.Errorf("chown terminal %d:%d: %w", c.Major, c.Minor, err)
	}
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return c, fmt.Errorf("chmod terminal %d:%d: %w", c.Major, c.Minor, err)
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCVHANGUP, 0); err != nil {
		return c, fmt.Errorf("hang up terminal %d:%d: %w", c.Major, c.Minor, err)
	}
	return c, nil
}

// realUID is the real uid of process pid (the first of /proc/PID/status's
// Uid: line): a setuid recorder's real uid is still the user's.
func realUID(pid int) (uint32, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("caller %d: %w", pid, err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				v, err := strconv.ParseUint(string(f[0]), 10, 32)
				if err == nil {
					return uint32(v), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("caller %d: no real uid in /proc status", pid)
}
