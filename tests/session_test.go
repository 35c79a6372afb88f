package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// Test identities, created only inside the test's mount namespace.
const (
	vigilUID = 64500
	aliceUID = 64501
)

// sessionHost prepares, inside the private mount namespace, a host as the
// package will: users vigil and alice, /etc/vigil with a signing key and a
// configuration, /run/vigil, /var/log/vigil (0750 vigil) and a setuid/setgid
// vigil-rec-session. It returns the recorder's path and the public key.
func sessionHost(t *testing.T, recToml string) (recorder, pub string) {
	t.Helper()
	w := openTempDir(t)
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	// A copy of /etc with our users, mounted over /etc in this namespace only.
	etc := filepath.Join(w, "etc")
	run("cp", "-a", "/etc", etc)
	appendFile(t, filepath.Join(etc, "passwd"), fmt.Sprintf(
		"vigil:x:%d:%d:Vigil recorder:/nonexistent:/usr/sbin/nologin\nalice:x:%d:%d:Alice:/tmp:/bin/sh\n",
		vigilUID, vigilUID, aliceUID, aliceUID))
	appendFile(t, filepath.Join(etc, "group"), fmt.Sprintf("vigil:x:%d:\nalice:x:%d:\n", vigilUID, aliceUID))
	keyDir := filepath.Join(etc, "vigil", "keys")
	if err := os.MkdirAll(keyDir, 0o750); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(keyDir, "signing.key")
	run(binPath("keygen"), key)
	// As installed: /etc/vigil readable by all, the keys only by vigil.
	run("chmod", "0755", filepath.Join(etc, "vigil"))
	run("chown", "-R", fmt.Sprintf("%d:%d", vigilUID, vigilUID), keyDir)
	if err := os.WriteFile(filepath.Join(etc, "vigil", "rec.toml"), []byte(recToml), 0o644); err != nil {
		t.Fatal(err)
	}
	svctest.Mount(t, "--bind", etc, "/etc")

	svctest.Mount(t, "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run")
	svctest.Mount(t, "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/var/log")
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"/run/vigil", 0o755}, {"/var/log/vigil", 0o750}} {
		if err := os.Mkdir(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d.path, vigilUID, vigilUID); err != nil {
			t.Fatal(err)
		}
	}
	recorder = filepath.Join(w, "vigil-rec-session")
	run("cp", binPath("vigil-rec-session"), recorder)
	run("chown", fmt.Sprintf("%d:%d", vigilUID, vigilUID), recorder)
	run("chmod", "6755", recorder)
	return recorder, key + ".pub"
}

// openTempDir is a t.TempDir that the test users can reach.
func openTempDir(t *testing.T) string {
	t.Helper()
	w := t.TempDir()
	for _, d := range []string{w, filepath.Dir(w)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// asAlice runs the recorder as alice, the way a login program would exec it.
func asAlice(recorder string, args ...string) *exec.Cmd {
	a := append([]string{fmt.Sprintf("--reuid=%d", aliceUID), fmt.Sprintf("--regid=%d", aliceUID), "--clear-groups", "--", recorder}, args...)
	cmd := exec.Command("setpriv", a...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TERM=xterm", "VIGIL_REC_SHELL=/bin/sh", "HOME=/tmp"}
	return cmd
}

func recordings(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob("/var/log/vigil/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The recorded user cannot kill, trace or read the recorder: it runs with
// vigil's real, effective and saved IDs once the shell is running, and the
// recording is vigil's, 0640, in a 0750 directory.
func TestSessionRecorderIsOutOfTheUsersReach(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	recorder, pub := sessionHost(t, "latency = 1\n")
	script := `echo "uid=$(id -u) shell=$SHELL"; sleep 0.2; grep -E '^(Uid|Gid):' /proc/$PPID/status; ` +
		`kill -9 $PPID && echo KILLED; kill -0 $PPID || echo kill-refused; ` +
		`cat /var/log/vigil/* >/dev/null 2>&1 || echo read-refused; ` +
		`ls /var/log/vigil >/dev/null 2>&1 || echo list-refused; echo done`
	var stdout, stderr bytes.Buffer
	cmd := asAlice(recorder, "-c", script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("session: %v\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	ids := fmt.Sprintf("%d\t%d\t%d\t%d", vigilUID, vigilUID, vigilUID, vigilUID)
	for _, want := range []string{
		fmt.Sprintf("uid=%d shell=/bin/sh", aliceUID),
		"Uid:\t" + ids, "Gid:\t" + ids,
		"kill-refused", "read-refused", "list-refused", "done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("session output lacks %q:\n%s\nstderr: %s", want, out, stderr.String())
		}
	}
	if strings.Contains(out, "KILLED") {
		t.Errorf("the user killed the recorder:\n%s", out)
	}
	recs := recordings(t)
	if len(recs) != 1 {
		t.Fatalf("recordings: %v", recs)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(recs[0], &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != vigilUID || st.Gid != vigilUID || st.Mode&0o777 != 0o640 {
		t.Errorf("recording owner %d:%d mode %o, want %d:%d 0640", st.Uid, st.Gid, st.Mode&0o777, vigilUID, vigilUID)
	}
	data, _ := os.ReadFile(recs[0])
	if !bytes.Contains(data, []byte(`"user":"alice"`)) || !bytes.Contains(data, []byte("kill-refused")) {
		t.Errorf("recording does not hold alice's session:\n%.600s", data)
	}
	verifyFile(t, recs[0], pub)
}

func verifyFile(t *testing.T, path, pub string) {
	t.Helper()
	out, err := exec.Command(binPath("vigil-play"), "verify", "-k", pub, path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(": OK;")) {
		t.Errorf("verify %s: %v\n%s", path, err, out)
	}
}

// An interactive login on a terminal: the notice is shown, the shell is a
// login shell with SHELL set to the real shell, and killing the recorder
// from inside the session is refused.
func TestSessionInteractiveLogin(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	recorder, pub := sessionHost(t, "latency = 1\nnotice = \"RECORDED-NOTICE\\n\"\n")
	cmd := asAlice(recorder, "-l")
	term := startTerminalCmd(t, 80, 24, cmd)
	term.waitFor("RECORDED-NOTICE", 10*time.Second)
	term.typeText("echo \"0=$0 SHELL=$SHELL\"; kill -KILL $PPID; echo rc=$?\r")
	term.waitFor("rc=1", 10*time.Second)
	term.typeText("exit 4\r")
	if got := term.wait(10 * time.Second); got != 4 {
		t.Fatalf("exit %d, want 4: %q", got, term.screen())
	}
	if !bytes.Contains(term.screen(), []byte("0=-sh SHELL=/bin/sh")) {
		t.Errorf("not a login shell with the real SHELL: %q", term.screen())
	}
	recs := recordings(t)
	if len(recs) != 1 {
		t.Fatalf("recordings: %v", recs)
	}
	data, _ := os.ReadFile(recs[0])
	if bytes.Contains(data, []byte("RECORDED-NOTICE")) {
		t.Errorf("the notice was recorded; it is for the user only")
	}
	verifyFile(t, recs[0], pub)
}

// A shell that is not in /etc/shells is never run: the user gets nologin.
// (Without policyd the setuid recorder takes the shell from /etc/passwd, not
// from VIGIL_REC_SHELL, which the user could set.)
func TestSessionUnlistedShellGetsNologin(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	recorder, _ := sessionHost(t, "")
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, "/etc/passwd", strings.Replace(string(passwd), "Alice:/tmp:/bin/sh", "Alice:/tmp:/usr/bin/python3", 1))
	cmd := asAlice(recorder, "-c", "echo ran") // VIGIL_REC_SHELL=/bin/sh: ignored
	out, err := cmd.CombinedOutput()
	if err == nil || strings.Contains(string(out), "ran") || !strings.Contains(string(out), "not listed in /etc/shells") {
		t.Fatalf("unlisted shell: err %v, output %q", err, out)
	}
	if recs := recordings(t); len(recs) != 0 {
		t.Errorf("recordings for a refused session: %v", recs)
	}
}

// One recording per audit session: a nested recorder in the same audit
// session runs the shell directly; a lock left by a dead recorder is taken
// over; sessions without an audit ID are each recorded.
func TestSessionAuditLock(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	recorder, _ := sessionHost(t, "")
	// A new audit session: writing loginuid gives this shell a session ID.
	nested := fmt.Sprintf(`echo %d > /proc/self/loginuid || exit 99; id=$(cat /proc/self/sessionid); `+
		`echo "999999 1" > /run/vigil/session.$id.lock; `+ // stale: no such process
		`exec setpriv --reuid=%d --regid=%d --clear-groups -- %s -c '%s -c "echo inner"; echo outer'`,
		aliceUID, aliceUID, aliceUID, recorder, recorder)
	cmd := exec.Command("sh", "-c", nested)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "VIGIL_REC_SHELL=/bin/sh"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "exit status 99") {
			t.Skip("cannot start an audit session here (no /proc/self/loginuid)")
		}
		t.Fatalf("nested session: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "inner\nouter") {
		t.Fatalf("nested session output %q", out)
	}
	recs := recordings(t)
	if len(recs) != 1 {
		t.Fatalf("want one recording for one audit session, got %v", recs)
	}
	data, _ := os.ReadFile(recs[0])
	if !bytes.Contains(data, []byte("inner")) || bytes.Contains(data, []byte(`"session":4294967295`)) {
		t.Errorf("the outer recording should hold the nested output under the audit session:\n%.400s", data)
	}
	if locks, _ := filepath.Glob("/run/vigil/session.*.lock"); len(locks) != 0 {
		t.Errorf("lock left behind: %v", locks)
	}

	// No audit session: two concurrent sessions are both recorded.
	a, b := asAlice(recorder, "-c", "sleep 0.5; echo a"), asAlice(recorder, "-c", "sleep 0.5; echo b")
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Run(); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := len(recordings(t)); n != 3 {
		t.Errorf("want 3 recordings after two sessions without audit ID, have %d", n)
	}
}

// scp's server side through the recorder: the transfer is byte-exact and
// the recording holds sizes and SHA-256 digests, not the payload.
func TestSessionBulkTransferMetadata(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	needCmd(t, "scp")
	recorder, pub := sessionHost(t, "")
	dest := filepath.Join(openTempDir(t), "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dest, aliceUID, aliceUID); err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("SECRET-PAYLOAD ", 20000)
	// scp's sink protocol: a C record, the bytes, a NUL.
	in := fmt.Sprintf("C0644 %d file.txt\n%s\x00", len(payload), payload)
	cmd := asAlice(recorder, "-c", "scp -t "+dest)
	cmd.Stdin = strings.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scp -t: %v\nstderr %q", err, stderr.String())
	}
	if stdout.String() != "\x00\x00\x00" {
		t.Errorf("scp protocol replies %q, want three NULs", stdout.String())
	}
	got, err := os.ReadFile(filepath.Join(dest, "file.txt"))
	if err != nil || string(got) != payload {
		t.Fatalf("transferred file: %v, %d bytes", err, len(got))
	}
	recs := recordings(t)
	if len(recs) != 1 {
		t.Fatalf("recordings: %v", recs)
	}
	data, _ := os.ReadFile(recs[0])
	sum := sha256.Sum256([]byte(in))
	for _, want := range []string{`"bulk":true`, `"cmd":["scp","-t","` + dest + `"]`, hex.EncodeToString(sum[:]), fmt.Sprintf(`"bytes":%d`, len(in))} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("recording lacks %s:\n%s", want, data)
		}
	}
	if bytes.Contains(data, []byte("SECRET-PAYLOAD")) {
		t.Errorf("bulk payload was recorded")
	}
	verifyFile(t, recs[0], pub)
}

// git over ssh (git-upload-pack) through the recorder answers byte for byte
// what it answers without it, and is recorded as metadata.
func TestSessionGitUploadPackByteExact(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	needCmd(t, "git")
	recorder, pub := sessionHost(t, "")
	repo := filepath.Join(openTempDir(t), "repo.git")
	for _, args := range [][]string{
		{"init", "-q", "--bare", repo},
		{"-C", repo, "config", "uploadpack.allowAnySHA1InWant", "true"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	if err := exec.Command("chown", "-R", fmt.Sprint(aliceUID), repo).Run(); err != nil {
		t.Fatal(err)
	}
	cmdline := "git-upload-pack '" + repo + "'"
	// "0000" ends the negotiation right after the ref advertisement.
	direct := asAlice("/bin/sh", "-c", cmdline)
	direct.Stdin = strings.NewReader("0000")
	want, err := direct.Output()
	if err != nil {
		t.Fatalf("direct git-upload-pack: %v", err)
	}
	rec := asAlice(recorder, "-c", cmdline)
	rec.Stdin = strings.NewReader("0000")
	got, err := rec.Output()
	if err != nil {
		t.Fatalf("recorded git-upload-pack: %v", err)
	}
	if !bytes.Equal(got, want) || len(want) == 0 {
		t.Fatalf("git-upload-pack through the recorder\n got %q\nwant %q", got, want)
	}
	recs := recordings(t)
	if len(recs) != 1 {
		t.Fatalf("recordings %v", recs)
	}
	data, _ := os.ReadFile(recs[0])
	if !bytes.Contains(data, []byte(`"bulk":true`)) {
		t.Errorf("git transfer not recorded as bulk metadata:\n%s", data)
	}
	verifyFile(t, recs[0], pub)
}
