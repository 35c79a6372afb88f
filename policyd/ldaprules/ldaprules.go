// Package ldaprules reads vigil-policyd's recording rules from LDAP.
//
// Rules are vigilRecordingRule entries and host groups are vigilHostGroup
// entries under one search base (schema: conf/ldap/vigil.schema). Fetch
// reads them once; Watcher keeps them current, falls back to a cache file
// when the directory cannot be reached, and tells policyd when they change.
//
// Bad entries are skipped, not fatal: an entry with a bad vigilAction,
// vigilPriority, vigilEnabled or vigilRecSetting, a malformed host glob or a
// reference to a host group that does not exist is left out of the rule set
// and reported in RuleSet.Skipped (the Watcher logs each one, naming the DN
// and the attribute), while every other rule applies. One typo by one
// directory administrator must not switch off every rule: a rule left out
// acts as if it had not been written yet (the other rules and
// [session_recording] decide for its sessions), and the warning says which
// one it is. A rule whose name another entry already uses is skipped the
// same way (the entry whose DN sorts first wins), and so is a host group
// whose name is taken. Failures of the directory itself (unreachable, bind
// refused, base missing, too many entries) fail the whole fetch, so that
// the last good rule set stays in force.
package ldaprules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/vigil-rec/vigil/conf"
)

// RuleSet is the rules and host groups found under the search base.
type RuleSet struct {
	Rules      []conf.Rule         // enabled, valid rules, by name
	HostGroups map[string][]string // by cn; rules refer to them as "@cn"
	Fetched    time.Time           // when the directory answered
	Server     string              // the URI asked
	// Skipped lists the entries left out for being invalid. It is not
	// cached: a rule set loaded from the cache has none.
	Skipped []*EntryError
}

// EntryError says why an entry was left out of the rule set.
type EntryError struct {
	DN   string
	Attr string // the attribute at fault
	Msg  string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.DN, e.Attr, e.Msg)
}

// LDAP attribute names, lower-cased as attrs keys them.
const (
	attrObjectClass = "objectclass"
	attrCN          = "cn"
	attrAction      = "vigilaction"
	attrPriority    = "vigilpriority"
	attrEnabled     = "vigilenabled"
	attrUser        = "vigiluser"
	attrGroup       = "vigilgroup"
	attrService     = "vigilservice"
	attrHost        = "vigilhost"
	attrHostGroup   = "vigilhostgroup"
	attrRecSetting  = "vigilrecsetting"
)

// attrNames spells the attributes as the schema does, for messages and
// the search request.
var attrNames = map[string]string{
	attrObjectClass: "objectClass",
	attrCN:          "cn",
	attrAction:      "vigilAction",
	attrPriority:    "vigilPriority",
	attrEnabled:     "vigilEnabled",
	attrUser:        "vigilUser",
	attrGroup:       "vigilGroup",
	attrService:     "vigilService",
	attrHost:        "vigilHost",
	attrHostGroup:   "vigilHostGroup",
	attrRecSetting:  "vigilRecSetting",
}

// attrs holds an entry's values by lower-cased attribute name: LDAP
// attribute names are case-insensitive and servers echo them as stored.
type attrs map[string][]string

func entryAttrs(e *ldap.Entry) attrs {
	a := attrs{}
	for _, at := range e.Attributes {
		k := strings.ToLower(at.Name)
		a[k] = append(a[k], at.Values...)
	}
	return a
}

func (a attrs) hasClass(class string) bool {
	for _, v := range a[attrObjectClass] {
		if strings.EqualFold(v, class) {
			return true
		}
	}
	return false
}

// entry is one search result, reduced to what parsing needs.
type entry struct {
	dn    string
	attrs attrs
}

// build turns entries into a rule set: host groups first, since rules
// refer to them. Entries are taken in DN order so that the same directory
// always gives the same set, whatever order the server returns.
func build(entries []entry) *RuleSet {
	// DNs compare case-insensitively in practice (cn, ou, dc all do).
	sort.Slice(entries, func(i, j int) bool {
		a, b := strings.ToLower(entries[i].dn), strings.ToLower(entries[j].dn)
		return a < b || a == b && entries[i].dn < entries[j].dn
	})
	rs := &RuleSet{HostGroups: map[string][]string{}}
	groups := map[string]string{} // lower-cased cn -> cn, for lookups
	for _, e := range entries {
		if !e.attrs.hasClass("vigilHostGroup") {
			continue
		}
		name, hosts, err := parseHostGroup(e.dn, e.attrs)
		if err == nil {
			if _, dup := groups[strings.ToLower(name)]; dup {
				err = &EntryError{DN: e.dn, Attr: "cn", Msg: fmt.Sprintf("host group %q is already defined by another entry", name)}
			}
		}
		if err != nil {
			rs.Skipped = append(rs.Skipped, err)
			continue
		}
		groups[strings.ToLower(name)] = name
		rs.HostGroups[name] = hosts
	}
	names := map[string]bool{}
	for _, e := range entries {
		if !e.attrs.hasClass("vigilRecordingRule") {
			continue
		}
		r, enabled, err := parseRule(e.dn, e.attrs, groups)
		if err == nil && enabled && names[r.Name] {
			err = &EntryError{DN: e.dn, Attr: "cn", Msg: fmt.Sprintf("rule %q is already defined by another entry", r.Name)}
		}
		if err != nil {
			rs.Skipped = append(rs.Skipped, err)
			continue
		}
		if enabled {
			names[r.Name] = true
			rs.Rules = append(rs.Rules, r)
		}
	}
	sort.Slice(rs.Rules, func(i, j int) bool { return rs.Rules[i].Name < rs.Rules[j].Name })
	return rs
}

// parseRule turns a vigilRecordingRule entry into a rule. groups maps
// lower-cased host group names to their spelling; a rule naming another
// group is an error. enabled is false for a valid rule switched off by
// vigilEnabled: FALSE.
func parseRule(dn string, a attrs, groups map[string]string) (r conf.Rule, enabled bool, err *EntryError) {
	bad := func(attr, format string, args ...any) (conf.Rule, bool, *EntryError) {
		return conf.Rule{}, false, &EntryError{DN: dn, Attr: attrNames[attr], Msg: fmt.Sprintf(format, args...)}
	}
	r = conf.Rule{Priority: conf.DefaultRulePriority, Origin: "ldap: " + dn}
	if r.Name, err = entryName(dn, a); err != nil {
		return conf.Rule{}, false, err
	}

	action, err := single(dn, a, attrAction)
	if err != nil {
		return conf.Rule{}, false, err
	}
	// vigilAction compares case-insensitively in the schema, so accept
	// what the server considers equal.
	if r.Action = strings.ToLower(strings.TrimSpace(action)); conf.CheckAction(r.Action) != "" {
		return bad(attrAction, "%s", conf.CheckAction(action))
	}

	if len(a[attrPriority]) > 0 {
		p, err := single(dn, a, attrPriority)
		if err != nil {
			return conf.Rule{}, false, err
		}
		n, perr := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if perr != nil {
			return bad(attrPriority, "must be an integer (got %q)", p)
		}
		if msg := conf.CheckPriority(n); msg != "" {
			return bad(attrPriority, "%s", msg)
		}
		r.Priority = int(n)
	}

	enabled = true
	if len(a[attrEnabled]) > 0 {
		v, err := single(dn, a, attrEnabled)
		if err != nil {
			return conf.Rule{}, false, err
		}
		// The LDAP Boolean syntax is exactly TRUE or FALSE (RFC 4517).
		switch strings.TrimSpace(v) {
		case "TRUE":
		case "FALSE":
			enabled = false
		default:
			return bad(attrEnabled, "must be TRUE or FALSE (got %q)", v)
		}
	}

	for _, l := range []struct {
		attr string
		dst  *[]string
	}{{attrUser, &r.Users}, {attrGroup, &r.Groups}, {attrService, &r.Services}} {
		if *l.dst, err = names(dn, a, l.attr); err != nil {
			return conf.Rule{}, false, err
		}
	}

	// "@name" in vigilHost and a vigilHostGroup value name the same thing;
	// both must resolve, and become "@" and the group's own spelling.
	resolve := func(attr string, items []string) *EntryError {
		for i, h := range items {
			if g, isRef := strings.CutPrefix(h, "@"); isRef {
				name, ok := groups[strings.ToLower(g)]
				if !ok {
					return &EntryError{DN: dn, Attr: attrNames[attr],
						Msg: fmt.Sprintf("host group %q is not defined (no vigilHostGroup entry with that cn under the search base)", g)}
				}
				items[i] = "@" + name
			}
		}
		return nil
	}
	if r.Hosts, err = hostPatterns(dn, a, attrHost, true); err != nil {
		return conf.Rule{}, false, err
	}
	refs, err := names(dn, a, attrHostGroup)
	if err != nil {
		return conf.Rule{}, false, err
	}
	for i, g := range refs {
		refs[i] = "@" + g
	}
	if err = resolve(attrHost, r.Hosts); err == nil {
		err = resolve(attrHostGroup, refs)
	}
	if err != nil {
		return conf.Rule{}, false, err
	}
	r.Hosts = append(r.Hosts, refs...)

	seen := map[string]bool{}
	for _, v := range a[attrRecSetting] {
		key, text, ok := strings.Cut(v, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return bad(attrRecSetting, "must be key=value, e.g. log.input=true (got %q)", v)
		}
		// Values of an attribute have no order, so a key set twice has no
		// meaning to pick.
		if seen[key] {
			return bad(attrRecSetting, "%s is set more than once", key)
		}
		seen[key] = true
		if err := r.Rec.SetText(key, text, "", 0); err != nil {
			return bad(attrRecSetting, "%v", err)
		}
	}
	return r, enabled, nil
}

// parseHostGroup returns a vigilHostGroup entry's name and hosts.
func parseHostGroup(dn string, a attrs) (name string, hosts []string, err *EntryError) {
	if name, err = entryName(dn, a); err != nil {
		return "", nil, err
	}
	hosts, err = hostPatterns(dn, a, attrHost, false)
	return name, hosts, err
}

// entryName is the cn in the entry's RDN or, failing that, its only cn:
// cn may have several values, and the RDN's is the one people see.
func entryName(dn string, a attrs) (string, *EntryError) {
	var name string
	if d, err := ldap.ParseDN(dn); err == nil && len(d.RDNs) > 0 {
		for _, at := range d.RDNs[0].Attributes {
			if strings.EqualFold(at.Type, "cn") {
				name = at.Value
			}
		}
	}
	if name == "" {
		switch cns := a[attrCN]; len(cns) {
		case 0:
			return "", &EntryError{DN: dn, Attr: "cn", Msg: "missing"}
		case 1:
			name = cns[0]
		default:
			return "", &EntryError{DN: dn, Attr: "cn", Msg: "several values and none in the DN: cannot tell the name"}
		}
	}
	if msg := conf.CheckName(name); msg != "" {
		return "", &EntryError{DN: dn, Attr: "cn", Msg: msg}
	}
	return strings.TrimSpace(name), nil
}

// single returns the one value of a single-valued attribute, or "".
func single(dn string, a attrs, attr string) (string, *EntryError) {
	switch v := a[attr]; len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	default:
		return "", &EntryError{DN: dn, Attr: attrNames[attr], Msg: fmt.Sprintf("has %d values; it takes one", len(v))}
	}
}

// names returns the attribute's values as policy.toml lists them:
// trimmed, none empty.
func names(dn string, a attrs, attr string) ([]string, *EntryError) {
	var out []string
	for _, v := range a[attr] {
		if msg := conf.CheckName(v); msg != "" {
			return nil, &EntryError{DN: dn, Attr: attrNames[attr], Msg: msg}
		}
		out = append(out, strings.TrimSpace(v))
	}
	return out, nil
}

// hostPatterns returns host names and globs, checked as path.Match
// patterns; refs allows "@group" items (rules), host groups do not nest.
func hostPatterns(dn string, a attrs, attr string, refs bool) ([]string, *EntryError) {
	hosts, err := names(dn, a, attr)
	if err != nil {
		return nil, err
	}
	for _, h := range hosts {
		if msg := conf.CheckHost(h, refs); msg != "" {
			return nil, &EntryError{DN: dn, Attr: attrNames[attr], Msg: msg}
		}
	}
	return hosts, nil
}
