package sshdcheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The testdata files are real `sshd -T -C user=alice` outputs of OpenSSH
// 9.2p1 (Debian 12): debian12-default.txt for Debian's shipped
// sshd_config; debian12-closed.txt for it with the lines vigilctl prints
// (Match User alice) and the Subsystem line changed; odd.txt for a config
// with internal-sftp with arguments, ForceCommand internal-sftp,
// DisableForwarding, a tunnel, an environment allow-list and AcceptEnv GIT_*.
func load(t *testing.T, name string) Effective {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, err := Parse(f, name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func kinds(fs []Finding) []Kind {
	var out []Kind
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

// owned is an account owning its (temporary) home, as users do.
func owned(t *testing.T) Account {
	home := t.TempDir()
	return Account{Name: "alice", UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Home: home}
}

// stranger owns nothing on this host.
func stranger(t *testing.T) Account {
	return Account{Name: "alice", UID: 4242, GID: 4242, Home: t.TempDir()}
}

func TestAnalyzeDebianDefault(t *testing.T) {
	fs := Analyze(load(t, "debian12-default.txt"), owned(t))
	want := []Kind{TCPForwarding, StreamLocalForwarding, X11, AuthorizedKeys}
	if got := kinds(fs); !slices.Equal(got, want) {
		t.Fatalf("kinds %v, want %v\n%v", got, want, fs)
	}
	for _, f := range fs {
		if f.Fix == "" || f.Setting == "" || f.What == "" {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	if fs[0].Setting != "AllowTcpForwarding yes" || !strings.Contains(fs[0].What, "ssh -L and -D") || !strings.Contains(fs[0].What, "ssh -R") {
		t.Errorf("tcp: %+v", fs[0])
	}
	if !strings.Contains(fs[3].What, "the user can change the file: a key there with command=\"internal-sftp\"") ||
		fs[3].Fix != "AuthorizedKeysFile /etc/ssh/authorized_keys/%u" {
		t.Errorf("authorized keys: %+v", fs[3])
	}
}

func TestAnalyzeClosed(t *testing.T) {
	if fs := Analyze(load(t, "debian12-closed.txt"), stranger(t)); len(fs) != 0 {
		t.Errorf("closed config: %v", fs)
	}
}

func TestAnalyzeOdd(t *testing.T) {
	fs := Analyze(load(t, "odd.txt"), owned(t))
	// DisableForwarding covers TCP, sockets and X11 but not tunnels;
	// ForceCommand overrides key options.
	want := []Kind{SFTPSubsystem, SFTPForced, Tunnel, UserEnvironment, AcceptEnv}
	if got := kinds(fs); !slices.Equal(got, want) {
		t.Fatalf("kinds %v, want %v\n%v", got, want, fs)
	}
	byKind := map[Kind]Finding{}
	for _, f := range fs {
		byKind[f.Kind] = f
	}
	if f := byKind[SFTPSubsystem]; f.Setting != "Subsystem sftp internal-sftp -l INFO" || f.Fix != "Subsystem sftp "+sftpServer()+" -l INFO" {
		t.Errorf("subsystem: %+v", f)
	}
	if f := byKind[SFTPForced]; f.Fix != "" || f.Setting != "ForceCommand internal-sftp -d /upload" {
		t.Errorf("forced: %+v", f)
	}
	if f := byKind[Tunnel]; f.Setting != "PermitTunnel point-to-point" || f.Fix != "PermitTunnel no" {
		t.Errorf("tunnel: %+v", f)
	}
	if f := byKind[UserEnvironment]; !strings.Contains(f.What, "LD_*") || strings.Contains(f.What, "GIT_*") || f.Fix != "PermitUserEnvironment no" {
		t.Errorf("user environment: %+v", f)
	}
	if f := byKind[AcceptEnv]; f.Setting != "AcceptEnv LANG LC_* GIT_*" || f.Fix != "AcceptEnv LANG LC_*" || !strings.Contains(f.What, "GIT_*") {
		t.Errorf("accept env: %+v", f)
	}
}

func TestAnalyzeForwarding(t *testing.T) {
	for _, c := range []struct {
		tcp, open, listen string
		want              string // "" no finding; else a substring
	}{
		{"yes", "any", "any", "ssh -L and -D reach any port the host can reach, ssh -R"},
		{"all", "any", "any", "ssh -R"},
		{"local", "any", "any", "ssh -L and -D reach any port the host can reach: "},
		{"local", "none", "any", ""},
		{"remote", "any", "none", ""},
		{"remote", "none", "any", "ssh -R opens listeners"},
		{"yes", "none", "none", ""},
		{"yes", "db:5432", "none", "ssh -L and -D"}, // narrowed is still unrecorded
		{"no", "any", "any", ""},
	} {
		eff := closed(t)
		eff["allowtcpforwarding"], eff["permitopen"], eff["permitlisten"] = []string{c.tcp}, []string{c.open}, []string{c.listen}
		fs := Analyze(eff, stranger(t))
		switch {
		case c.want == "" && len(fs) > 0, c.want != "" && (len(fs) != 1 || !strings.Contains(fs[0].What, c.want)):
			t.Errorf("%+v: %v", c, fs)
		}
	}
	eff := closed(t)
	eff["allowstreamlocalforwarding"], eff["x11forwarding"] = []string{"local"}, []string{"yes"}
	if fs := Analyze(eff, stranger(t)); !slices.Equal(kinds(fs), []Kind{StreamLocalForwarding, X11}) {
		t.Errorf("socket/X11: %v", fs)
	}
	// sshd -T prints every keyword; one missing counts as open, not closed.
	delete(eff, "allowtcpforwarding")
	if fs := Analyze(eff, stranger(t)); len(fs) != 3 || fs[0].Setting != "AllowTcpForwarding (not set)" {
		t.Errorf("no allowtcpforwarding: %v", fs)
	}
}

// closed is a configuration that closes everything.
func closed(t *testing.T) Effective {
	return load(t, "debian12-closed.txt")
}

func TestAnalyzeKeyFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a home owned by another user")
	}
	acc := stranger(t)
	if err := os.Chown(acc.Home, int(acc.UID), int(acc.GID)); err != nil {
		t.Fatal(err)
	}
	eff := closed(t)
	if fs := Analyze(eff, acc); len(fs) != 0 {
		t.Fatalf("root's key file: %v", fs)
	}
	// Certificates: principals in a file the user writes carry options too.
	eff["trustedusercakeys"], eff["authorizedprincipalsfile"] = []string{"/etc/ssh/ca.pub"}, []string{".ssh/principals"}
	if fs := Analyze(eff, acc); len(fs) != 1 || fs[0].Kind != AuthorizedKeys || fs[0].Fix != "AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u" {
		t.Errorf("principals: %v", fs)
	}
	eff["authorizedkeysfile"] = []string{"%h/.ssh/authorized_keys"}
	if fs := Analyze(eff, acc); len(fs) != 2 {
		t.Errorf("keys and principals: %v", fs)
	}
	// Without public keys, or with a ForceCommand overriding key options,
	// the files do not matter.
	eff["pubkeyauthentication"] = []string{"no"}
	if fs := Analyze(eff, acc); len(fs) != 0 {
		t.Errorf("no public keys: %v", fs)
	}
	eff["pubkeyauthentication"], eff["forcecommand"] = []string{"yes"}, []string{"/usr/local/bin/menu"}
	if fs := Analyze(eff, acc); len(fs) != 0 {
		t.Errorf("ForceCommand: %v", fs)
	}
}

func TestAdmittedFamilies(t *testing.T) {
	for _, c := range []struct {
		list string
		want string
	}{
		{"*", "VIGIL_* TLOG_* LD_* GIT_*"},
		{"LANG,LC_*", ""},
		{"LD_*", "LD_*"},
		{"L?_PRELOAD", "LD_*"},
		{"*PRELOAD", "VIGIL_* TLOG_* LD_* GIT_*"}, // VIGIL_PRELOAD would match: no variable is safe from it
		{"V*", "VIGIL_*"},
		{"VIGIL_REC_SHELL", "VIGIL_*"},
		{"VIGIL", ""},
		{"*,!LD_*", "VIGIL_* TLOG_* GIT_*"},
		{"*,!LD_PRELOAD", "VIGIL_* TLOG_* LD_* GIT_*"}, // LD_LIBRARY_PATH still
		{"*,!*", ""},
		{"**_*,!?*", ""},
		{"T*_R*", "TLOG_*"},
		{"GIT_CONFIG_*", "GIT_*"},
	} {
		got := strings.Join(admittedFamilies(false, strings.Split(c.list, ",")), " ")
		if got != c.want {
			t.Errorf("%q admits %q, want %q", c.list, got, c.want)
		}
	}
	if got := admittedFamilies(true, nil); len(got) != len(envFamilies) {
		t.Errorf("yes: %v", got)
	}
}

func TestInternalSFTP(t *testing.T) {
	for s, want := range map[string]bool{"internal-sftp": true, "internal-sftp -l INFO": true, "internal-sftp\t-d /x": true,
		"internal-sftpx": false, "/usr/lib/openssh/sftp-server": false, "none": false, "": false} {
		if internalSFTP(s) != want {
			t.Errorf("internalSFTP(%q) = %v", s, !want)
		}
	}
}

func TestExpandKeysPath(t *testing.T) {
	a := Account{Name: "alice", UID: 1001, Home: "/home/alice"}
	for in, want := range map[string]string{
		".ssh/authorized_keys":        "/home/alice/.ssh/authorized_keys",
		"%h/.ssh/keys":                "/home/alice/.ssh/keys",
		"/etc/ssh/authorized_keys/%u": "/etc/ssh/authorized_keys/alice",
		"/etc/ssh/keys/%U":            "/etc/ssh/keys/1001",
		"/etc/ssh/100%%/%u":           "/etc/ssh/100%/alice",
		"/etc/ssh/%x%":                "/etc/ssh/%x%",
	} {
		if got := expandKeysPath(in, a); got != want {
			t.Errorf("expand %q = %q, want %q", in, got, want)
		}
	}
}

func TestUserControlled(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: files owned by other users")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	a := Account{Name: "alice", UID: 4242, GID: 4343, Home: filepath.Join(root, "home")}
	mk := func(p string, mode os.FileMode, uid, gid int, dir bool) string {
		t.Helper()
		p = filepath.Join(root, p)
		var err error
		if dir {
			err = os.Mkdir(p, mode)
		} else {
			err = os.WriteFile(p, nil, mode)
		}
		if err == nil {
			err = os.Chmod(p, mode)
		}
		if err == nil {
			err = os.Chown(p, uid, gid)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	mk("etc", 0o755, 0, 0, true)
	rootKeys := mk("etc/keys", 0o644, 0, 0, false)
	mk("home", 0o750, 4242, 4343, true)
	mk("tmp", os.ModeSticky|0o777, 0, 0, true)
	tmpKeys := mk("tmp/keys", 0o644, 0, 0, false)
	mk("grp", 0o775, 0, 4343, true)
	mk("grpsticky", os.ModeSticky|0o775, 0, 4343, true)
	grpStickyKeys := mk("grpsticky/keys", 0o644, 0, 0, false)
	mk("other", 0o775, 0, 9999, true)
	mine := mk("etc/mine", 0o644, 4242, 0, false)
	link := filepath.Join(root, "etc/link")
	if err := os.Symlink(filepath.Join(root, "home/keys"), link); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		rootKeys:                            false,
		filepath.Join(root, "etc/missing"):  false,
		filepath.Join(root, "home/.ssh/k"):  true,  // under the home, missing or not
		tmpKeys:                             false, // sticky: others' files are safe
		filepath.Join(root, "tmp/new/keys"): true,  // but anyone creates a new name
		filepath.Join(root, "grp/keys"):     true,  // the primary group may write
		grpStickyKeys:                       false,
		filepath.Join(root, "other/keys"):   false,
		mine:                                true,
		link:                                true, // a root-owned link into the home
	} {
		if got := userControlled(p, a); got != want {
			t.Errorf("userControlled(%s) = %v, want %v", strings.TrimPrefix(p, root), got, want)
		}
	}
}

func TestParse(t *testing.T) {
	e, err := Parse(strings.NewReader("port 22\nacceptenv LANG\n\nacceptenv LC_*\nbanner none\nversionaddendum \n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if e.Get("port") != "22" || !slices.Equal(e["acceptenv"], []string{"LANG", "LC_*"}) || e.Get("versionaddendum") != "" || e.Get("nothing") != "" {
		t.Errorf("parsed %v", e)
	}
	for in, want := range map[string]string{
		"port 22\nPort 22\n":         "x:2: not a keyword line",
		" port 22\n":                 "x:1: not a keyword line",
		"":                           "x: empty",
		"usage: sshd [-46DdeiqTt]\n": "x:1: not a keyword line",
	} {
		if _, err := Parse(strings.NewReader(in), "x"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want %q", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"debian12-default.txt", "odd.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("acceptenv *\npermituserenvironment *,!LD_*\nauthorizedkeysfile %h/%%u ../x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(strings.NewReader(string(data)), "fuzz")
		if err != nil {
			return
		}
		// Whatever sshd printed, the analysis must not crash.
		Analyze(e, Account{Name: "alice", UID: 4242, GID: 4242, Home: "/nonexistent"})
	})
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026": 902,
		"unknown option -- V\nOpenSSH_8.4p1 Debian-5, OpenSSL 1.1.1n": 804,
		"OpenSSH_10.0p2 Debian-7":                                     1000,
	} {
		if v, err := ParseVersion(in); err != nil || v != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, v, err, want)
		}
	}
	for _, in := range []string{"", "sshd: command not found", "OpenSSH_9.100"} {
		if _, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q): no error", in)
		}
	}
	if Version(902).String() != "9.2" {
		t.Error(Version(902).String())
	}
}
