package decide

import (
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/shells"
)

func engine(t *testing.T, policy string) *Engine {
	t.Helper()
	p, err := conf.ParsePolicy("policy.toml", []byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	return New(p, Env{Hosts: []string{"web1", "web1.example.com"}, Shells: shells.New([]string{"/bin/bash", "/bin/sh"}, nil)})
}

func user(name string, groups ...string) *User {
	return &User{Name: name, Shell: "/bin/bash", Groups: groups}
}

func TestSSSDScope(t *testing.T) {
	some := engine(t, `
[session_recording]
scope = "some"
users = "alice, bob"
groups = ["wheel"]
exclude_users = ["alice"]   # ignored under some
`)
	all := engine(t, `
[session_recording]
scope = "all"
users = ["carol"]           # ignored under all
exclude_users = ["alice"]
exclude_groups = ["svc"]
`)
	none := engine(t, `[session_recording]
scope = "none"
users = ["alice"]`)
	for _, c := range []struct {
		e      *Engine
		u      *User
		record bool
		rule   string
	}{
		{some, user("alice", "alice"), true, "scope=some users"},
		{some, user("bob", "bob"), true, "scope=some users"},
		{some, user("dave", "dave", "wheel"), true, "groups (wheel)"},
		{some, user("wheel", "users"), false, "not listed"}, // a user named like a group is not in it
		{some, user("erin", "erin"), false, "not listed"},
		{all, user("alice", "alice"), false, "exclude_users"},
		{all, user("svc1", "svc"), false, "exclude_groups (svc)"}, // primary group counts
		{all, user("carol", "carol"), true, "scope=all"},
		{all, user("frank", "frank", "svc2"), true, "scope=all"},
		{none, user("alice", "alice"), false, "scope=none"},
	} {
		d := c.e.Decide(c.u, Request{Service: "sshd"}, false)
		if d.Record != c.record || !strings.Contains(d.Rule, c.rule) {
			t.Errorf("%s (scope %s): record=%v rule=%q, want %v %q", c.u.Name, c.e.scope, d.Record, d.Rule, c.record, c.rule)
		}
	}
	if none.CanRecord() || !some.CanRecord() || !all.CanRecord() {
		t.Errorf("CanRecord: none=%v some=%v all=%v", none.CanRecord(), some.CanRecord(), all.CanRecord())
	}
}

const rulesPolicy = `
[session_recording]
scope = "all"
exclude_users = ["backup"]

[host_groups]
web = ["web*"]
db = ["db*.example.com"]

[[rule]]
name = "contractors"
action = "record"
priority = 10
groups = ["contractors"]
hosts = ["@web"]
[rule.rec]
log.input = true

[[rule]]
name = "no-sftp"
action = "norecord"
priority = 10
services = ["sshd"]
users = ["carol"]

[[rule]]
name = "db-only"
action = "record"
priority = 5
hosts = ["@db"]

[[rule]]
name = "su-exempt"
action = "norecord"
priority = 50
services = ["su", "sudo"]
`

func TestRules(t *testing.T) {
	e := engine(t, rulesPolicy)
	for _, c := range []struct {
		u       *User
		service string
		record  bool
		rule    string
		conf    string
	}{
		{user("carol", "carol", "contractors"), "sshd", false, `"no-sftp"`, "{}"}, // tie: norecord wins
		{user("carol", "carol", "contractors"), "login", true, `"contractors"`, `{"log":{"input":true}}`},
		{user("dave", "dave", "contractors"), "su", true, `"contractors"`, `{"log":{"input":true}}`}, // 10 beats 50
		{user("erin", "erin"), "su", false, `"su-exempt"`, "{}"},
		{user("erin", "erin"), "sshd", true, "scope=all", "{}"},
		{user("backup", "backup"), "sshd", false, "exclude_users", "{}"},
		// NSS asks with no service: record rules naming services count,
		// norecord ones do not.
		{user("carol", "carol", "contractors"), "", true, `"contractors"`, `{"log":{"input":true}}`},
		{user("erin", "erin"), "", true, "scope=all", "{}"},
	} {
		d := e.Decide(c.u, Request{Service: c.service}, true)
		if d.Record != c.record || !strings.Contains(d.Rule, c.rule) || string(d.Conf.JSON()) != c.conf {
			t.Errorf("%s/%s: record=%v rule=%q conf=%s, want %v %q %s\nsteps: %+v", c.u.Name, c.service, d.Record, d.Rule, d.Conf.JSON(), c.record, c.rule, c.conf, d.Steps)
		}
		last := d.Steps[len(d.Steps)-1]
		if !last.Matched || last.Why == "" {
			t.Errorf("%s/%s: last step %+v should say why it decided", c.u.Name, c.service, last)
		}
	}
	// db-only names hosts this host is not: it must say so.
	d := e.Decide(user("erin", "erin"), Request{Service: "sshd"}, true)
	var saw bool
	for _, s := range d.Steps {
		if strings.Contains(s.What, "db-only") {
			saw = !s.Matched && strings.Contains(s.Why, "not in hosts @db")
		}
	}
	if !saw {
		t.Errorf("db-only not explained as a host mismatch: %+v", d.Steps)
	}
	if d := e.Decide(user("erin", "erin"), Request{Service: "su"}, false); d.Rule != `rule "su-exempt" (policy.toml:32)` {
		t.Errorf("rule %q should carry its origin", d.Rule)
	}
}

// The policy decides whatever the shell field says (fail closed), except
// for the system's own no-login programs; the recorder is told to run the
// shell as login programs read it, or nologin when /etc/shells does not
// allow it.
func TestShells(t *testing.T) {
	e := engine(t, `[session_recording]
scope = "some"
users = ["alice"]`)
	for _, c := range []struct {
		shell  string
		record bool
		rule   string
		runs   string
	}{
		{"/bin/bash", true, "scope=some users", "/bin/bash"},
		{"/bin//bash", true, "scope=some users", "/bin/bash"},
		{"/bin/./bash", true, "scope=some users", "/bin/bash"},
		{"/usr/../bin/bash", true, "scope=some users", "/bin/bash"},
		{"", true, "scope=some users", "/bin/sh"},
		{"/usr/bin/python3", true, "scope=some users", shells.Nologin},
		{"bash", true, "scope=some users", shells.Nologin},
		{"/home/alice/nologin", true, "scope=some users", shells.Nologin},
		{"/usr/sbin//nologin", true, "scope=some users", shells.Nologin},
		{"/usr/sbin/nologin", false, NoLoginRule, shells.Nologin},
		{"/sbin/nologin", false, NoLoginRule, shells.Nologin},
		{"/bin/false", false, NoLoginRule, shells.Nologin},
		{"/usr/bin/false", false, NoLoginRule, shells.Nologin},
	} {
		u := user("alice", "alice")
		u.Shell = c.shell
		d := e.Decide(u, Request{Service: "sshd"}, true)
		if d.Record != c.record || !strings.Contains(d.Rule, c.rule) || d.Shell != c.runs {
			t.Errorf("shell %q: record=%v rule=%q shell=%q, want %v %q %q\nsteps: %+v", c.shell, d.Record, d.Rule, d.Shell, c.record, c.rule, c.runs, d.Steps)
		}
		if c.runs == shells.Nologin && c.record && !strings.Contains(d.Steps[0].Why, "not in /etc/shells") {
			t.Errorf("shell %q: the steps do not say why nologin: %+v", c.shell, d.Steps)
		}
	}
	// A user the policy does not record is not wrapped whatever the shell.
	u := user("bob", "bob")
	u.Shell = "/usr/bin/python3"
	if d := e.Decide(u, Request{}, false); d.Record {
		t.Errorf("bob: %+v", d)
	}
}

// BenchmarkDecide is one decision against a policy of 500 rules, none of
// which names the user, so that every rule is looked at.
func BenchmarkDecide(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[session_recording]\nscope = \"some\"\ngroups = [\"g999\"]\n")
	for i := range 500 {
		sb.WriteString("[[rule]]\nname = \"r" + itoa(i) + "\"\naction = \"record\"\nusers = [\"nobody" + itoa(i) + "\"]\ngroups = [\"g" + itoa(i) + "\"]\n")
	}
	p, err := conf.ParsePolicy("bench.toml", []byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	e := New(p, Env{Hosts: []string{"h"}, Shells: shells.New([]string{"/bin/bash"}, nil)})
	u := user("u1", "u1", "g999", "x1", "x2")
	b.ReportAllocs()
	for b.Loop() {
		if d := e.Decide(u, Request{Service: "sshd"}, false); !d.Record {
			b.Fatal("not recorded")
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
