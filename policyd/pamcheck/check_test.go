package pamcheck

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"

	"github.com/vigil-rec/vigil/pam/pamtest"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// Check must run on the main thread: init keeps the main goroutine there
// and TestMain runs what onMain hands it while the tests run elsewhere.
func init() { runtime.LockOSThread() }

var mainFuncs = make(chan func())

func TestMain(m *testing.M) {
	done := make(chan int)
	go func() { done <- m.Run() }()
	for {
		select {
		case f := <-mainFuncs:
			f()
		case code := <-done:
			os.Exit(code)
		}
	}
}

// checkOnMain is Check called on the main thread.
func checkOnMain(service, user string, opts Options) (r Result, err error) {
	ran := make(chan struct{})
	mainFuncs <- func() {
		defer close(ran)
		r, err = Check(service, user, opts)
	}
	<-ran
	return r, err
}

// confDir writes PAM service files (name -> content) into a temp dir.
func confDir(t *testing.T, services map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range services {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheck(t *testing.T) {
	svctest.RequireRoot(t)
	if !pam.CheckPamHasStartConfdir() {
		t.Skip("libpam has no pam_start_confdir")
	}
	envConf := filepath.Join(t.TempDir(), "env.conf")
	if err := os.WriteFile(envConf, []byte("VIGIL_REC_SHELL DEFAULT=/bin/zsh\nTLOG_REC_SESSION_SHELL DEFAULT=/bin/zsh\nOTHER DEFAULT=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := confDir(t, map[string]string{
		"envset": "session required pam_env.so readenv=0 user_readenv=0 conffile=" + envConf + "\n" +
			"session optional pam_echo.so hello from the stack\n" +
			"session required pam_permit.so\n",
		"denied": "session required pam_deny.so\n",
	})

	r, err := checkOnMain("envset", "root", Options{ConfDir: dir, Rhost: "10.1.2.3", Tty: "pts/7"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Opened() {
		t.Errorf("envset: status %v, want success", r.Status)
	}
	want := map[string]string{"VIGIL_REC_SHELL": "/bin/zsh", "TLOG_REC_SESSION_SHELL": "/bin/zsh"}
	if fmt.Sprint(r.Vigil) != fmt.Sprint(want) || r.Env["OTHER"] != "x" || r.Env["VIGIL_REC_SHELL"] != "/bin/zsh" {
		t.Errorf("envset: env %q, vigil %q; want OTHER too and vigil %q", r.Env, r.Vigil, want)
	}
	if len(r.Messages) != 1 || r.Messages[0] != (Message{pam.TextInfo, "hello from the stack"}) {
		t.Errorf("envset: messages %+v", r.Messages)
	}

	r, err = checkOnMain("denied", "root", Options{ConfDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.Opened() || !errors.Is(r.Status, pam.ErrSession) {
		t.Errorf("denied: status %v, want %v", r.Status, pam.ErrSession)
	}

	// No such service and no "other" in dir: the check fails, it never
	// falls back to the host's stack.
	if r, err := checkOnMain("vigil-no-such-service", "root", Options{ConfDir: dir}); err == nil && r.Opened() {
		t.Errorf("unknown service opened a session: %+v", r)
	}
}

// envInner marks the re-executed test binary running under nss_wrapper.
const envInner = "VIGIL_CHECK_TEST_INNER"

// TestCheckVigil runs pam_vigil.so inside this Go
// process through Check, as vigilctl check does, with nss_wrapper users:
// the test re-executes itself with libnss_wrapper preloaded.
func TestCheckVigil(t *testing.T) {
	svctest.RequireRoot(t)
	if !pam.CheckPamHasStartConfdir() {
		t.Skip("libpam has no pam_start_confdir")
	}
	if os.Getenv(envInner) != "" {
		checkVigilInner(t)
		return
	}
	so, err := pamtest.BuildModule(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr := svctest.StartSystemBus(t)
	pamtest.Serve(t, addr, pamtest.Policy{Decisions: map[string]wire.Decision{
		"alice": {Record: true, Shell: "/bin/zsh", Recorder: pamtest.Recorder, Conf: `{"a":1}`, Rule: "r"},
		"carol": {Record: true, Shell: "/bin/bash", Recorder: pamtest.Recorder, Conf: "{}", Rule: "r"},
	}})
	nss := pamtest.NSSEnv(t, t.TempDir(),
		pamtest.User{Name: "alice", UID: 1001, Shell: pamtest.Recorder},
		pamtest.User{Name: "carol", UID: 1003, Shell: "/bin/bash"})
	dir := confDir(t, map[string]string{"vtest": "session required " + so + "\nsession required pam_permit.so\n"})
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCheckVigil$", "-test.v", "-test.count=1", "-test.timeout=1m")
	cmd.Env = pamtest.Env(append(nss, envInner+"="+dir, "DBUS_SYSTEM_BUS_ADDRESS="+addr, "LD_PRELOAD="+pamtest.NSSWrapper)...)
	out, err := cmd.CombinedOutput()
	t.Logf("under nss_wrapper:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestCheckVigil") {
		t.Fatalf("inner test failed: %v", err)
	}
}

func checkVigilInner(t *testing.T) {
	dir := os.Getenv(envInner)
	r, err := checkOnMain("vtest", "alice", Options{ConfDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"VIGIL_REC_SHELL": "/bin/zsh", "VIGIL_REC_CONF": `{"a":1}`, "VIGIL_REC_SERVICE": "vtest",
		"TLOG_REC_SESSION_SHELL": "/bin/zsh", "TLOG_REC_SESSION_CONF_TEXT": `{"a":1}`}
	if !r.Opened() || fmt.Sprint(r.Vigil) != fmt.Sprint(want) {
		t.Errorf("alice: status %v, vigil env %q; want success and %q", r.Status, r.Vigil, want)
	}

	r, err = checkOnMain("vtest", "carol", Options{ConfDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(r.Status, pam.ErrPermDenied) || len(r.Vigil) != 0 {
		t.Errorf("carol: status %v, vigil env %q; want %v and none", r.Status, r.Vigil, pam.ErrPermDenied)
	}
	if len(r.Messages) != 1 || r.Messages[0].Style != pam.ErrorMsg || !strings.HasPrefix(r.Messages[0].Text, "vigil: ") {
		t.Errorf("carol: messages %+v, want pam_vigil's error", r.Messages)
	}
}

// pam_loginuid writes /proc/self/loginuid, which the kernel takes only from
// the thread-group leader: off the main thread the session would fail with
// PAM_SESSION_ERR, which vigilctl check once reported for a session sshd
// opened. Check says why instead. Run in a child process: opening the
// session sets that process's loginuid.
func TestCheckLoginuid(t *testing.T) {
	svctest.RequireRoot(t)
	if !pam.CheckPamHasStartConfdir() {
		t.Skip("libpam has no pam_start_confdir")
	}
	if _, err := os.Stat("/proc/self/loginuid"); err != nil {
		t.Skip("no loginuid in this kernel:", err)
	}
	if dir := os.Getenv(envLoginuid); dir != "" {
		// Off the main thread first: once set, loginuid is "already
		// correct" and pam_loginuid no longer writes it.
		type res struct {
			r   Result
			err error
		}
		c := make(chan res, 1)
		go func() {
			r, err := Check("loginuid", "root", Options{ConfDir: dir})
			c <- res{r, err}
		}()
		if off := <-c; !errors.Is(off.err, ErrNotMainThread) {
			t.Errorf("off the main thread: %v, status %v; want %v", off.err, off.r.Status, ErrNotMainThread)
		}
		r, err := checkOnMain("loginuid", "root", Options{ConfDir: dir})
		if err != nil || !r.Opened() {
			t.Errorf("on the main thread: %v, status %v; want the session opened", err, r.Status)
		}
		return
	}
	dir := confDir(t, map[string]string{"loginuid": "session required pam_loginuid.so\nsession required pam_permit.so\n"})
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCheckLoginuid$", "-test.v", "-test.count=1", "-test.timeout=1m")
	cmd.Env = append(os.Environ(), envLoginuid+"="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestCheckLoginuid") {
		t.Fatalf("child failed: %v", err)
	}
}

const envLoginuid = "VIGIL_TEST_CHECK_LOGINUID"
