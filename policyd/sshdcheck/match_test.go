package sshdcheck

import (
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/conf/shells"
)

func engine(t *testing.T, policy string) *decide.Engine {
	t.Helper()
	p, err := conf.ParsePolicy("policy.toml", []byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	return decide.New(p, decide.Env{Hosts: []string{"web1"}, Shells: shells.New([]string{"/bin/bash"}, nil)})
}

// sshdList is sshd's match_pattern_list for a Match criterion: a matching
// negated entry vetoes, else some positive entry must match.
func sshdList(name, list string) int {
	found := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if ok, _ := path.Match(strings.TrimPrefix(p, "!"), name); ok {
			if neg {
				return -1
			}
			found = 1
		}
	}
	return found
}

// sshdMatches evaluates a Match line as sshd does (servconf.c
// match_cfg_line; groups as groupaccess.c ga_match_pattern_list).
func sshdMatches(line string, u *decide.User) bool {
	f := strings.Fields(strings.TrimPrefix(line, "Match "))
	if len(f) == 1 && f[0] == "All" {
		return true
	}
	for i := 0; i+1 < len(f); i += 2 {
		switch f[i] {
		case "User":
			if sshdList(u.Name, f[i+1]) != 1 {
				return false
			}
		case "Group":
			found := false
			for _, g := range u.Groups {
				switch sshdList(g, f[i+1]) {
				case -1:
					return false
				case 1:
					found = true
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// Every user the policy records (as NSS asks: no service) matches one of
// the Match lines, and nobody else does, over all combinations of a few
// names and groups.
func TestTermsExact(t *testing.T) {
	for name, policy := range map[string]string{
		"none": `[session_recording]
scope = "none"`,
		"some": `[session_recording]
scope = "some"
users = ["alice"]
groups = ["ops"]`,
		"all with exclusions": `[session_recording]
scope = "all"
exclude_users = ["bob"]
exclude_groups = ["svc", "dev"]`,
		"all": `[session_recording]
scope = "all"`,
		"rules": `[session_recording]
scope = "some"
groups = ["dev"]

[[rule]]
name = "no-ops-bob"
action = "norecord"
priority = 10
users = ["bob"]
groups = ["ops"]

[[rule]]
name = "ops"
action = "record"
groups = ["ops", "wheel"]

[[rule]]
name = "carol-su"
action = "record"
users = ["carol"]
services = ["su"]

[[rule]]
name = "not-svc"
action = "norecord"
priority = 50
groups = ["svc"]

[[rule]]
name = "erin-sshd"
action = "norecord"
priority = 1
users = ["erin"]
services = ["sshd"]

[[rule]]
name = "elsewhere"
action = "record"
hosts = ["db*"]`,
		"norecord everyone first": `[session_recording]
scope = "all"

[[rule]]
name = "nobody"
action = "norecord"
priority = 1`,
		"user and group in one rule": `[session_recording]
scope = "none"

[[rule]]
name = "dave-in-ops"
action = "record"
users = ["dave", "alice"]
groups = ["ops"]

[[rule]]
name = "alice-out"
action = "norecord"
priority = 1
users = ["alice"]`,
	} {
		t.Run(name, func(t *testing.T) {
			e := engine(t, policy)
			terms, err := Terms(e)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, tm := range terms {
				l, err := tm.Line()
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, l)
			}
			groups := []string{"ops", "wheel", "svc", "dev"}
			for _, n := range []string{"alice", "bob", "carol", "dave", "erin"} {
				for mask := range 1 << len(groups) {
					u := &decide.User{Name: n, Shell: "/bin/bash", Groups: []string{n}}
					for i, g := range groups {
						if mask&(1<<i) != 0 {
							u.Groups = append(u.Groups, g)
						}
					}
					want := e.Decide(u, decide.Request{}, false).Record
					got := slices.ContainsFunc(lines, func(l string) bool { return sshdMatches(l, u) })
					if got != want {
						t.Errorf("%s in %v: Match lines %v select %v, the policy records %v", n, u.Groups, lines, got, want)
					}
				}
			}
		})
	}
}

func TestTermLines(t *testing.T) {
	e := engine(t, `[session_recording]
scope = "all"
exclude_users = ["bob"]
exclude_groups = ["svc"]`)
	terms, err := Terms(e)
	if err != nil || len(terms) != 1 {
		t.Fatal(terms, err)
	}
	if l, _ := terms[0].Line(); l != "Match User *,!bob Group *,!svc" {
		t.Errorf("scope=all: %s", l)
	}
	terms, _ = Terms(engine(t, `[session_recording]
scope = "some"
users = "alice, bob"
groups = ["ops"]`))
	var lines []string
	for _, tm := range terms {
		l, _ := tm.Line()
		lines = append(lines, l)
	}
	if !slices.Equal(lines, []string{"Match User alice,bob", "Match Group ops"}) {
		t.Errorf("scope=some: %v", lines)
	}
	if l, _ := (Term{}).Line(); l != "Match All" {
		t.Errorf("everyone: %s", l)
	}
	if _, err := (Term{Users: []string{"a,b"}}).Line(); err == nil || !strings.Contains(err.Error(), `"a,b"`) {
		t.Errorf("a name sshd would split: %v", err)
	}
}

func TestTermsTooMany(t *testing.T) {
	var b strings.Builder
	b.WriteString("[session_recording]\nscope = \"all\"\n")
	for i := range 7 {
		b.WriteString("[[rule]]\nname = \"n" + string(rune('a'+i)) + "\"\naction = \"norecord\"\npriority = 1\nusers = [\"u" + string(rune('a'+i)) +
			"\"]\ngroups = [\"g" + string(rune('a'+i)) + "\"]\n")
	}
	if _, err := Terms(engine(t, b.String())); err == nil || !strings.Contains(err.Error(), "more than 64") {
		t.Errorf("2^7 terms: %v", err)
	}
}

func TestRender(t *testing.T) {
	terms := []Term{{Users: []string{"alice"}}, {Groups: []string{"ops"}}}
	findings := Analyze(load(t, "odd.txt"), owned(t))
	findings = append(findings, Analyze(load(t, "debian12-default.txt"), owned(t))...)

	fx, err := Render(terms, findings, nil, 902)
	if err != nil {
		t.Fatal(err)
	}
	block := strings.Join(fx.Block, "\n")
	body := "\tAllowTcpForwarding no\n\tAllowStreamLocalForwarding no\n\tPermitTunnel no\n\tX11Forwarding no\n" +
		"\tAuthorizedKeysFile /etc/ssh/authorized_keys/%u\n\tAcceptEnv LANG LC_*"
	if !strings.HasPrefix(block, "# vigil:") || !strings.Contains(block, "\nPermitUserEnvironment no\nMatch User alice\n"+body+"\nMatch Group ops\n"+body) ||
		strings.Contains(block, "Subsystem") {
		t.Errorf("block for OpenSSH 9.2:\n%s", block)
	}
	if len(fx.Replace) != 1 || fx.Replace[0] != [2]string{"Subsystem sftp internal-sftp -l INFO", "Subsystem sftp " + sftpServer() + " -l INFO"} {
		t.Errorf("replace: %v", fx.Replace)
	}
	if len(fx.Manual) != 1 || !strings.HasPrefix(fx.Manual[0], "ForceCommand internal-sftp -d /upload: ") {
		t.Errorf("manual: %v", fx.Manual)
	}

	// OpenSSH 9.5 takes Subsystem in Match blocks.
	fx, _ = Render(terms, findings, nil, 905)
	if len(fx.Replace) != 0 || !strings.Contains(strings.Join(fx.Block, "\n"), "\tSubsystem sftp "+sftpServer()+" -l INFO\n") {
		t.Errorf("block for OpenSSH 9.5:\n%s\n%v", strings.Join(fx.Block, "\n"), fx.Replace)
	}

	// Accepted ways stay open: no line for them, even the ones always
	// printed.
	fx, _ = Render(terms, findings, []Kind{X11, AuthorizedKeys, UserEnvironment, SFTPForced, SFTPSubsystem}, 902)
	block = strings.Join(fx.Block, "\n")
	if strings.Contains(block, "X11") || strings.Contains(block, "AuthorizedKeysFile") || strings.Contains(block, "PermitUserEnvironment") ||
		len(fx.Manual)+len(fx.Replace) != 0 || !strings.Contains(block, "\tAllowTcpForwarding no") {
		t.Errorf("with accepted ways:\n%s\n%v %v", block, fx.Manual, fx.Replace)
	}
	fx, _ = Render(terms, nil, Kinds, 902)
	if len(fx.Block) != 0 {
		t.Errorf("everything accepted: %v", fx.Block)
	}
}
