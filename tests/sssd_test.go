package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// sueUID is the SSSD user's UID and GID: in the SSSD domain's own passwd
// file, not in /etc/passwd (as for an LDAP or AD user).
const sueUID = 64520

// sssdRoot is Debian's sssd unpacked by `make sssd-root` (never installed:
// libnss-sss's and libpam-sss's maintainer scripts rewrite the host's
// nsswitch.conf and PAM stacks).
func sssdRoot(t *testing.T) string {
	t.Helper()
	root := os.Getenv("VIGIL_SSSD_ROOT")
	if root == "" {
		root = filepath.Join("..", "bin", "sssd-root")
	}
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/sssd")); err != nil {
		t.Skipf("sssd not unpacked (make sssd-root): %v", err)
	}
	return root
}

// startSSSD lays the unpacked sssd under /usr (an overlay: the host's /usr
// above, sssd's files below) and starts `sssd -i` with a files domain
// whose users live in passwd (not /etc/passwd), pwfield "*" as for remote
// domains, and [session_recording] scope = some for users. NSS asks sss
// after files, pam_sss is in the account and session stacks. SSSD's
// processes are stopped when t ends.
func startSSSD(t *testing.T, root, passwd, group, users string) {
	t.Helper()
	for _, d := range []string{"/etc/sssd/conf.d", "/var/lib/sss/db", "/var/lib/sss/pipes/private", "/var/lib/sss/mc",
		"/var/lib/sss/pubconf", "/var/lib/sss/gpo_cache", "/var/log/sssd"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod("/var/lib/sss/pipes/private", 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, "/etc/sssd/passwd", passwd)
	writeFile(t, "/etc/sssd/group", group)
	writeFile(t, "/etc/sssd/sssd.conf", fmt.Sprintf(`[sssd]
services = nss, pam
domains = corp

# pwfield: "*" as SSSD gives for remote domains, so that pam_unix's
# account check does not look for a shadow entry. The files domain only
# takes it in its own section (sssd's validator warns, and applies it).
[domain/corp]
id_provider = files
passwd_files = /etc/sssd/passwd
group_files = /etc/sssd/group
pwfield = *

[session_recording]
scope = some
users = %s
`, users))
	if err := os.Chmod("/etc/sssd/sssd.conf", 0o600); err != nil {
		t.Fatal(err)
	}
	nss, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(nss), "\n") {
		switch {
		case strings.HasPrefix(l, "passwd:"):
			l = "passwd: vigil [TRYAGAIN=return] files sss systemd"
		case strings.HasPrefix(l, "group:"):
			l = "group: files sss systemd"
		}
		lines = append(lines, l)
	}
	writeFile(t, "/etc/nsswitch.conf", strings.Join(lines, "\n"))
	// What pam-auth-update adds for libpam-sss.
	appendFile(t, "/etc/pam.d/common-account", "account [default=bad success=ok user_unknown=ignore] pam_sss.so\n")
	appendFile(t, "/etc/pam.d/common-session", "session optional pam_sss.so\n")

	sssd := svctest.Start(t, "/usr/sbin/sssd", "-i", "--logger=stderr", "-d", "2")
	// The monitor stops its responders and back end on SIGTERM; any left
	// (found by their parent) are killed by PID.
	t.Cleanup(func() {
		children := childrenOf(sssd.Process.Pid)
		_ = sssd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = sssd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = sssd.Process.Kill()
		}
		for _, pid := range children {
			if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
				_ = p.Kill()
			}
		}
	})
}

// childrenOf lists the PIDs whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// SSSD records sue (scope = some): its NSS responder hands out
// /usr/bin/tlog-rec-session, which here is vigil-rec-session, setuid vigil,
// and pam_sss puts her real shell (dash, only in SSSD's domain) into
// TLOG_REC_SESSION_SHELL. Vigil's policy does not record her, and
// /etc/passwd does not list her: the recorder takes the shell from the
// environment, records the session, and the recording verifies. A shell the
// user names herself (~/.pam_environment) that /etc/shells does not list or
// that is a recorder gets nologin, and settings from the environment are
// ignored.
func TestSSSDSessionRecording(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	root := sssdRoot(t)
	svctest.Mount(t, "-t", "overlay", "overlay", "-o", "lowerdir=/usr:"+filepath.Join(root, "usr"), "/usr")
	h := newLoginHost(t, loginPolicy, "")
	svctest.Mount(t, "--bind", h.recorder, "/usr/bin/tlog-rec-session")
	startSSSD(t, root,
		fmt.Sprintf("sue:x:%d:%d:Sue:/home/sue:/bin/dash\n", sueUID, sueUID),
		fmt.Sprintf("sue:x:%d:\n", sueUID), "sue")
	waitFor(t, "SSSD to hand out tlog-rec-session", func() bool {
		out, err := exec.Command("getent", "passwd", "sue").Output()
		return err == nil && strings.HasSuffix(strings.TrimSpace(string(out)), ":/usr/bin/tlog-rec-session")
	})

	// sue logs in with a key (SSSD's files domain has no passwords).
	home := "/home/sue"
	key := filepath.Join(h.w, "sue_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{home, home + "/.ssh"} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sueFile := func(name, content string) {
		t.Helper()
		p := filepath.Join(home, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, sueUID, sueUID); err != nil {
			t.Fatal(err)
		}
	}
	sueFile(".ssh/authorized_keys", string(pub))
	for _, d := range []string{home, home + "/.ssh"} {
		if err := os.Chown(d, sueUID, sueUID); err != nil {
			t.Fatal(err)
		}
	}
	sshCmd := func(args ...string) *exec.Cmd {
		return exec.Command("ssh", append([]string{"-p", sshPort, "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-o", "PreferredAuthentications=publickey", "sue@127.0.0.1"}, args...)...)
	}
	sshSue := func(command string) (string, error) {
		out, err := sshCmd(command).CombinedOutput()
		return string(out), err
	}

	// The real shell from pam_sss's TLOG_REC_SESSION_SHELL, recorded.
	before := recordings(t)
	out, err := sshSue(`echo sssd-$((6*7)) $0 $SHELL $TLOG_REC_SESSION_SHELL; readlink /proc/$$/exe`)
	if err != nil || !strings.Contains(out, "sssd-42 dash /bin/dash /bin/dash\n/usr/bin/dash\n") {
		t.Fatalf("sue's session did not run dash: %v\n%s", err, out)
	}
	rec := waitRecording(t, before)
	verifyFile(t, rec, h.pub)
	if text := exportText(t, rec); !strings.Contains(text, "sssd-42") {
		t.Errorf("the recording lacks the session's output:\n%s", text)
	}
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"user":"sue"`)) {
		t.Errorf("the recording is not sue's:\n%.400s", data)
	}

	// Shells sue names herself: refused unless /etc/shells lists them and
	// they are no recorder. The warning carries the program's own name,
	// not the path it was diverted to.
	for _, tc := range []struct{ shell, want string }{
		{"/usr/bin/python3", `vigil-rec-session: TLOG_REC_SESSION_SHELL: shell "/usr/bin/python3" is not listed in /etc/shells`},
		{"/usr/bin/tlog-rec-session", `vigil-rec-session: TLOG_REC_SESSION_SHELL: shell "/usr/bin/tlog-rec-session" is a session recorder`},
		{"/bin/bash", "in-bash"},
	} {
		sueFile(".pam_environment", "TLOG_REC_SESSION_SHELL DEFAULT="+tc.shell+"\n")
		before := recordings(t)
		out, err := sshSue(`echo in-$(basename $(readlink /proc/$$/exe))`)
		if !strings.Contains(out, tc.want) {
			t.Errorf("TLOG_REC_SESSION_SHELL=%s: want %q: %v\n%s", tc.shell, tc.want, err, out)
		}
		if tc.want == "in-bash" {
			verifyFile(t, waitRecording(t, before), h.pub)
			continue
		}
		if err == nil || strings.Contains(out, "in-") || !strings.Contains(out, "This account is currently not available") {
			t.Errorf("TLOG_REC_SESSION_SHELL=%s was not refused with nologin: %v\n%s", tc.shell, err, out)
		}
		if recs := newRecordings(t, before); len(recs) != 0 {
			t.Errorf("TLOG_REC_SESSION_SHELL=%s: recordings %v", tc.shell, recs)
		}
	}

	// Settings from the environment: the recorder, setuid, shows the same
	// configuration with and without them, and a session with them set is
	// recorded as usual (the forged writer would have written elsewhere).
	forged := `{"writer":"file","file":{"path":"` + home + `/forged.log"},"notice":"FORGED-NOTICE","log":{"input":true}}`
	asSue := func(env ...string) string {
		t.Helper()
		cmd := exec.Command("/usr/bin/tlog-rec-session", "--configuration")
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: sueUID, Gid: sueUID}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tlog-rec-session --configuration as sue: %v\n%s%s", err, out, stderrOf(err))
		}
		return string(out)
	}
	plain := asSue()
	if got := asSue("TLOG_REC_SESSION_CONF_TEXT=" + forged); got != plain || strings.Contains(got, "FORGED") {
		t.Errorf("TLOG_REC_SESSION_CONF_TEXT changed the setuid recorder's configuration:\n%s\nwithout it:\n%s", got, plain)
	}
	sueFile(".pam_environment", "TLOG_REC_SESSION_CONF_TEXT DEFAULT="+forged+"\n")
	before = recordings(t)
	out, err = sshSue(`echo conf-$TLOG_REC_SESSION_SHELL; case "$TLOG_REC_SESSION_CONF_TEXT" in *FORGED*) echo forged-set;; esac`)
	if err != nil || !strings.Contains(out, "conf-/bin/dash") || strings.Contains(out, "FORGED-NOTICE") {
		t.Errorf("session with forged settings: %v\n%s", err, out)
	}
	if !strings.Contains(out, "forged-set") {
		t.Errorf("pam_env did not pass the forged settings on, the check proves nothing:\n%s", out)
	}
	verifyFile(t, waitRecording(t, before), h.pub)
	// Interactive, where the notice shows: tlog's, not the forged one.
	before = recordings(t)
	term := startTerminalCmd(t, 100, 30, sshCmd("-tt"))
	term.waitFor("ATTENTION! Your session is being recorded!", 20*time.Second)
	term.waitFor("$ ", 20*time.Second) // dash's prompt
	term.typeText("echo tty-$((3*7)) $(basename $(readlink /proc/$$/exe))\r")
	term.waitFor("tty-21 dash", 10*time.Second)
	term.typeText("exit\r")
	term.wait(20 * time.Second)
	if bytes.Contains(term.screen(), []byte("FORGED")) {
		t.Errorf("the forged notice was shown:\n%q", term.screen())
	}
	rec = waitRecording(t, before)
	verifyFile(t, rec, h.pub)
	if text := exportText(t, rec); !strings.Contains(text, "tty-21 dash") {
		t.Errorf("the interactive recording lacks the session:\n%s", text)
	}
	if _, err := os.Stat(home + "/forged.log"); err == nil {
		t.Error("the forged writer setting was used")
	}
}
