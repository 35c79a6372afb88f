package pam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/pam/pamtest"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/nssdb"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// module is pam_vigil.so, asanModule the same built with AddressSanitizer
// and UBSan, and driver testdata/driver.c with them: built once by
// TestMain.
var module, asanModule, driver string

// sanitize are the sanitizers' compiler flags.
var sanitize = []string{"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"}

// asanPreload is what a program not built with AddressSanitizer (pamtester)
// preloads to load asanModule: the sanitizer's runtime, first.
const asanPreload = "libasan.so.8"

// decideTimeout is session.h's VDECIDE_TIMEOUT_MS.
const decideTimeout = 2 * time.Second

// envBuilt passes the directory of what TestMain built to the test binaries
// go test -fuzz starts as its workers, which are killed at the end and
// would leave a directory each behind.
const envBuilt = "VIGIL_PAM_TEST_BUILT"

func TestMain(m *testing.M) {
	if dir := os.Getenv(envBuilt); dir != "" {
		module, asanModule, driver = filepath.Join(dir, "pam_vigil.so"), filepath.Join(dir, "asan", "pam_vigil.so"), filepath.Join(dir, "driver")
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "pam_vigil-test.")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	module, err = pamtest.BuildModule(dir)
	if err == nil {
		asanModule, err = pamtest.BuildModule(filepath.Join(dir, "asan"), sanitize...)
	}
	if err == nil {
		driver, err = buildDriver(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	os.Setenv(envBuilt, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The users nss_wrapper knows: alice and dave are wrapped by NSS (their
// shell is the recorder), bob and carol are not.
var users = []pamtest.User{
	{Name: "alice", UID: 1001, Shell: pamtest.Recorder},
	{Name: "bob", UID: 1002, Shell: "/bin/bash"},
	{Name: "carol", UID: 1003, Shell: "/bin/bash"},
	{Name: "dave", UID: 1004, Shell: pamtest.Recorder},
	{Name: "slow", UID: 1005, Shell: pamtest.Recorder},
}

const aliceConf = `{"notice":"recorded session","log":{"input":false}}`

// policy records alice and carol, not bob or dave.
var policy = pamtest.Policy{Decisions: map[string]wire.Decision{
	"alice": {Record: true, Shell: "/bin/zsh", Recorder: pamtest.Recorder, Conf: aliceConf, Rule: `rule "ops" (policy.toml:3)`},
	"bob":   {Shell: "/bin/bash", Recorder: pamtest.Recorder, Conf: "{}", Rule: "default"},
	"carol": {Record: true, Shell: "/bin/bash", Recorder: pamtest.Recorder, Conf: "{}", Rule: `rule "ops" (policy.toml:3)`},
	"dave":  {Shell: "/bin/sh", Recorder: pamtest.Recorder, Conf: `{"x":1}`, Rule: `rule "sftp" (policy.toml:8)`},
	"slow":  {Record: true, Shell: "/bin/bash", Recorder: pamtest.Recorder, Conf: "{}", Rule: "r"},
}, Slow: "slow"}

// stack is the test service: pam_vigil's result shows as the marker line
// "vigil-result=ignore" (PAM_IGNORE), the PAM environment as env's output,
// a failure ends the stack. pam_exec's stdout reaches pamtester's stdout
// through the conversation.
const stack = `session [success=1 ignore=ignore default=die] %s %s
session optional pam_exec.so stdout /bin/echo vigil-result=ignore
session optional pam_exec.so stdout /usr/bin/env
session required pam_permit.so
`

// result is one pamtester run.
type result struct {
	ok      bool              // open_session succeeded
	ignored bool              // pam_vigil returned PAM_IGNORE
	env     map[string]string // the PAM environment after pam_vigil
	errMsgs []string          // PAM_ERROR_MSG lines from pam_vigil
	syslog  []string          // pam_syslog lines, "N: text" with N the priority
	out     string
}

var syslogLine = regexp.MustCompile(`SYSLOG\((\d)\): (.*)`)

// pamtester runs `pamtester -v vtest USER open_session` under pam_wrapper
// and nss_wrapper with the stack above, pam_vigil (so, or asanModule with
// the sanitizers' runtime) getting args.
func pamtester(t *testing.T, so string, env []string, user, args string) result {
	t.Helper()
	svc := t.TempDir()
	if err := os.WriteFile(filepath.Join(svc, "vtest"), fmt.Appendf(nil, stack, so, args), 0o644); err != nil {
		t.Fatal(err)
	}
	preload := pamtest.PamWrapper + " " + pamtest.NSSWrapper
	if so == asanModule {
		// pamtester and libpam leak by design: only our memory errors count.
		preload = asanPreload + " " + preload
		env = append(slices.Clone(env), "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pamtester", "-v", "vtest", user, "open_session")
	cmd.Env = append(env, "LD_PRELOAD="+preload,
		"PAM_WRAPPER=1", "PAM_WRAPPER_SERVICE_DIR="+svc, "PAM_WRAPPER_DEBUGLEVEL=2")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || ctx.Err() != nil) {
		t.Fatalf("pamtester: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	r := result{ok: err == nil, env: map[string]string{}, out: stdout.String() + stderr.String()}
	if strings.Contains(r.out, "AddressSanitizer") || strings.Contains(r.out, "runtime error:") {
		t.Fatalf("the sanitizers found an error in pam_vigil:\n%s", r.out)
	}
	for _, l := range strings.Split(stdout.String(), "\n") {
		if l == "vigil-result=ignore" {
			r.ignored = true
		} else if k, v, ok := strings.Cut(l, "="); ok && (strings.HasPrefix(k, "VIGIL_") || strings.HasPrefix(k, "TLOG_")) {
			r.env[k] = v
		}
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "vigil: ") {
			r.errMsgs = append(r.errMsgs, l)
		} else if m := syslogLine.FindStringSubmatch(l); m != nil {
			r.syslog = append(r.syslog, m[1]+": "+m[2])
		}
	}
	return r
}

func (r result) hasSyslog(prio, substr string) bool {
	for _, l := range r.syslog {
		if strings.HasPrefix(l, prio+": ") && strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

func writeSnapshot(t *testing.T, entries ...nssdb.Entry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nss.snapshot")
	if err := nssdb.WriteSnapshot(p, 7, false, entries); err != nil {
		t.Fatal(err)
	}
	return p
}

// moduleCase is one case of TestModule.
type moduleCase struct {
	name, user, args string
	env              []string
	slow             bool // policyd answers too late: takes about the module's timeout
	ok, ignored      bool
	vars             map[string]string
	errMsg           string // prefix of the one error message, "" for none
	prio, log        string // a syslog line
}

func TestModule(t *testing.T) {
	svctest.RequireRoot(t)
	addr := svctest.StartSystemBus(t)
	pamtest.Serve(t, addr, policy)
	nss := pamtest.NSSEnv(t, t.TempDir(), users...)
	up := pamtest.Env(append(nss, "DBUS_SYSTEM_BUS_ADDRESS="+addr)...)
	down := pamtest.Env(append(nss, "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "nobus"))...)
	snap := writeSnapshot(t,
		nssdb.Entry{Name: "alice", Passwd: "x", UID: 1001, GID: 1001, Dir: "/home/alice", Shell: pamtest.Recorder, Recorded: true},
		nssdb.Entry{Name: "bob", Passwd: "x", UID: 1002, GID: 1002, Dir: "/home/bob", Shell: "/bin/bash"},
		nssdb.Entry{Name: "slow", Passwd: "x", UID: 1005, GID: 1005, Dir: "/home/slow", Shell: pamtest.Recorder, Recorded: true})
	vigilEnv := func(shell, conf string) map[string]string {
		return map[string]string{"VIGIL_REC_SHELL": shell, "VIGIL_REC_CONF": conf, "VIGIL_REC_SERVICE": "vtest",
			"TLOG_REC_SESSION_SHELL": shell, "TLOG_REC_SESSION_CONF_TEXT": conf}
	}
	denied := "vigil: this session must be recorded, but "

	cases := []moduleCase{
		{name: "recorded", user: "alice", env: up, ok: true, vars: vigilEnv("/bin/zsh", aliceConf),
			prio: "6", log: "the login shell is the recorder " + pamtest.Recorder},
		{name: "not recorded", user: "bob", env: up, ok: true, ignored: true},
		{name: "shell not the recorder", user: "carol", env: up, errMsg: denied + "the recorder is not the login shell",
			prio: "3", log: `NSS gives the login program the shell "/bin/bash", not the recorder`},
		{name: "norecord but wrapped by NSS", user: "dave", env: up, ok: true, vars: vigilEnv("/bin/sh", `{"x":1}`),
			prio: "5", log: "recorded anyway"},
		{name: "unknown to policyd", user: "zed", env: up, ok: true, ignored: true, prio: "5", log: "unknown to policyd"},
		{name: "bus down, snapshot recorded, deny", user: "alice", args: "snapshot=" + snap, env: down,
			errMsg: denied + "the recording policy service is unavailable", prio: "3", log: "says alice is recorded; on_unavailable=deny"},
		{name: "bus down, snapshot recorded, allow", user: "alice", args: "on_unavailable=allow snapshot=" + snap, env: down,
			ok: true, ignored: true, prio: "4", log: "on_unavailable=allow: session allowed"},
		{name: "bus down, snapshot not recorded", user: "bob", args: "snapshot=" + snap, env: down, ok: true, ignored: true},
		{name: "policyd too slow, snapshot recorded", user: "slow", args: "snapshot=" + snap, env: up, slow: true,
			errMsg: denied + "the recording policy service is unavailable", prio: "3", log: "decide: receive: timed out"},
		{name: "bus down, no snapshot", user: "bob", args: "snapshot=/nonexistent", env: down,
			errMsg: denied, prio: "3", log: "snapshot is unusable"},
	}
	// Each case with the module as built, and built with the sanitizers.
	for _, v := range []struct{ name, so string }{{"plain", module}, {"asan", asanModule}} {
		for _, tc := range cases {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) { checkModule(t, v.so, tc) })
		}
	}
}

// checkModule runs one case of TestModule with pam_vigil so.
func checkModule(t *testing.T, so string, tc moduleCase) {
	start := time.Now()
	r := pamtester(t, so, tc.env, tc.user, tc.args)
	if d := time.Since(start); tc.slow && (d < decideTimeout || d > decideTimeout+2*time.Second) {
		t.Errorf("took %v with a policyd slower than the module's timeout %v", d, decideTimeout)
	}
	defer func() {
		if t.Failed() {
			t.Logf("pamtester output:\n%s", r.out)
		}
	}()
	if r.ok != tc.ok || r.ignored != tc.ignored {
		t.Errorf("ok %t ignored %t, want %t %t", r.ok, r.ignored, tc.ok, tc.ignored)
	}
	if tc.vars == nil {
		tc.vars = map[string]string{}
	}
	if fmt.Sprint(r.env) != fmt.Sprint(tc.vars) {
		t.Errorf("environment %q, want %q", r.env, tc.vars)
	}
	if tc.errMsg == "" && len(r.errMsgs) > 0 || tc.errMsg != "" && (len(r.errMsgs) != 1 || !strings.HasPrefix(r.errMsgs[0], tc.errMsg)) {
		t.Errorf("error messages %q, want one starting %q", r.errMsgs, tc.errMsg)
	}
	if tc.log != "" && !r.hasSyslog(tc.prio, tc.log) {
		t.Errorf("no syslog line %s: ...%s... in %q", tc.prio, tc.log, r.syslog)
	}
}

// TestUnknownService proves pam_wrapper serves the test's own services: an
// unknown one must fail, not fall back to the host's /etc/pam.d/other.
func TestUnknownService(t *testing.T) {
	svctest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pamtester", "vigil-no-such-service", "root", "open_session")
	cmd.Env = pamtest.Env("LD_PRELOAD="+pamtest.PamWrapper, "PAM_WRAPPER=1", "PAM_WRAPPER_SERVICE_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("open_session on an unknown service succeeded:\n%s", out)
	}
}

// TestExports: the module exports the PAM entry points and nothing else
// (pam_vigil.map), so none of its functions can interpose on, or be
// interposed by, another library in the login program.
func TestExports(t *testing.T) {
	out, err := exec.Command("nm", "-D", "--defined-only", module).Output()
	if err != nil {
		t.Fatal(err)
	}
	var syms []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		syms = append(syms, f[len(f)-1])
	}
	if want := "[pam_sm_close_session pam_sm_open_session]"; fmt.Sprint(syms) != want {
		t.Errorf("exported symbols %v, want %s", syms, want)
	}
}
