// Package selinux_test builds the SELinux policy module with Debian's
// refpolicy development files, links it with the distribution's policy
// modules into a kernel policy in a temporary directory (never the host's
// policy store), and checks the rules that carry Vigil's security model.
package selinux_test

import (
	"bytes"
	"compress/bzip2"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// shareEnv names another /usr/share/selinux, e.g. selinux-policy-dev and
// selinux-policy-default unpacked with dpkg-deb -x where they are not
// installed.
const shareEnv = "VIGIL_SELINUX_SHARE"

const installHint = "apt-get install -y selinux-policy-dev selinux-policy-default setools checkpolicy semodule-utils"

// access is what a source domain may do to a target type.
type access struct {
	why             string
	src, tgt, class string
	perms           string // space-separated
	allowed         bool   // all of perms granted; false: none of them
}

// transition is a type_transition rule that must exist.
type transition struct {
	why                   string
	src, tgt, class, want string
}

// Recorded users: the domains that must never reach recordings or keys.
var recordedUsers = []string{"user_t", "staff_t", "guest_t", "xguest_t"}

func accesses() []access {
	a := []access{
		{"recorder creates recordings", "vigil_rec_t", "vigil_log_t", "dir", "search add_name write", true},
		{"recorder writes recordings (append)", "vigil_rec_t", "vigil_log_t", "file", "create open append", true},
		{"recordings are append-only, even for the recorder", "vigil_rec_t", "vigil_log_t", "file", "write read unlink rename", false},
		{"recorder creates and removes session locks", "vigil_rec_t", "vigil_var_run_t", "dir", "search add_name remove_name write", true},
		{"recorder manages session locks", "vigil_rec_t", "vigil_var_run_t", "file", "create open read write unlink", true},
		{"recorder reads the signing key", "vigil_rec_t", "vigil_key_t", "file", "open read", true},
		{"recorder reads its settings", "vigil_rec_t", "vigil_conf_t", "file", "open read", true},
		{"journal and syslog writers", "vigil_rec_t", "devlog_t", "sock_file", "write", true},
		{"journal and syslog writers", "vigil_rec_t", "syslogd_t", "unix_dgram_socket", "sendto", true},
		{"journald reads large entries from a memfd", "syslogd_t", "vigil_rec_tmpfs_t", "file", "read map", true},
		{"recorder opens a new pty", "vigil_rec_t", "ptmx_t", "chr_file", "open read write ioctl", true},
		{"recorder uses user ptys", "vigil_rec_t", "user_devpts_t", "chr_file", "open read write ioctl", true},
		{"recorder never reads the LDAP password", "vigil_rec_t", "vigil_ldap_secret_t", "file", "read", false},
		{"recorder leaves policyd's state alone", "vigil_rec_t", "vigil_var_lib_t", "file", "write append create unlink", false},

		// The real shell goes back to the user's domain (setexeccon).
		{"recorder sets the shell's exec context", "vigil_rec_t", "vigil_rec_t", "process", "setexec", true},
		{"shell back in the user domain", "vigil_rec_t", "user_t", "process", "transition", true},
		{"shell back in the user domain", "vigil_rec_t", "staff_t", "process", "transition", true},
		{"shell back in the user domain", "vigil_rec_t", "shell_exec_t", "file", "execute", true},
		{"shell back in the user domain", "user_t", "shell_exec_t", "file", "entrypoint", true},
		{"the shell never runs in the recorder domain", "vigil_rec_t", "shell_exec_t", "file", "execute_no_trans", false},
		{"shell uses the recorder's pty and pipes", "user_t", "vigil_rec_t", "fd", "use", true},
		{"recorder ends the session's processes", "vigil_rec_t", "user_t", "process", "signal sigkill", true},

		// Login programs exec the login shell with the user's context.
		{"sshd execs the recorder as login shell", "sshd_t", "vigil_rec_exec_t", "file", "execute", true},
		{"sshd execs the recorder as login shell", "sshd_t", "user_t", "process", "transition", true},
		{"login execs the recorder as login shell", "local_login_t", "vigil_rec_exec_t", "file", "execute", true},
		{"login execs the recorder as login shell", "local_login_t", "user_t", "process", "transition", true},
		{"recorder is a user-domain entry point", "user_t", "vigil_rec_exec_t", "file", "entrypoint", true},
		{"recorder is a user-domain entry point", "staff_t", "vigil_rec_exec_t", "file", "entrypoint", true},

		// policyd.
		{"policyd owns io.vigil.Policy1", "vigil_policyd_t", "system_dbusd_t", "dbus", "acquire_svc send_msg", true},
		{"policyd replaces its snapshot and LDAP cache", "vigil_policyd_t", "vigil_var_lib_t", "dir", "search add_name remove_name write", true},
		{"policyd replaces its snapshot and LDAP cache", "vigil_policyd_t", "vigil_var_lib_t", "file", "create write rename unlink setattr", true},
		{"policyd creates the NSS socket", "vigil_policyd_t", "vigil_var_run_t", "sock_file", "create unlink setattr", true},
		{"policyd reads its policy", "vigil_policyd_t", "vigil_conf_t", "file", "open read", true},
		{"policyd reads the LDAP password", "vigil_policyd_t", "vigil_ldap_secret_t", "file", "open read", true},
		{"policyd connects to LDAP", "vigil_policyd_t", "ldap_port_t", "tcp_socket", "name_connect", true},
		{"policyd has no business with recordings or keys", "vigil_policyd_t", "vigil_log_t", "file", "read write append", false},
		{"policyd has no business with recordings or keys", "vigil_policyd_t", "vigil_key_t", "file", "read", false},
		{"policyd takes the login terminal", "vigil_policyd_t", "vigil_policyd_t", "capability", "chown fowner sys_admin", true},
		{"policyd takes the login terminal", "vigil_policyd_t", "user_devpts_t", "chr_file", "read write ioctl setattr", true},
		{"policyd takes the login terminal", "vigil_policyd_t", "user_tty_device_t", "chr_file", "read write ioctl setattr", true},
		{"policyd takes the terminal sshd opened", "vigil_policyd_t", "sshd_t", "fd", "use", true},
		{"policyd takes the terminal login opened", "vigil_policyd_t", "local_login_t", "fd", "use", true},
		{"policyd checks the recorder leads the terminal's session", "vigil_policyd_t", "vigil_rec_t", "file", "open read", true},
		{"the bus carries the terminal to policyd", "system_dbusd_t", "user_devpts_t", "chr_file", "read write", true},
		{"the bus carries the terminal to policyd", "system_dbusd_t", "sshd_t", "fd", "use", true},
		{"policyd ends recorded sessions", "vigil_policyd_t", "vigil_policyd_t", "capability", "kill", true},
		{"policyd ends recorded sessions", "vigil_policyd_t", "user_t", "process", "signal sigkill", true},
		{"policyd ends recorded sessions", "vigil_policyd_t", "sysadm_t", "process", "signal sigkill", true},
		{"policyd reads the session's processes", "vigil_policyd_t", "user_t", "file", "open read", true},

		// pam_vigil.so in login programs.
		{"pam_vigil asks policyd", "sshd_t", "vigil_policyd_t", "dbus", "send_msg", true},
		{"policyd answers pam_vigil", "vigil_policyd_t", "sshd_t", "dbus", "send_msg", true},
		{"pam_vigil in su asks policyd", "staff_su_t", "vigil_policyd_t", "dbus", "send_msg", true},

		// Auditors and administrators.
		{"log administrators audit recordings", "logadm_t", "vigil_log_t", "file", "open read", true},
		{"auditors read public keys", "logadm_t", "vigil_conf_t", "file", "open read", true},
		{"administrators create keys", "sysadm_t", "vigil_key_t", "file", "create write", true},
		{"vigilctl talks to policyd", "sysadm_t", "vigil_policyd_t", "dbus", "send_msg", true},
		{"users read settings and public keys", "user_t", "vigil_conf_t", "file", "open read", true},
	}
	// libnss_vigil.so.2 in every process that resolves users.
	for _, d := range []string{"sshd_t", "local_login_t", "staff_su_t", "user_t", "vigil_rec_t"} {
		a = append(a,
			access{"NSS module maps the snapshot", d, "vigil_var_lib_t", "file", "open read map", true},
			access{"NSS module connects to policyd", d, "vigil_var_run_t", "sock_file", "write", true},
			access{"NSS module connects to policyd", d, "vigil_policyd_t", "unix_stream_socket", "connectto", true},
		)
	}
	a = append(a, access{"NSS clients only read the snapshot", "sshd_t", "vigil_var_lib_t", "file", "write append create unlink rename", false})
	for _, u := range recordedUsers {
		a = append(a,
			access{"recorded users cannot touch recordings", u, "vigil_log_t", "file", "read write append create unlink rename setattr map", false},
			access{"recorded users cannot list recordings", u, "vigil_log_t", "dir", "read write add_name remove_name", false},
			access{"recorded users cannot read the key", u, "vigil_key_t", "file", "read write append create unlink rename setattr map", false},
			access{"recorded users cannot signal or trace the recorder", u, "vigil_rec_t", "process", "signal sigkill sigstop signull ptrace", false},
			access{"recorded users cannot forge or break locks", u, "vigil_var_run_t", "file", "write append create unlink rename", false},
			access{"recorded users cannot replace the snapshot", u, "vigil_var_lib_t", "file", "write append create unlink rename", false},
			access{"recorded users cannot run the recorder unconfined", u, "vigil_rec_exec_t", "file", "execute_no_trans", false},
		)
	}
	// A type_transition on exec works only with these three.
	for _, tr := range transitions {
		if tr.class == "process" {
			a = append(a,
				access{tr.why, tr.src, tr.tgt, "file", "execute", true},
				access{tr.why, tr.src, tr.want, "process", "transition", true},
				access{tr.why, tr.want, tr.tgt, "file", "entrypoint", true},
			)
		}
	}
	return a
}

var transitions = []transition{
	{"a user shell runs the recorder in its domain", "user_t", "vigil_rec_exec_t", "process", "vigil_rec_t"},
	{"a user shell runs the recorder in its domain", "staff_t", "vigil_rec_exec_t", "process", "vigil_rec_t"},
	{"a user shell runs the recorder in its domain", "sysadm_t", "vigil_rec_exec_t", "process", "vigil_rec_t"},
	{"a user shell runs the recorder in its domain", "unconfined_t", "vigil_rec_exec_t", "process", "vigil_rec_t"},
	{"su starts the login shell in the user domain", "staff_su_t", "vigil_rec_exec_t", "process", "staff_t"},
	{"sudo -i starts the login shell in the user domain", "staff_sudo_t", "vigil_rec_exec_t", "process", "staff_t"},
	{"the shell's pty is a user pty", "vigil_rec_t", "devpts_t", "chr_file", "user_devpts_t"},
	{"large journal entries go through our own memfds", "vigil_rec_t", "tmpfs_t", "file", "vigil_rec_tmpfs_t"},
	{"init starts policyd in its domain", "init_t", "vigil_policyd_exec_t", "process", "vigil_policyd_t"},
}

// Roles whose users may be recorded: the recorder runs in their role.
var recordedRoles = []string{"user_r", "staff_r", "sysadm_r", "unconfined_r"}

func TestPolicy(t *testing.T) {
	share := os.Getenv(shareEnv)
	if share == "" {
		share = "/usr/share/selinux"
	}
	for _, f := range []string{"devel/Makefile", "default/base.pp.bz2"} {
		if _, err := os.Stat(filepath.Join(share, f)); err != nil {
			t.Skipf("SELinux policy development files missing (%v): %s", err, installHint)
		}
	}
	for _, tool := range []string{"make", "m4", "gawk", "checkmodule", "semodule_package", "semodule_link", "semodule_expand", "sesearch"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing: %s", tool, installHint)
		}
	}
	python := setoolsPython(t)

	dir := t.TempDir()
	module := buildModule(t, share, dir)
	policy := linkPolicy(t, share, dir, module)

	acc := accesses()
	res := query(t, python, policy, acc)
	for i, a := range acc {
		got := res.Rules[i]
		var bad []string
		for _, p := range strings.Fields(a.perms) {
			if slices.Contains(got, p) != a.allowed {
				bad = append(bad, p)
			}
		}
		if len(bad) == 0 {
			continue
		}
		if a.allowed {
			t.Errorf("%s: %s %s:%s lacks { %s } (has { %s })", a.why, a.src, a.tgt, a.class, strings.Join(bad, " "), strings.Join(got, " "))
		} else {
			t.Errorf("%s: %s %s:%s must not have { %s }", a.why, a.src, a.tgt, a.class, strings.Join(bad, " "))
		}
	}
	for i, tr := range transitions {
		if got := res.Transitions[i]; len(got) != 1 || got[0] != tr.want {
			t.Errorf("%s: type_transition %s %s:%s gives %v, want %s", tr.why, tr.src, tr.tgt, tr.class, got, tr.want)
		}
	}
	for i, r := range recordedRoles {
		if !res.Roles[i] {
			t.Errorf("role %s does not have vigil_rec_t: its users cannot be recorded", r)
		}
	}
}

// setoolsPython is the interpreter sesearch runs with: the one that has
// Debian's setools library (PATH may lead to another python3).
func setoolsPython(t *testing.T) string {
	path, _ := exec.LookPath("sesearch")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	interp, ok := strings.CutPrefix(string(line), "#!")
	f := strings.Fields(interp)
	if !ok || len(f) == 0 {
		t.Skipf("%s is not the setools script: %s", path, installHint)
	}
	return f[0]
}

// buildModule compiles vigil.pp with the devel Makefile in dir. NAME is
// given because the Makefile otherwise reads it from /etc/selinux/config,
// which a host without SELinux need not have.
func buildModule(t *testing.T, share, dir string) string {
	for _, f := range []string{"vigil.te", "vigil.if", "vigil.fc"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, "make", "-f", filepath.Join(share, "devel/Makefile"),
		"SHAREDIR="+share, "HEADERDIR="+filepath.Join(share, "devel/include"), "NAME=default", "vigil.pp")
	return filepath.Join(dir, "vigil.pp")
}

// linkPolicy links base.pp, every distribution module and ours, and expands
// them into a kernel policy (checking the neverallow rules on the way).
func linkPolicy(t *testing.T, share, dir, module string) string {
	mods, err := filepath.Glob(filepath.Join(share, "default", "*.pp.bz2"))
	if err != nil || len(mods) == 0 {
		t.Fatalf("no policy modules in %s/default: %v", share, err)
	}
	modDir := filepath.Join(dir, "modules")
	if err := os.Mkdir(modDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var base string
	var others []string
	for _, m := range mods {
		out := filepath.Join(modDir, strings.TrimSuffix(filepath.Base(m), ".bz2"))
		if filepath.Base(out) == "base.pp" {
			base = out
		} else {
			others = append(others, out)
		}
	}
	if err := decompressAll(mods, modDir); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(dir, "linked.lnk")
	run(t, dir, "semodule_link", append(append([]string{"-o", linked, base}, others...), module)...)
	policy := filepath.Join(dir, "policy.bin")
	run(t, dir, "semodule_expand", linked, policy)
	return policy
}

// decompressAll unpacks the modules on every CPU (about 75 MB).
func decompressAll(files []string, dst string) error {
	ch := make(chan string)
	errs := make(chan error, len(files))
	var wg sync.WaitGroup
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range ch {
				errs <- decompress(f, filepath.Join(dst, strings.TrimSuffix(filepath.Base(f), ".bz2")))
			}
		}()
	}
	for _, f := range files {
		ch <- f
	}
	close(ch)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func decompress(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, bzip2.NewReader(in)); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", src, err)
	}
	return out.Close()
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

type results struct {
	Rules       [][]string `json:"rules"`
	Transitions [][]string `json:"transitions"`
	Roles       []bool     `json:"roles"`
}

// query answers every question in one pass over the policy with the setools
// library sesearch is made of: one sesearch run per question would take a
// second each.
func query(t *testing.T, python, policy string, acc []access) results {
	type q struct {
		Rules       [][3]string `json:"rules"`
		Transitions [][3]string `json:"transitions"`
		Roles       [][2]string `json:"roles"`
	}
	var in q
	for _, a := range acc {
		in.Rules = append(in.Rules, [3]string{a.src, a.tgt, a.class})
	}
	for _, tr := range transitions {
		in.Transitions = append(in.Transitions, [3]string{tr.src, tr.tgt, tr.class})
	}
	for _, r := range recordedRoles {
		in.Roles = append(in.Roles, [2]string{r, "vigil_rec_t"})
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", setoolsQuery, policy)
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("setools query: %v\n%s", err, stderr.Bytes())
	}
	var res results
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("setools query: %v\n%s", err, out)
	}
	if len(res.Rules) != len(in.Rules) || len(res.Transitions) != len(in.Transitions) || len(res.Roles) != len(in.Roles) {
		t.Fatalf("setools query: %d/%d/%d answers for %d/%d/%d questions",
			len(res.Rules), len(res.Transitions), len(res.Roles), len(in.Rules), len(in.Transitions), len(in.Roles))
	}
	return res
}

// setoolsQuery reads {"rules": [[src, tgt, class]...], "transitions": [...],
// "roles": [[role, type]...]} and prints, per rule, the permissions that the
// allow rules in force with the default booleans grant (attributes
// expanded, as sesearch does), per transition the type_transition defaults,
// and per role whether it has the type. Unknown names are errors, so a typo
// cannot pass as "denied".
const setoolsQuery = `
import json, sys, setools
from setools.exception import RuleNotConditional

p = setools.SELinuxPolicy(sys.argv[1])
q = json.load(sys.stdin)
for s, t, c in q["rules"] + q["transitions"]:
    p.lookup_type(s), p.lookup_type(t), p.lookup_class(c)
bools = {b.name: b.state for b in p.bools()}

def active(r):
    try:
        return r.conditional.evaluate(**bools) == r.conditional_block
    except RuleNotConditional:
        return True

members = {}
def expand(x):
    n = str(x)
    if n not in members:
        members[n] = {str(t) for t in x.expand()}
    return members[n]

want = {"allow": {tuple(k) for k in q["rules"]}, "type_transition": {tuple(k) for k in q["transitions"]}}
found = {"allow": {}, "type_transition": {}}
sources = {k[0] for ks in want.values() for k in ks}
targets = {k[1] for ks in want.values() for k in ks}
for r in p.terules():
    kind = str(r.ruletype)
    if kind not in want:
        continue
    c = str(r.tclass)
    ss = expand(r.source) & sources
    ts = expand(r.target) & targets if ss else ()
    if not ts or not active(r):
        continue
    for s in ss:
        for t in ts:
            k = (s, t, c)
            if k in want[kind]:
                found[kind].setdefault(k, set()).update(str(x) for x in (r.perms if kind == "allow" else [r.default]))

json.dump({
    "rules": [sorted(found["allow"].get(tuple(k), ())) for k in q["rules"]],
    "transitions": [sorted(found["type_transition"].get(tuple(k), ())) for k in q["transitions"]],
    "roles": [p.lookup_type(t) in p.lookup_role(r).types() for r, t in q["roles"]],
}, sys.stdout)
`
