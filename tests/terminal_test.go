package tests

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// The login terminal (sshd's pty, login's terminal) is the recorder's, not
// the recorded user's: what the user writes to it would reach the client
// without being recorded. Tried as the recorded user over ssh: writing to
// $SSH_TTY fails, a ~/.bash_profile that moves the shell onto $SSH_TTY
// stays on the recorded terminal, and the session still works and is
// recorded. login and su keep working.
func TestLoginTerminalTaken(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	before := recordings(t)
	term := startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST"))
	term.waitFor("alice@", 20*time.Second)
	term.typeText("printf INVIS''IBLE-1 > $SSH_TTY; echo write=$?; stat -c 'owner=%U mode=%a' $SSH_TTY; tty\r")
	term.waitFor("write=", 10*time.Second)
	term.waitFor("mode=", 10*time.Second)
	term.typeText("exit\r")
	term.wait(20 * time.Second)
	screen := term.screen()
	if bytes.Contains(screen, []byte("INVISIBLE-1")) || !bytes.Contains(screen, []byte("Permission denied")) || !bytes.Contains(screen, []byte("write=1")) {
		t.Errorf("the user wrote to the login terminal past the recorder:\n%q", screen)
	}
	if !bytes.Contains(screen, []byte("owner=vigil mode=600")) {
		t.Errorf("the login terminal is not vigil's, mode 0600:\n%q", screen)
	}
	rec := waitRecording(t, before)
	verifyFile(t, rec, h.pub)
	if text := exportText(t, rec); !strings.Contains(text, "Permission denied") {
		t.Errorf("the recording does not show the refused write:\n%s", text)
	}

	// A profile that moves the interactive shell onto the login terminal.
	profile := "/home/alice/.bash_profile"
	writeFile(t, profile, "exec bash -i >\"$SSH_TTY\" 2>&1\n")
	if err := os.Chown(profile, aliceUID, aliceUID); err != nil {
		t.Fatal(err)
	}
	before = recordings(t)
	term = startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST"))
	term.waitFor("alice@", 20*time.Second)
	term.typeText("echo profile-$((20+3))\r")
	term.waitFor("profile-23", 10*time.Second)
	term.typeText("exit\r")
	term.wait(20 * time.Second)
	rec = waitRecording(t, before)
	verifyFile(t, rec, h.pub)
	if text := exportText(t, rec); !strings.Contains(text, "profile-23") {
		t.Errorf("the session moved onto the login terminal went unrecorded:\n%s", text)
	}
	if err := os.Remove(profile); err != nil {
		t.Fatal(err)
	}

	// login on a terminal: the terminal login gave the user is taken too.
	before = recordings(t)
	term = startTerminal(t, 100, 30, "login", "-f", "alice")
	term.waitFor("alice@", 20*time.Second)
	term.typeText("stat -c 'owner=%U' $(tty) /proc/self/fd/0 | head -1; echo login-$((5+5))\r")
	term.waitFor("login-10", 10*time.Second)
	term.typeText("exit\r")
	term.wait(20 * time.Second)
	verifyFile(t, waitRecording(t, before), h.pub)
}

// A terminal that is not the user's (su from root's terminal) is left
// alone, and the recorder refuses a session whose terminal it cannot take
// (policyd down, and PAM told to let recorded users in all the same).
func TestLoginTerminalNotTaken(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "on_unavailable=allow")
	term := startTerminal(t, 100, 30, "su", "-l", "alice")
	term.waitFor("alice@", 20*time.Second)
	term.typeText("echo su-$((1+1))\r")
	term.waitFor("su-2", 10*time.Second)
	n, err := unix.IoctlGetInt(int(term.ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/dev/pts/%d", n), &st); err != nil || st.Uid != 0 {
		t.Errorf("su's terminal /dev/pts/%d, root's, was given away: owner %d (%v)", n, st.Uid, err)
	}
	term.typeText("exit\r")
	term.wait(20 * time.Second)

	h.stopPolicyd(t)
	term = startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST", "echo in-$((3+3))"))
	code := term.wait(20 * time.Second)
	if code == 0 || bytes.Contains(term.screen(), []byte("in-6")) || !bytes.Contains(term.screen(), []byte("cannot take the login terminal")) {
		t.Errorf("with policyd down a terminal session ran on a terminal the user keeps (exit %d):\n%q", code, term.screen())
	}
}
