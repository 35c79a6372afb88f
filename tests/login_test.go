package tests

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// The password every test user logs in with.
const loginPassword = "Vigil-test-pw1"

// sshPort is where the test's sshd listens, on 127.0.0.1 only: a free port
// picked per test process (other test processes may run an sshd too).
var sshPort string

// loginHost is a host with Vigil installed the way an admin would, built
// inside the test's mount namespace: users with passwords and homes, the
// NSS module first on the passwd line (found through the namespace's own
// ld.so.cache, so setuid su and sudo load it too), pam_vigil at the end of
// the session stacks of sshd, login, su and sudo, the setuid recorder, a
// signing key, the real system bus socket with our bus policy, policyd, and
// sshd on 127.0.0.1.
type loginHost struct {
	w        string // work dir, reachable by the test users
	recorder string
	pub      string // the recorder's public key, for verify
	policy   string
	policyd  *exec.Cmd
}

// pamLine is how the tests' PAM stacks call the module under test.
func pamLine(w, args string) string {
	return fmt.Sprintf("session required %s/pam_vigil.so %s\n", w, args)
}

// runWith runs name with args and stdin as its input, failing t with its
// output when it fails.
func runWith(t *testing.T, stdin, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func newLoginHost(t *testing.T, policy, pamArgs string) *loginHost {
	t.Helper()
	needCmd(t, "sshd")
	needCmd(t, "sshpass")
	h := &loginHost{w: policyHost(t)}
	// Passwords and homes.
	var pw strings.Builder
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		fmt.Fprintf(&pw, "%s:%s\n", u, loginPassword)
	}
	runWith(t, pw.String(), "chpasswd")
	svctest.Tmpfs(t, "/home", "mode=755")
	for u, id := range map[string]int{"alice": aliceUID, "bob": bobUID, "carol": carolUID} {
		home := "/home/" + u
		if err := os.Mkdir(home, 0o750); err != nil {
			t.Fatal(err)
		}
		gid := id
		if u == "bob" {
			gid = opsGID
		}
		if err := os.Chown(home, id, gid); err != nil {
			t.Fatal(err)
		}
	}
	// Recordings, locks, the bus and sshd's privilege separation dir.
	svctest.Tmpfs(t, "/var/log", "mode=755")
	for _, d := range []struct {
		path string
		mode os.FileMode
		uid  int
	}{{"/var/log/vigil", 0o750, vigilUID}, {"/run/vigil", 0o755, vigilUID}, {"/run/dbus", 0o755, 0}, {"/run/sshd", 0o755, 0},
		{"/var/lib/vigil", 0o755, 0}, {"/etc/vigil", 0o755, 0}, {"/etc/vigil/keys", 0o750, vigilUID}} {
		if err := os.Mkdir(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d.path, d.uid, d.uid); err != nil {
			t.Fatal(err)
		}
	}
	key := "/etc/vigil/keys/signing.key"
	runWith(t, "", binPath("keygen"), key)
	runWith(t, "", "chown", fmt.Sprintf("%d:%d", vigilUID, vigilUID), key)
	h.pub = key + ".pub"
	// The recorder and the modules, as `make install` places them (but in
	// the work dir: the namespace shares the host's /usr).
	h.recorder = filepath.Join(h.w, "vigil-rec-session")
	runWith(t, "", "cp", binPath("vigil-rec-session"), h.recorder)
	runWith(t, "", "chown", fmt.Sprintf("%d:%d", vigilUID, vigilUID), h.recorder)
	runWith(t, "", "chmod", "6755", h.recorder)
	lib := filepath.Join(h.w, "lib")
	if err := os.Mkdir(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	runWith(t, "", "cp", binPath("libnss_vigil.so.2"), lib)
	runWith(t, "", "cp", binPath("pam_vigil.so"), h.w)
	runWith(t, "", "ldconfig", "-X", lib) // rebuilds the namespace's /etc/ld.so.cache only
	nss, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(nss), "\n") {
		if strings.HasPrefix(l, "passwd:") {
			l = "passwd: vigil [TRYAGAIN=return] files systemd"
		}
		lines = append(lines, l)
	}
	writeFile(t, "/etc/nsswitch.conf", strings.Join(lines, "\n"))
	// At the end of each stack: after pam_env, which would otherwise
	// overwrite what pam_vigil sets (pam/README.md).
	for _, svc := range []string{"sshd", "login", "su", "sudo", "sudo-i"} {
		appendFile(t, "/etc/pam.d/"+svc, pamLine(h.w, pamArgs))
	}
	h.policy = filepath.Join(h.w, "policy.toml")
	writeFile(t, h.policy, strings.ReplaceAll(policy, "@RECORDER@", h.recorder))
	svctest.StartSystemBusAt(t, "/run/dbus/system_bus_socket")
	h.startPolicyd(t)
	h.startSSHD(t)
	return h
}

func (h *loginHost) startPolicyd(t *testing.T) {
	t.Helper()
	h.policyd = svctest.Start(t, binPath("vigil-policyd"), "--policy", h.policy, "--poll", "100ms")
	waitFor(t, "policyd", func() bool { return exec.Command(binPath("vigilctl"), "status").Run() == nil })
}

func (h *loginHost) stopPolicyd(t *testing.T) {
	t.Helper()
	_ = h.policyd.Process.Signal(syscall.SIGTERM)
	_, _ = h.policyd.Process.Wait()
}

func (h *loginHost) startSSHD(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sshPort = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	hostKey := filepath.Join(h.w, "ssh_host_ed25519_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	cfg := filepath.Join(h.w, "sshd_config")
	writeFile(t, cfg, fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s
PidFile %s/sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PrintMotd no
PermitRootLogin no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
`, sshPort, hostKey, h.w))
	svctest.Start(t, "/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	waitFor(t, "sshd", func() bool {
		c, err := exec.Command("ssh-keyscan", "-p", sshPort, "127.0.0.1").Output()
		return err == nil && len(c) > 0
	})
}

// ssh returns an ssh client command logging in as user with the test
// password (sshpass), with extra ssh arguments (options, then the command).
func ssh(user string, args ...string) *exec.Cmd {
	a := []string{"-p", loginPassword, "ssh", "-p", sshPort,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password"}
	a = append(a, args...)
	for i, s := range a {
		if s == "HOST" {
			a[i] = user + "@127.0.0.1"
		}
	}
	return exec.Command("sshpass", a...)
}

// newRecordings returns the recordings that appeared since before.
func newRecordings(t *testing.T, before []string) []string {
	t.Helper()
	var out []string
	for _, r := range recordings(t) {
		if !contains(before, r) {
			out = append(out, r)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// waitRecording waits for exactly one new recording to be complete (its
// final message written) and returns it.
func waitRecording(t *testing.T, before []string) string {
	t.Helper()
	var recs []string
	waitFor(t, "a complete recording", func() bool {
		recs = newRecordings(t, before)
		if len(recs) != 1 {
			return false
		}
		data, err := os.ReadFile(recs[0])
		return err == nil && bytes.Contains(data, []byte(`"end":`))
	})
	return recs[0]
}

// exportText is the recording's rendered text (vigil-play export).
func exportText(t *testing.T, rec string) string {
	t.Helper()
	out, err := exec.Command(binPath("vigil-play"), "export", "--format", "text", rec).CombinedOutput()
	if err != nil {
		t.Fatalf("export %s: %v\n%s", rec, err, out)
	}
	return string(out)
}

const loginPolicy = `
recorder = "@RECORDER@"

[session_recording]
scope = "some"
users = ["alice"]
groups = ["ops"]
`

// A recorded user logs in over ssh -tt and types commands: the recording is
// vigil's, out of the user's reach, verifies, and shows what happened. An
// unrecorded user's login is untouched.
func TestLoginSSHInteractive(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	before := recordings(t)
	term := startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST"))
	term.waitFor("ATTENTION! Your session is being recorded!", 20*time.Second)
	term.waitFor("alice@", 20*time.Second) // the prompt: typeahead could be lost while the shell starts
	term.typeText("echo shell=$0 rec=${VIGIL_REC_SHELL}; echo hello-$((6*7))\r")
	term.waitFor("hello-42", 10*time.Second)
	term.typeText("exit\r")
	if code := term.wait(20 * time.Second); code != 0 {
		t.Errorf("ssh exit %d; screen:\n%q", code, term.screen())
	}
	if !bytes.Contains(term.screen(), []byte("rec=/bin/bash")) {
		t.Errorf("recorded shell is not the real one:\n%q", term.screen())
	}
	rec := waitRecording(t, before)
	fi, err := os.Stat(rec)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != vigilUID || fi.Mode().Perm() != 0o640 {
		t.Errorf("%s: owner %d mode %v, want vigil 0640", rec, st.Uid, fi.Mode().Perm())
	}
	cat := exec.Command("cat", rec)
	cat.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: aliceUID, Gid: aliceUID}}
	if out, err := cat.CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("alice can read her recording: %v %q", err, out)
	}
	verifyFile(t, rec, h.pub)
	if text := exportText(t, rec); !strings.Contains(text, "hello-42") || !strings.Contains(text, "echo hello-$((6*7))") {
		t.Errorf("the recording does not show the session:\n%s", text)
	}

	// carol is not recorded: her shell is her own, PAM set nothing, and no
	// recording appears. (bob, whose primary group is ops, is.)
	before = recordings(t)
	out, err := ssh("carol", "HOST", "echo rec=x${VIGIL_REC_SHELL}x; getent passwd carol bob").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rec=xx") || !strings.Contains(string(out), "carol:x:64503:64503:Carol:/home/carol:/bin/bash") ||
		!strings.Contains(string(out), "bob:x:64502:64510:Bob:/home/bob:"+h.recorder) {
		t.Errorf("carol's login: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	if recs := newRecordings(t, before); len(recs) != 0 {
		t.Errorf("carol's session was recorded: %v", recs)
	}

	// vigilctl check runs the real sshd stack and shows what Vigil set.
	out, err = exec.Command(binPath("vigilctl"), "check", "alice", "--service", "sshd").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "open_session: success") || !strings.Contains(string(out), `VIGIL_REC_SHELL="/bin/bash"`) ||
		!strings.Contains(string(out), "policyd:      recorded (session_recording scope=some users)") ||
		!strings.Contains(string(out), "nss:          alice:x:64501:64501:Alice:/home/alice:"+h.recorder+"\n") {
		t.Errorf("vigilctl check alice: %v\n%s", err, out)
	}
	// Every line of the report, a multi-line motd too, is inside it.
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n")[1:] {
		if l != "" && !strings.HasPrefix(l, "  ") {
			t.Errorf("vigilctl check alice: line %q is not indented:\n%s", l, out)
			break
		}
	}
	out, err = exec.Command(binPath("vigilctl"), "check", "carol", "--service", "sshd").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no VIGIL_/TLOG_ variables set") {
		t.Errorf("vigilctl check carol: %v\n%s", err, out)
	}
}

// ssh host cmd as a recorded user: stdout, stderr and the exit status come
// through byte for byte, and the command is recorded.
func TestLoginSSHCommand(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	before := recordings(t)
	cmd := ssh("alice", "HOST", "printf 'out\\000\\377'; echo err >&2; exit 7")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("exit: %v, want status 7", err)
	}
	if stdout.String() != "out\x00\xff" || stderr.String() != "err\n" {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	rec := waitRecording(t, before)
	verifyFile(t, rec, h.pub)
	data, _ := os.ReadFile(rec)
	if !bytes.Contains(data, []byte("exit 7")) {
		t.Errorf("the recording does not name the command:\n%s", data)
	}
}

// scp, sftp, rsync and git over ssh as a recorded user: byte-exact results,
// and each transfer recorded as metadata and hashes (transfer.record's
// default), not as payload.
func TestLoginSSHTransfers(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	needCmd(t, "rsync")
	local := filepath.Join(h.w, "local")
	if err := os.Mkdir(local, 0o755); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("vigil\x00\xff\r\n"), 300000) // 3.3 MB, binary
	src := filepath.Join(local, "blob")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	sshOpts := "ssh -p " + sshPort + " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o PubkeyAuthentication=no"
	sshpass := func(args ...string) *exec.Cmd {
		return exec.Command("sshpass", append([]string{"-p", loginPassword}, args...)...)
	}
	for _, c := range []struct {
		name string
		cmd  *exec.Cmd
		dest string // on alice's side
	}{
		{"scp", sshpass("scp", "-P", sshPort, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", src, "alice@127.0.0.1:scp.blob"), "/home/alice/scp.blob"},
		{"sftp", sshpass("sftp", "-P", sshPort, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "alice@127.0.0.1"), "/home/alice/sftp.blob"},
		{"rsync", sshpass("rsync", "-e", sshOpts, src, "alice@127.0.0.1:rsync.blob"), "/home/alice/rsync.blob"},
	} {
		before := recordings(t)
		if c.name == "sftp" {
			c.cmd.Stdin = strings.NewReader("put " + src + " sftp.blob\n")
		}
		if out, err := c.cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, out)
			continue
		}
		got, err := os.ReadFile(c.dest)
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s: copy differs (%d bytes, %v)", c.name, len(got), err)
		}
		rec := waitRecording(t, before)
		verifyFile(t, rec, h.pub)
		if fi, _ := os.Stat(rec); fi.Size() > int64(len(payload))/10 {
			t.Errorf("%s: recording is %d bytes for a %d-byte transfer: payload recorded", c.name, fi.Size(), len(payload))
		}
		data, _ := os.ReadFile(rec)
		if !bytes.Contains(data, []byte("sha256")) {
			t.Errorf("%s: recording has no transfer hashes:\n%.2000s", c.name, data)
		}
	}

	// git clone over ssh from alice's repository, byte-exact.
	repo := "/home/alice/repo.git"
	for _, args := range [][]string{{"init", "-q", "--bare", repo}} {
		cmd := exec.Command("git", args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: aliceUID, Gid: aliceUID}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	work := filepath.Join(h.w, "work")
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND=sshpass -p "+loginPassword+" "+sshOpts)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(h.w, "init", "-q", work)
	if err := os.WriteFile(filepath.Join(work, "blob"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	git(work, "add", "blob")
	git(work, "commit", "-qm", "blob")
	git(work, "push", "-q", "alice@127.0.0.1:"+repo, "HEAD:refs/heads/main")
	clone := filepath.Join(h.w, "clone")
	before := recordings(t)
	git(h.w, "clone", "-q", "-b", "main", "alice@127.0.0.1:"+repo, clone)
	if got, err := os.ReadFile(filepath.Join(clone, "blob")); err != nil || !bytes.Equal(got, payload) {
		t.Errorf("git clone over ssh: blob differs (%v)", err)
	}
	verifyFile(t, waitRecording(t, before), h.pub)
}

// su -l, login on a terminal and sudo -i into a recorded user are recorded
// too: the recorder is the user's shell for every login program.
func TestLoginSuSudoLogin(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"su", []string{"su", "-l", "alice"}},
		{"sudo", []string{"sudo", "-i", "-u", "alice"}},
		{"login", []string{"login", "-f", "alice"}},
	} {
		before := recordings(t)
		term := startTerminal(t, 100, 30, c.argv[0], c.argv[1:]...)
		term.waitFor("ATTENTION! Your session is being recorded!", 20*time.Second)
		term.waitFor("alice@", 20*time.Second)
		term.waitFor("alice@", 20*time.Second) // the prompt: typeahead could be lost while the shell starts
		marker := "via-" + c.name
		term.typeText("echo " + marker + "-$((40+2)) user=$(id -un)\r")
		term.waitFor(marker+"-42 user=alice", 10*time.Second)
		term.typeText("exit\r")
		term.wait(20 * time.Second)
		rec := waitRecording(t, before)
		verifyFile(t, rec, h.pub)
		if text := exportText(t, rec); !strings.Contains(text, marker+"-42") {
			t.Errorf("%s: recording does not show the session:\n%s", c.name, text)
		}
	}
}

// authLog starts rsyslogd (on a private /dev) writing authpriv messages to
// a file, and returns a function that reads it.
func authLog(t *testing.T) func() string {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "auth.log")
	svctest.StartRsyslog(t, 8<<10, `template(name="raw" type="string" string="%syslogfacility-text%.%syslogseverity-text% %programname%: %msg:2:$%\n")
authpriv.* action(type="omfile" file="`+logFile+`" template="raw")`)
	return func() string {
		data, _ := os.ReadFile(logFile)
		return string(data)
	}
}

// policyd stopped: with on_unavailable=deny (the default) a user the last
// known policy records is refused, with the reason in the auth log, and
// unrecorded users still log in; with allow the recorded user gets in and
// the auth log says so.
func TestLoginPolicydDown(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	log := authLog(t)
	h := newLoginHost(t, loginPolicy, "")
	h.stopPolicyd(t)
	out, err := ssh("alice", "HOST", "echo in").CombinedOutput()
	if err == nil || strings.Contains(string(out), "in\n") {
		t.Errorf("alice got in with policyd down: %v\n%s", err, out)
	}
	out, err = ssh("carol", "HOST", "echo carol-in").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "carol-in") {
		t.Errorf("carol, not recorded, was kept out: %v\n%s", err, out)
	}
	term := startTerminal(t, 100, 30, "su", "-l", "alice")
	if code := term.wait(20 * time.Second); code == 0 {
		t.Errorf("su -l alice succeeded with policyd down:\n%q", term.screen())
	}
	if !bytes.Contains(term.screen(), []byte("vigil")) {
		t.Errorf("su did not tell the user why:\n%q", term.screen())
	}
	waitFor(t, "the refusals in the auth log", func() bool {
		return strings.Count(log(), "pam_vigil(") >= 3 && strings.Count(log(), "says alice is recorded; on_unavailable=deny: session denied") == 2
	})

	// The same host with on_unavailable=allow.
	for _, svc := range []string{"sshd", "login", "su", "sudo", "sudo-i"} {
		data, _ := os.ReadFile("/etc/pam.d/" + svc)
		writeFile(t, "/etc/pam.d/"+svc, strings.Replace(string(data), pamLine(h.w, ""), pamLine(h.w, "on_unavailable=allow"), 1))
	}
	before := recordings(t)
	out, err = ssh("alice", "HOST", "echo alice-in").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "alice-in") {
		t.Errorf("on_unavailable=allow kept alice out: %v\n%s", err, out)
	}
	waitFor(t, "the allow warning in the auth log", func() bool { return strings.Contains(log(), "on_unavailable=allow") })
	// NSS still wraps her from the snapshot: the session is recorded anyway.
	verifyFile(t, waitRecording(t, before), h.pub)
}

// The recorded user tries to get out of the recording: each attempt either
// stays recorded or ends the session, never an unrecorded shell.
func TestLoginEscapes(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	shows := func(t *testing.T, rec, marker string) {
		t.Helper()
		verifyFile(t, rec, h.pub)
		if text := exportText(t, rec); !strings.Contains(text, marker) {
			t.Errorf("recording lacks %q:\n%.3000s", marker, text)
		}
	}
	t.Run("kill the recorder, exec a shell", func(t *testing.T) {
		before := recordings(t)
		term := startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST"))
		term.waitFor("recorded", 20*time.Second)
		term.waitFor("alice@", 20*time.Second)
		term.typeText("kill -9 $PPID; kill -STOP $PPID; echo kill-status=$?\r")
		term.waitFor("kill-status=1", 10*time.Second)
		term.typeText("exec /bin/sh\r")
		term.waitFor("\r$ ", 10*time.Second) // sh's prompt: typeahead could go to bash
		term.typeText("echo after-exec-$((1+1))\r")
		term.waitFor("after-exec-2", 10*time.Second)
		term.typeText("exit\r")
		term.wait(20 * time.Second)
		rec := waitRecording(t, before)
		shows(t, rec, "after-exec-2")
		shows(t, rec, "Operation not permitted")
	})
	t.Run("ssh -T", func(t *testing.T) {
		before := recordings(t)
		cmd := ssh("alice", "-T", "HOST")
		cmd.Stdin = strings.NewReader("echo no-tty-$((2+2))\nexit\n")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "no-tty-4") {
			t.Errorf("ssh -T: %v\n%s", err, out)
		}
		data, _ := os.ReadFile(waitRecording(t, before))
		if !bytes.Contains(data, []byte("no-tty-4")) {
			t.Errorf("ssh -T session not recorded:\n%s", data)
		}
	})
	t.Run("ssh host bash -i", func(t *testing.T) {
		before := recordings(t)
		cmd := ssh("alice", "HOST", "bash", "-i")
		cmd.Stdin = strings.NewReader("echo bash-i-$((3+3))\nexit\n")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "bash-i-6") {
			t.Errorf("ssh host bash -i: %v\n%s", err, out)
		}
		data, _ := os.ReadFile(waitRecording(t, before))
		if !bytes.Contains(data, []byte("bash-i-6")) {
			t.Errorf("bash -i session not recorded:\n%s", data)
		}
	})
	t.Run("forged environment", func(t *testing.T) {
		// The setuid recorder takes its settings and the real shell from
		// policyd, not from variables the user can set.
		before := recordings(t)
		cmd := exec.Command("setpriv", fmt.Sprintf("--reuid=%d", aliceUID), fmt.Sprintf("--regid=%d", aliceUID), "--clear-groups",
			"env", `VIGIL_REC_CONF={"log":{"output":false}}`, `TLOG_REC_SESSION_CONF_TEXT={"log":{"output":false}}`,
			"VIGIL_REC_SHELL=/bin/sh", "VIGIL_REC_SERVICE=sshd", h.recorder, "-c", "echo forged-$((7*6)) $0")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "forged-42 bash") || strings.Contains(string(out), "recording with") {
			t.Errorf("recorder with a forged environment (policyd must have answered): %v\n%s", err, out)
		}
		data, _ := os.ReadFile(waitRecording(t, before))
		if !bytes.Contains(data, []byte("forged-42")) {
			t.Errorf("output went unrecorded with a forged VIGIL_REC_CONF:\n%s", data)
		}
	})
	t.Run("chsh", func(t *testing.T) {
		// Even if she changes her shell in /etc/passwd, NSS hands out the
		// recorder: the shell is still in /etc/shells, so she is still
		// recorded.
		if out, err := exec.Command("chsh", "-s", "/bin/sh", "alice").CombinedOutput(); err != nil {
			t.Fatalf("chsh: %v\n%s", err, out)
		}
		waitFor(t, "policyd to see the new shell", func() bool {
			out, err := exec.Command("getent", "passwd", "alice").Output()
			return err == nil && strings.HasSuffix(strings.TrimSpace(string(out)), h.recorder)
		})
		before := recordings(t)
		out, err := ssh("alice", "HOST", "echo after-chsh-$((4+4)) $VIGIL_REC_SHELL").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "after-chsh-8 /bin/sh") {
			t.Errorf("after chsh: %v\n%s", err, out)
		}
		data, _ := os.ReadFile(waitRecording(t, before))
		if !bytes.Contains(data, []byte("after-chsh-8")) {
			t.Errorf("session after chsh not recorded:\n%s", data)
		}
	})
	t.Run("command dressed as a transfer", func(t *testing.T) {
		// Transfers are recorded as hashes only; a command that merely
		// starts with a transfer program's name is a session like any other.
		before := recordings(t)
		out, _ := ssh("alice", "HOST", "git-upload-pack /nonexistent; echo secret-$((9*9))").CombinedOutput()
		if !strings.Contains(string(out), "secret-81") {
			t.Errorf("output: %s", out)
		}
		data, _ := os.ReadFile(waitRecording(t, before))
		if !bytes.Contains(data, []byte("secret-81")) {
			t.Errorf("the command's output was not recorded:\n%s", data)
		}
	})
	t.Run("output burst", func(t *testing.T) {
		before := recordings(t)
		cmd := ssh("alice", "-tt", "HOST", "head -c 20000000 /dev/zero | base64 -w 100; echo burst-done")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("burst-done")) {
			t.Errorf("burst: %v (%d bytes)", err, len(out))
		}
		rec := waitRecording(t, before)
		verifyFile(t, rec, h.pub)
		data, _ := os.ReadFile(rec)
		if !bytes.Contains(data, []byte("burst-done")) {
			t.Errorf("the end of the burst is not in the recording (%d bytes)", len(data))
		}
	})
}

// Debian's tlog-rec-session as the recorder (policy `recorder = ...`)
// records through the same NSS and PAM path: pam_vigil gives it the real
// shell in TLOG_REC_SESSION_SHELL.
func TestLoginTlogRecorder(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	needCmd(t, "tlog-rec-session")
	h := newLoginHost(t, strings.Replace(loginPolicy, `"@RECORDER@"`, `"/usr/bin/tlog-rec-session"`, 1), "")
	// Debian's tlog-rec-session is not setuid: it runs as the user, who
	// must be able to write its utmp record, its lock and its log.
	if err := os.WriteFile("/run/utmp", nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir("/run/tlog", 0o755); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{"/run/utmp": 0o666, "/run/tlog": 0o1777} { // whatever sshd made
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	logFile := "/var/log/tlog-alice.log"
	if err := os.WriteFile(logFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(logFile, aliceUID, aliceUID); err != nil {
		t.Fatal(err)
	}
	writeFile(t, "/etc/tlog/tlog-rec-session.conf", `{"writer": "file", "file": {"path": "`+logFile+`"}}`)
	waitFor(t, "NSS to hand out tlog-rec-session", func() bool {
		out, err := exec.Command("getent", "passwd", "alice").Output()
		return err == nil && strings.HasSuffix(strings.TrimSpace(string(out)), "/usr/bin/tlog-rec-session")
	})
	term := startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST"))
	term.waitFor("ATTENTION! Your session is being recorded!", 20*time.Second)
	term.waitFor("alice@", 20*time.Second) // the prompt: typeahead could be lost while the shell starts
	term.typeText("echo tlog-$((5*5)) $TLOG_REC_SESSION_SHELL\r")
	term.waitFor("tlog-25 /bin/bash", 10*time.Second)
	term.typeText("exit\r")
	term.wait(20 * time.Second)
	var data []byte
	waitFor(t, "tlog's recording", func() bool {
		data, _ = os.ReadFile(logFile)
		return bytes.Contains(data, []byte("tlog-25"))
	})
	// Our player reads tlog's recording (unsigned, as tlog does not sign).
	out, _ := exec.Command(binPath("vigil-play"), "verify", logFile).CombinedOutput()
	if !strings.Contains(string(out), "UNSIGNED") {
		t.Errorf("vigil-play verify on tlog's recording:\n%s", out)
	}
	if h.recorder == "" {
		t.Fatal("no host")
	}
}

// 40 parallel ssh logins of recorded and unrecorded users: none hangs, and
// every recorded one leaves a complete, verified recording.
func TestLoginParallel(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	before := recordings(t)
	const n = 40
	type result struct {
		i   int
		out string
		err error
	}
	results := make(chan result, n)
	for i := range n {
		user := []string{"alice", "bob", "carol", "carol"}[i%4] // carol is not recorded
		go func() {
			cmd := ssh(user, "-tt", "HOST", fmt.Sprintf("echo login-%d-$((%d*2)); sleep 0.5", i, i))
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(90 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				err = fmt.Errorf("hung for 90 s")
			}
			results <- result{i, string(out), err}
		}()
	}
	for range n {
		r := <-results
		if want := fmt.Sprintf("login-%d-%d", r.i, r.i*2); r.err != nil || !strings.Contains(r.out, want) {
			t.Errorf("login %d: %v\n%s", r.i, r.err, r.out)
		}
	}
	var recs []string
	waitFor(t, "20 complete recordings", func() bool {
		recs = newRecordings(t, before)
		if len(recs) != n/2 {
			return false
		}
		for _, r := range recs {
			if data, err := os.ReadFile(r); err != nil || !bytes.Contains(data, []byte(`"end":`)) {
				return false
			}
		}
		return true
	})
	seen := map[string]bool{}
	for _, r := range recs {
		verifyFile(t, r, h.pub)
		data, _ := os.ReadFile(r)
		for i := range n {
			if bytes.Contains(data, fmt.Appendf(nil, "login-%d-%d", i, i*2)) {
				seen[fmt.Sprint(i)] = true
			}
		}
	}
	for i := range n {
		if recorded := i%4 < 2; recorded != seen[fmt.Sprint(i)] {
			t.Errorf("login %d: recorded=%v, want %v", i, seen[fmt.Sprint(i)], recorded)
		}
	}
}

// SSSD's scope=all with exclusions, through real logins: everyone is
// recorded but the excluded user and the members (here by primary group)
// of the excluded group.
func TestLoginScopeAll(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	newLoginHost(t, `
recorder = "@RECORDER@"
[session_recording]
scope = "all"
exclude_users = "carol"
exclude_groups = "ops"
`, "")
	loginsRecorded(t, map[string]bool{"alice": true, "bob": false, "carol": false})
}

// loginsRecorded logs each user in over ssh with a command and checks that
// a complete recording appears for exactly the users marked true.
func loginsRecorded(t *testing.T, want map[string]bool) {
	t.Helper()
	for user, recorded := range want {
		before := recordings(t)
		out, err := ssh(user, "HOST", "echo in-as-$(id -un)").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "in-as-"+user) {
			t.Errorf("%s: %v\n%s", user, err, out)
			continue
		}
		if recorded {
			waitRecording(t, before)
			continue
		}
		time.Sleep(200 * time.Millisecond)
		if recs := newRecordings(t, before); len(recs) != 0 {
			t.Errorf("%s was recorded: %v", user, recs)
		}
	}
}

// SSSD's scope=some with groups, through real logins: a group that is the
// user's primary group (bob: ops) and one the user is a supplementary member
// of (carol: wheel2) both record; alice, in neither, is not recorded.
func TestLoginScopeSomeGroups(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	newLoginHost(t, `
recorder = "@RECORDER@"
[session_recording]
scope = "some"
groups = "ops, wheel2"
`, "")
	loginsRecorded(t, map[string]bool{"alice": false, "bob": true, "carol": true})
}
