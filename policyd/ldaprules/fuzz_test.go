package ldaprules

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/conf"
)

// FuzzParseRule feeds parseRule an entry written as "attribute: value"
// lines (seeds in testdata/fuzz/FuzzParseRule). A rule it accepts must be
// well-formed and survive the cache's round trip unchanged; a rule it
// rejects must be blamed on its DN and one of the schema's attributes.
func FuzzParseRule(f *testing.F) {
	f.Add(ruleDN, "cn: r\nvigilAction: record\n")
	groups := map[string]string{"web": "Web", "db": "db"}
	known := slices.Collect(maps.Values(attrNames))
	f.Fuzz(func(t *testing.T, dn, text string) {
		a := attrs{}
		for _, line := range strings.Split(text, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				k = strings.ToLower(strings.TrimSpace(k))
				a[k] = append(a[k], strings.TrimPrefix(v, " "))
			}
		}
		r, _, err := parseRule(dn, a, groups)
		if err != nil {
			if err.DN != dn || !slices.Contains(known, err.Attr) || err.Msg == "" {
				t.Fatalf("error %#v", err)
			}
			return
		}
		if r.Origin != "ldap: "+dn || r.Name == "" || r.Priority < 0 ||
			(r.Action != conf.ActionRecord && r.Action != conf.ActionNoRecord) {
			t.Fatalf("accepted %+v", r)
		}
		for _, h := range r.Hosts {
			if g, ok := strings.CutPrefix(h, "@"); ok && g != "Web" && g != "db" {
				t.Fatalf("host %q refers to no group", h)
			}
		}
		if !json.Valid(r.Rec.JSON()) {
			t.Fatalf("rec JSON %q", r.Rec.JSON())
		}
		cr := r.JSON()
		r2, enabled, err := parseRule(dn, attrsOf(cr), groups)
		if err != nil || !enabled {
			t.Fatalf("cached form %+v rejected: %v", cr, err)
		}
		if cr2 := r2.JSON(); !reflect.DeepEqual(cr2, cr) {
			t.Fatalf("round trip changed the rule:\n%+v\n%+v", cr, cr2)
		}
	})
}
