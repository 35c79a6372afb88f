package audit

import (
	"errors"
	"fmt"
	"github.com/vigil-rec/vigil/rec/auditrules"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// testUID is the login uid the tests' logins get (no such user is needed).
const testUID = 424242

// These tests drive the real kernel audit subsystem (rules, daemon
// registration, settings): they must not run in parallel with each other,
// and each leaves the kernel's audit state as it found it (requireAudit).

func openReader(t *testing.T, opts Options) *Reader {
	t.Helper()
	r, err := Open(opts)
	if err != nil {
		t.Fatalf("open reader: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close reader: %v", err)
		}
	})
	return r
}

// helperExecveat execs /bin/echo through execveat(2) (a directory fd and a
// relative name), which Go's syscall package does not wrap.
func helperExecveat() {
	dir, err := unix.Open("/bin", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err == nil {
		argv, _ := syscall.SlicePtrFromStrings([]string{"echo", "via-execveat"})
		envv, _ := syscall.SlicePtrFromStrings(os.Environ())
		name, _ := syscall.BytePtrFromString("echo")
		_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(dir), uintptr(unsafe.Pointer(name)),
			uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), 0, 0)
		err = errno
	}
	fmt.Fprintln(os.Stderr, "execveat:", err)
	os.Exit(111)
}

func init() {
	if os.Getenv(helperEnv) == "execveat" {
		helperExecveat()
	}
}

// inSession matches an event of session ses by its exact argv.
func inSession(ses uint32, argv ...string) func(*CommandEvent) bool {
	return func(e *CommandEvent) bool { return e.Session == ses && slices.Equal(e.Argv, argv) }
}

// argvIs matches an event by its exact argv.
func argvIs(argv ...string) func(*CommandEvent) bool {
	return func(e *CommandEvent) bool { return slices.Equal(e.Argv, argv) }
}

// checkLogin checks what every event of login l must say.
func checkLogin(t *testing.T, evs []*CommandEvent, l loginResult, start time.Time) {
	t.Helper()
	for _, e := range evs {
		if e.AUID != testUID || e.Session != l.ses || e.TTY != "" || !slices.Contains(e.Keys, auditrules.Key) {
			t.Errorf("event of session %d: auid %d ses %d tty %q keys %q", l.ses, e.AUID, e.Session, e.TTY, e.Keys)
		}
		if e.Incomplete {
			t.Errorf("incomplete event %v: %q", e, e.Problems)
		}
		// The kernel's clock, in milliseconds.
		if e.Time.Before(start.Add(-time.Second)) || e.Time.After(time.Now().Add(time.Second)) {
			t.Errorf("event time %v outside the test's %v..now", e.Time, start)
		}
		if e.Syscall != "execve" && e.Syscall != "execveat" {
			t.Errorf("syscall %q", e.Syscall)
		}
	}
}

// only returns the single event matching, failing otherwise.
func only(t *testing.T, evs []*CommandEvent, what string, match func(*CommandEvent) bool) *CommandEvent {
	t.Helper()
	var found []*CommandEvent
	for _, e := range evs {
		if match(e) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		var b strings.Builder
		for _, e := range evs {
			fmt.Fprintf(&b, "  %v\n", e)
		}
		t.Fatalf("%d events for %s, want 1; session's events:\n%s", len(found), what, b.String())
	}
	return found[0]
}

func TestCommandTimeline(t *testing.T) {
	requireAudit(t)
	addRules(t)
	r := openReader(t, Options{})
	t.Logf("reader mode: %v", r.Mode())
	c := collect(r)

	dir, err := filepath.EvalSymlinks(t.TempDir()) // the kernel logs resolved paths
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub dir")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n/bin/echo in-script \"$1\"\n/usr/bin/env /bin/true nested\n"
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "noexec.txt"), []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("sh -c", func(t *testing.T) {
		start := time.Now()
		cmd := `cd "sub dir" && /bin/echo 'a b' 'q"uote' '' é; ls -a . >/dev/null; /bin/false; cd ..; /usr/bin/printf '%s\n' last`
		l := runLogin(t, testUID, dir, nil, "/bin/sh", "-c", cmd)
		c.waitFor(t, "printf", func(e *CommandEvent) bool {
			return e.Session == l.ses && len(e.Argv) > 0 && e.Argv[0] == "/usr/bin/printf"
		})
		evs := c.session(l.ses)
		checkLogin(t, evs, l, start)
		var got [][]string
		for _, e := range evs {
			got = append(got, e.Argv)
		}
		want := [][]string{
			{"/bin/sh", "-c", cmd},
			{"/bin/echo", "a b", `q"uote`, "", "é"},
			{"ls", "-a", "."},
			{"/bin/false"},
			{"/usr/bin/printf", `%s\n`, "last"},
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("argvs %q, want %q", got, want)
		}
		login, echo, ls := evs[0], evs[1], evs[2]
		if login.PID != l.pid || login.Cwd != dir || login.Executable != "/bin/sh" || login.Exe != "/usr/bin/dash" {
			t.Errorf("login shell: %v exe %q", login, login.Exe)
		}
		if echo.PPID != l.pid || echo.Cwd != sub || !echo.Success || echo.Exit != 0 || echo.Comm != "echo" {
			t.Errorf("echo: %v", echo)
		}
		// dash looked ls up in PATH itself and execs the full path.
		if ls.Executable != "/usr/bin/ls" || ls.Exe != "/usr/bin/ls" || ls.Cwd != sub {
			t.Errorf("ls: %v exe %q", ls, ls.Exe)
		}
		if evs[4].Cwd != dir {
			t.Errorf("printf after cd ..: %v", evs[4])
		}
	})

	t.Run("script", func(t *testing.T) {
		start := time.Now()
		l := runLogin(t, testUID, dir, nil, "/bin/sh", "-c", "./run.sh 'arg one'; /bin/echo after")
		c.waitFor(t, "echo after", inSession(l.ses, "/bin/echo", "after"))
		evs := c.session(l.ses)
		checkLogin(t, evs, l, start)
		if len(evs) != 6 {
			t.Errorf("%d events, want 6 (sh, run.sh, echo, env, true, echo)", len(evs))
		}
		// The kernel logs the argv it built for the interpreter.
		s := only(t, evs, "the script", argvIs("/bin/sh", "./run.sh", "arg one"))
		if s.Executable != "./run.sh" || s.Exe != "/usr/bin/dash" || s.PPID != l.pid || s.Cwd != dir {
			t.Errorf("script: %v exe %q", s, s.Exe)
		}
		echo := only(t, evs, "echo in the script", argvIs("/bin/echo", "in-script", "arg one"))
		env := only(t, evs, "env in the script", argvIs("/usr/bin/env", "/bin/true", "nested"))
		tr := only(t, evs, "true run by env", argvIs("/bin/true", "nested"))
		if echo.PPID != s.PID || env.PPID != s.PID || tr.PID != env.PID || tr.PPID != s.PID {
			t.Errorf("process tree: script %d, echo %d<-%d, env %d<-%d, true %d<-%d",
				s.PID, echo.PID, echo.PPID, env.PID, env.PPID, tr.PID, tr.PPID)
		}
	})

	t.Run("bash -c", func(t *testing.T) {
		start := time.Now()
		l := runLogin(t, testUID, sub, nil, "/bin/bash", "-c", "/bin/echo one; cd /; /bin/echo two")
		c.waitFor(t, "echo two", inSession(l.ses, "/bin/echo", "two"))
		evs := c.session(l.ses)
		checkLogin(t, evs, l, start)
		only(t, evs, "bash", argvIs("/bin/bash", "-c", "/bin/echo one; cd /; /bin/echo two"))
		one := only(t, evs, "echo one", argvIs("/bin/echo", "one"))
		two := only(t, evs, "echo two", argvIs("/bin/echo", "two"))
		if one.PPID != l.pid || one.Cwd != sub || two.Cwd != "/" {
			t.Errorf("echo one %v, echo two %v", one, two)
		}
		// bash runs the last command of -c in its own process (no fork).
		t.Logf("bash -c: last command pid %d, bash pid %d", two.PID, l.pid)
		if two.PID != l.pid && two.PPID != l.pid {
			t.Errorf("echo two: pid %d ppid %d, bash %d", two.PID, two.PPID, l.pid)
		}
	})

	t.Run("exec", func(t *testing.T) {
		start := time.Now()
		l := runLogin(t, testUID, dir, nil, "/bin/sh", "-c", "/bin/true; exec /bin/echo replaced")
		e := c.waitFor(t, "exec", inSession(l.ses, "/bin/echo", "replaced"))
		checkLogin(t, c.session(l.ses), l, start)
		if e.PID != l.pid {
			t.Errorf("exec'd echo: pid %d, want the shell's %d", e.PID, l.pid)
		}
	})

	t.Run("program started by a program", func(t *testing.T) {
		start := time.Now()
		l := runLogin(t, testUID, dir, nil, "/usr/bin/timeout", "10", "/bin/sh", "-c", "/bin/echo grandchild; true")
		c.waitFor(t, "grandchild", inSession(l.ses, "/bin/echo", "grandchild"))
		evs := c.session(l.ses)
		checkLogin(t, evs, l, start)
		to := only(t, evs, "timeout", argvIs("/usr/bin/timeout", "10", "/bin/sh", "-c", "/bin/echo grandchild; true"))
		sh := only(t, evs, "sh under timeout", argvIs("/bin/sh", "-c", "/bin/echo grandchild; true"))
		gc := only(t, evs, "echo under sh", argvIs("/bin/echo", "grandchild"))
		if to.PID != l.pid || sh.PPID != to.PID || gc.PPID != sh.PID {
			t.Errorf("process tree: timeout %d (login %d), sh %d<-%d, echo %d<-%d", to.PID, l.pid, sh.PID, sh.PPID, gc.PID, gc.PPID)
		}
	})

	t.Run("execveat", func(t *testing.T) {
		start := time.Now()
		self, _ := os.Executable()
		l := runLogin(t, testUID, dir, []string{thenEnv + "=execveat"}, self)
		e := c.waitFor(t, "execveat", inSession(l.ses, "echo", "via-execveat"))
		checkLogin(t, c.session(l.ses), l, start)
		if e.Syscall != "execveat" || e.Exe != "/usr/bin/echo" || e.PID != l.pid || !e.Success {
			t.Errorf("execveat: %v syscall %q exe %q", e, e.Syscall, e.Exe)
		}
		t.Logf("execveat PATH item 0: %q", e.Executable)
	})

	t.Run("32-bit program", func(t *testing.T) {
		// A static i386 Go program execs through int 0x80: arch=b32.
		gobin, err := exec.LookPath("go")
		if err != nil {
			t.Skip("skipping: no go command to build a 32-bit program")
		}
		src := t.TempDir()
		prog := "package main\n\nimport (\n\t\"os\"\n\t\"syscall\"\n)\n\n" +
			"func main() {\n\tpanic(syscall.Exec(\"/bin/echo\", []string{\"/bin/echo\", \"from-i386\"}, os.Environ()))\n}\n"
		if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(prog), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module i386exec\n\ngo 1.21\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(src, "i386exec")
		build := exec.Command(gobin, "build", "-o", bin, ".")
		build.Dir = src
		build.Env = append(os.Environ(), "GOARCH=386", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
		if out, err := build.CombinedOutput(); err != nil {
			t.Skipf("skipping: cannot build a 386 program: %v\n%s", err, out)
		}
		if err := exec.Command(bin, "probe").Run(); errors.Is(err, syscall.ENOEXEC) {
			t.Skip("skipping: this kernel does not run 32-bit programs (ia32 emulation off)")
		}
		start := time.Now()
		l := runLogin(t, testUID, dir, nil, bin)
		e := c.waitFor(t, "the i386 exec", inSession(l.ses, "/bin/echo", "from-i386"))
		checkLogin(t, c.session(l.ses), l, start)
		if e.Arch != "i386" || e.Syscall != "execve" || e.PID != l.pid || !e.Success {
			t.Errorf("i386 exec: %v arch %q syscall %q", e, e.Arch, e.Syscall)
		}
	})

	t.Run("failed exec", func(t *testing.T) {
		start := time.Now()
		l := runLogin(t, testUID, dir, nil, "/bin/sh", "-c", "/nonexistent/vigil-missing arg; ./noexec.txt; /bin/echo end")
		c.waitFor(t, "echo end", inSession(l.ses, "/bin/echo", "end"))
		evs := c.session(l.ses)
		checkLogin(t, evs, l, start)
		missing := only(t, evs, "the missing program", func(e *CommandEvent) bool { return e.Executable == "/nonexistent/vigil-missing" })
		if missing.Success || missing.Exit != -int64(syscall.ENOENT) || missing.Errno() != syscall.ENOENT || missing.Argv != nil || missing.PPID != l.pid || missing.Cwd != dir {
			t.Errorf("missing program: %v", missing)
		}
		noexec := only(t, evs, "the non-executable file", func(e *CommandEvent) bool { return e.Executable == "./noexec.txt" })
		if noexec.Success || noexec.Errno() != syscall.EACCES {
			t.Errorf("non-executable file: %v", noexec)
		}
		if len(evs) != 4 {
			t.Errorf("%d events, want 4 (sh, 2 failures, echo)", len(evs))
		}
	})

	t.Run("arguments", func(t *testing.T) {
		start := time.Now()
		argv := []string{"/bin/echo",
			strings.Repeat("é", 10000), // 20,000 bytes: hex, split over records
			strings.Repeat("y", 8000),  // printable but too long for one record
			"tab\tand\nnewline", "", "$HOME", "-n"}
		for i := range 2000 { // many arguments: several EXECVE records
			argv = append(argv, fmt.Sprintf("arg%d", i))
		}
		l := runLogin(t, testUID, dir, nil, argv...)
		e := c.waitFor(t, "long echo", func(ev *CommandEvent) bool { return ev.Session == l.ses })
		checkLogin(t, []*CommandEvent{e}, l, start)
		if !slices.Equal(e.Argv, argv) {
			t.Errorf("argv: %d arguments, want %d", len(e.Argv), len(argv))
			for i := range min(len(e.Argv), len(argv)) {
				if e.Argv[i] != argv[i] {
					t.Errorf("argument %d: %d bytes %.40q..., want %d bytes %.40q...", i, len(e.Argv[i]), e.Argv[i], len(argv[i]), argv[i])
				}
			}
		}
		if len(e.Proctitle) > 128 {
			t.Errorf("proctitle of %d bytes; the kernel keeps 128", len(e.Proctitle))
		}
	})

	t.Run("no login uid", func(t *testing.T) {
		marker := fmt.Sprintf("vigil-unlogged-%d", time.Now().UnixNano())
		// A child that unsets its login uid, runs commands and a shell
		// that runs more; and the test's own child if it has none.
		runLogin(t, Unset, dir, nil, "/bin/sh", "-c", "/bin/echo "+marker+"; /bin/sh -c '/bin/echo "+marker+"; true'")
		if own, err := os.ReadFile("/proc/self/loginuid"); err == nil && strings.TrimSpace(string(own)) == fmt.Sprint(Unset) {
			if out, err := exec.Command("/bin/echo", marker).CombinedOutput(); err != nil {
				t.Fatalf("echo: %v %s", err, out)
			}
		}
		sentinel := "sentinel-" + marker
		l := runLogin(t, testUID, dir, nil, "/bin/echo", sentinel)
		c.waitFor(t, "the sentinel", func(e *CommandEvent) bool { return e.Session == l.ses })
		for _, e := range c.snapshot() {
			if slices.Contains(e.Argv, marker) || strings.Contains(e.Proctitle, marker+";") {
				t.Errorf("event of a process without login uid: %v (auid %d)", e, e.AUID)
			}
		}
	})

	st, err := r.Status()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status: %+v", st)
	if st.LostSinceOpen != 0 || st.Incomplete != 0 || st.Overruns != 0 || st.SerialGaps != 0 {
		t.Errorf("losses: lost %d, incomplete %d, overruns %d, serial gaps %d", st.LostSinceOpen, st.Incomplete, st.Overruns, st.SerialGaps)
	}
	if st.Mode == ModeDaemon && (st.Enabled != 1 || st.PID != uint32(os.Getpid()) || st.BacklogLimit < 8192) {
		t.Errorf("daemon mode status: %+v", st)
	}
}
