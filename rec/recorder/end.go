package recorder

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Grace periods when a session is ended: the command gets commandHangup
// after a hang-up to exit by itself before the hang-up is repeated, and
// commandKill more before it is killed; processes it leaves behind get
// leftoverGrace after their hang-up.
const (
	commandHangup = 2 * time.Second
	commandKill   = 3 * time.Second
	leftoverGrace = 500 * time.Millisecond
)

// reaper reaps every child of the recorder: the command, and whatever the
// session orphaned when the recorder is a child subreaper, so that zombies
// do not pile up under a long session. It keeps the command's status, and
// its done channel is how the relays learn that the command has exited
// without a goroutine blocked in wait(2).
type reaper struct {
	pid    int
	sigs   chan os.Signal
	done   chan struct{}
	status unix.WaitStatus
}

// newReaper must run before the command starts, so no SIGCHLD is missed.
func newReaper() *reaper {
	r := &reaper{sigs: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	return r
}

// watch starts reaping once the command runs as pid.
func (r *reaper) watch(pid int) {
	r.pid = pid
	go func() {
		r.reap()
		for range r.sigs {
			r.reap()
		}
	}()
}

func (r *reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 {
			return
		}
		if pid == r.pid {
			r.status = ws
			close(r.done)
		}
	}
}

func (r *reaper) stop() { signal.Stop(r.sigs) }

// exited waits up to d for the command to exit (d < 0: for ever).
func (r *reaper) exited(d time.Duration) bool {
	if d < 0 {
		<-r.done
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.done:
		return true
	case <-t.C:
		return false
	}
}

// exitStatus is what a shell reports for the command: its exit code, or 128
// plus the signal that killed it.
func (r *reaper) exitStatus() int {
	if r.status.Signaled() {
		return 128 + int(r.status.Signal())
	}
	return r.status.ExitStatus()
}

// ender ends a recorded command's session: the command and every process
// it started, within a bounded time, whoever the recorder runs as.
type ender struct {
	cmd    *exec.Cmd
	reap   *reaper
	signal func(syscall.Signal) (int, error)
	ptmx   int // the pty master in terminal mode, else -1
	once   sync.Once
	mu     sync.Mutex // report: the stop handler and the main path both end
	report endReport
}

// endReport says in the final message how the session's processes ended,
// when the recorder had to end any.
type endReport struct {
	Hangup int    `json:"hangup,omitempty"` // processes hung up
	Killed int    `json:"killed,omitempty"` // processes killed
	Error  string `json:"error,omitempty"`  // why some could not be ended
}

func newEnder(cmd *exec.Cmd, reap *reaper, o *Options, ptmx int) *ender {
	e := &ender{cmd: cmd, reap: reap, signal: o.Session, ptmx: ptmx}
	if e.signal == nil {
		e.signal = e.processGroup
	}
	return e
}

// processGroup signals the command's process group: enough while the
// recorder runs as the user (vigil-rec), who may signal their own processes.
func (e *ender) processGroup(sig syscall.Signal) (int, error) {
	err := syscall.Kill(-e.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// send signals the session and counts it in the report. Where that fails
// (policyd gone), the pty master can still reach the foreground job, which
// needs no permission.
func (e *ender) send(sig syscall.Signal) int {
	n, err := e.signal(sig)
	if err != nil && e.ptmx >= 0 && unix.IoctlSetPointerInt(e.ptmx, unix.TIOCSIG, int(sig)) == nil && n == 0 {
		n = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil && e.report.Error == "" {
		e.report.Error = err.Error()
	}
	switch sig {
	case syscall.SIGHUP:
		e.report.Hangup += n
	case syscall.SIGKILL:
		e.report.Killed += n
	}
	return n
}

// hangup hangs the session up the way a closed terminal would, and wakes
// stopped processes so that they see it.
func (e *ender) hangup() int {
	n := e.send(syscall.SIGHUP)
	e.send(syscall.SIGCONT)
	return n
}

func (e *ender) failed(why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.report.Error == "" {
		e.report.Error = why
	}
}

// waitCommand returns once the command has exited, hanging it up again
// after commandHangup and killing the session commandKill later.
func (e *ender) waitCommand() {
	if e.reap.exited(commandHangup) {
		return
	}
	e.hangup()
	if e.reap.exited(commandKill) {
		return
	}
	e.send(syscall.SIGKILL)
	if !e.reap.exited(commandKill) {
		// Only a process stuck in the kernel survives SIGKILL; the
		// recording must still end.
		e.failed("the command did not exit after SIGKILL")
	}
}

// sweep ends what the session left behind once the command is gone:
// background jobs, daemons that left the terminal, a listener a later
// port forwarding could reach. They are hung up, then killed. It runs once.
func (e *ender) sweep() {
	e.once.Do(func() {
		if e.hangup() > 0 {
			time.Sleep(leftoverGrace)
		}
		e.send(syscall.SIGKILL)
	})
}

// finish reaps what is left and returns how the session's processes were
// ended (nil if nothing had to be) and the exit status a shell would report.
func (e *ender) finish() (*endReport, int) {
	e.reap.stop()
	e.reap.reap()
	status := 1
	select {
	case <-e.reap.done:
		status = e.reap.exitStatus()
	default:
	}
	_ = e.cmd.Process.Release()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.report == (endReport{}) {
		return nil, status
	}
	r := e.report
	return &r, status
}
