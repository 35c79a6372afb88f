package conf

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
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

// ParsePolicy parses a policy document; name locates errors.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	tree, _, lines, err := decodeTOML(name, data)
	if err != nil {
		return nil, err
	}
	pp := policyParser{file: name, lines: lines}
	p := &Policy{File: name, Recorder: DefaultRecorder, Source: "file",
		SessionRecording: SessionRecording{Scope: ScopeNone}, LDAP: DefaultLDAP()}
	if err := parseTable(&pp, tree, nil, "", policyFields, p); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return p, nil
}

// policyField is one key of a policy table and how its value is checked
// and stored in the table's target. The tables below drive parsing and the
// unknown-key check alike, so that a key's rules live in one place (as
// recFields do for the recorder's keys).
type policyField[T any] struct {
	key string
	set func(pp *policyParser, v any, p []string, dst *T) error
}

// parseTable parses table t at path base (named table in messages) into
// dst: every key must be one of fields; each is set in key order.
func parseTable[T any](pp *policyParser, t map[string]any, base []string, table string, fields []policyField[T], dst *T) error {
	keys := sortedKeys(t)
	at := make([]int, len(keys))
	for i, k := range keys {
		if at[i] = slices.IndexFunc(fields, func(f policyField[T]) bool { return f.key == k }); at[i] < 0 {
			return pp.errorf(append(slices.Clone(base), k), dotted(table, k), "unknown key")
		}
	}
	for i, k := range keys {
		if err := fields[at[i]].set(pp, t[k], append(slices.Clone(base), k), dst); err != nil {
			return err
		}
	}
	return nil
}

// subTable parses the table at key into the target get returns.
func subTable[T, S any](key string, fields []policyField[S], get func(*T) *S) policyField[T] {
	return policyField[T]{key, func(pp *policyParser, v any, p []string, dst *T) error {
		t, ok := v.(map[string]any)
		if !ok {
			return pp.errorf(p, key, "must be a table ([%s]), got %s", key, typeName(v))
		}
		return parseTable(pp, t, p, key, fields, get(dst))
	}}
}

func strField[T any](key string, get func(*T) *string) policyField[T] {
	return policyField[T]{key, func(pp *policyParser, v any, p []string, dst *T) (err error) {
		*get(dst), err = pp.str(v, p)
		return err
	}}
}

func pathField[T any](key string, get func(*T) *string) policyField[T] {
	return policyField[T]{key, func(pp *policyParser, v any, p []string, dst *T) (err error) {
		*get(dst), err = pp.path(v, p)
		return err
	}}
}

func oneOfField[T any](key string, get func(*T) *string, allowed ...string) policyField[T] {
	return policyField[T]{key, func(pp *policyParser, v any, p []string, dst *T) (err error) {
		*get(dst), err = pp.oneOf(v, p, allowed...)
		return err
	}}
}

func intField[T any](key string, lo, hi int64, get func(*T) *int) policyField[T] {
	return policyField[T]{key, func(pp *policyParser, v any, p []string, dst *T) (err error) {
		*get(dst), err = pp.integer(v, p, lo, hi)
		return err
	}}
}

func listField[T any](key string, get func(*T) *[]string) policyField[T] {
	return policyField[T]{key, func(pp *policyParser, v any, p []string, dst *T) (err error) {
		*get(dst), err = pp.list(v, p)
		return err
	}}
}

var policyFields = []policyField[Policy]{
	pathField("recorder", func(p *Policy) *string { return &p.Recorder }),
	oneOfField("source", func(p *Policy) *string { return &p.Source }, "file", "ldap"),
	subTable("session_recording", sessionRecordingFields, func(p *Policy) *SessionRecording { return &p.SessionRecording }),
	{"host_groups", func(pp *policyParser, v any, path []string, p *Policy) error {
		t, ok := v.(map[string]any)
		if !ok {
			return pp.errorf(path, "host_groups", "must be a table ([host_groups]), got %s", typeName(v))
		}
		p.HostGroups = map[string][]string{}
		for _, k := range sortedKeys(t) {
			var err error
			if p.HostGroups[k], err = pp.list(t[k], append(slices.Clone(path), k)); err != nil {
				return err
			}
		}
		return nil
	}},
	{"rule", func(pp *policyParser, v any, path []string, p *Policy) error {
		rules, ok := v.([]map[string]any)
		if !ok {
			return pp.errorf(path, "rule", "must be an array of tables ([[rule]])")
		}
		for i, t := range rules {
			r, err := pp.rule(t, []string{"rule", fmt.Sprintf("#%d", i)})
			if err != nil {
				return err
			}
			p.Rules = append(p.Rules, r)
		}
		return nil
	}},
	{"ldap", func(pp *policyParser, v any, path []string, p *Policy) error {
		t, ok := v.(map[string]any)
		if !ok {
			return pp.errorf(path, "ldap", "must be a table ([ldap]), got %s", typeName(v))
		}
		return pp.ldap(t, &p.LDAP)
	}},
	{"retention", func(pp *policyParser, v any, path []string, p *Policy) error {
		t, ok := v.(map[string]any)
		if !ok {
			return pp.errorf(path, "retention", "must be a table ([retention]) (got %s)", typeName(v))
		}
		return parseTable(pp, t, path, "retention", retentionFields, p)
	}},
}

var sessionRecordingFields = []policyField[SessionRecording]{
	oneOfField("scope", func(s *SessionRecording) *string { return &s.Scope }, ScopeNone, ScopeSome, ScopeAll),
	listField("users", func(s *SessionRecording) *[]string { return &s.Users }),
	listField("groups", func(s *SessionRecording) *[]string { return &s.Groups }),
	listField("exclude_users", func(s *SessionRecording) *[]string { return &s.ExcludeUsers }),
	listField("exclude_groups", func(s *SessionRecording) *[]string { return &s.ExcludeGroups }),
}

var retentionFields = []policyField[Policy]{
	intField("days", 0, MaxRetentionDays, func(p *Policy) *int { return &p.RetentionDays }),
}

var ruleFields = []policyField[Rule]{
	strField("name", func(r *Rule) *string { return &r.Name }),
	{"action", func(pp *policyParser, v any, p []string, r *Rule) (err error) {
		if r.Action, err = pp.str(v, p); err == nil {
			if msg := CheckAction(r.Action); msg != "" {
				err = pp.errorf(p, "rule.action", "%s", msg)
			}
		}
		return err
	}},
	intField("priority", 0, MaxRulePriority, func(r *Rule) *int { return &r.Priority }),
	listField("users", func(r *Rule) *[]string { return &r.Users }),
	listField("groups", func(r *Rule) *[]string { return &r.Groups }),
	listField("services", func(r *Rule) *[]string { return &r.Services }),
	{"hosts", func(pp *policyParser, v any, p []string, r *Rule) (err error) {
		if r.Hosts, err = pp.list(v, p); err != nil {
			return err
		}
		for _, h := range r.Hosts {
			if msg := CheckHost(h, true); msg != "" {
				return pp.errorf(p, "rule.hosts", "%s", msg)
			}
		}
		return nil
	}},
	{"retention_days", func(pp *policyParser, v any, p []string, r *Rule) error {
		days, err := pp.integer(v, p, 0, MaxRetentionDays)
		if err == nil {
			r.RetentionDays = &days
		}
		return err
	}},
	{"rec", func(pp *policyParser, v any, p []string, r *Rule) error {
		sub, ok := v.(map[string]any)
		if !ok {
			return pp.errorf(p, "rule.rec", "must be a table (got %s)", typeName(v))
		}
		return r.Rec.mergeTree(sub, pp.file, pp.lines, p)
	}},
}

var ldapFields = []policyField[LDAP]{
	{"uri", func(pp *policyParser, v any, p []string, l *LDAP) (err error) {
		l.URI, err = pp.str(v, p)
		if err == nil && !strings.HasPrefix(l.URI, "ldap://") && !strings.HasPrefix(l.URI, "ldaps://") {
			err = pp.errorf(p, "ldap.uri", "must start with ldap:// or ldaps:// (got %q)", l.URI)
		}
		return err
	}},
	strField("base", func(l *LDAP) *string { return &l.Base }),
	strField("bind_dn", func(l *LDAP) *string { return &l.BindDN }),
	pathField("bind_password_file", func(l *LDAP) *string { return &l.PasswordFile }),
	{"start_tls", func(pp *policyParser, v any, p []string, l *LDAP) error {
		var ok bool
		if l.StartTLS, ok = v.(bool); !ok {
			return pp.errorf(p, "ldap.start_tls", "must be a boolean (got %s)", typeName(v))
		}
		return nil
	}},
	pathField("ca_cert", func(l *LDAP) *string { return &l.CACert }),
	intField("refresh", 5, 86400, func(l *LDAP) *int { return &l.Refresh }),
	intField("timeout", 1, 300, func(l *LDAP) *int { return &l.Timeout }),
	pathField("cache", func(l *LDAP) *string { return &l.Cache }),
	strField("host", func(l *LDAP) *string { return &l.Host }),
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

func (pp *policyParser) rule(t map[string]any, base []string) (Rule, error) {
	r := Rule{Priority: DefaultRulePriority, Origin: fmt.Sprintf("%s:%d", pp.file, pp.lines.find(base))}
	if err := parseTable(pp, t, base, "rule", ruleFields, &r); err != nil {
		return r, err
	}
	if r.Name == "" {
		return r, pp.errorf(base, "rule.name", "every rule needs a name")
	}
	if msg := CheckAction(r.Action); msg != "" {
		return r, pp.errorf(base, "rule.action", "rule %q: %s", r.Name, msg)
	}
	return r, nil
}

func (pp *policyParser) ldap(t map[string]any, l *LDAP) error {
	base := []string{"ldap"}
	if err := parseTable(pp, t, base, "ldap", ldapFields, l); err != nil {
		return err
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
