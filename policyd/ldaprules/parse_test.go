package ldaprules

import (
	"slices"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/conf"
)

const ruleDN = "cn=r,ou=vigil,dc=example,dc=com"

func TestParseRule(t *testing.T) {
	groups := map[string]string{"web": "Web"}
	ok := func(extra attrs) attrs {
		a := attrs{attrCN: {"r"}, attrAction: {"record"}}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	for _, tc := range []struct {
		name    string
		dn      string
		a       attrs
		attr    string // of the error; "" for none
		msg     string
		enabled bool
		check   func(conf.Rule) bool
	}{
		{name: "minimal", a: ok(nil), enabled: true, check: func(r conf.Rule) bool {
			return r.Name == "r" && r.Action == "record" && r.Priority == conf.DefaultRulePriority && r.Origin == "ldap: "+ruleDN
		}},
		{name: "action any case", a: ok(attrs{attrAction: {" NoRecord "}}), enabled: true,
			check: func(r conf.Rule) bool { return r.Action == conf.ActionNoRecord }},
		{name: "lists", a: ok(attrs{attrUser: {"alice", " bob "}, attrGroup: {"wheel"}, attrService: {"sshd"},
			attrHost: {"h1", "db*", "@WEB"}, attrHostGroup: {"web"}}), enabled: true,
			check: func(r conf.Rule) bool {
				return slices.Equal(r.Users, []string{"alice", "bob"}) && slices.Equal(r.Groups, []string{"wheel"}) &&
					slices.Equal(r.Services, []string{"sshd"}) && slices.Equal(r.Hosts, []string{"h1", "db*", "@Web", "@Web"})
			}},
		{name: "rec", a: ok(attrs{attrRecSetting: {"log.input=TRUE", " limit.rate = 100", "notice=a=b"}}), enabled: true,
			check: func(r conf.Rule) bool {
				return slices.Equal(r.Rec.Keys(), []string{"log.input=true", "limit.rate=100", "notice=a=b"})
			}},
		{name: "priority", a: ok(attrs{attrPriority: {"0"}}), enabled: true, check: func(r conf.Rule) bool { return r.Priority == 0 }},
		{name: "disabled", a: ok(attrs{attrEnabled: {"FALSE"}}), enabled: false},
		{name: "name from the RDN", a: ok(attrs{attrCN: {"other", "r"}}), enabled: true,
			check: func(r conf.Rule) bool { return r.Name == "r" }},
		{name: "name from the only cn", dn: "vigilRuleID=7,ou=vigil", a: ok(attrs{attrCN: {"seven"}}), enabled: true,
			check: func(r conf.Rule) bool { return r.Name == "seven" }},

		{name: "no action", a: attrs{attrCN: {"r"}}, attr: "vigilAction", msg: "missing"},
		{name: "bad action", a: ok(attrs{attrAction: {"yes"}}), attr: "vigilAction", msg: `(got "yes")`},
		{name: "two actions", a: ok(attrs{attrAction: {"record", "norecord"}}), attr: "vigilAction", msg: "has 2 values"},
		{name: "negative priority", a: ok(attrs{attrPriority: {"-1"}}), attr: "vigilPriority", msg: "between 0 and 2147483647"},
		{name: "huge priority", a: ok(attrs{attrPriority: {"2147483648"}}), attr: "vigilPriority"},
		{name: "bad enabled", a: ok(attrs{attrEnabled: {"yes"}}), attr: "vigilEnabled", msg: "TRUE or FALSE"},
		{name: "empty user", a: ok(attrs{attrUser: {" "}}), attr: "vigilUser", msg: "empty"},
		{name: "newline group", a: ok(attrs{attrGroup: {"a\nb"}}), attr: "vigilGroup"},
		{name: "bad utf8 service", a: ok(attrs{attrService: {"\xff"}}), attr: "vigilService"},
		{name: "bad glob", a: ok(attrs{attrHost: {"a[b"}}), attr: "vigilHost", msg: "bad pattern"},
		{name: "undefined @group", a: ok(attrs{attrHost: {"@db"}}), attr: "vigilHost", msg: `host group "db" is not defined`},
		{name: "undefined group", a: ok(attrs{attrHostGroup: {"db"}}), attr: "vigilHostGroup", msg: "not defined"},
		{name: "rec without =", a: ok(attrs{attrRecSetting: {"log.input"}}), attr: "vigilRecSetting", msg: "key=value"},
		{name: "rec unknown key", a: ok(attrs{attrRecSetting: {"bogus=1"}}), attr: "vigilRecSetting", msg: "bogus: unknown recorder key"},
		{name: "rec bad value", a: ok(attrs{attrRecSetting: {"writer=tape"}}), attr: "vigilRecSetting", msg: "writer"},
		{name: "rec twice", a: ok(attrs{attrRecSetting: {"log.input=true", "log.input=false"}}), attr: "vigilRecSetting", msg: "more than once"},
		{name: "no cn", dn: "uid=x,ou=vigil", a: attrs{attrAction: {"record"}}, attr: "cn", msg: "missing"},
		{name: "ambiguous cn", dn: "uid=x,ou=vigil", a: ok(attrs{attrCN: {"a", "b"}}), attr: "cn", msg: "several"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dn := tc.dn
			if dn == "" {
				dn = ruleDN
			}
			r, enabled, err := parseRule(dn, tc.a, groups)
			if tc.attr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if enabled != tc.enabled || tc.check != nil && !tc.check(r) {
					t.Errorf("enabled %v, rule %+v (keys %q)", enabled, r, r.Rec.Keys())
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, rule %+v", r)
			}
			if err.DN != dn || err.Attr != tc.attr || !strings.Contains(err.Error(), tc.msg) ||
				!strings.HasPrefix(err.Error(), dn+": "+tc.attr+": ") {
				t.Errorf("error %q (attr %q), want %s: %s ...%s...", err, err.Attr, dn, tc.attr, tc.msg)
			}
		})
	}
}

// TestBuild: entries that clash are skipped whatever order the server
// sends them in; disabled rules are neither rules nor clashes.
func TestBuild(t *testing.T) {
	rule := func(dn, cn string, extra ...string) entry {
		a := attrs{attrObjectClass: {"top", "VIGILRECORDINGRULE"}, attrCN: {cn}, attrAction: {"record"}}
		for i := 0; i+1 < len(extra); i += 2 {
			a[extra[i]] = append(a[extra[i]], extra[i+1])
		}
		return entry{dn: dn, attrs: a}
	}
	group := func(dn, cn string, hosts ...string) entry {
		return entry{dn: dn, attrs: attrs{attrObjectClass: {"vigilHostGroup"}, attrCN: {cn}, attrHost: hosts}}
	}
	entries := []entry{
		rule("cn=b,ou=2", "b", attrHostGroup, "g"),
		rule("cn=a,ou=2", "a"),
		rule("cn=a,ou=1", "a", attrPriority, "1"),
		rule("cn=c,ou=1", "c", attrEnabled, "FALSE"),
		rule("cn=c,ou=2", "c"),
		group("cn=G,ou=2", "G", "x"),
		group("cn=g,ou=1", "g", "h*"),
		{dn: "cn=other,ou=1", attrs: attrs{attrObjectClass: {"person"}, attrCN: {"other"}}},
	}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}} {
		var in []entry
		for _, i := range order {
			in = append(in, entries[i])
		}
		rs := build(in)
		var got []string
		for _, r := range rs.Rules {
			got = append(got, r.Origin)
		}
		if want := []string{"ldap: cn=a,ou=1", "ldap: cn=b,ou=2", "ldap: cn=c,ou=2"}; !slices.Equal(got, want) {
			t.Errorf("rules %q, want %q", got, want)
		}
		if len(rs.HostGroups) != 1 || !slices.Equal(rs.HostGroups["g"], []string{"h*"}) || !slices.Equal(rs.Rules[1].Hosts, []string{"@g"}) {
			t.Errorf("host groups %v, rule b hosts %q", rs.HostGroups, rs.Rules[1].Hosts)
		}
		var skipped []string
		for _, e := range rs.Skipped {
			skipped = append(skipped, e.Error())
		}
		if want := []string{`cn=G,ou=2: cn: host group "G" is already defined by another entry`,
			`cn=a,ou=2: cn: rule "a" is already defined by another entry`}; !slices.Equal(skipped, want) {
			t.Errorf("skipped %q, want %q", skipped, want)
		}
	}
}

// A bad value gets the same message from policy.toml and from LDAP: one
// validator (conf.Check*) serves both, each source only says where.
func TestSameMessagesAsTheFile(t *testing.T) {
	for _, tc := range []struct {
		toml string // the rule's line in policy.toml
		a    attrs
	}{
		{`action = "maybe"`, attrs{attrCN: {"r"}, attrAction: {"maybe"}}},
		{`action = "record"` + "\n" + `hosts = ["web["]`, attrs{attrCN: {"r"}, attrAction: {"record"}, attrHost: {"web["}}},
		{`action = "record"` + "\n" + `users = ["a\nb"]`, attrs{attrCN: {"r"}, attrAction: {"record"}, attrUser: {"a\nb"}}},
		{`action = "record"` + "\n" + `priority = -1`, attrs{attrCN: {"r"}, attrAction: {"record"}, attrPriority: {"-1"}}},
	} {
		_, ferr := conf.ParsePolicy("p", []byte("[[rule]]\nname = \"r\"\n"+tc.toml+"\n"))
		_, _, lerr := parseRule(ruleDN, tc.a, nil)
		if ferr == nil || lerr == nil {
			t.Errorf("%q: file %v, LDAP %v: both must refuse", tc.toml, ferr, lerr)
			continue
		}
		// "p:N: rule.KEY: MSG" and "…: vigilATTR: MSG" end alike.
		_, fmsg, _ := strings.Cut(ferr.Error(), ": rule.")
		_, fmsg, _ = strings.Cut(fmsg, ": ")
		if _, item, ok := strings.Cut(fmsg, " is "); ok && strings.HasPrefix(fmsg, "item ") {
			fmsg = item // which item: LDAP values have no order
		}
		if !strings.HasSuffix(lerr.Error(), fmsg) {
			t.Errorf("%q: file says %q, LDAP says %q", tc.toml, ferr, lerr)
		}
	}
}
