// Package decide evaluates a policy (conf.Policy) for one user: rules first,
// by priority, then SSSD's [session_recording] scope, and explains every
// step. It does no I/O: callers resolve the user, the host's names and
// /etc/shells.
package decide

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/shells"
)

// User is a resolved account: its passwd entry and every group it is in
// (primary and supplementary, by name).
type User struct {
	Name   string   `json:"name"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Passwd string   `json:"-"`
	Gecos  string   `json:"gecos"`
	Dir    string   `json:"dir"`
	Shell  string   `json:"shell"`
	Groups []string `json:"groups"`
}

// Request is what PAM knows about a session. An empty Service means "any
// service", as the NSS module has to ask: a record rule naming services may
// apply, a norecord rule naming services may not.
type Request struct {
	Service string
	RHost   string
	TTY     string
}

// Step is one thing the engine looked at, for explanations.
type Step struct {
	What    string `json:"what"`
	Matched bool   `json:"matched"`
	Why     string `json:"why"`
}

// Decision is the outcome for one session.
type Decision struct {
	Record  bool
	Rule    string     // what decided
	Matched *conf.Rule // the deciding rule; nil when the scope decided
	// Shell is what the recorder runs as the user's real shell: the passwd
	// shell as login programs read it (shells.Clean), or shells.Nologin
	// when /etc/shells does not allow that.
	Shell    string
	Recorder string
	Conf     conf.RecOverlay // the deciding rule's recorder settings
	Steps    []Step          // filled only when explaining
}

// Env is what the engine needs to know about the host.
type Env struct {
	Hosts  []string    // this host's names (short and FQDN)
	Shells shells.List // /etc/shells
}

// Engine is a compiled policy. It is immutable and safe for concurrent use.
type Engine struct {
	policy                           *conf.Policy
	rules                            []rule // in evaluation order
	hosts                            []string
	shells                           shells.List
	scope                            string
	users, groups, exUsers, exGroups set
}

type set map[string]struct{}

func newSet(items []string) set {
	s := make(set, len(items))
	for _, i := range items {
		s[i] = struct{}{}
	}
	return s
}

func (s set) has(k string) bool { _, ok := s[k]; return ok }

// any returns the first of items in s.
func (s set) any(items []string) (string, bool) {
	for _, i := range items {
		if s.has(i) {
			return i, true
		}
	}
	return "", false
}

type rule struct {
	*conf.Rule
	users, groups, services set
	hostHere                bool   // the rule's hosts match this host (or it names none)
	hostWhy                 string // why not
}

// New compiles p for the host described by env.
func New(p *conf.Policy, env Env) *Engine {
	e := &Engine{policy: p, shells: env.Shells, scope: p.SessionRecording.Scope}
	for _, h := range env.Hosts {
		e.hosts = append(e.hosts, strings.ToLower(h))
	}
	sr := p.SessionRecording
	e.users, e.groups = newSet(sr.Users), newSet(sr.Groups)
	e.exUsers, e.exGroups = newSet(sr.ExcludeUsers), newSet(sr.ExcludeGroups)
	for i := range p.Rules {
		r := &p.Rules[i]
		cr := rule{Rule: r, users: newSet(r.Users), groups: newSet(r.Groups), services: newSet(r.Services)}
		cr.hostHere, cr.hostWhy = e.matchHosts(r.Hosts, p.HostGroups)
		e.rules = append(e.rules, cr)
	}
	// Lower priority first; on a tie norecord first; then as written.
	sort.SliceStable(e.rules, func(i, j int) bool {
		a, b := e.rules[i], e.rules[j]
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Action == conf.ActionNoRecord && b.Action != conf.ActionNoRecord
	})
	return e
}

// NoLoginRule is the Decision.Rule of a user whose shell is one of the
// system's no-login programs (shells.NoLogin).
const NoLoginRule = "no-login shell"

// Policy returns the policy the engine was compiled from.
func (e *Engine) Policy() *conf.Policy { return e.policy }

// matchHosts says whether any of this host's names matches the patterns.
func (e *Engine) matchHosts(patterns []string, groups map[string][]string) (bool, string) {
	if len(patterns) == 0 {
		return true, ""
	}
	for _, p := range patterns {
		expanded := []string{p}
		if g, ok := strings.CutPrefix(p, "@"); ok {
			expanded = groups[g]
		}
		for _, pat := range expanded {
			for _, h := range e.hosts {
				if ok, _ := path.Match(strings.ToLower(pat), h); ok {
					return true, ""
				}
			}
		}
	}
	return false, fmt.Sprintf("this host (%s) is not in hosts %s", strings.Join(e.hosts, ", "), strings.Join(patterns, ", "))
}

// CanRecord says whether the policy could record anyone at all; when it
// cannot, the NSS module need not ask about users it does not know.
func (e *Engine) CanRecord() bool {
	for _, r := range e.rules {
		if r.Action == conf.ActionRecord && r.hostHere {
			return true
		}
	}
	switch e.scope {
	case conf.ScopeAll:
		return true
	case conf.ScopeSome:
		return len(e.users) > 0 || len(e.groups) > 0
	}
	return false
}

// Decide evaluates the policy for u and req; explain fills Steps.
func (e *Engine) Decide(u *User, req Request, explain bool) Decision {
	d := Decision{Shell: shells.Clean(u.Shell), Recorder: e.policy.Recorder}
	step := func(what string, matched bool, format string, args ...any) {
		if explain {
			d.Steps = append(d.Steps, Step{What: what, Matched: matched, Why: fmt.Sprintf(format, args...)})
		}
	}
	// The recorder of a wrapped user never runs a shell /etc/shells does
	// not allow.
	allowed := e.shells.Allows(d.Shell)
	if !allowed {
		d.Shell = shells.Nologin
	}
	if shells.NoLogin(u.Shell) {
		d.Rule = NoLoginRule
		step("shell", true, "%s's shell %s is the system's no-login program: never wrapped (nologin stays nologin)", u.Name, u.Shell)
		return d
	}
	// Fail closed: whatever else the shell field says, the policy decides.
	if !allowed {
		step("shell", false, "%s's shell %q is not in /etc/shells: if recorded, the recorder runs %s instead", u.Name, u.Shell, shells.Nologin)
	}
	for i := range e.rules {
		r := &e.rules[i]
		if why, ok := e.ruleMatches(r, u, req, explain); !ok {
			if explain {
				step(ruleName(r), false, "%s", why)
			}
			continue
		}
		what := ruleName(r)
		d.Record = r.Action == conf.ActionRecord
		d.Rule, d.Matched = what, r.Rule
		d.Conf = r.Rec
		step(what, true, "%s, priority %d: %s", r.Action, r.Priority, describeMatch(r, u, req))
		return d
	}
	d.Record, d.Rule = e.scopeDecision(u, step)
	return d
}

func ruleName(r *rule) string { return fmt.Sprintf("rule %q (%s)", r.Name, r.Origin) }

// ruleMatches says whether r applies to u and req, and if not and explain
// is set, why not. Without explain it allocates nothing.
func (e *Engine) ruleMatches(r *rule, u *User, req Request, explain bool) (string, bool) {
	if !r.hostHere {
		return r.hostWhy, false
	}
	if len(r.users) > 0 && !r.users.has(u.Name) {
		if !explain {
			return "", false
		}
		return fmt.Sprintf("user %s is not in users", u.Name), false
	}
	if len(r.groups) > 0 {
		if _, ok := r.groups.any(u.Groups); !ok {
			if !explain {
				return "", false
			}
			return fmt.Sprintf("%s is in none of groups %s", u.Name, strings.Join(r.Groups, ", ")), false
		}
	}
	if len(r.services) > 0 {
		switch {
		case req.Service == "" && r.Action == conf.ActionNoRecord:
			return "service unknown (NSS): a norecord rule naming services may not apply", false
		case req.Service != "" && !r.services.has(req.Service):
			if !explain {
				return "", false
			}
			return fmt.Sprintf("service %s is not in services %s", req.Service, strings.Join(r.Services, ", ")), false
		}
	}
	return "", true
}

func describeMatch(r *rule, u *User, req Request) string {
	var parts []string
	if len(r.users) > 0 {
		parts = append(parts, "user "+u.Name)
	}
	if g, ok := r.groups.any(u.Groups); ok {
		parts = append(parts, "group "+g)
	}
	if len(r.services) > 0 {
		if req.Service == "" {
			parts = append(parts, "some service of "+strings.Join(r.Services, ", "))
		} else {
			parts = append(parts, "service "+req.Service)
		}
	}
	if len(r.Hosts) > 0 {
		parts = append(parts, "host in "+strings.Join(r.Hosts, ", "))
	}
	if len(parts) == 0 {
		return "matches everyone"
	}
	return strings.Join(parts, ", ")
}

// scopeDecision is SSSD's session_recording: includes count only under
// "some", excludes only under "all".
func (e *Engine) scopeDecision(u *User, step func(string, bool, string, ...any)) (bool, string) {
	const what = "session_recording"
	switch e.scope {
	case conf.ScopeSome:
		if e.users.has(u.Name) {
			step(what, true, "scope=some and %s is in users", u.Name)
			return true, "session_recording scope=some users"
		}
		if g, ok := e.groups.any(u.Groups); ok {
			step(what, true, "scope=some and %s is in group %s", u.Name, g)
			return true, fmt.Sprintf("session_recording scope=some groups (%s)", g)
		}
		step(what, true, "scope=some and %s is neither in users nor in groups", u.Name)
		return false, "session_recording scope=some (not listed)"
	case conf.ScopeAll:
		if e.exUsers.has(u.Name) {
			step(what, true, "scope=all but %s is in exclude_users", u.Name)
			return false, "session_recording scope=all exclude_users"
		}
		if g, ok := e.exGroups.any(u.Groups); ok {
			step(what, true, "scope=all but %s is in exclude_groups (%s)", u.Name, g)
			return false, fmt.Sprintf("session_recording scope=all exclude_groups (%s)", g)
		}
		step(what, true, "scope=all and %s is not excluded", u.Name)
		return true, "session_recording scope=all"
	}
	step(what, true, "scope=none: nobody is recorded by the fallback")
	return false, "session_recording scope=none"
}
