package loginhooks

import (
	"bytes"
	"errors"
	"github.com/vigil-rec/vigil/rec/auditrules"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/policyd/daemon"
)

// fakeRoot is a system root with the package installed (modules, profile)
// and Debian 12's nsswitch.conf and PAM files.
func fakeRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("vigilctl enable/disable run as root")
	}
	tuple := multiarch[runtime.GOARCH]
	root := t.TempDir()
	for path, content := range map[string]string{
		"etc/nsswitch.conf":       "# /etc/nsswitch.conf\n\npasswd:         files systemd\ngroup:          files systemd\n",
		"etc/pam.d/sshd":          debianSSHD,
		"etc/pam.d/login":         debianLogin,
		"etc/pam.d/sshd.dpkg-old": "session required pam_vigil.so\n",
		"etc/pam.d/common-session": "session [default=1] pam_permit.so\nsession requisite pam_deny.so\nsession required pam_permit.so\n" +
			"session required pam_unix.so\nsession optional pam_systemd.so\n",
		"usr/lib/" + tuple + "/libnss_vigil.so.2":     "",
		"usr/lib/" + tuple + "/security/pam_vigil.so": "",
		"usr/share/pam-configs/vigil":                 "Name: x\n",
		"usr/sbin/pam-auth-update":                    "",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// fakePamAuthUpdate stands in for pam-auth-update: it adds or removes the
// profile's line in common-session, after pam_unix, unless broken (as for
// common-* edited by hand: exit 0, nothing changed).
func fakePamAuthUpdate(t *testing.T, broken *bool, calls *[]string) {
	t.Helper()
	saved := runPamAuthUpdate
	t.Cleanup(func() { runPamAuthUpdate = saved })
	runPamAuthUpdate = func(root string, args ...string) ([]byte, error) {
		*calls = append(*calls, strings.Join(args, " "))
		if *broken {
			return []byte("pam-auth-update: Local modifications to /etc/pam.d/common-*, not updating."), nil
		}
		p := filepath.Join(root, "etc/pam.d/common-session")
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		s := strings.Replace(string(data), "session required pam_vigil.so\n", "", 1)
		if args[0] == "--enable" {
			s = strings.Replace(s, "pam_unix.so\n", "pam_unix.so\nsession required pam_vigil.so\n", 1)
		}
		return nil, os.WriteFile(p, []byte(s), 0o644)
	}
}

// enable runs Enable on root, with Checks.Force or not, and returns what
// it printed.
func enable(root string, force, dryRun bool) (string, error) {
	var out bytes.Buffer
	err := Enable(Options{Root: root, DryRun: dryRun, Out: &out}, Checks{Force: force})
	return out.String(), err
}

// disable runs Disable on root and returns what it printed.
func disable(root string, dryRun bool) (string, error) {
	var out bytes.Buffer
	err := Disable(Options{Root: root, DryRun: dryRun, Out: &out})
	return out.String(), err
}

func readAll(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(root, "etc"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		files[strings.TrimPrefix(p, root)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestEnableDisableRoot(t *testing.T) {
	root := fakeRoot(t)
	// auditd is installed: enable writes its rules file, disable removes it.
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(auditrules.Path)), 0o750); err != nil {
		t.Fatal(err)
	}
	var broken bool
	var calls []string
	fakePamAuthUpdate(t, &broken, &calls)
	before := readAll(t, root)

	if _, err := enable(root, false, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("enable --root without --force: %v", err)
	}

	out, err := enable(root, true, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-passwd:         files systemd", "+passwd:         vigil [TRYAGAIN=return] files systemd",
		"+" + pamMarker, "+" + pamLine, "would create " + root + NsswitchBackup, "would create " + root + auditrules.Path, "would run: pam-auth-update --enable vigil"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run does not show %q:\n%s", want, out)
		}
	}
	if after := readAll(t, root); len(calls) > 0 || !equalMaps(after, before) {
		t.Fatalf("dry run changed something (pam-auth-update %v)", calls)
	}

	// pam-auth-update refusing (local changes): nothing stays changed.
	broken = true
	if out, err := enable(root, true, false); err == nil || !strings.Contains(err.Error(), "Local modifications") ||
		!strings.Contains(err.Error(), "restored") {
		t.Errorf("enable with pam-auth-update failing: %v\n%s", err, out)
	}
	if after := readAll(t, root); !equalMaps(after, before) {
		t.Fatalf("failed enable left changes:\n%v", diffMaps(before, after))
	}
	broken = false

	if out, err := enable(root, true, false); err != nil {
		t.Fatalf("enable: %v\n%s", err, out)
	}
	enabled := readAll(t, root)
	if !strings.Contains(enabled["/etc/nsswitch.conf"], "\npasswd:         vigil [TRYAGAIN=return] files systemd\n") ||
		enabled["/etc/nsswitch.conf.vigil-bak"] != before["/etc/nsswitch.conf"] ||
		!strings.Contains(enabled["/etc/pam.d/sshd"], pamMarker+"\n"+pamLine+"\n") ||
		!strings.Contains(enabled["/etc/pam.d/common-session"], "pam_vigil.so") ||
		enabled["/etc/pam.d/login"] != debianLogin || enabled[auditrules.Path] != string(auditrules.File()) {
		t.Fatalf("enable:\n%v", diffMaps(before, enabled))
	}
	if out, err := enable(root, true, false); err != nil || !strings.Contains(out, "already enabled") {
		t.Errorf("enable again: %v\n%s", err, out)
	}
	if after := readAll(t, root); !equalMaps(after, enabled) {
		t.Errorf("second enable changed:\n%v", diffMaps(enabled, after))
	}

	// A pam_vigil line enable did not add (here in login) would outlive the
	// module: disable refuses and changes nothing.
	login := filepath.Join(root, "etc/pam.d/login")
	if err := os.WriteFile(login, []byte(debianLogin+"session required pam_vigil.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := disable(root, false); err == nil || !strings.Contains(err.Error(), root+"/etc/pam.d/login:16") {
		t.Errorf("disable with a foreign pam_vigil line: %v\n%s", err, out)
	}
	if err := os.WriteFile(login, []byte(debianLogin), 0o644); err != nil {
		t.Fatal(err)
	}
	if after := readAll(t, root); !equalMaps(after, enabled) {
		t.Errorf("refused disable changed:\n%v", diffMaps(enabled, after))
	}

	out, err = disable(root, true)
	if err != nil || !strings.Contains(out, "would run: pam-auth-update --disable vigil") || !strings.Contains(out, "-"+pamLine) ||
		!strings.Contains(out, "would remove "+root+NsswitchBackup) || !strings.Contains(out, "would remove "+root+auditrules.Path) {
		t.Errorf("disable --dry-run: %v\n%s", err, out)
	}
	if out, err := disable(root, false); err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	if after := readAll(t, root); !equalMaps(after, before) {
		t.Errorf("disable does not restore the files exactly:\n%v", diffMaps(before, after))
	}
	if out, err := disable(root, false); err != nil || !strings.Contains(out, "not enabled") {
		t.Errorf("disable again: %v\n%s", err, out)
	}
	if got := strings.Join(calls, "; "); got != "--enable vigil; --enable vigil; --disable vigil" {
		t.Errorf("pam-auth-update calls: %s", got)
	}

	// Refusals: a module missing.
	os.Remove(filepath.Join(root, "usr/lib", multiarch[runtime.GOARCH], "security/pam_vigil.so"))
	if _, err := enable(root, true, false); err == nil || !strings.Contains(err.Error(), "pam_vigil.so is not installed") {
		t.Errorf("enable without pam_vigil.so: %v", err)
	}
}

func TestEnableRecorderCheck(t *testing.T) {
	root := fakeRoot(t)
	o := Options{Root: root}
	for p, s := range map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/bash\nvigil:x:998:997::/nonexistent:/usr/sbin/nologin\n",
		"etc/group": "root:x:0:\nvigil:x:997:\n"} {
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := filepath.Join(root, "usr/bin/vigil-rec-session")
	if err := os.MkdirAll(filepath.Dir(rec), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rec, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkRecorder(o, "/usr/bin/vigil-rec-session"); err == nil || !strings.Contains(err.Error(), "mode 0755, owner 0:0") ||
		!strings.Contains(err.Error(), "dpkg-statoverride --update --add vigil vigil 6755 /usr/bin/vigil-rec-session") {
		t.Errorf("root-owned recorder: %v", err)
	}
	if err := os.Chown(rec, 998, 997); err != nil {
		t.Fatal(err)
	}
	for mode, ok := range map[os.FileMode]bool{0o755 | os.ModeSetuid | os.ModeSetgid: true, 0o755 | os.ModeSetuid: false,
		0o775 | os.ModeSetuid | os.ModeSetgid: false} {
		if err := os.Chmod(rec, mode); err != nil {
			t.Fatal(err)
		}
		if err := checkRecorder(o, "/usr/bin/vigil-rec-session"); (err == nil) != ok {
			t.Errorf("mode %v: %v", mode, err)
		}
	}
	if err := checkRecorder(o, ""); err == nil {
		t.Error("no recorder accepted")
	}
}

func equalMaps(a, b map[string]string) bool { return len(diffMaps(a, b)) == 0 }

func diffMaps(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			d = append(d, k+":\n"+w)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "new "+k)
		}
	}
	return d
}

// checkPolicyd takes vigil-policyd's word through Checks.Status.
func TestEnablePolicydCheck(t *testing.T) {
	o := Options{Root: t.TempDir()}
	down := func() (daemon.Status, error) { return daemon.Status{}, errors.New("policyd is unavailable") }
	if p := checkPolicyd(o, down); len(p) != 1 || !strings.Contains(p[0], "vigil-policyd does not answer (policyd is unavailable)") {
		t.Errorf("policyd down: %q", p)
	}
	elsewhere := func() (daemon.Status, error) { return daemon.Status{Snapshot: "/tmp/nss.snapshot"}, nil }
	p := strings.Join(checkPolicyd(o, elsewhere), "\n")
	for _, want := range []string{"publishes its NSS snapshot at /tmp/nss.snapshot", "no usable NSS snapshot", "no absolute recorder path"} {
		if !strings.Contains(p, want) {
			t.Errorf("no %q in:\n%s", want, p)
		}
	}
}

// The sshd check asks about the users of the policy given, else of the one
// vigil-policyd runs (on its host names), else of the default file.
func TestEnablePolicy(t *testing.T) {
	var got []string
	c := Checks{Load: func(path string, hosts []string) (*decide.Engine, error) {
		got = append(got, path+" "+strings.Join(hosts, ","))
		return nil, nil
	}}
	up := func() (daemon.Status, error) {
		return daemon.Status{Path: "/run/p.toml", Hosts: []string{"h1", "h2"}}, nil
	}
	down := func() (daemon.Status, error) { return daemon.Status{}, errors.New("down") }
	for _, status := range []func() (daemon.Status, error){up, down} {
		for _, policy := range []string{"/tmp/p.toml", ""} {
			c.Status, c.Policy = status, policy
			_, _ = c.engine()
		}
	}
	want := "/tmp/p.toml |/run/p.toml h1,h2|/tmp/p.toml |" + conf.DefaultPolicyPath + " "
	if s := strings.Join(got, "|"); s != want {
		t.Errorf("loaded %s, want %s", s, want)
	}
}
