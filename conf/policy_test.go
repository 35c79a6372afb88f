package conf

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestPolicyExampleParses(t *testing.T) {
	p, err := LoadPolicy("policy.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Recorder != DefaultRecorder || p.SessionRecording.Scope != ScopeSome || p.LDAP != DefaultLDAP() {
		t.Errorf("example policy: %+v", p)
	}
}

func TestPolicyLists(t *testing.T) {
	p, err := ParsePolicy("p", []byte(`[session_recording]
scope = "all"
exclude_users = "root, backup ,svc"
exclude_groups = ["adm"]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.SessionRecording.ExcludeUsers, "|"); got != "root|backup|svc" {
		t.Errorf("comma list: %q", got)
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"scope = \"all\"", "p:1: scope: unknown key"},
		{"[session_recording]\nscope = \"most\"", `p:2: session_recording.scope: must be one of none, some, all (got "most")`},
		{"[session_recording]\nusers = \"a,,b\"", `p:2: session_recording.users: item 2 is empty`},
		{"[session_recording]\nusers = [1]", "p:2: session_recording.users: item 1 must be a string (got integer)"},
		{"recorder = \"vigil-rec-session\"", `p:1: recorder: must be an absolute path`},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\n\n[[rule]]\nname = \"b\"\nactoin = \"record\"", "p:7: rule.actoin: unknown key"},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\n[[rule]]\nname = \"a\"\naction = \"norecord\"", `p:4: rule "a": name already used at p:1`},
		{"[[rule]]\naction = \"record\"", "p:1: rule.name: every rule needs a name"},
		{"[[rule]]\nname = \"a\"", `p:1: rule.action: rule "a": missing; must be "record" or "norecord"`},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\nhosts = [\"@web\"]", `p:1: rule "a": hosts: host group "web" is not defined`},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\nhosts = [\"web[\"]", `p:4: rule.hosts: bad pattern "web["`},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\n[rule.rec]\nlog.inptu = true", "p:5: log.inptu: unknown recorder key"},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\n[rule.rec]\npayload = 1", "p:5: payload: must be >= 32 (got 1)"},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\npriority = -1", "p:4: rule.priority: must be between 0 and"},
		{"source = \"ldap\"", `p: ldap: source = "ldap" needs ldap.uri and ldap.base`},
		{"[ldap]\nuri = \"http://x\"", `p:2: ldap.uri: must start with ldap:// or ldaps://`},
		{"[ldap]\nrefresh = 1", "p:2: ldap.refresh: must be between 5 and 86400 (got 1)"},
		{"[session_recording\nscope = \"all\"", "p:2: expected"},
		{"session_recording = \"all\"", "p:1: session_recording: must be a table ([session_recording]), got string"},
		{"retention = 30", "p:1: retention: must be a table ([retention]) (got integer)"},
		{"host_groups = [\"a\"]", "p:1: host_groups: must be a table ([host_groups]), got array"},
		{"ldap = 1", "p:1: ldap: must be a table ([ldap]), got integer"},
		{"rule = 1", "p:1: rule: must be an array of tables ([[rule]])"},
		{"[ldap]\nstart_tls = \"yes\"", "p:2: ldap.start_tls: must be a boolean (got string)"},
		{"[retention]\ndays = -1", "p:2: retention.days: must be between 0 and 36500 (got -1)"},
		{"[retention]\ndays = \"30\"", "p:2: retention.days: must be an integer (got string)"},
		{"[retention]\ndayz = 30", "p:2: retention.dayz: unknown key"},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\nretention_days = 36501", "p:4: rule.retention_days: must be between 0 and 36500 (got 36501)"},
		{"[[rule]]\nname = \"a\"\naction = \"record\"\nretention_days = 1.5", "p:4: rule.retention_days: must be an integer (got float)"},
	} {
		_, err := ParsePolicy("p", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s", c.doc, err, c.want)
		}
	}
}

func TestRecOverlayJSON(t *testing.T) {
	p, err := ParsePolicy("p", []byte("[[rule]]\nname = \"a\"\naction = \"record\"\n[rule.rec]\nnotice = \"hi\"\nlatency = 3\nlog = { input = true, window = false }\nlimit.rate = 100\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := p.Rules[0].Rec
	want := `{"latency":3,"log":{"input":true,"window":false},"limit":{"rate":100},"notice":"hi"}`
	if got := string(o.JSON()); got != want {
		t.Fatalf("JSON %s, want %s", got, want)
	}
	// What PAM hands the recorder must merge as a tlog session conf layer.
	r := DefaultRec()
	if err := r.MergeJSON("VIGIL_REC_CONF", want); err != nil {
		t.Fatal(err)
	}
	if !r.Log.Input || r.Log.Window || r.Latency != 3 || r.Limit.Rate != 100 || r.Notice != "hi" {
		t.Errorf("merged: %+v", r)
	}
	var empty RecOverlay
	if string(empty.JSON()) != "{}" {
		t.Errorf("empty overlay: %s", empty.JSON())
	}
	if err := o.SetText("log.output", "no", "ldap: cn=x", 0); err != nil || !strings.Contains(string(o.JSON()), `"output":false`) {
		t.Errorf("SetText: %v %s", err, o.JSON())
	}
	if err := o.SetText("limit.rate", "lots", "ldap: cn=x", 0); err == nil || err.Error() != `ldap: cn=x: limit.rate: must be an integer (got "lots")` {
		t.Errorf("SetText bad: %v", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, name := range []string{"policy.example.toml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[[rule]]\nname = \"a\"\naction = \"record\"\nhosts = [\"@g\"]\n[rule.rec.log]\ninput = true\n[host_groups]\ng = \"a,b\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("f", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, r := range p.Rules {
			if r.Name == "" || (r.Action != ActionRecord && r.Action != ActionNoRecord) {
				t.Fatalf("accepted rule %+v", r)
			}
			var rec Rec = DefaultRec()
			if err := rec.MergeJSON("overlay", string(r.Rec.JSON())); err != nil {
				t.Fatalf("overlay JSON %s does not merge: %v", r.Rec.JSON(), err)
			}
		}
	})
}

func TestPolicyRetention(t *testing.T) {
	p, err := ParsePolicy("p", []byte(`[retention]
days = 365

[[rule]]
name = "contractors"
action = "record"
retention_days = 30

[[rule]]
name = "evidence"
action = "record"
retention_days = 0

[[rule]]
name = "others"
action = "norecord"
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.RetentionDays != 365 {
		t.Errorf("[retention] days: %d", p.RetentionDays)
	}
	var got []string
	for _, r := range p.Rules {
		if r.RetentionDays == nil {
			got = append(got, r.Name+"=unset")
		} else {
			got = append(got, fmt.Sprintf("%s=%d", r.Name, *r.RetentionDays))
		}
	}
	if want := "contractors=30 evidence=0 others=unset"; strings.Join(got, " ") != want {
		t.Errorf("retention_days: %s, want %s", strings.Join(got, " "), want)
	}
	if j, _ := json.Marshal(p.Rules[0].JSON()); !strings.Contains(string(j), `"retention_days":30`) {
		t.Errorf("rule JSON: %s", j)
	}
	if j, _ := json.Marshal(p.Rules[2].JSON()); strings.Contains(string(j), "retention_days") {
		t.Errorf("rule JSON without retention_days: %s", j)
	}
	if p, err = ParsePolicy("p", nil); err != nil || p.RetentionDays != 0 {
		t.Errorf("default retention: %v %v", p, err)
	}
}

// With tlog-rec-session as the recorder, a rule that sets a key only
// vigil-rec-session knows is refused at load, naming the rule's line: tlog
// would refuse the configuration PAM hands it, and with it the login.
func TestPolicyTlogRecorderKeys(t *testing.T) {
	rule := "[[rule]]\nname = \"ops\"\naction = \"record\"\n[rule.rec]\nlatency = 3\n"
	for _, c := range []struct{ extra, want string }{
		{"sign.anchor_every = 1\n", `p:2: rule "ops": rec: sign.anchor_every: the recorder /usr/bin/tlog-rec-session does not know it`},
		{"transfer.record = \"full\"\nsign.key = \"/k\"\n", `rec: sign.key, transfer.record: the recorder /usr/bin/tlog-rec-session does not know them`},
	} {
		_, err := ParsePolicy("p", []byte("recorder = \"/usr/bin/tlog-rec-session\"\n"+rule+c.extra))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.extra, err, c.want)
		}
		if _, err := ParsePolicy("p", []byte(rule+c.extra)); err != nil {
			t.Errorf("%q with vigil-rec-session: %v", c.extra, err)
		}
	}
	if _, err := ParsePolicy("p", []byte("recorder = \"/usr/bin/tlog-rec-session\"\n"+rule)); err != nil {
		t.Errorf("tlog's own keys: %v", err)
	}
}
