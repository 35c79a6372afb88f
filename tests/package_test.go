package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// envDeb names the .deb under test (set it to test a given package; the
// test otherwise builds one, see debPackage).
const envDeb = "VIGIL_TEST_DEB"

// pkgPath is the PATH inside the throwaway root.
const pkgPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// TestPackageDeb installs the .deb with dpkg into a throwaway copy of this
// host and uses it as an admin would: an overlayfs with the host's / as
// its read-only lower layer and a tmpfs as upper layer, in the test's
// private mount namespace, so dpkg, the maintainer scripts, pam-auth-update
// and vigilctl write only to the tmpfs. In that root: install, check files,
// modes, account, stat override, conffiles and key; reinstall over an
// edited conffile; start the system bus and vigil-policyd from the
// package; vigilctl enable (real checks), a recorded `su -l` on a terminal,
// verified; disable restores every file byte for byte; enable again from
// outside (--root --force, the image-build way); then dpkg --purge, which
// must disable Vigil again, and leaves nothing of the package behind but
// the recordings it keeps on purpose (conf/system/README.md). Also (in
// package_files_test.go): the documentation, man pages and completions are
// installed, and installing again after the purge trusts the kept public
// keys, so the kept recording still verifies OK; and (in
// package_collector_test.go) the fleet's collector: its account, settings
// file and unit, run as the unit would on a test PostgreSQL.
func TestPackageDeb(t *testing.T) {
	svctest.RequireRoot(t)
	for _, c := range []string{"dpkg", "dpkg-deb", "chroot", "dbus-daemon", "su"} {
		needCmd(t, c)
	}
	if os.Getenv(envDeb) == "" {
		t.Setenv(envDeb, debPackage(t)) // built outside the namespace's time limit
	}
	if !svctest.InNamespace(t) {
		return
	}
	start := time.Now()
	deb := os.Getenv(envDeb)
	for _, p := range []string{"libc6", "libpam0g", "libpam-runtime", "dbus", "passwd"} {
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output(); err != nil || string(out) != "install ok installed" {
			t.Skipf("the package's dependency %s is not installed here (make deps installs it)", p)
		}
	}

	root, upper := throwawayRoot(t)
	c := chrootRunner{t: t, root: root}
	multiarch := strings.TrimSpace(c.run("dpkg-architecture", "-qDEB_HOST_MULTIARCH"))

	// A user the default policy records (group vigil-recorded), made
	// before the baseline: purge must leave everything as it is now.
	c.run("groupadd", "--system", "vigil-recorded")
	c.run("useradd", "--create-home", "--shell", "/bin/bash", "--groups", "vigil-recorded", "vtest")
	baseline := upperState(t, upper)
	configs := readConfigs(t, root)

	// Install.
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tmp/vigil.deb"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dpkg -i:\n%s", c.run("dpkg", "-i", "/tmp/vigil.deb"))
	lib := "/usr/lib/" + multiarch
	for path, want := range map[string]string{
		"/usr/bin/vigil-rec-session":                       "6755 vigil:vigil",
		"/usr/bin/vigil-rec":                               "755 root:root",
		"/usr/bin/vigil-play":                              "755 root:root",
		"/usr/sbin/vigil-policyd":                          "755 root:root",
		"/usr/sbin/vigilctl":                               "755 root:root",
		"/usr/sbin/vigil-ship":                             "755 root:root",
		"/usr/sbin/vigil-collector":                        "755 root:root",
		"/usr/sbin/vigil-cmdlog":                           "755 root:root",
		lib + "/libnss_vigil.so.2":                         "644 root:root",
		lib + "/security/pam_vigil.so":                     "644 root:root",
		"/etc/vigil/policy.toml":                           "644 root:root",
		"/etc/vigil/rec.toml":                              "644 root:root",
		"/usr/share/dbus-1/system.d/io.vigil.Policy1.conf": "644 root:root",
		"/usr/lib/systemd/system/vigil-policyd.service":    "644 root:root",
		"/usr/lib/systemd/system/vigil-purge.service":      "644 root:root",
		"/usr/lib/systemd/system/vigil-purge.timer":        "644 root:root",
		"/usr/lib/systemd/system/vigil-ship.service":       "644 root:root",
		"/usr/lib/systemd/system/vigil-collector.service":  "644 root:root",
		"/usr/lib/systemd/system/vigil-cmdlog.service":     "644 root:root",
		"/etc/default/vigil-ship":                          "644 root:root",
		"/etc/default/vigil-collector":                     "640 root:vigil-collector",
		"/usr/lib/sysusers.d/vigil.conf":                   "644 root:root",
		"/usr/lib/tmpfiles.d/vigil.conf":                   "644 root:root",
		"/usr/share/pam-configs/vigil":                     "644 root:root",
		"/var/log/vigil":                                   "750 vigil:vigil",
		"/run/vigil":                                       "755 vigil:vigil",
		"/var/lib/vigil":                                   "755 root:root",
		"/etc/vigil/keys":                                  "750 root:vigil",
		"/etc/vigil/keys/signing.key":                      "640 root:vigil",
	} {
		if got := strings.TrimSpace(c.run("stat", "-c", "%a %U:%G", path)); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	if got := c.run("getent", "passwd", "vigil"); !regexp.MustCompile(`^vigil:x:\d+:\d+:[^:]*:/nonexistent:/usr/sbin/nologin\n$`).MatchString(got) {
		t.Errorf("vigil account: %q", got)
	}
	if got := c.run("dpkg-statoverride", "--list", "/usr/bin/vigil-rec-session"); got != "vigil vigil 6755 /usr/bin/vigil-rec-session\n" {
		t.Errorf("stat override: %q", got)
	}
	conffiles := c.run("dpkg-query", "-W", "-f=${Conffiles}", "vigil")
	for _, f := range []string{"/etc/vigil/policy.toml", "/etc/vigil/rec.toml", "/etc/default/vigil-ship", "/etc/default/vigil-collector"} {
		if !strings.Contains(conffiles, " "+f+" ") {
			t.Errorf("%s is not a conffile: %q", f, conffiles)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/vigil-policyd.service")); err != nil {
		t.Errorf("vigil-policyd is not enabled for boot: %v", err)
	}
	key := c.run("sha256sum", "/etc/vigil/keys/signing.key")
	checkShippedFiles(t, c) // package_files_test.go
	checkCollector(t, c)    // package_collector_test.go

	// An admin's edit to a conffile survives a reinstall (postinst's second
	// run: no new key, the stat override kept).
	appendFile(t, filepath.Join(root, "etc/vigil/rec.toml"), "# admin was here\n")
	c.run("dpkg", "-i", "/tmp/vigil.deb")
	if rec, _ := os.ReadFile(filepath.Join(root, "etc/vigil/rec.toml")); !bytes.HasSuffix(rec, []byte("# admin was here\n")) {
		t.Error("reinstall replaced the admin's rec.toml")
	}
	if c.run("sha256sum", "/etc/vigil/keys/signing.key") != key || c.run("stat", "-c", "%a %U", "/usr/bin/vigil-rec-session") != "6755 vigil\n" {
		t.Error("reinstall changed the key or the recorder's mode")
	}
	// The collector's settings (set by checkCollector) stay, and stay closed.
	if def, _ := os.ReadFile(filepath.Join(root, "etc/default/vigil-collector")); !bytes.Contains(def, []byte("\nVIGIL_COLLECTOR_DB=")) ||
		c.run("stat", "-c", "%a %U:%G", "/etc/default/vigil-collector") != "640 root:vigil-collector\n" {
		t.Error("reinstall replaced /etc/default/vigil-collector or opened it")
	}

	// The system bus (Debian's system.conf, our policy from the package)
	// and vigil-policyd, as systemd would start them.
	if err := os.Mkdir(filepath.Join(root, "run/dbus"), 0o755); err != nil {
		t.Fatal(err)
	}
	bus := svctest.Start(t, "chroot", root, "env", "-i", pkgPath, "dbus-daemon", "--system", "--nofork", "--nopidfile")
	waitFor(t, "the system bus", func() bool {
		conn, err := net.Dial("unix", filepath.Join(root, "run/dbus/system_bus_socket"))
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	policyd := svctest.Start(t, "chroot", root, "env", "-i", pkgPath, "/usr/sbin/vigil-policyd", "--poll", "200ms")
	waitFor(t, "vigil-policyd", func() bool { return c.cmd("vigilctl", "status").Run() == nil })
	if out := c.run("vigilctl", "explain", "vtest"); !strings.Contains(out, "vtest (any service): RECORDED") {
		t.Errorf("explain vtest:\n%s", out)
	}

	// enable, with its real checks (but for sshd's configuration, which is
	// the host's here: tests/sshdbypass_test.go checks that part).
	t.Logf("vigilctl enable:\n%s", c.run("vigilctl", "enable", "--accept-ssh-bypass=all"))
	enabled := readConfigs(t, root)
	if nss := enabled["/etc/nsswitch.conf"]; !regexp.MustCompile(`(?m)^passwd:\s+vigil \[TRYAGAIN=return\] files`).MatchString(nss) {
		t.Errorf("nsswitch.conf:\n%s", nss)
	}
	if s := enabled["/etc/pam.d/common-session"]; !regexp.MustCompile(`pam_unix\.so\s*\n[^\n]*required\s+pam_vigil\.so\s*\n[^\n]*pam_systemd\.so`).MatchString(s) {
		t.Errorf("common-session: pam_vigil not between pam_unix and pam_systemd:\n%s", s)
	}
	if s := enabled["/etc/pam.d/common-session-noninteractive"]; strings.Contains(s, "pam_vigil") {
		t.Errorf("common-session-noninteractive has pam_vigil (cron, sudo without -i):\n%s", s)
	}
	if s := enabled["/etc/pam.d/sshd"]; !regexp.MustCompile(`pam_env\.so user_readenv=1[^\n]*\n# vigil: [^\n]*\nsession\s+required\s+pam_vigil\.so\n`).MatchString(s) {
		t.Errorf("sshd: pam_vigil not right after pam_env user_readenv=1:\n%s", s)
	}
	if enabled["/etc/nsswitch.conf.vigil-bak"] != configs["/etc/nsswitch.conf"] {
		t.Error("no backup of nsswitch.conf")
	}
	// The installed NSS module wraps vtest, and only vtest.
	if got := c.run("getent", "passwd", "vtest"); !strings.HasSuffix(got, ":/home/vtest:/usr/bin/vigil-rec-session\n") {
		t.Errorf("getent passwd vtest: %q", got)
	}
	if got := c.run("getent", "passwd", "root"); !strings.HasSuffix(got, ":/root:/bin/bash\n") {
		t.Errorf("getent passwd root: %q", got)
	}

	// A recorded login: su -l on a terminal, through the installed PAM
	// stack, recorder and key.
	term := startTerminalCmd(t, 100, 30, c.cmd("su", "-l", "vtest"))
	term.waitFor("ATTENTION! Your session is being recorded!", 20*time.Second)
	term.typeText("echo pkg-$((40+2)) user=$(id -un) shell=$SHELL\r")
	term.waitFor("pkg-42 user=vtest shell=/bin/bash", 10*time.Second)
	term.typeText("exit\r")
	term.wait(20 * time.Second)
	var rec string
	waitFor(t, "a complete recording", func() bool {
		m, _ := filepath.Glob(filepath.Join(root, "var/log/vigil/*.jsonl"))
		if len(m) != 1 {
			return false
		}
		data, err := os.ReadFile(m[0])
		rec = "/var/log/vigil/" + filepath.Base(m[0])
		return err == nil && bytes.Contains(data, []byte(`"end":`))
	})
	if out, err := c.cmd("vigil-play", "verify", rec).CombinedOutput(); err != nil || !bytes.Contains(out, []byte(": OK;")) {
		t.Errorf("verify %s: %v\n%s", rec, err, out)
	}
	if out := c.run("vigil-play", "export", "--format", "text", rec); !strings.Contains(out, "pkg-42 user=vtest") {
		t.Errorf("the recording does not show the session:\n%s", out)
	}

	// disable restores every file exactly; then enable again, the way an
	// image build does it: from outside, --root, --force.
	t.Logf("vigilctl disable:\n%s", c.run("vigilctl", "disable"))
	if d := diffConfigs(configs, readConfigs(t, root)); d != "" {
		t.Errorf("disable did not restore the files:\n%s", d)
	}
	if out, err := exec.Command(binPath("vigilctl"), "enable", "--root", root, "--force").CombinedOutput(); err != nil {
		t.Fatalf("vigilctl enable --root --force: %v\n%s", err, out)
	}
	if d := diffConfigs(enabled, readConfigs(t, root)); d != "" {
		t.Errorf("enable --root differs from enable:\n%s", d)
	}

	// Purge, with policyd stopped as systemd would stop it: prerm must
	// disable Vigil on its own, without the daemon.
	for _, p := range []*exec.Cmd{policyd, bus} {
		_ = p.Process.Signal(syscall.SIGTERM)
		_, _ = p.Process.Wait()
	}
	t.Logf("dpkg --purge:\n%s", c.run("dpkg", "--purge", "vigil"))
	if out, _ := c.cmd("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "vigil").CombinedOutput(); bytes.HasPrefix(out, []byte("ii")) ||
		bytes.HasPrefix(out, []byte("rc")) {
		t.Errorf("vigil still known to dpkg: %q", out)
	}
	if d := diffConfigs(configs, readConfigs(t, root)); d != "" {
		t.Errorf("purge left nsswitch.conf or PAM changed:\n%s", d)
	}
	for _, q := range [][]string{{"getent", "passwd", "vigil"}, {"getent", "group", "vigil"}, {"dpkg-statoverride", "--list", "/usr/bin/vigil-rec-session"}} {
		if out, err := c.cmd(q...).CombinedOutput(); err == nil {
			t.Errorf("%v still finds: %s", q, out)
		}
	}
	// Kept on purpose: the recording, root-only, with the public key that
	// verifies it.
	kept := filepath.Join(root, rec)
	if out, err := exec.Command("stat", "-c", "%a %U:%G", filepath.Dir(kept), kept).Output(); err != nil || string(out) != "750 root:root\n640 root:root\n" {
		t.Errorf("kept recordings: %v %q", err, out)
	}
	if out, err := exec.Command(binPath("vigil-play"), "verify", "-k", filepath.Join(root, "var/log/vigil/keys"), kept).CombinedOutput(); err != nil {
		t.Errorf("the kept recording does not verify with the kept key: %v\n%s", err, out)
	}
	if left := leftovers(t, upper, baseline); len(left) > 0 {
		t.Errorf("left behind by install + purge (compared with the host before install):\n  %s", strings.Join(left, "\n  "))
	}
	reinstallAfterPurge(t, c, rec) // package_files_test.go
	t.Logf("package test took %v", time.Since(start).Round(time.Millisecond))
}

// debPackage returns the .deb to test: bin/vigil_0.1.0_ARCH.deb when it is
// newer than every source file (tests excepted), else a fresh `make deb` into a temp dir
// (the repository's bin/ is left alone).
func debPackage(t *testing.T) string {
	t.Helper()
	arch, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Skipf("dpkg --print-architecture: %v", err)
	}
	name := "vigil_0.1.0_" + strings.TrimSpace(string(arch)) + ".deb"
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(repo, "bin", name)); err == nil {
		if newer := newestSource(t, repo); !newer.After(fi.ModTime()) {
			t.Logf("testing bin/%s", name)
			return filepath.Join(repo, "bin", name)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("make", "-C", repo, "BIN="+dir, "deb")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	t.Logf("testing a fresh make deb (bin/%s is missing or older than the sources)", name)
	return filepath.Join(dir, name)
}

func newestSource(t *testing.T, repo string) time.Time {
	t.Helper()
	var newest time.Time
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// What cannot end up in the package: tests and their data.
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == "testdata" || p == filepath.Join(repo, "tests")) {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, "_test.go") {
			return nil
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() && fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return newest
}

// throwawayRoot mounts an overlayfs of the host's / (read-only lower
// layer) with a tmpfs upper layer, plus its own /proc, /run, /tmp and a
// /dev with only the devices a login needs, and returns the root and the
// upper layer (where every change lands).
func throwawayRoot(t *testing.T) (root, upper string) {
	t.Helper()
	w := t.TempDir()
	layers := filepath.Join(w, "layers")
	svctest.Tmpfs(t, layers, "mode=755")
	upper, work := filepath.Join(layers, "upper"), filepath.Join(layers, "work")
	root = filepath.Join(w, "root")
	for _, d := range []string{upper, work, root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o",
		"lowerdir=/,upperdir="+upper+",workdir="+work, root).CombinedOutput(); err != nil {
		t.Skipf("overlayfs over / is not available here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", root).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", root, err, out)
		}
	})
	svctest.Mount(t, "-t", "proc", "proc", filepath.Join(root, "proc"))
	svctest.Tmpfs(t, filepath.Join(root, "run"), "mode=755")
	svctest.Tmpfs(t, filepath.Join(root, "tmp"), "mode=1777")
	dev := filepath.Join(root, "dev")
	svctest.Tmpfs(t, dev, "mode=755")
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := os.WriteFile(filepath.Join(dev, n), nil, 0o666); err != nil {
			t.Fatal(err)
		}
		svctest.Mount(t, "--bind", "/dev/"+n, filepath.Join(dev, n))
	}
	// The host's pty instance: ttyname() of the test's terminal resolves,
	// and the recorder's own ptys come from it too. ptmx is a device node,
	// not a bind mount: the kernel finds the instance at "pts" next to it.
	if err := os.Mkdir(filepath.Join(dev, "pts"), 0o755); err != nil {
		t.Fatal(err)
	}
	svctest.Mount(t, "--bind", "/dev/pts", filepath.Join(dev, "pts"))
	ptmx := filepath.Join(dev, "ptmx")
	if err := syscall.Mknod(ptmx, syscall.S_IFCHR|0o666, 5<<8|2); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ptmx, 0o666); err != nil {
		t.Fatal(err)
	}
	for n, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, n)); err != nil {
			t.Fatal(err)
		}
	}
	return root, upper
}

type chrootRunner struct {
	t    *testing.T
	root string
}

func (c chrootRunner) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("chroot", append([]string{c.root}, args...)...)
	cmd.Env = []string{pkgPath, "HOME=/root", "LANG=C.UTF-8", "TERM=xterm", "DEBIAN_FRONTEND=noninteractive"}
	return cmd
}

func (c chrootRunner) run(args ...string) string {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("in the root: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// readConfigs reads what enable and disable edit: nsswitch.conf (and its
// backup) and every file in /etc/pam.d.
func readConfigs(t *testing.T, root string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "etc/pam.d/*"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "etc/nsswitch.conf"), filepath.Join(root, "etc/nsswitch.conf.vigil-bak"))
	m := map[string]string{}
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			m[strings.TrimPrefix(f, root)] = string(data)
		}
	}
	return m
}

func diffConfigs(want, got map[string]string) string {
	var d []string
	for f, w := range want {
		if g, ok := got[f]; !ok {
			d = append(d, f+": missing")
		} else if g != w {
			d = append(d, fmt.Sprintf("%s:\n%s\nwant:\n%s", f, g, w))
		}
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			d = append(d, f+": new")
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}

// fileState is what the leftover check compares: type and permissions,
// owner, and content (symlink target).
type fileState struct {
	mode     fs.FileMode
	uid, gid uint32
	content  string
}

func stateOf(path string) (fileState, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileState{}, false
	}
	st := fi.Sys().(*syscall.Stat_t)
	s := fileState{mode: fi.Mode(), uid: st.Uid, gid: st.Gid}
	switch {
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(path)
		if err != nil {
			return fileState{}, false
		}
		sum := sha256.Sum256(data)
		s.content = hex.EncodeToString(sum[:])
	case fi.Mode()&fs.ModeSymlink != 0:
		s.content, _ = os.Readlink(path)
	case fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0:
		s.content = "whiteout" // overlayfs: the lower file was deleted
	}
	return s, true
}

// upperState records every entry of the overlay's upper layer.
func upperState(t *testing.T, upper string) map[string]fileState {
	t.Helper()
	m := map[string]fileState{}
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if s, ok := stateOf(p); ok && p != upper {
			m[strings.TrimPrefix(p, upper)] = s
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// kept are the changes install + purge may leave (conf/system/README.md):
// the recordings, and the bookkeeping of dpkg, debconf (pam-auth-update's
// answers), pam-auth-update, ldconfig, man-db's index (the man pages) and
// the shadow tools' backups; and what the test user's own session wrote in
// its home.
var kept = regexp.MustCompile(`^(/var/log/vigil(/.*)?|/var/lib/dpkg/.*|/var/log/dpkg\.log|/var/cache/debconf/.*|/var/lib/pam/seen|/var/cache/man/.*|` +
	`/etc/ld\.so\.cache|/var/cache/ldconfig/aux-cache|/etc/(passwd|group|shadow|gshadow)-|/home/vtest/.*)$`)

// leftovers lists what differs in the upper layer now from the baseline
// (for paths in it) or the host (for the rest), except kept.
func leftovers(t *testing.T, upper string, baseline map[string]fileState) []string {
	t.Helper()
	var out []string
	for p, now := range upperState(t, upper) {
		if kept.MatchString(p) {
			continue
		}
		before, existed := baseline[p]
		if !existed {
			before, existed = stateOf(p) // the host's file: the lower layer
		}
		switch {
		case !existed && now.content == "whiteout":
		case !existed:
			out = append(out, "new: "+p)
		case now.mode.IsDir() && before.mode.IsDir():
			// copied up because something below changed; checked there
		case now != before:
			out = append(out, fmt.Sprintf("changed: %s (%v %d:%d -> %v %d:%d, content changed: %v)", p,
				before.mode, before.uid, before.gid, now.mode, now.uid, now.gid, now.content != before.content))
		}
	}
	sort.Strings(out)
	return out
}
