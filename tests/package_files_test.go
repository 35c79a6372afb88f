package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPackageLintian runs lintian on the .deb (the one TestPackageDeb
// installs): no error or warning (the package's overrides, each justified
// in conf/system/deb/lintian-overrides, excepted), and every ELF file
// stripped, position-independent and with full RELRO (lintian's
// hardening-no-bindnow is only an info tag, hence -I).
func TestPackageLintian(t *testing.T) {
	needCmd(t, "lintian")
	deb := os.Getenv(envDeb)
	if deb == "" {
		deb = debPackage(t)
	}
	cmd := exec.Command("lintian", "-I", "-E", "--pedantic", deb)
	// Its cache of ELF facts goes in TMPDIR, and stays there.
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") || strings.Contains(l, "hardening-no-bindnow") {
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 || (err != nil && len(out) == 0) {
		t.Errorf("lintian -I -E --pedantic %s: %v\n%s", filepath.Base(deb), err, strings.Join(bad, "\n"))
	}
}

// checkShippedFiles checks, in the root the package was just installed in,
// what an admin finds besides the programs: every file README.md links under
// /usr/share/doc/vigil (the same layout as the repository), copyright and
// changelog, the LDAP schema where slapd looks, a man page for each program
// and each subcommand of vigilctl, vigil-play, vigil-ship and
// vigil-collector, and bash and zsh completions of vigilctl and vigil-play
// that bash loads.
func checkShippedFiles(t *testing.T, c chrootRunner) {
	t.Helper()
	doc := "/usr/share/doc/vigil"
	readme, err := os.ReadFile(filepath.Join(c.root, doc, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{doc + "/copyright", doc + "/changelog.gz", "/etc/ldap/schema/vigil.schema", "/etc/ldap/schema/vigil.ldif",
		"/usr/share/lintian/overrides/vigil"}
	links := regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllSubmatch(readme, -1)
	if len(links) < 10 {
		t.Errorf("README.md: only %d links found", len(links))
	}
	for _, m := range links {
		want = append(want, filepath.Join(doc, string(m[1])))
	}
	// The programs with subcommands, and how many they have at least (a
	// check of the parsing of --help).
	subcommands := map[string]int{"vigilctl": 4, "vigil-play": 4, "vigil-ship": 2, "vigil-collector": 3}
	for _, p := range []string{"/usr/bin/vigil-rec", "/usr/bin/vigil-rec-session", "/usr/bin/vigil-play", "/usr/sbin/vigil-policyd", "/usr/sbin/vigilctl",
		"/usr/sbin/vigil-ship", "/usr/sbin/vigil-collector", "/usr/sbin/vigil-cmdlog"} {
		section := "1"
		if strings.HasPrefix(p, "/usr/sbin/") {
			section = "8"
		}
		name := filepath.Base(p)
		want = append(want, "/usr/share/man/man"+section+"/"+name+"."+section+".gz")
		if subcommands[name] == 0 {
			continue
		}
		help := c.run(name, "--help")
		_, cmds, _ := strings.Cut(help, "Available Commands:\n")
		cmds, _, _ = strings.Cut(cmds, "\n\n")
		n := 0
		for _, l := range strings.Split(cmds, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] != "help" {
				want = append(want, "/usr/share/man/man"+section+"/"+name+"-"+f[0]+"."+section+".gz")
				n++
			}
		}
		if n < subcommands[name] {
			t.Errorf("%s --help lists %d subcommands:\n%s", name, n, help)
		}
		if name != "vigilctl" && name != "vigil-play" {
			continue
		}
		want = append(want, "/usr/share/bash-completion/completions/"+name, "/usr/share/zsh/vendor-completions/_"+name)
		if out := c.run("bash", "-c", ". /usr/share/bash-completion/completions/"+name+" && complete -p "+name); !strings.Contains(out, name) {
			t.Errorf("bash completion of %s: %q", name, out)
		}
	}
	// The Cockpit page, as Cockpit finds it.
	for _, f := range []string{"manifest.json", "index.html", "index.js", "index.css"} {
		want = append(want, "/usr/share/cockpit/vigil/"+f)
	}
	var missing []string
	for _, p := range want {
		if fi, err := os.Stat(filepath.Join(c.root, p)); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("not installed (or empty):\n  %s", strings.Join(missing, "\n  "))
	}
	for _, page := range []string{"vigilctl-enable", "vigil-collector-serve"} {
		if out, err := c.cmd("man", "-l", "--warnings", "/usr/share/man/man8/"+page+".8.gz").CombinedOutput(); err != nil || !strings.Contains(string(out), page) {
			t.Errorf("man %s: %v\n%s", page, err, out)
		}
	}
}

// reinstallAfterPurge installs the package again after a purge, which kept
// the recording rec and the public keys beside it: the new installation
// makes a new signing key but keeps trusting the old public keys, so the
// old recording verifies OK with vigil-play's default keys. Then purges
// again.
func reinstallAfterPurge(t *testing.T, c chrootRunner, rec string) {
	t.Helper()
	t.Logf("dpkg -i after purge:\n%s", c.run("dpkg", "-i", "/tmp/vigil.deb"))
	old, _ := filepath.Glob(filepath.Join(c.root, "var/log/vigil/keys/*.pub"))
	trusted, _ := filepath.Glob(filepath.Join(c.root, "etc/vigil/keys/*.pub"))
	if len(old) == 0 || len(trusted) != len(old)+1 {
		t.Errorf("kept public keys %v; trusted after reinstall %v (want the kept ones and a new one)", old, trusted)
	}
	if out, err := c.cmd("vigil-play", "verify", rec).CombinedOutput(); err != nil || !strings.Contains(string(out), ": OK;") {
		t.Errorf("after reinstall, verify %s: %v\n%s", rec, err, out)
	}
	c.run("dpkg", "--purge", "vigil")
}
