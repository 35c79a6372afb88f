package conf

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// DefaultPolicyPath is policyd's policy file.
const DefaultPolicyPath = "/etc/vigil/policy.toml"

// DefaultRecorder is the shell NSS gives recorded users.
const DefaultRecorder = "/usr/bin/vigil-rec-session"

// DefaultRulePriority is a rule's priority when it names none; lower wins.
const DefaultRulePriority = 100

// MaxRetentionDays bounds [retention] days and rule retention_days: a
// century, well inside what time.Duration can add to a date.
const MaxRetentionDays = 36500

// Scope values of [session_recording], as SSSD's.
const (
	ScopeNone = "none"
	ScopeSome = "some"
	ScopeAll  = "all"
)

// Rule actions.
const (
	ActionRecord   = "record"
	ActionNoRecord = "norecord"
)

// Policy is who is recorded, where and how (/etc/vigil/policy.toml).
type Policy struct {
	File     string // where it was read from
	Recorder string // shell NSS gives recorded users
	Source   string // "file" or "ldap": where rules come from besides this file

	// SessionRecording is SSSD's [session_recording], the fallback when no
	// rule matches.
	SessionRecording SessionRecording
	// HostGroups names sets of host names and globs that rules refer to as
	// "@name".
	HostGroups map[string][]string
	Rules      []Rule
	LDAP       LDAP
	// RetentionDays is [retention] days: how long recordings are kept
	// after they end, unless the rule deciding the user sets its own; 0
	// keeps them forever.
	RetentionDays int
}

// SessionRecording has sssd.conf's [session_recording] semantics.
type SessionRecording struct {
	Scope         string // none | some | all
	Users         []string
	Groups        []string
	ExcludeUsers  []string
	ExcludeGroups []string
}

// Rule records or exempts sessions matching all its non-empty lists.
type Rule struct {
	Name     string
	Action   string // record | norecord
	Priority int    // lower wins; on a tie norecord wins
	Users    []string
	Groups   []string
	Services []string // PAM service names
	Hosts    []string // names, globs (path.Match), "@hostgroup"
	Rec      RecOverlay
	// RetentionDays (retention_days) overrides [retention] days for the
	// recordings of users this rule decides; 0 keeps them forever, nil
	// leaves it to [retention].
	RetentionDays *int
	// Origin says where the rule was defined: "FILE:LINE" or "ldap: DN".
	Origin string
}

// RuleJSON is a rule as JSON carries it (`vigilctl rules --json`, the LDAP
// rule cache); Rec holds the recorder settings as "key=value" strings.
type RuleJSON struct {
	Name     string   `json:"name"`
	Action   string   `json:"action"`
	Priority int      `json:"priority"`
	Users    []string `json:"users,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Services []string `json:"services,omitempty"`
	Hosts    []string `json:"hosts,omitempty"`
	Rec      []string `json:"rec,omitempty"`
	// RetentionDays is set only when the rule has retention_days.
	RetentionDays *int   `json:"retention_days,omitempty"`
	Origin        string `json:"origin"`
}

// JSON returns r in its JSON form.
func (r Rule) JSON() RuleJSON {
	return RuleJSON{Name: r.Name, Action: r.Action, Priority: r.Priority, Users: r.Users, Groups: r.Groups,
		Services: r.Services, Hosts: r.Hosts, Rec: r.Rec.Keys(), RetentionDays: r.RetentionDays, Origin: r.Origin}
}

// LDAP configures the directory that rules are read from.
type LDAP struct {
	URI          string // ldap://, ldaps://
	Base         string // search base of the rule entries
	BindDN       string // empty: anonymous
	PasswordFile string // bind password, first line
	StartTLS     bool
	CACert       string // PEM bundle; empty: system roots
	Refresh      int    // seconds between refreshes
	Timeout      int    // seconds per operation
	Cache        string // last good rule set
	Host         string // this host's name in rules; empty: the FQDN
}

// DefaultLDAP holds the defaults of [ldap].
func DefaultLDAP() LDAP {
	return LDAP{Refresh: 300, Timeout: 5, Cache: "/var/lib/vigil/ldap-rules.json"}
}

// LoadPolicy reads and checks the policy file at path.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return ParsePolicy(path, data)
}

// policyKeys lists every key the policy accepts, by table; "*" marks a
// table of arbitrary keys (host_groups) or the recorder overlay (rec).
var policyKeys = map[string][]string{
	"":                  {"recorder", "source", "session_recording", "host_groups", "rule", "ldap", "retention"},
	"session_recording": {"scope", "users", "groups", "exclude_users", "exclude_groups"},
	"rule":              {"name", "action", "priority", "users", "groups", "services", "hosts", "rec", "retention_days"},
	"retention":         {"days"},
	"ldap":              {"uri", "base", "bind_dn", "bind_password_file", "start_tls", "ca_cert", "refresh", "timeout", "cache", "host"},
}

// ParsePolicy parses a policy document; name locates errors.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	src := string(data)
	var tree map[string]any
	if _, err := toml.Decode(src, &tree); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	pp := policyParser{file: name, lines: tomlKeyLines(src)}
	p := &Policy{File: name, Recorder: DefaultRecorder, Source: "file",
		SessionRecording: SessionRecording{Scope: ScopeNone}, LDAP: DefaultLDAP()}
	if err := pp.checkKeys(tree, nil, ""); err != nil {
		return nil, err
	}
	for _, k := range []string{"session_recording", "host_groups", "ldap"} {
		if v, ok := tree[k]; ok {
			if _, isTable := v.(map[string]any); !isTable {
				return nil, pp.errorf([]string{k}, k, "must be a table ([%s]), got %s", k, typeName(v))
			}
		}
	}
	var err error
	if v, ok := tree["recorder"]; ok {
		if p.Recorder, err = pp.path(v, []string{"recorder"}); err != nil {
			return nil, err
		}
	}
	if v, ok := tree["source"]; ok {
		if p.Source, err = pp.oneOf(v, []string{"source"}, "file", "ldap"); err != nil {
			return nil, err
		}
	}
	if t, ok := tree["session_recording"].(map[string]any); ok {
		if err := pp.sessionRecording(t, &p.SessionRecording); err != nil {
			return nil, err
		}
	}
	if t, ok := tree["host_groups"].(map[string]any); ok {
		p.HostGroups = map[string][]string{}
		for _, k := range sortedKeys(t) {
			if p.HostGroups[k], err = pp.list(t[k], []string{"host_groups", k}); err != nil {
				return nil, err
			}
		}
	}
	if v, ok := tree["rule"]; ok {
		rules, ok := v.([]map[string]any)
		if !ok {
			return nil, pp.errorf([]string{"rule"}, "rule", "must be an array of tables ([[rule]])")
		}
		for i, t := range rules {
			r, err := pp.rule(t, []string{"rule", fmt.Sprintf("#%d", i)})
			if err != nil {
				return nil, err
			}
			p.Rules = append(p.Rules, r)
		}
	}
	if t, ok := tree["ldap"].(map[string]any); ok {
		if err := pp.ldap(t, &p.LDAP); err != nil {
			return nil, err
		}
	}
	if v, ok := tree["retention"]; ok {
		if err := pp.retention(v, p); err != nil {
			return nil, err
		}
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return p, nil
}

// TlogRecorder reports whether recorder is one of tlog's programs, which
// refuse a configuration with keys they do not know.
func TlogRecorder(recorder string) bool {
	return strings.HasPrefix(path.Base(recorder), "tlog-rec")
}

// Check verifies what spans keys: rule names unique, host groups defined,
// LDAP settings present when the source is LDAP, and only keys the recorder
// understands in rules' settings.
func (p *Policy) Check() error {
	seen := map[string]string{}
	for _, r := range p.Rules {
		if prev, dup := seen[r.Name]; dup {
			return fmt.Errorf("%s: rule %q: name already used at %s", r.Origin, r.Name, prev)
		}
		seen[r.Name] = r.Origin
		if keys := r.Rec.VigilOnly(); len(keys) > 0 && TlogRecorder(p.Recorder) {
			// tlog-rec-session would refuse the text PAM hands it, and
			// with it every session the rule covers.
			return fmt.Errorf("%s: rule %q: rec: %s: the recorder %s does not know %s (only vigil-rec-session does): it would refuse the session",
				r.Origin, r.Name, strings.Join(keys, ", "), p.Recorder, map[bool]string{true: "it", false: "them"}[len(keys) == 1])
		}
		for _, h := range r.Hosts {
			if g, ok := strings.CutPrefix(h, "@"); ok {
				if _, defined := p.HostGroups[g]; !defined {
					return fmt.Errorf("%s: rule %q: hosts: host group %q is not defined in [host_groups]", r.Origin, r.Name, g)
				}
			}
		}
	}
	if p.Source == "ldap" && (p.LDAP.URI == "" || p.LDAP.Base == "") {
		return &Error{File: p.File, Key: "ldap", Msg: `source = "ldap" needs ldap.uri and ldap.base`}
	}
	return nil
}

type policyParser struct {
	file  string
	lines keyLines
}

func (pp *policyParser) errorf(path []string, key, format string, args ...any) *Error {
	return &Error{File: pp.file, Line: pp.lines.find(path), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// checkKeys rejects keys the table does not know.
func (pp *policyParser) checkKeys(t map[string]any, path []string, table string) error {
	known := policyKeys[table]
	for _, k := range sortedKeys(t) {
		if !contains(known, k) {
			p := append(append([]string(nil), path...), k)
			return pp.errorf(p, dotted(table, k), "unknown key")
		}
	}
	return nil
}

func dotted(table, key string) string {
	if table == "" {
		return key
	}
	return table + "." + key
}

func (pp *policyParser) str(v any, path []string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", pp.errorf(path, keyName(path), "must be a string (got %s)", typeName(v))
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", pp.errorf(path, keyName(path), "must be valid UTF-8 without NUL (got %q)", s)
	}
	return s, nil
}

func (pp *policyParser) path(v any, p []string) (string, error) {
	s, err := pp.str(v, p)
	if err == nil && !filepath.IsAbs(s) {
		err = pp.errorf(p, keyName(p), "must be an absolute path (got %q)", s)
	}
	return s, err
}

func (pp *policyParser) oneOf(v any, p []string, allowed ...string) (string, error) {
	s, err := pp.str(v, p)
	if err == nil && !contains(allowed, s) {
		err = pp.errorf(p, keyName(p), "must be one of %s (got %q)", strings.Join(allowed, ", "), s)
	}
	return s, err
}

func (pp *policyParser) integer(v any, p []string, lo, hi int64) (int, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, pp.errorf(p, keyName(p), "must be an integer (got %s)", typeName(v))
	}
	if n < lo || n > hi {
		return 0, pp.errorf(p, keyName(p), "must be between %d and %d (got %d)", lo, hi, n)
	}
	return int(n), nil
}

// list accepts a TOML array of strings or, as sssd.conf writes lists, one
// comma-separated string. Empty items are errors: they would match nothing
// and are always typos.
func (pp *policyParser) list(v any, p []string) ([]string, error) {
	var items []string
	switch v := v.(type) {
	case string:
		if strings.TrimSpace(v) == "" {
			return nil, nil
		}
		for _, s := range strings.Split(v, ",") {
			items = append(items, strings.TrimSpace(s))
		}
	case []any:
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, pp.errorf(p, keyName(p), "item %d must be a string (got %s)", i+1, typeName(e))
			}
			items = append(items, strings.TrimSpace(s))
		}
	default:
		return nil, pp.errorf(p, keyName(p), "must be an array of strings or a comma-separated string (got %s)", typeName(v))
	}
	for i, s := range items {
		if msg := CheckName(s); msg != "" {
			return nil, pp.errorf(p, keyName(p), "item %d is %s", i+1, msg)
		}
	}
	return items, nil
}

func (pp *policyParser) sessionRecording(t map[string]any, sr *SessionRecording) error {
	base := []string{"session_recording"}
	if err := pp.checkKeys(t, base, "session_recording"); err != nil {
		return err
	}
	var err error
	for _, k := range sortedKeys(t) {
		p := append(append([]string(nil), base...), k)
		switch k {
		case "scope":
			sr.Scope, err = pp.oneOf(t[k], p, ScopeNone, ScopeSome, ScopeAll)
		case "users":
			sr.Users, err = pp.list(t[k], p)
		case "groups":
			sr.Groups, err = pp.list(t[k], p)
		case "exclude_users":
			sr.ExcludeUsers, err = pp.list(t[k], p)
		case "exclude_groups":
			sr.ExcludeGroups, err = pp.list(t[k], p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (pp *policyParser) rule(t map[string]any, base []string) (Rule, error) {
	r := Rule{Priority: DefaultRulePriority, Origin: fmt.Sprintf("%s:%d", pp.file, pp.lines.find(base))}
	if err := pp.checkKeys(t, base, "rule"); err != nil {
		return r, err
	}
	var err error
	for _, k := range sortedKeys(t) {
		p := append(append([]string(nil), base...), k)
		switch k {
		case "name":
			r.Name, err = pp.str(t[k], p)
		case "action":
			if r.Action, err = pp.str(t[k], p); err == nil {
				if msg := CheckAction(r.Action); msg != "" {
					err = pp.errorf(p, "rule.action", "%s", msg)
				}
			}
		case "priority":
			r.Priority, err = pp.integer(t[k], p, 0, MaxRulePriority)
		case "users":
			r.Users, err = pp.list(t[k], p)
		case "groups":
			r.Groups, err = pp.list(t[k], p)
		case "services":
			r.Services, err = pp.list(t[k], p)
		case "hosts":
			r.Hosts, err = pp.list(t[k], p)
			for _, h := range r.Hosts {
				if msg := CheckHost(h, true); err == nil && msg != "" {
					err = pp.errorf(p, "rule.hosts", "%s", msg)
				}
			}
		case "retention_days":
			var days int
			if days, err = pp.integer(t[k], p, 0, MaxRetentionDays); err == nil {
				r.RetentionDays = &days
			}
		case "rec":
			sub, ok := t[k].(map[string]any)
			if !ok {
				return r, pp.errorf(p, "rule.rec", "must be a table (got %s)", typeName(t[k]))
			}
			err = r.Rec.mergeTree(sub, pp.file, pp.lines, p)
		}
		if err != nil {
			return r, err
		}
	}
	if r.Name == "" {
		return r, pp.errorf(base, "rule.name", "every rule needs a name")
	}
	if msg := CheckAction(r.Action); msg != "" {
		return r, pp.errorf(base, "rule.action", "rule %q: %s", r.Name, msg)
	}
	return r, nil
}

func (pp *policyParser) retention(v any, p *Policy) error {
	base := []string{"retention"}
	t, ok := v.(map[string]any)
	if !ok {
		return pp.errorf(base, "retention", "must be a table ([retention]) (got %s)", typeName(v))
	}
	if err := pp.checkKeys(t, base, "retention"); err != nil {
		return err
	}
	var err error
	if d, ok := t["days"]; ok {
		p.RetentionDays, err = pp.integer(d, []string{"retention", "days"}, 0, MaxRetentionDays)
	}
	return err
}

func (pp *policyParser) ldap(t map[string]any, l *LDAP) error {
	base := []string{"ldap"}
	if err := pp.checkKeys(t, base, "ldap"); err != nil {
		return err
	}
	var err error
	for _, k := range sortedKeys(t) {
		p := append(append([]string(nil), base...), k)
		switch k {
		case "uri":
			l.URI, err = pp.str(t[k], p)
			if err == nil && !strings.HasPrefix(l.URI, "ldap://") && !strings.HasPrefix(l.URI, "ldaps://") {
				err = pp.errorf(p, "ldap.uri", "must start with ldap:// or ldaps:// (got %q)", l.URI)
			}
		case "base":
			l.Base, err = pp.str(t[k], p)
		case "bind_dn":
			l.BindDN, err = pp.str(t[k], p)
		case "bind_password_file":
			l.PasswordFile, err = pp.path(t[k], p)
		case "start_tls":
			var ok bool
			if l.StartTLS, ok = t[k].(bool); !ok {
				err = pp.errorf(p, "ldap.start_tls", "must be a boolean (got %s)", typeName(t[k]))
			}
		case "ca_cert":
			l.CACert, err = pp.path(t[k], p)
		case "refresh":
			l.Refresh, err = pp.integer(t[k], p, 5, 86400)
		case "timeout":
			l.Timeout, err = pp.integer(t[k], p, 1, 300)
		case "cache":
			l.Cache, err = pp.path(t[k], p)
		case "host":
			l.Host, err = pp.str(t[k], p)
		}
		if err != nil {
			return err
		}
	}
	if l.StartTLS && strings.HasPrefix(l.URI, "ldaps://") {
		return pp.errorf(base, "ldap.start_tls", "start_tls with an ldaps:// uri: choose one")
	}
	return nil
}

// keyName turns a parser path into the dotted key people wrote
// ("rule.action", without the element marker).
func keyName(p []string) string {
	var parts []string
	for _, s := range p {
		if !strings.HasPrefix(s, "#") {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ".")
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	}
	return "datetime"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
