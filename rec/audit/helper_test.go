package audit

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/vigil-rec/vigil/rec/auditrules"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
)

// The test binary doubles as the helpers the tests run in child processes,
// chosen by helperEnv.
const (
	helperEnv   = "VIGIL_AUDIT_TEST_HELPER"
	loginuidEnv = "VIGIL_AUDIT_TEST_LOGINUID"
	thenEnv     = "VIGIL_AUDIT_TEST_THEN" // helper for the program login execs
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "login":
		helperLogin()
	case "execloop":
		helperExecLoop()
	}
	os.Exit(m.Run())
}

// helperLogin does what pam_loginuid does for a login: it writes the login
// uid (which starts a new audit session), reports the session id and its
// pid on fd 3, then execs os.Args[1:] as the "login shell".
func helperLogin() {
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "login helper:", err)
		os.Exit(111)
	}
	// The login uid is per thread: write it from the thread that execs
	// (the exec'd program keeps that thread's).
	runtime.LockOSThread()
	f, err := os.OpenFile("/proc/thread-self/loginuid", os.O_WRONLY, 0)
	if err != nil {
		die(err)
	}
	if _, err := f.WriteString(os.Getenv(loginuidEnv)); err != nil {
		die(fmt.Errorf("write loginuid %q: %w", os.Getenv(loginuidEnv), err))
	}
	f.Close()
	ses, err := os.ReadFile("/proc/thread-self/sessionid")
	if err != nil {
		die(err)
	}
	report := os.NewFile(3, "report")
	fmt.Fprintf(report, "%s %d\n", ses, os.Getpid())
	report.Close()
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		die(err)
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, helperEnv+"=") || strings.HasPrefix(kv, loginuidEnv+"=") ||
			strings.HasPrefix(kv, thenEnv+"=")
	})
	if then := os.Getenv(thenEnv); then != "" {
		env = append(env, helperEnv+"="+then)
	}
	die(syscall.Exec(path, os.Args[1:], env))
}

// helperExecLoop runs N (os.Args[1]) × /bin/true from P (os.Args[2])
// workers, each waiting for its child, and prints the seconds it took and
// the CPU seconds it and its children used.
// With os.Args[3] = "fail" it instead calls execve on a missing file N
// times from this process, at most R (os.Args[4]) times a second if R > 0:
// a failed exec is a complete audit event that costs the kernel little, so
// it makes exec events far faster than real programs can.
func helperExecLoop() {
	n, _ := strconv.Atoi(os.Args[1])
	p, _ := strconv.Atoi(os.Args[2])
	start := time.Now()
	if len(os.Args) > 3 && os.Args[3] == "fail" {
		rate, _ := strconv.Atoi(os.Args[4])
		for i := range n {
			if rate > 0 && i%16 == 0 { // pace in small steps
				if ahead := time.Duration(i)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
			if err := syscall.Exec("/nonexistent/vigil-bench", []string{"vigil-bench"}, nil); err != syscall.ENOENT {
				fmt.Fprintln(os.Stderr, "execloop: exec of a missing file:", err)
				os.Exit(111)
			}
		}
		printTimes(start)
	}
	var wg sync.WaitGroup
	var failed sync.Once
	for w := 0; w < p; w++ {
		count := n / p
		if w < n%p {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}
			for range count {
				pid, err := syscall.ForkExec("/bin/true", []string{"/bin/true"}, attr)
				if err == nil {
					_, err = syscall.Wait4(pid, nil, 0, nil)
				}
				if err != nil {
					failed.Do(func() { fmt.Fprintln(os.Stderr, "execloop:", err) })
					os.Exit(111)
				}
			}
		}()
	}
	wg.Wait()
	printTimes(start)
}

func printTimes(start time.Time) {
	wall := time.Since(start)
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	cpu := time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
	fmt.Printf("%.6f %.6f\n", wall.Seconds(), cpu.Seconds())
	os.Exit(0)
}

// loginResult is what the login helper reported.
type loginResult struct {
	ses    uint32
	pid    int
	output string
}

// runLogin runs argv as the login shell of a new login of uid (in dir),
// waits for it and returns its session; env are extra variables.
func runLogin(t *testing.T, uid uint32, dir string, env []string, argv ...string) loginResult {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, argv...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=login", fmt.Sprintf("%s=%d", loginuidEnv, uid))
	cmd.Env = append(cmd.Env, env...)
	cmd.ExtraFiles = []*os.File{pw}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		pw.Close()
		t.Fatalf("start login %q: %v", argv, err)
	}
	pw.Close()
	line, rerr := bufio.NewReader(pr).ReadString('\n')
	werr := cmd.Wait()
	var res loginResult
	if _, err := fmt.Sscanf(line, "%d %d", &res.ses, &res.pid); err != nil || rerr != nil {
		t.Fatalf("login %q reported %q (%v, %v); exit %v; output %q", argv, line, err, rerr, werr, out.String())
	}
	res.output = out.String()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		t.Fatalf("login %q: %v", argv, werr)
	}
	return res
}

// kernelState is what a test must leave as it found it.
type kernelState struct {
	status libaudit.AuditStatus
	rules  []string
}

func (s kernelState) String() string {
	return fmt.Sprintf("enabled=%d pid=%d failure=%d rate=%d backlog_limit=%d backlog_wait_time=%d rules=%q",
		s.status.Enabled, s.status.PID, s.status.Failure, s.status.RateLimit,
		s.status.BacklogLimit, s.status.BacklogWaitTime, s.rules)
}

func (s kernelState) same(o kernelState) bool {
	a, b := s.status, o.status
	return a.Enabled == b.Enabled && a.PID == b.PID && a.Failure == b.Failure && a.RateLimit == b.RateLimit &&
		a.BacklogLimit == b.BacklogLimit && a.BacklogWaitTime == b.BacklogWaitTime && slices.Equal(s.rules, o.rules)
}

func readKernelState(t *testing.T) kernelState {
	t.Helper()
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatalf("audit control socket: %v", err)
	}
	defer c.Close()
	st, err := c.GetStatus()
	if err != nil {
		t.Fatalf("audit status: %v", err)
	}
	_, rules, err := kernelRules(c)
	if err != nil {
		t.Fatal(err)
	}
	return kernelState{status: *st, rules: rules}
}

// requireAudit skips the test unless the kernel's audit subsystem can be
// driven from here, and registers the check (run last) that the test left
// the kernel's audit state as it found it.
func requireAudit(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the audit tests need root (CAP_AUDIT_CONTROL) to drive the kernel's audit subsystem")
	}
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Skipf("skipping: the kernel's audit netlink socket is unavailable: %v", err)
	}
	st, err := c.GetStatus()
	c.Close()
	if err != nil {
		t.Skipf("skipping: cannot read the kernel's audit status (in a container without CAP_AUDIT_CONTROL?): %v", err)
	}
	if st.Enabled == 2 {
		t.Skip("skipping: the audit configuration is immutable (enabled=2) until reboot")
	}
	lockAudit(t)
	before := readKernelState(t)
	t.Cleanup(func() {
		after := readKernelState(t)
		if !after.same(before) {
			t.Errorf("kernel audit state not restored:\nbefore %v\nafter  %v", before, after)
			repair(t, before, after)
		}
	})
}

// auditLockPath serialises the tests that change the kernel's audit state
// across processes: two runs of this package at once (two go test ./...
// on one host) would otherwise undo each other's settings mid-test.
const auditLockPath = "/run/lock/vigil-audit-test.lock"

// lockAudit holds auditLockPath until the test's end, waiting for another
// run's test to finish (the benchmark can take minutes).
func lockAudit(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(auditLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("audit test lock: %v", err)
	}
	deadline := time.Now().Add(20 * time.Minute)
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("audit test lock %s: %v (another run of these tests holds it?)", auditLockPath, err)
		}
		if !waited {
			t.Logf("waiting for another process's audit test (lock %s)", auditLockPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // registered first: released after the state check
}

// repair removes Vigil's rules that were not there before and puts the
// settings back, so that one failing test does not leave the host changed.
func repair(t *testing.T, before, after kernelState) {
	var extra []string
	for _, l := range auditrules.Lines() {
		c, err := compile(l)
		if err == nil && slices.Contains(after.rules, c.canon) && !slices.Contains(before.rules, c.canon) {
			extra = append(extra, l)
		}
	}
	if _, err := DeleteRules(extra); err != nil {
		t.Errorf("repair: %v", err)
	}
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Errorf("repair: %v", err)
		return
	}
	defer c.Close()
	b := before.status
	errs := []error{
		c.SetEnabled(b.Enabled == 1, libaudit.WaitForReply),
		c.SetBacklogLimit(b.BacklogLimit, libaudit.WaitForReply),
		c.SetBacklogWaitTime(int32(b.BacklogWaitTime), libaudit.WaitForReply),
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("repair: %v", err)
	}
}

// addRules installs Vigil's rules for the test and removes those it added
// at cleanup.
func addRules(t *testing.T) {
	t.Helper()
	added, err := AddRules()
	t.Cleanup(func() {
		if _, err := DeleteRules(added); err != nil {
			t.Errorf("remove rules: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// collector keeps what a Reader delivers.
type collector struct {
	mu      sync.Mutex
	evs     []*CommandEvent
	stopped error // why the Reader stopped, if it did
}

func collect(r *Reader) *collector {
	c := &collector{}
	go func() {
		for ev := range r.Events() {
			c.mu.Lock()
			c.evs = append(c.evs, ev)
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.stopped = fmt.Errorf("reader stopped: %v", r.Err())
		c.mu.Unlock()
	}()
	return c
}

func (c *collector) snapshot() []*CommandEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.evs)
}

// session returns the events of audit session ses.
func (c *collector) session(ses uint32) []*CommandEvent {
	return slices.DeleteFunc(c.snapshot(), func(e *CommandEvent) bool { return e.Session != ses })
}

// waitFor waits until an event matches, and returns it.
func (c *collector) waitFor(t *testing.T, what string, match func(*CommandEvent) bool) *CommandEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range c.snapshot() {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event for %s within 10 s; got:\n%s", what, c.dump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *collector) dump() string {
	var b strings.Builder
	c.mu.Lock()
	if c.stopped != nil {
		fmt.Fprintln(&b, c.stopped)
	}
	c.mu.Unlock()
	for _, e := range c.snapshot() {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}
