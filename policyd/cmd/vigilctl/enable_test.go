package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestEnableNsswitch(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		warn           string // substring of a warning
	}{
		{"debian", "passwd:         files systemd\ngroup:          files systemd\n",
			"passwd:         vigil [TRYAGAIN=return] files systemd\ngroup:          files systemd\n", ""},
		{"already present", "passwd: vigil files systemd\n", "passwd: vigil files systemd\n", ""},
		{"present but not first", "passwd: files vigil\n", "passwd: files vigil\n", "vigil comes after files"},
		{"no space", "passwd:files\n", "passwd:vigil [TRYAGAIN=return] files\n", ""},
		{"space before colon, tabs", "passwd :\tfiles\n", "passwd :\tvigil [TRYAGAIN=return] files\n", ""},
		{"compat", "passwd: compat\n", "passwd: vigil [TRYAGAIN=return] compat\n", ""},
		{"sss", "passwd: files sss\n", "passwd: vigil [TRYAGAIN=return] files sss\n", ""},
		{"sss first", "passwd: sss files\n", "passwd: vigil [TRYAGAIN=return] sss files\n", ""},
		{"actions", "passwd: files [NOTFOUND=return] nis\n", "passwd: vigil [TRYAGAIN=return] files [NOTFOUND=return] nis\n", ""},
		{"comments", "# passwd: compat\n#passwd: files\npasswd: files systemd # local users first\nshadow: files\n",
			"# passwd: compat\n#passwd: files\npasswd: vigil [TRYAGAIN=return] files systemd # local users first\nshadow: files\n", ""},
		{"other databases untouched", "passwdx: files\npasswd: files\n", "passwdx: files\npasswd: vigil [TRYAGAIN=return] files\n", ""},
		{"no final newline", "hosts: files dns\npasswd: files", "hosts: files dns\npasswd: vigil [TRYAGAIN=return] files", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, warns, err := nssEnable([]byte(c.in), "nsswitch.conf")
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Errorf("enable:\n%q\nwant\n%q", out, c.want)
			}
			if w := strings.Join(warns, "\n"); (c.warn == "") != (w == "") || !strings.Contains(w, c.warn) {
				t.Errorf("warnings %q, want %q", w, c.warn)
			}
			again, _, _ := nssEnable(out, "nsswitch.conf")
			if !bytes.Equal(again, out) {
				t.Errorf("enable is not idempotent: %q", again)
			}
			// disable undoes enable exactly (what was there before enable
			// stays, as "already present" shows).
			back, removed, _ := nssDisable(out, "nsswitch.conf")
			if strings.Contains(c.in, "vigil") {
				return
			}
			if !removed || string(back) != c.in {
				t.Errorf("disable: removed=%v\n%q\nwant\n%q", removed, back, c.in)
			}
			if again, removed, _ := nssDisable(back, "nsswitch.conf"); removed || !bytes.Equal(again, back) {
				t.Errorf("disable is not idempotent: %q", again)
			}
		})
	}

	for _, c := range []struct{ in, want string }{
		{"passwd: files vigil\n", "passwd: files\n"},
		{"passwd: vigil [UNAVAIL=return] files\n", "passwd: files\n"},
		{"passwd: files vigil [UNAVAIL=return] # x\n", "passwd: files # x\n"},
		{"passwd: vigil\n", "passwd: files\n"},
	} {
		if out, removed, _ := nssDisable([]byte(c.in), "nsswitch.conf"); !removed || string(out) != c.want {
			t.Errorf("disable %q = %q, want %q", c.in, out, c.want)
		}
	}
	for _, in := range []string{"hosts: files\n", "passwd:\n"} {
		if _, _, err := nssEnable([]byte(in), "/etc/nsswitch.conf"); err == nil || !strings.HasPrefix(err.Error(), "/etc/nsswitch.conf") {
			t.Errorf("enable %q: error %v, want one naming the file", in, err)
		}
	}
	if _, _, err := nssEnable([]byte("hosts: files\npasswd:\n"), "nsswitch.conf"); err == nil || !strings.Contains(err.Error(), "nsswitch.conf:2:") {
		t.Errorf("empty passwd line: %v, want nsswitch.conf:2:", err)
	}
}

// debianSSHD is Debian 12's /etc/pam.d/sshd (openssh-server 1:9.2p1-2).
const debianSSHD = `# PAM configuration for the Secure Shell service

# Standard Un*x authentication.
@include common-auth

# Disallow non-root logins when /etc/nologin exists.
account    required     pam_nologin.so

# Standard Un*x authorization.
@include common-account

# SELinux needs to be the first session rule.  This ensures that any
# lingering context has been cleared.  Without this it is possible that a
# module could execute code in the wrong domain.
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close

# Set the loginuid process attribute.
session    required     pam_loginuid.so

# Create a new session keyring.
session    optional     pam_keyinit.so force revoke

# Standard Un*x session setup and teardown.
@include common-session

# Print the message of the day upon successful login.
session    optional     pam_motd.so  motd=/run/motd.dynamic
session    optional     pam_motd.so noupdate

# Print the status of the user's mailbox upon successful login.
session    optional     pam_mail.so standard noenv # [1]

# Set up user limits from /etc/security/limits.conf.
session    required     pam_limits.so

# Read environment variables from /etc/environment and
# /etc/security/pam_env.conf.
session    required     pam_env.so # [1]
# In Debian 4.0 (etch), locale-related environment variables were moved to
# /etc/default/locale, so read that as well.
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale

# SELinux needs to intervene at login time to ensure that the process starts
# in the proper default security context.  Only sessions which are intended
# to run in the user's context should be run after this.
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so open

# Standard Un*x password updating.
@include common-password
`

// debianLogin is the session part of Debian 12's /etc/pam.d/login: its
// pam_env lines come before common-session.
const debianLogin = `session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close
session       required   pam_loginuid.so
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so open
session       required   pam_env.so readenv=1
session       required   pam_env.so readenv=1 envfile=/etc/default/locale
@include common-auth
session    optional   pam_group.so
session    required   pam_limits.so
session    optional   pam_lastlog.so
session    optional   pam_motd.so motd=/run/motd.dynamic
session    optional   pam_motd.so noupdate
session    optional   pam_mail.so standard
session    optional   pam_keyinit.so force revoke
@include common-session
@include common-password
`

func TestEnablePAMService(t *testing.T) {
	out, line := pamServiceEnable([]byte(debianSSHD))
	lines := strings.Split(string(out), "\n")
	if line == 0 || lines[line-1] != pamLine || lines[line-2] != pamMarker {
		t.Fatalf("sshd: line %d:\n%s", line, out)
	}
	// Right after the pam_env that reads ~/.pam_environment, before
	// pam_selinux open (nothing after it should run in another context).
	if !strings.Contains(lines[line-3], "pam_env.so user_readenv=1") ||
		!strings.Contains(string(out), pamLine+"\n\n# SELinux needs to intervene") {
		t.Errorf("sshd: pam_vigil not right after pam_env user_readenv=1:\n%s", out)
	}
	if again, n := pamServiceEnable(out); n != 0 || !bytes.Equal(again, out) {
		t.Errorf("enable is not idempotent (line %d)", n)
	}
	if refs := pamReferences(out); len(refs) != 1 || refs[0] != line {
		t.Errorf("references %v, want [%d]", refs, line)
	}
	back, removed, warns := pamServiceDisable(out, "sshd")
	if removed != 1 || len(warns) > 0 || string(back) != debianSSHD {
		t.Errorf("disable: removed %d, %v:\n%s", removed, warns, back)
	}
	if again, removed, _ := pamServiceDisable(back, "sshd"); removed != 0 || !bytes.Equal(again, back) {
		t.Error("disable is not idempotent")
	}

	for _, c := range []struct {
		name, in string
		change   bool
	}{
		{"login: pam_env before common-session", debianLogin, false},
		{"no user_readenv", strings.Replace(debianSSHD, "user_readenv=1 ", "", 1), false},
		{"user_readenv=0", strings.Replace(debianSSHD, "user_readenv=1", "user_readenv=0", 1), false},
		{"no common-session", strings.Replace(debianSSHD, "@include common-session", "@include common-session-noninteractive", 1), false},
		{"pam_vigil already after pam_env", debianSSHD + "session required /usr/lib/x86_64-linux-gnu/security/pam_vigil.so\n", false},
		{"session include", strings.Replace(debianSSHD, "@include common-session", "session include common-session", 1), true},
		{"-session pam_env", strings.Replace(debianSSHD, "session    required     pam_env.so user_readenv", "-session    required     pam_env.so user_readenv", 1), true},
		{"pam_vigil before pam_env", strings.Replace(debianSSHD, "@include common-session\n", "@include common-session\nsession required pam_vigil.so\n", 1), true},
		{"no final newline", "@include common-session\nsession required pam_env.so user_readenv=1", true},
	} {
		out, n := pamServiceEnable([]byte(c.in))
		if (n != 0) != c.change {
			t.Errorf("%s: changed=%v, want %v:\n%s", c.name, n != 0, c.change, out)
			continue
		}
		if back, _, _ := pamServiceDisable(out, c.name); string(back) != c.in {
			t.Errorf("%s: disable does not restore the file:\n%q\nwant\n%q", c.name, back, c.in)
		}
	}
	if out, n := pamServiceEnable([]byte("@include common-session\nsession required pam_env.so user_readenv=1")); n != 4 ||
		string(out) != "@include common-session\nsession required pam_env.so user_readenv=1\n"+pamMarker+"\n"+pamLine {
		t.Errorf("no final newline: line %d\n%q", n, out)
	}

	// A marker whose pam_vigil line an admin replaced: the marker goes,
	// the admin's line stays (and is reported as not ours).
	edited := strings.Replace(string(out), pamLine, "session optional pam_motd.so", 1)
	back, removed, warns = pamServiceDisable([]byte(edited), "sshd")
	if removed != 1 || len(warns) != 1 || !strings.Contains(warns[0], "sshd:") || strings.Contains(string(back), pamMarker) ||
		!strings.Contains(string(back), "pam_motd.so") {
		t.Errorf("edited block: removed %d %v\n%s", removed, warns, back)
	}
}

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

func runCtl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var cmd = enableCmd()
	if args[0] == "disable" {
		cmd = disableCmd()
	}
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args[1:])
	err := cmd.Execute()
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
	var broken bool
	var calls []string
	fakePamAuthUpdate(t, &broken, &calls)
	before := readAll(t, root)

	if _, err := runCtl(t, "enable", "--root", root); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("enable --root without --force: %v", err)
	}

	out, err := runCtl(t, "enable", "--root", root, "--force", "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-passwd:         files systemd", "+passwd:         vigil [TRYAGAIN=return] files systemd",
		"+" + pamMarker, "+" + pamLine, "would create " + root + nsswitchBackup, "would run: pam-auth-update --enable vigil"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run does not show %q:\n%s", want, out)
		}
	}
	if after := readAll(t, root); len(calls) > 0 || !equalMaps(after, before) {
		t.Fatalf("dry run changed something (pam-auth-update %v)", calls)
	}

	// pam-auth-update refusing (local changes): nothing stays changed.
	broken = true
	if out, err := runCtl(t, "enable", "--root", root, "--force"); err == nil || !strings.Contains(err.Error(), "Local modifications") ||
		!strings.Contains(err.Error(), "restored") {
		t.Errorf("enable with pam-auth-update failing: %v\n%s", err, out)
	}
	if after := readAll(t, root); !equalMaps(after, before) {
		t.Fatalf("failed enable left changes:\n%v", diffMaps(before, after))
	}
	broken = false

	if out, err := runCtl(t, "enable", "--root", root, "--force"); err != nil {
		t.Fatalf("enable: %v\n%s", err, out)
	}
	enabled := readAll(t, root)
	if !strings.Contains(enabled["/etc/nsswitch.conf"], "\npasswd:         vigil [TRYAGAIN=return] files systemd\n") ||
		enabled["/etc/nsswitch.conf.vigil-bak"] != before["/etc/nsswitch.conf"] ||
		!strings.Contains(enabled["/etc/pam.d/sshd"], pamMarker+"\n"+pamLine+"\n") ||
		!strings.Contains(enabled["/etc/pam.d/common-session"], "pam_vigil.so") ||
		enabled["/etc/pam.d/login"] != debianLogin {
		t.Fatalf("enable:\n%v", diffMaps(before, enabled))
	}
	if out, err := runCtl(t, "enable", "--root", root, "--force"); err != nil || !strings.Contains(out, "already enabled") {
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
	if out, err := runCtl(t, "disable", "--root", root); err == nil || !strings.Contains(err.Error(), root+"/etc/pam.d/login:16") {
		t.Errorf("disable with a foreign pam_vigil line: %v\n%s", err, out)
	}
	if err := os.WriteFile(login, []byte(debianLogin), 0o644); err != nil {
		t.Fatal(err)
	}
	if after := readAll(t, root); !equalMaps(after, enabled) {
		t.Errorf("refused disable changed:\n%v", diffMaps(enabled, after))
	}

	out, err = runCtl(t, "disable", "--root", root, "--dry-run")
	if err != nil || !strings.Contains(out, "would run: pam-auth-update --disable vigil") || !strings.Contains(out, "-"+pamLine) ||
		!strings.Contains(out, "would remove "+root+nsswitchBackup) {
		t.Errorf("disable --dry-run: %v\n%s", err, out)
	}
	if out, err := runCtl(t, "disable", "--root", root); err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	if after := readAll(t, root); !equalMaps(after, before) {
		t.Errorf("disable does not restore the files exactly:\n%v", diffMaps(before, after))
	}
	if out, err := runCtl(t, "disable", "--root", root); err != nil || !strings.Contains(out, "not enabled") {
		t.Errorf("disable again: %v\n%s", err, out)
	}
	if got := strings.Join(calls, "; "); got != "--enable vigil; --enable vigil; --disable vigil" {
		t.Errorf("pam-auth-update calls: %s", got)
	}

	// Refusals: a module missing.
	os.Remove(filepath.Join(root, "usr/lib", multiarch[runtime.GOARCH], "security/pam_vigil.so"))
	if _, err := runCtl(t, "enable", "--root", root, "--force"); err == nil || !strings.Contains(err.Error(), "pam_vigil.so is not installed") {
		t.Errorf("enable without pam_vigil.so: %v", err)
	}
}

func TestEnableRecorderCheck(t *testing.T) {
	root := fakeRoot(t)
	o := &sysOpts{root: root}
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
