package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/nssdb"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// More test identities (namespace only): bob's primary group is ops, carol
// is in wheel as a supplementary group, dave's shell is nologin.
const (
	bobUID   = 64502
	carolUID = 64503
	daveUID  = 64504
	opsGID   = 64510
	wheelGID = 64511
	adminGID = 64512
)

// policyHost mounts, in the test's namespace, a copy of /etc with the test
// users and groups, a tmpfs /run and /var/lib (for /run/vigil and
// /var/lib/vigil), and returns a work directory the test users can reach.
func policyHost(t *testing.T) string {
	t.Helper()
	w := openTempDir(t)
	etc := filepath.Join(w, "etc")
	if out, err := exec.Command("cp", "-a", "/etc", etc).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc: %v\n%s", err, out)
	}
	appendFile(t, filepath.Join(etc, "passwd"), fmt.Sprintf(
		"vigil:x:%d:%d:Vigil recorder:/nonexistent:/usr/sbin/nologin\n"+
			"alice:x:%d:%d:Alice:/home/alice:/bin/bash\n"+
			"bob:x:%d:%d:Bob:/home/bob:/bin/sh\n"+
			"carol:x:%d:%d:Carol:/home/carol:/bin/bash\n"+
			"dave:x:%d:%d:Dave:/nonexistent:/usr/sbin/nologin\n",
		vigilUID, vigilUID, aliceUID, aliceUID, bobUID, opsGID, carolUID, carolUID, daveUID, daveUID))
	appendFile(t, filepath.Join(etc, "group"), fmt.Sprintf(
		"vigil:x:%d:\nalice:x:%d:\ncarol:x:%d:\ndave:x:%d:\nops:x:%d:\nwheel2:x:%d:carol,dave\nvigil-admin:x:%d:dave\n",
		vigilUID, aliceUID, carolUID, daveUID, opsGID, wheelGID, adminGID))
	svctest.Mount(t, "--bind", etc, "/etc")
	svctest.Tmpfs(t, "/run", "mode=755")
	svctest.Tmpfs(t, "/var/lib", "mode=755")
	return w
}

// startPolicyd starts a private system bus and vigil-policyd on policy, and
// waits until it answers. DBUS_SYSTEM_BUS_ADDRESS is set for the test's
// children.
func startPolicyd(t *testing.T, policy string, args ...string) *exec.Cmd {
	t.Helper()
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", svctest.StartSystemBus(t))
	return runPolicyd(t, policy, args...)
}

// runPolicyd starts vigil-policyd on policy, on the bus of
// DBUS_SYSTEM_BUS_ADDRESS, and waits until it answers.
func runPolicyd(t *testing.T, policy string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := svctest.Start(t, binPath("vigil-policyd"), append([]string{"--policy", policy, "--poll", "100ms"}, args...)...)
	var out []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out, err = exec.Command(binPath("vigilctl"), "status").CombinedOutput(); err == nil {
			return cmd
		}
	}
	t.Fatalf("policyd not up: %v\n%s", err, out)
	return nil
}

type explanation struct {
	Record bool   `json:"record"`
	Rule   string `json:"rule"`
	Shell  string `json:"shell"`
	Conf   any    `json:"conf"`
}

func explain(t *testing.T, args ...string) explanation {
	t.Helper()
	out, err := exec.Command(binPath("vigilctl"), append([]string{"explain", "--json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("vigilctl explain %v: %v\n%s", args, err, stderrOf(err))
	}
	var e explanation
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("explain output: %v\n%s", err, out)
	}
	return e
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

const policyV1 = `
recorder = "/usr/bin/vigil-rec-session"

[session_recording]
scope = "some"
users = "alice"
groups = ["ops"]

[[rule]]
name = "wheel2-su"
action = "record"
groups = ["wheel2"]
services = ["su"]
[rule.rec]
log.input = true
`

func TestPolicydDecisions(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	w := policyHost(t)
	policy := filepath.Join(w, "policy.toml")
	writeFile(t, policy, policyV1)
	startPolicyd(t, policy)

	for _, c := range []struct {
		args   []string
		record bool
		rule   string
	}{
		{[]string{"alice", "--service", "sshd"}, true, "scope=some users"},
		{[]string{"bob", "--service", "sshd"}, true, "groups (ops)"}, // primary group
		{[]string{"carol", "--service", "sshd"}, false, "not listed"},
		{[]string{"carol", "--service", "su"}, true, `rule "wheel2-su"`}, // supplementary group
		{[]string{"dave", "--service", "su"}, false, "no-login shell"},
	} {
		e := explain(t, c.args...)
		if e.Record != c.record || !strings.Contains(e.Rule, c.rule) {
			t.Errorf("explain %v: record=%v rule=%q, want %v %q", c.args, e.Record, e.Rule, c.record, c.rule)
		}
	}

	// The NSS side: the snapshot and the socket agree with the policy at
	// the NSS level (service unknown): carol is wrapped for su's sake.
	snap, err := nssdb.OpenSnapshot(nssdb.SnapshotPath)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"alice": true, "bob": true, "carol": true, "dave": false, "root": false} {
		e, ok := snap.ByName(name)
		if !ok || e.Recorded != want {
			t.Errorf("snapshot %s: present=%v recorded=%v, want recorded=%v", name, ok, e.Recorded, want)
		}
		if want && e.Shell != "/usr/bin/vigil-rec-session" {
			t.Errorf("snapshot %s: shell %q", name, e.Shell)
		}
	}
	c, err := nssdb.Dial(nssdb.SocketPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if e, rec, err := c.ByUID(aliceUID); err != nil || !rec || e.Name != "alice" || e.Dir != "/home/alice" {
		t.Errorf("socket uid %d: %+v %v %v", aliceUID, e, rec, err)
	}
	if _, rec, err := c.ByName("root"); err != nil || rec {
		t.Errorf("socket root: recorded=%v %v", rec, err)
	}

	// A new user appears: policyd notices /etc/passwd changed.
	appendFile(t, "/etc/passwd", "erin:x:64505:64510:Erin:/home/erin:/bin/bash\n")
	waitFor(t, "erin in the snapshot", func() bool {
		s, err := nssdb.OpenSnapshot(nssdb.SnapshotPath)
		if err != nil {
			return false
		}
		e, ok := s.ByName("erin")
		return ok && e.Recorded // ops is erin's primary group
	})

	// vigilctl rules lists the rule set in evaluation order with origins.
	out, err := exec.Command(binPath("vigilctl"), "rules").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "wheel2-su") || !strings.Contains(string(out), "policy.toml:9") ||
		!strings.Contains(string(out), "rec: log.input=true") || !strings.Contains(string(out), `then session_recording {`) {
		t.Errorf("vigilctl rules: %v\n%s", err, out)
	}

	// An edit to the policy is picked up by itself, and announced with
	// PolicyChanged; a broken one is refused with file:line and the policy
	// in force stays.
	bus, err := dbus.ConnectSystemBus()
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if err := bus.AddMatchSignal(dbus.WithMatchInterface(wire.Interface), dbus.WithMatchMember("PolicyChanged")); err != nil {
		t.Fatal(err)
	}
	signals := make(chan *dbus.Signal, 10)
	bus.Signal(signals)
	writeFile(t, policy, strings.Replace(policyV1, `users = "alice"`, `users = "carol"`, 1))
	waitFor(t, "the edited policy", func() bool { return explain(t, "carol", "--service", "sshd").Record })
	select {
	case sig := <-signals:
		if sig.Name != wire.SignalChanged || len(sig.Body) != 1 {
			t.Errorf("signal %s %v", sig.Name, sig.Body)
		}
	case <-time.After(5 * time.Second):
		t.Error("no PolicyChanged signal")
	}
	writeFile(t, policy, policyV1+"\n[[rule]]\nname = \"x\"\naction = \"maybe\"\n")
	out, err = exec.Command(binPath("vigilctl"), "reload").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `policy.toml:19: rule.action: must be "record" or "norecord" (got "maybe")`) {
		t.Errorf("reload of a broken policy: %v\n%s", err, out)
	}
	if !explain(t, "carol", "--service", "sshd").Record {
		t.Error("the broken policy replaced the good one")
	}
	status, _ := exec.Command(binPath("vigilctl"), "status").CombinedOutput()
	if !strings.Contains(string(status), "last error: ") || !strings.Contains(string(status), "stays in force") {
		t.Errorf("status does not report the rejected policy:\n%s", status)
	}

	// Reload is root's: a user gets AccessDenied from policyd (the bus
	// policy lets the call through only to root; either way, denied).
	cmd := exec.Command(binPath("vigilctl"), "reload")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: aliceUID, Gid: aliceUID}}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(strings.ToLower(string(out)), "denied") {
		t.Errorf("reload as alice: %v\n%s", err, out)
	}
	// A user may ask about themself only: who is exempted, by which rule
	// and group, is the admin's. Root, vigil and group vigil-admin (dave)
	// may ask about anyone and read the rules.
	as := func(uid int, args ...string) (string, error) {
		cmd := exec.Command(binPath("vigilctl"), args...)
		cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
		if uid == daveUID {
			cred.Groups = []uint32{wheelGID, adminGID}
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := as(aliceUID, "explain", "carol"); err == nil || !strings.Contains(out, "may ask only about itself") {
		t.Errorf("explain carol as alice: %v\n%s", err, out)
	}
	if out, err := as(aliceUID, "explain", "alice"); err != nil || !strings.Contains(out, "alice (any service): NOT recorded") {
		t.Errorf("explain alice as alice: %v\n%s", err, out)
	}
	if out, err := as(aliceUID, "rules"); err == nil || !strings.Contains(strings.ToLower(out), "denied") {
		t.Errorf("rules as alice: %v\n%s", err, out)
	}
	if out, err := as(aliceUID, "status"); err != nil || strings.Contains(out, "last error") {
		t.Errorf("status as alice shows the rejected policy: %v\n%s", err, out)
	}
	if out, err := as(daveUID, "explain", "carol"); err != nil || !strings.Contains(out, "carol (any service): RECORDED") {
		t.Errorf("explain carol as dave (vigil-admin): %v\n%s", err, out)
	}
	if out, err := as(daveUID, "rules"); err != nil || !strings.Contains(out, "wheel") {
		t.Errorf("rules as dave (vigil-admin): %v\n%s", err, out)
	}
	// The recorder's methods are the recorder's: the bus refuses them to
	// anyone else, and policyd would too.
	conn, err := dbus.Dial(os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal("root")}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Hello(); err != nil {
		t.Fatal(err)
	}
	err = conn.Object(wire.BusName, wire.Path).Call(wire.MethodSignalSession, 0, uint32(syscall.SIGKILL)).Err
	if err == nil || !strings.Contains(err.Error(), "for the vigil recorder only") {
		t.Errorf("SignalSession as root: %v", err)
	}

	// Offline evaluation of a candidate file, without the daemon.
	cand := filepath.Join(w, "candidate.toml")
	writeFile(t, cand, "[session_recording]\nscope = \"all\"\nexclude_groups = \"wheel2\"\n")
	if e := explain(t, "carol", "--policy", cand); e.Record || !strings.Contains(e.Rule, "exclude_groups (wheel2)") {
		t.Errorf("offline explain: %+v", e)
	}
	if out, err := exec.Command(binPath("vigilctl"), "check-config", policy).CombinedOutput(); err == nil {
		t.Errorf("check-config accepted a broken policy:\n%s", out)
	}
	if out, err := exec.Command(binPath("vigilctl"), "check-config", cand).CombinedOutput(); err != nil || !strings.Contains(string(out), "OK") {
		t.Errorf("check-config on a good policy: %v\n%s", err, out)
	}
	// tlog-rec-session as the recorder refuses Vigil's own keys, and with
	// them the login: check-config and explain refuse the rule first.
	tlogPol := filepath.Join(w, "tlog.toml")
	writeFile(t, tlogPol, "recorder = \"/usr/bin/tlog-rec-session\"\n[session_recording]\nscope = \"all\"\n\n[[rule]]\nname = \"ops\"\naction = \"record\"\nusers = [\"carol\"]\n[rule.rec]\nsign.anchor_every = 1\n")
	want := tlogPol + ":5: rule \"ops\": rec: sign.anchor_every: the recorder /usr/bin/tlog-rec-session does not know it"
	if out, err := exec.Command(binPath("vigilctl"), "check-config", tlogPol).CombinedOutput(); err == nil || !strings.Contains(string(out), want) {
		t.Errorf("check-config with a Vigil-only key for tlog-rec-session: %v\n%s", err, out)
	}
	if out, err := exec.Command(binPath("vigilctl"), "explain", "carol", "--policy", tlogPol).CombinedOutput(); err == nil || !strings.Contains(string(out), want) {
		t.Errorf("explain with a Vigil-only key for tlog-rec-session: %v\n%s", err, out)
	}
}

// keygen creates the signing key readable by the vigil group only, with its
// public key for verify; rotate-key replaces it and keeps the old public
// key, so old recordings still verify.
func TestVigilctlKeys(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	policyHost(t) // the vigil group
	dir := filepath.Join(t.TempDir(), "keys")
	out, err := exec.Command(binPath("vigilctl"), "keygen", "--dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	fi, err := os.Stat(filepath.Join(dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o640 || st.Uid != 0 || st.Gid != vigilUID {
		t.Errorf("signing.key: mode %v owner %d:%d, want 0640 root:vigil", fi.Mode().Perm(), st.Uid, st.Gid)
	}
	if out, err := exec.Command(binPath("vigilctl"), "keygen", "--dir", dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "rotate-key") {
		t.Errorf("a second keygen: %v\n%s", err, out)
	}
	out, err = exec.Command(binPath("vigilctl"), "rotate-key", "--dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rotated") {
		t.Fatalf("rotate-key: %v\n%s", err, out)
	}
	pubs, _ := filepath.Glob(filepath.Join(dir, "*.pub"))
	if len(pubs) != 2 {
		t.Errorf("public keys after a rotation: %v, want the old and the new", pubs)
	}
}

// editGroups adds user to the namespace's group (Debian's sudo group, say)
// and appends the extra group lines to /etc/group.
func editGroups(t *testing.T, group, user string, extra ...string) {
	t.Helper()
	data, err := os.ReadFile("/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasPrefix(l, group+":") {
			l += map[bool]string{true: user, false: "," + user}[strings.HasSuffix(l, ":")]
		}
		lines = append(lines, l)
	}
	writeFile(t, "/etc/group", strings.Join(append(lines, extra...), "\n")+"\n")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write a new file and rename it, as editors do, so the change shows
	// as a new inode as well as a new mtime.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
