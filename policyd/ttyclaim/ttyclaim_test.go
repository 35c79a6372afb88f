package ttyclaim

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

const (
	userUID     = 65534 // nobody: the recorded user
	recorderUID = 4242
)

// session starts a process as the user leading a new session on a new pty
// (as sshd starts the login shell) and returns the pty's slave.
func session(t *testing.T, owner int, setsid bool) (*os.File, *exec.Cmd) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: chown of a terminal")
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	// What sshd and login make of it: the user's, writable by group tty.
	if err := tty.Chown(owner, 5); err != nil {
		t.Fatal(err)
	}
	if err := tty.Chmod(0o620); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "30")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: userUID, Gid: userUID}, Setsid: setsid, Setctty: setsid}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return tty, cmd
}

func TestTake(t *testing.T) {
	tty, cmd := session(t, userUID, true)
	// Opened before the claim, as a process of the user's could.
	early, err := os.OpenFile(tty.Name(), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	c, err := Take(int(tty.Fd()), cmd.Process.Pid, recorderUID)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	if c.Owner != userUID || c.Mode.Perm() != 0o620 {
		t.Errorf("claim %+v", c)
	}
	fi, err := os.Stat(tty.Name())
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != recorderUID || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: uid %d mode %v after Take", tty.Name(), st.Uid, fi.Mode().Perm())
	}
	if _, err := early.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
		t.Errorf("a descriptor opened before Take still writes: %v", err)
	}
	// The hang-up told the session leader.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "hangup") {
			t.Errorf("session leader ended with %v, want SIGHUP", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the session leader got no SIGHUP")
	}
	// Only root or the recorder may open it now.
	open := exec.Command("sh", "-c", "exec 3>"+tty.Name())
	open.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: userUID, Gid: userUID}}
	if out, err := open.CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("the user opened the claimed terminal: %v %s", err, out)
	}
}

func TestTakeRefuses(t *testing.T) {
	t.Run("not the user's terminal", func(t *testing.T) {
		tty, cmd := session(t, 0, true)
		if _, err := Take(int(tty.Fd()), cmd.Process.Pid, recorderUID); err == nil || !strings.Contains(err.Error(), "owned by uid 0") {
			t.Errorf("root's terminal: %v", err)
		}
	})
	t.Run("caller does not lead a session on it", func(t *testing.T) {
		tty, cmd := session(t, userUID, false)
		if _, err := Take(int(tty.Fd()), cmd.Process.Pid, recorderUID); err == nil {
			t.Error("taken for a caller that does not lead its session")
		}
	})
	t.Run("another terminal", func(t *testing.T) {
		_, cmd := session(t, userUID, true)
		other, _ := session(t, userUID, true)
		if _, err := Take(int(other.Fd()), cmd.Process.Pid, recorderUID); err == nil || !strings.Contains(err.Error(), "not the controlling terminal") {
			t.Errorf("someone else's terminal: %v", err)
		}
	})
	t.Run("pty master", func(t *testing.T) {
		_, cmd := session(t, userUID, true)
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer tty.Close()
		defer ptmx.Close()
		if _, err := Take(int(ptmx.Fd()), cmd.Process.Pid, recorderUID); err == nil || !strings.Contains(err.Error(), "not a session terminal") {
			t.Errorf("pty master: %v", err)
		}
	})
	t.Run("not a terminal", func(t *testing.T) {
		_, cmd := session(t, userUID, true)
		null, err := os.Open("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		defer null.Close()
		if _, err := Take(int(null.Fd()), cmd.Process.Pid, recorderUID); err == nil || !strings.Contains(err.Error(), "not a terminal") {
			t.Errorf("/dev/null: %v", err)
		}
	})
}
