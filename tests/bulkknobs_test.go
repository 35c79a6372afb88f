package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// The bulk-transfer fast path records only sizes and digests, so it may run
// only programs the recorded user cannot steer. Each subtest is an attack by
// alice (recorded) over real sshd through one knob she controls: her dotfiles,
// her repositories, her ~/.pam_environment, the options she sends. The
// attacker's output must either not exist (the knob has no effect, and the
// transfer still works) or be in the recording (a full session).
func TestBulkKnobs(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	needCmd(t, "rsync")
	needCmd(t, "git")
	k := &bulkKnobHost{h: h, home: "/home/alice"}
	k.sshOpts = "ssh -p " + sshPort + " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o PubkeyAuthentication=no"
	k.local = filepath.Join(h.w, "knobs")
	if err := os.Mkdir(k.local, 0o755); err != nil {
		t.Fatal(err)
	}
	k.payload = bytes.Repeat([]byte("knob\x00\xff\r\n"), 20000)
	k.src = filepath.Join(k.local, "blob")
	if err := os.WriteFile(k.src, k.payload, 0o644); err != nil {
		t.Fatal(err)
	}
	// alice's repository, with one commit pushed by root as alice would.
	k.asAlice(t, "git", "init", "-q", "--bare", k.home+"/repo.git")
	work := filepath.Join(k.local, "work")
	k.git(t, k.local, "init", "-q", work)
	if err := os.WriteFile(filepath.Join(work, "blob"), k.payload, 0o644); err != nil {
		t.Fatal(err)
	}
	k.git(t, work, "add", "blob")
	k.git(t, work, "commit", "-qm", "blob")
	k.git(t, work, "push", "-q", "alice@127.0.0.1:"+k.home+"/repo.git", "HEAD:refs/heads/main")
	hook := "#!/bin/sh\necho VIGIL-KNOB-HOOK >&2\nexec \"$@\"\n"

	// rsync's daemon mode reads rsyncd.conf from the current directory
	// (alice's home) and runs its exec commands.
	rsyncd := "[mod]\npath = " + k.home + "/mod\nuse chroot = no\nread only = no\n" +
		"early exec = /bin/sh -c 'echo VIGIL-KNOB-EARLY >&2'\npre-xfer exec = /bin/sh -c 'echo VIGIL-KNOB-PREXFER; exit 1'\n"
	t.Run("rsync-daemon-config", func(t *testing.T) {
		k.write(t, "rsyncd.conf", rsyncd, 0o644)
		k.mkdir(t, "mod")
		defer k.remove(t, "rsyncd.conf")
		out, _ := k.run(t, nil, "rsync", "-e", k.sshOpts, "alice@127.0.0.1::mod/", filepath.Join(k.local, "fromdaemon"))
		k.fullSession(t, out, "VIGIL-KNOB-PREXFER")
	})
	// --secluded-args makes the server read its real arguments from the
	// connection, after the command line was looked at: --daemon there.
	t.Run("rsync-secluded-args", func(t *testing.T) {
		k.write(t, "rsyncd.conf", rsyncd, 0o644)
		defer k.remove(t, "rsyncd.conf")
		cmd := ssh("alice", "HOST", "rsync --server -s .")
		cmd.Stdin = strings.NewReader("rsync\x00--daemon\x00.\x00\x00@RSYNCD: 32.0 md5\nmod\n")
		out, _ := k.run(t, cmd)
		k.fullSession(t, out, "VIGIL-KNOB-EARLY")
	})
	// popt reads ~/.popt before rsync sees --server: an exec alias for it
	// replaces the server.
	t.Run("rsync-popt", func(t *testing.T) {
		k.write(t, ".popt", "rsync exec --server /bin/echo VIGIL-KNOB-POPT\n", 0o644)
		defer k.remove(t, ".popt")
		out, err := k.run(t, nil, "rsync", "-e", k.sshOpts, k.src, "alice@127.0.0.1:popt.blob")
		k.noEffect(t, out, err, "VIGIL-KNOB-POPT", k.home+"/popt.blob")
	})
	// git-upload-pack runs uploadpack.packObjectsHook from the global
	// (or system) configuration instead of pack-objects.
	t.Run("git-global-config-hook", func(t *testing.T) {
		k.write(t, "hook", hook, 0o755)
		k.write(t, ".gitconfig", "[uploadpack]\n\tpackObjectsHook = "+k.home+"/hook\n", 0o644)
		defer k.remove(t, ".gitconfig")
		out, err := k.clone(t, "clone-global")
		k.noEffect(t, out, err, "VIGIL-KNOB-HOOK", "")
	})
	// The environment is alice's too: Debian's sshd stack reads
	// ~/.pam_environment (pam_env user_readenv=1).
	t.Run("git-pam-environment", func(t *testing.T) {
		k.write(t, "hook", hook, 0o755)
		k.write(t, "evil.gitconfig", "[uploadpack]\n\tpackObjectsHook = "+k.home+"/hook\n", 0o644)
		k.write(t, ".pam_environment", "GIT_CONFIG_GLOBAL DEFAULT="+k.home+"/evil.gitconfig\n", 0o644)
		defer k.remove(t, ".pam_environment")
		out, err := k.clone(t, "clone-env")
		k.noEffect(t, out, err, "VIGIL-KNOB-HOOK", "")
	})
	// The loader's variables: glibc already drops them from the setuid
	// recorder's environment; the transfer's must not bring them back.
	t.Run("ld-preload-sftp", func(t *testing.T) {
		needCmd(t, "gcc")
		c := filepath.Join(k.local, "preload.c")
		if err := os.WriteFile(c, []byte("#include <unistd.h>\n"+
			"__attribute__((constructor)) static void knob(void) { write(2, \"VIGIL-KNOB-PRELOAD\\n\", 19); }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		so := filepath.Join(k.local, "preload.so")
		if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", so, c).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		k.write(t, ".pam_environment", "LD_PRELOAD DEFAULT="+so+"\n", 0o644)
		defer k.remove(t, ".pam_environment")
		cmd := exec.Command("sshpass", "-p", loginPassword, "sftp", "-P", sshPort, "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "alice@127.0.0.1")
		cmd.Stdin = strings.NewReader("put " + k.src + " preload.blob\n")
		out, err := k.run(t, cmd)
		k.noEffect(t, out, err, "VIGIL-KNOB-PRELOAD", k.home+"/preload.blob")
	})
	// Running hooks is git-receive-pack's job: a push is a full session.
	t.Run("git-receive-pack-hook", func(t *testing.T) {
		k.write(t, "repo.git/hooks/post-receive", "#!/bin/sh\necho VIGIL-KNOB-RECEIVE\n", 0o755)
		defer k.remove(t, "repo.git/hooks/post-receive")
		out, err := k.run(t, k.gitCmd(work, "push", "alice@127.0.0.1:"+k.home+"/repo.git", "HEAD:refs/heads/pushed"))
		if err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		k.fullSession(t, out, "VIGIL-KNOB-RECEIVE")
	})
	// git-upload-archive runs the repository's tar.<format>.command.
	t.Run("git-upload-archive-filter", func(t *testing.T) {
		repo := k.home + "/repo.git"
		k.asAlice(t, "git", "-C", repo, "config", "tar.vigil.command", "echo VIGIL-KNOB-ARCHIVE >&2; cat")
		k.asAlice(t, "git", "-C", repo, "config", "tar.vigil.remote", "true")
		out, _ := k.run(t, k.gitCmd(k.local, "archive", "--remote=alice@127.0.0.1:"+repo, "--format=vigil", "main"))
		k.fullSession(t, out, "VIGIL-KNOB-ARCHIVE")
	})
	// An option where the repository belongs: --help runs git help, which
	// runs the man viewer ~/.gitconfig names.
	t.Run("git-help-viewer", func(t *testing.T) {
		k.write(t, ".gitconfig", "[man]\n\tviewer = vigil\n[man \"vigil\"]\n\tcmd = echo VIGIL-KNOB-HELP\n", 0o644)
		defer k.remove(t, ".gitconfig")
		out, _ := k.run(t, ssh("alice", "HOST", "git-upload-pack --help"))
		k.fullSession(t, out, "VIGIL-KNOB-HELP")
	})
}

// bulkKnobHost is the login host of TestBulkKnobs and what its subtests
// share.
type bulkKnobHost struct {
	h       *loginHost
	home    string // alice's
	sshOpts string // ssh's options for rsync -e and GIT_SSH_COMMAND
	local   string // the client's side
	src     string // a file to upload
	payload []byte // its content
	before  []string
}

// asAlice runs a setup command as alice on the server's side.
func (k *bulkKnobHost) asAlice(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = k.home
	cmd.Env = []string{"HOME=" + k.home, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: aliceUID, Gid: aliceUID}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v as alice: %v\n%s", name, args, err, out)
	}
}

// write puts a file of alice's in her home.
func (k *bulkKnobHost) write(t *testing.T, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(k.home, rel)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, aliceUID, aliceUID); err != nil {
		t.Fatal(err)
	}
}

func (k *bulkKnobHost) mkdir(t *testing.T, rel string) {
	t.Helper()
	k.asAlice(t, "mkdir", "-p", filepath.Join(k.home, rel))
}

func (k *bulkKnobHost) remove(t *testing.T, rel string) {
	t.Helper()
	if err := os.Remove(filepath.Join(k.home, rel)); err != nil {
		t.Error(err)
	}
}

// gitCmd is git on the client's side, over ssh to the test's sshd.
func (k *bulkKnobHost) gitCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND=sshpass -p "+loginPassword+" "+k.sshOpts)
	return cmd
}

func (k *bulkKnobHost) git(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, err := k.gitCmd(dir, args...).CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// clone clones alice's repository into the client's dir name and checks
// the content when it worked.
func (k *bulkKnobHost) clone(t *testing.T, name string) ([]byte, error) {
	t.Helper()
	dest := filepath.Join(k.local, name)
	out, err := k.run(t, k.gitCmd(k.local, "clone", "-b", "main", "alice@127.0.0.1:"+k.home+"/repo.git", dest))
	if err == nil {
		if got, rerr := os.ReadFile(filepath.Join(dest, "blob")); rerr != nil || !bytes.Equal(got, k.payload) {
			t.Errorf("clone: blob differs (%v)", rerr)
		}
	}
	return out, err
}

// run runs the client (cmd, or sshpass with args) and returns what it
// printed; the recordings made until then are the baseline for the next
// check.
func (k *bulkKnobHost) run(t *testing.T, cmd *exec.Cmd, args ...string) ([]byte, error) {
	t.Helper()
	if cmd == nil {
		cmd = exec.Command("sshpass", append([]string{"-p", loginPassword}, args...)...)
	}
	k.before = recordings(t)
	return cmd.CombinedOutput()
}

// recording waits for the connection's recording, verifies it and returns
// its content and the output it holds.
func (k *bulkKnobHost) recording(t *testing.T) (data, output []byte) {
	t.Helper()
	rec := waitRecording(t, k.before)
	verifyFile(t, rec, k.h.pub)
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	return data, outputOf(decode(t, rec))
}

// fullSession checks that the knob's output reached the client and is in
// the recording: the connection was recorded in full, not as a transfer.
func (k *bulkKnobHost) fullSession(t *testing.T, client []byte, marker string) {
	t.Helper()
	if !bytes.Contains(client, []byte(marker)) {
		t.Fatalf("the knob did not act (no %s); client output:\n%s", marker, client)
	}
	data, output := k.recording(t)
	if bytes.Contains(data, []byte(`"bulk":true`)) {
		t.Errorf("recorded as a bulk transfer, the knob's output unrecorded:\n%.3000s", data)
	}
	if !bytes.Contains(output, []byte(marker)) {
		t.Errorf("%s reached the client but is not in the recording:\n%.3000s", marker, data)
	}
}

// noEffect checks that the knob changed nothing: the transfer worked (the
// file dest on alice's side, if any, is the payload), its output appeared
// nowhere, and the transfer was recorded as one.
func (k *bulkKnobHost) noEffect(t *testing.T, client []byte, err error, marker, dest string) {
	t.Helper()
	if bytes.Contains(client, []byte(marker)) {
		t.Errorf("the knob ran (%s reached the client):\n%s", marker, client)
	}
	if err != nil {
		t.Errorf("transfer failed: %v\n%s", err, client)
	}
	if dest != "" {
		if got, rerr := os.ReadFile(dest); rerr != nil || !bytes.Equal(got, k.payload) {
			t.Errorf("%s: copy differs (%d bytes, %v)", dest, len(got), rerr)
		}
	}
	data, output := k.recording(t)
	if !bytes.Contains(data, []byte(`"bulk":true`)) {
		t.Errorf("a plain transfer was not recorded as one:\n%.3000s", data)
	}
	if bytes.Contains(output, []byte(marker)) {
		t.Errorf("%s is in the recording", marker)
	}
}
