package tests

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// The ways around the login shell (issue 11, item 7): sshd serves sftp
// itself (internal-sftp), forwards ports, sockets and X11, takes environment
// from the user, and honours key options the user writes. vigilctl check
// and enable find them with sshd's own view of its configuration (sshd -T)
// and print the sshd_config lines that close them for the users the policy
// records; the attacks are made as the recorded user over real sshd.

// sshdBypassInstall makes the package's files visible where vigilctl
// enable's real checks look (the NSS and PAM modules in the multiarch
// directory, the pam-auth-update profile), through overlays in the test's
// namespace; the login host's own stacks keep using its copies.
func sshdBypassInstall(t *testing.T) {
	t.Helper()
	tuple := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	if tuple == "" {
		t.Skipf("no multiarch directory known for %s", runtime.GOARCH)
	}
	profile, err := os.ReadFile("../conf/system/pam-configs/vigil")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := os.ReadFile(binPath("libnss_vigil.so.2"))
	if err != nil {
		t.Fatal(err)
	}
	pam, err := os.ReadFile(binPath("pam_vigil.so"))
	if err != nil {
		t.Fatal(err)
	}
	sshdBypassOverlay(t, "/usr/lib/"+tuple, map[string][]byte{"libnss_vigil.so.2": lib, "security/pam_vigil.so": pam})
	sshdBypassOverlay(t, "/usr/share/pam-configs", map[string][]byte{"vigil": profile})
}

func sshdBypassOverlay(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	upper, work := t.TempDir(), t.TempDir()
	for name, data := range files {
		p := filepath.Join(upper, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svctest.Mount(t, "-t", "overlay", "-o", "lowerdir="+dir+",upperdir="+upper+",workdir="+work, "overlay", dir)
}

// sshdBypassConfig writes sshd's default configuration file (the
// namespace's copy of /etc) with the login host's host key and body, which
// decides what is open, and empties sshd_config.d.
func sshdBypassConfig(t *testing.T, h *loginHost, body string) {
	t.Helper()
	drop, _ := filepath.Glob("/etc/ssh/sshd_config.d/*")
	for _, f := range drop {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, "/etc/ssh/sshd_config", fmt.Sprintf(`Include /etc/ssh/sshd_config.d/*.conf
ListenAddress 127.0.0.1
HostKey %s/ssh_host_ed25519_key
PidFile %s/bypass-sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PrintMotd no
PermitRootLogin no
LogLevel VERBOSE
%s`, h.w, h.w, body))
}

// sshdBypassStart (re)starts sshd on the default configuration file, on a
// new port that ssh() then uses; the previous one is stopped.
func sshdBypassStart(t *testing.T, prev *exec.Cmd) *exec.Cmd {
	t.Helper()
	if prev != nil {
		_ = prev.Process.Signal(syscall.SIGTERM)
		_, _ = prev.Process.Wait()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sshPort = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := svctest.Start(t, "/usr/sbin/sshd", "-D", "-e", "-p", sshPort)
	waitFor(t, "sshd", func() bool {
		c, err := exec.Command("ssh-keyscan", "-p", sshPort, "127.0.0.1").Output()
		return err == nil && len(c) > 0
	})
	return cmd
}

// sshdBypassVigilctl runs vigilctl; stdout and stderr together.
func sshdBypassVigilctl(args ...string) (string, error) {
	out, err := exec.Command(binPath("vigilctl"), args...).CombinedOutput()
	return string(out), err
}

// sshdBypassBlock returns the printed sshd_config block: from its "# vigil:"
// line to the first empty line.
func sshdBypassBlock(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, "# vigil:")
	if i < 0 {
		t.Fatalf("no sshd_config block printed:\n%s", out)
	}
	block, _, _ := strings.Cut(out[i:], "\n\n")
	return block + "\n"
}

// sshdBypassTarget is a TCP service on the host (as one a recorded session
// left running would be): it greets every connection.
func sshdBypassTarget(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "vigil-forward-target")
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// sshdBypassForward runs `ssh -N -L` as user to the target and returns what
// a connection through the forward reads ("" when sshd refuses the channel).
func sshdBypassForward(t *testing.T, h *loginHost, user string, target int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	local := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// The password through SSH_ASKPASS, not sshpass: ssh stays this test's
	// child (sshpass starts it in a session of its own), so it can be ended.
	askpass := filepath.Join(h.w, "askpass")
	if err := os.WriteFile(askpass, []byte("#!/bin/sh\necho '"+loginPassword+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ssh", "-N", "-p", sshPort, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", "-o", "ExitOnForwardFailure=yes",
		"-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", local, target), user+"@127.0.0.1")
	cmd.Env = append(os.Environ(), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	var c net.Conn
	waitFor(t, "ssh -L listening", func() bool {
		c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
		return err == nil
	})
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("ssh -L as %s: %v (%s)", user, err, stderr.String())
	}
	return strings.TrimSpace(line)
}

// sshdBypassSFTP puts a file into user's home with sftp (password, or the
// key file when given) and says whether it arrived.
func sshdBypassSFTP(t *testing.T, h *loginHost, user, key, name string) bool {
	t.Helper()
	src := filepath.Join(h.w, "sftp-src")
	if err := os.WriteFile(src, []byte("payload for "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := []string{"-P", sshPort, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
	var cmd *exec.Cmd
	if key == "" {
		cmd = exec.Command("sshpass", append(append([]string{"-p", loginPassword, "sftp"}, opts...), user+"@127.0.0.1")...)
	} else {
		cmd = exec.Command("sftp", append(append(opts, "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"), user+"@127.0.0.1")...)
	}
	cmd.Stdin = strings.NewReader("put " + src + " " + name + "\n")
	out, err := cmd.CombinedOutput()
	got, rerr := os.ReadFile(filepath.Join("/home", user, name))
	ok := err == nil && rerr == nil && string(got) == "payload for "+name+"\n"
	if !ok {
		t.Logf("sftp as %s (key %q): %v\n%s", user, key, err, out)
	}
	return ok
}

// sshdBypassNoRecording asserts that nothing was recorded since before.
func sshdBypassNoRecording(t *testing.T, before []string, what string) {
	t.Helper()
	time.Sleep(time.Second) // a recorder would have created its file by now
	if recs := newRecordings(t, before); len(recs) != 0 {
		t.Errorf("%s: recorded (%v), expected the unrecorded way around the recorder", what, recs)
	}
}

// Subsystem internal-sftp and forwarding, as many hosts have them: a
// recorded user's sftp and ssh -N -L leave no recording. vigilctl check and
// enable --dry-run report every way around the recorder and print the lines
// that close them; with those in sshd's configuration the user's sftp is
// recorded and forwarding refused, while an unrecorded user still forwards.
func TestSSHDBypassClosedByPrintedLines(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	sshdBypassInstall(t)
	sshdBypassConfig(t, h, `X11Forwarding yes
PermitUserEnvironment yes
AcceptEnv LANG LC_* VIGIL_*
Subsystem sftp internal-sftp
`)
	sshd := sshdBypassStart(t, nil)
	target := sshdBypassTarget(t)

	// The attacks, as alice (recorded).
	before := recordings(t)
	if !sshdBypassSFTP(t, h, "alice", "", "unrecorded.txt") {
		t.Fatal("alice's sftp failed")
	}
	sshdBypassNoRecording(t, before, "sftp with internal-sftp")
	if got := sshdBypassForward(t, h, "alice", target); got != "vigil-forward-target" {
		t.Fatalf("ssh -N -L as alice read %q", got)
	}
	sshdBypassNoRecording(t, before, "ssh -N -L")

	out, err := sshdBypassVigilctl("check", "alice")
	if err != nil {
		t.Errorf("vigilctl check alice: %v\n%s", err, out)
	}
	for _, want := range []string{"Subsystem sftp internal-sftp: sftp runs inside sshd", "[sftp-subsystem]", "AllowTcpForwarding yes: ssh -L and -D",
		"[streamlocal-forwarding]", "X11Forwarding yes", "PermitUserEnvironment yes", "AcceptEnv LANG LC_* VIGIL_*", "[accept-env]",
		"AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2: the user can change the file"} {
		if !strings.Contains(out, want) {
			t.Errorf("vigilctl check alice does not report %q:\n%s", want, out)
		}
	}
	if out, err := sshdBypassVigilctl("check", "carol"); err != nil || !strings.Contains(out, "sshd:         not checked: carol is not recorded") {
		t.Errorf("vigilctl check carol: %v\n%s", err, out)
	}

	out, err = sshdBypassVigilctl("enable", "--dry-run")
	t.Logf("vigilctl enable --dry-run:\n%s", out)
	if err == nil || !strings.Contains(out, "not enabling") || !strings.Contains(out, "sshd lets recorded users act outside the recorder") {
		t.Fatalf("enable --dry-run with sshd bypasses: %v\n%s", err, out)
	}
	block := sshdBypassBlock(t, out)
	for _, want := range []string{"\nPermitUserEnvironment no\n", "\nMatch User alice\n", "\nMatch Group ops\n", "\tAllowTcpForwarding no\n",
		"\tAllowStreamLocalForwarding no\n", "\tX11Forwarding no\n", "\tAcceptEnv LANG LC_*\n", "\tAuthorizedKeysFile /etc/ssh/authorized_keys/%u\n"} {
		if !strings.Contains(block, want) {
			t.Errorf("the printed block has no %q:\n%s", want, block)
		}
	}
	if !strings.Contains(out, "  Subsystem sftp internal-sftp\nto\n  Subsystem sftp /usr/lib/openssh/sftp-server\n") {
		t.Errorf("enable --dry-run does not say how to change the Subsystem line:\n%s", out)
	}
	if out, err := sshdBypassVigilctl("enable", "--dry-run", "--accept-ssh-bypass=all"); err != nil ||
		!strings.Contains(out, "warning: accepted: Subsystem sftp internal-sftp") || !strings.Contains(out, "would run: pam-auth-update --enable vigil") {
		t.Errorf("enable --dry-run --accept-ssh-bypass=all: %v\n%s", err, out)
	}

	// The admin does what enable printed.
	writeFile(t, "/etc/ssh/sshd_config.d/00-vigil.conf", block)
	cfg, err := os.ReadFile("/etc/ssh/sshd_config")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, "/etc/ssh/sshd_config", strings.Replace(string(cfg), "Subsystem sftp internal-sftp", "Subsystem sftp /usr/lib/openssh/sftp-server", 1))
	sshdBypassStart(t, sshd)

	if out, err := sshdBypassVigilctl("check", "alice"); err != nil || !strings.Contains(out, "sshd:         nothing lets alice act outside the recorder") {
		t.Errorf("vigilctl check alice after the fix: %v\n%s", err, out)
	}
	if out, err := sshdBypassVigilctl("enable", "--dry-run"); err != nil || !strings.Contains(out, "sshd: nothing lets the 2 users whom the policy records act outside the recorder") {
		t.Errorf("enable --dry-run after the fix: %v\n%s", err, out)
	}
	before = recordings(t)
	if !sshdBypassSFTP(t, h, "alice", "", "recorded.txt") {
		t.Fatal("alice's sftp failed after the fix")
	}
	rec := waitRecording(t, before)
	verifyFile(t, rec, h.pub)
	if data, _ := os.ReadFile(rec); !strings.Contains(string(data), "sftp-server") {
		t.Errorf("the recording does not show the sftp session:\n%.2000s", data)
	}
	if got := sshdBypassForward(t, h, "alice", target); got != "" {
		t.Errorf("ssh -N -L as alice after the fix read %q, want the channel refused", got)
	}
	if got := sshdBypassForward(t, h, "bob", target); got != "" {
		t.Errorf("ssh -N -L as bob (group ops) after the fix read %q, want the channel refused", got)
	}
	if got := sshdBypassForward(t, h, "carol", target); got != "vigil-forward-target" {
		t.Errorf("ssh -N -L as carol (not recorded) read %q, want the target", got)
	}
}

// sshdBypassKey makes an ed25519 key pair in the work dir and returns the
// private key's path and the public key line.
func sshdBypassKey(t *testing.T, h *loginHost, name string) (string, string) {
	t.Helper()
	key := filepath.Join(h.w, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return key, strings.TrimSpace(string(pub))
}

// sshdBypassKeySSH is ssh as user with a key only.
func sshdBypassKeySSH(user, key string, args ...string) *exec.Cmd {
	return exec.Command("ssh", append([]string{"-p", sshPort, "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", user + "@127.0.0.1"}, args...)...)
}

// A recorded user writes her own authorized_keys (here in a recorded
// session): a key with command="internal-sftp" gives her sftp inside sshd,
// unrecorded, whatever Subsystem says; one with another command runs it
// through the recorder. vigilctl reports the first, and the printed
// AuthorizedKeysFile line (keys that root keeps) closes it. ForceCommand
// runs through the login shell, so it is recorded, except ForceCommand
// internal-sftp, which vigilctl reports for the admin to decide.
func TestSSHDBypassAuthorizedKeysAndForceCommand(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	sshdBypassInstall(t)
	closed := `Subsystem sftp /usr/lib/openssh/sftp-server
AllowTcpForwarding no
AllowStreamLocalForwarding no
X11Forwarding no
`
	sshdBypassConfig(t, h, closed)
	sshd := sshdBypassStart(t, nil)
	key, pub := sshdBypassKey(t, h, "alice-key")

	// Key options alice writes herself, in a recorded session.
	writeKeys := func(line string) {
		t.Helper()
		before := recordings(t)
		cmd := ssh("alice", "HOST", "umask 077; mkdir -p .ssh && cat > .ssh/authorized_keys")
		cmd.Stdin = strings.NewReader(line + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("alice writes her keys: %v\n%s", err, out)
		}
		waitRecording(t, before)
	}
	writeKeys(`command="echo key-forced-$((6*7))" ` + pub)
	before := recordings(t)
	if out, err := sshdBypassKeySSH("alice", key, "true").CombinedOutput(); err != nil || !strings.Contains(string(out), "key-forced-42") {
		t.Fatalf("key with command=: %v\n%s", err, out)
	}
	if text := exportText(t, waitRecording(t, before)); !strings.Contains(text, "key-forced-42") {
		t.Errorf("a key's command= is not recorded:\n%s", text)
	}
	writeKeys(`command="internal-sftp" ` + pub)
	before = recordings(t)
	if !sshdBypassSFTP(t, h, "alice", key, "by-key.txt") {
		t.Fatal(`sftp with a command="internal-sftp" key failed`)
	}
	sshdBypassNoRecording(t, before, `sftp with a command="internal-sftp" key`)

	out, err := sshdBypassVigilctl("check", "alice")
	if err != nil || !strings.Contains(out, "1 way for alice") ||
		!strings.Contains(out, `the user can change the file: a key there with command="internal-sftp" gets sftp inside sshd, not recorded [authorized-keys]`) {
		t.Errorf("vigilctl check alice: %v\n%s", err, out)
	}
	out, err = sshdBypassVigilctl("enable", "--dry-run")
	if err == nil {
		t.Fatalf("enable --dry-run accepted a user-written authorized_keys:\n%s", out)
	}
	block := sshdBypassBlock(t, out)
	if !strings.Contains(block, "\tAuthorizedKeysFile /etc/ssh/authorized_keys/%u\n") {
		t.Fatalf("no AuthorizedKeysFile line:\n%s", block)
	}
	if out, err := sshdBypassVigilctl("enable", "--dry-run", "--accept-ssh-bypass=authorized-keys"); err != nil ||
		!strings.Contains(out, "warning: accepted: AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 (alice, bob)") {
		t.Errorf("enable --dry-run --accept-ssh-bypass=authorized-keys: %v\n%s", err, out)
	}

	// The admin adds the lines and keeps alice's key (without options).
	writeFile(t, "/etc/ssh/sshd_config.d/00-vigil.conf", block)
	if err := os.Mkdir("/etc/ssh/authorized_keys", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, "/etc/ssh/authorized_keys/alice", pub+"\n")
	sshd = sshdBypassStart(t, sshd)
	if out, err := sshdBypassVigilctl("check", "alice"); err != nil || !strings.Contains(out, "nothing lets alice act outside the recorder") {
		t.Errorf("vigilctl check alice after the fix: %v\n%s", err, out)
	}
	before = recordings(t)
	if !sshdBypassSFTP(t, h, "alice", key, "by-key-recorded.txt") {
		t.Fatal("sftp with alice's key from root's file failed")
	}
	verifyFile(t, waitRecording(t, before), h.pub)
	other, otherPub := sshdBypassKey(t, h, "alice-other")
	writeKeys(`command="internal-sftp" ` + otherPub)
	if out, err := sshdBypassKeySSH("alice", other, "true").CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("a key alice added herself still logs in: %v\n%s", err, out)
	}

	// ForceCommand runs through the login shell: recorded.
	writeFile(t, "/etc/ssh/sshd_config.d/50-forced.conf", "Match User alice\n\tForceCommand echo forced-$((6*7))\n")
	sshd = sshdBypassStart(t, sshd)
	before = recordings(t)
	if out, err := ssh("alice", "HOST", "true").CombinedOutput(); err != nil || !strings.Contains(string(out), "forced-42") {
		t.Fatalf("ForceCommand: %v\n%s", err, out)
	}
	if text := exportText(t, waitRecording(t, before)); !strings.Contains(text, "forced-42") {
		t.Errorf("ForceCommand is not recorded:\n%s", text)
	}
	if out, err := sshdBypassVigilctl("check", "alice"); err != nil || !strings.Contains(out, "nothing lets alice act outside the recorder") {
		t.Errorf("vigilctl check alice with ForceCommand: %v\n%s", err, out)
	}

	// ForceCommand internal-sftp does not: reported, for the admin.
	writeFile(t, "/etc/ssh/sshd_config.d/50-forced.conf", "Match User alice\n\tForceCommand internal-sftp\n")
	sshdBypassStart(t, sshd)
	before = recordings(t)
	if !sshdBypassSFTP(t, h, "alice", "", "forced-sftp.txt") {
		t.Fatal("sftp with ForceCommand internal-sftp failed")
	}
	sshdBypassNoRecording(t, before, "ForceCommand internal-sftp")
	if out, err := sshdBypassVigilctl("check", "alice"); err != nil || !strings.Contains(out, "ForceCommand internal-sftp: every session is sftp inside sshd") {
		t.Errorf("vigilctl check alice with ForceCommand internal-sftp: %v\n%s", err, out)
	}
	if out, err := sshdBypassVigilctl("enable", "--dry-run"); err == nil || !strings.Contains(out, "Decide: ForceCommand internal-sftp: ") {
		t.Errorf("enable --dry-run with ForceCommand internal-sftp: %v\n%s", err, out)
	}
}
