// Package retention keeps recordings for as long as the policy says and no
// longer: it picks each recording's retention from the policy in force,
// keeps recordings under legal hold, deletes the rest once they are old
// enough, and writes a signed, chained record of every deletion so an
// auditor can tell purging from tampering (rec/spec/purge.md).
package retention

import (
	"fmt"
	"strings"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/rec/store"
)

// Period is how long a recording is kept after it ends, and why.
type Period = store.Retention

// LookupUser resolves a user for the policy engine; (nil, nil) means there
// is no such user (any more).
type LookupUser func(name string) (*decide.User, error)

// Rules picks recordings' retention from a policy: the rule that decides
// the recording's user now, for any service (as NSS asks, and as
// `vigilctl explain USER` shows), gives its retention_days; without one,
// or for users that no longer exist, [retention] days applies. It is not
// safe for concurrent use.
type Rules struct {
	policy  *conf.Policy
	lookup  LookupUser
	engines map[string]*decide.Engine // by the recording's host
	users   map[string]*decide.User   // nil: no such user
}

// NewRules evaluates p, users resolved by lookup.
func NewRules(p *conf.Policy, lookup LookupUser) *Rules {
	return &Rules{policy: p, lookup: lookup,
		engines: map[string]*decide.Engine{}, users: map[string]*decide.User{}}
}

// anyShell stands in for the user's login shell: the engine never wraps
// users whose shell is a no-login program, but which rule covers a user
// does not depend on it (an account locked with nologin keeps its rule).
const anyShell = "/bin/sh"

// For returns the retention of a recording of user made on host.
func (r *Rules) For(user, host string) (Period, error) {
	def := Period{Days: r.policy.RetentionDays, By: fmt.Sprintf("[retention] days (%s)", r.policy.File)}
	u, err := r.user(user)
	if err != nil {
		return Period{}, err
	}
	if u == nil {
		def.By += ", user " + user + " no longer exists"
		return def, nil
	}
	e := r.engines[host]
	if e == nil {
		// The recording's host, not this one: rules naming hosts apply
		// as they did where it was made (recordings may be collected).
		hosts := []string{host}
		if short, _, ok := strings.Cut(host, "."); ok {
			hosts = append(hosts, short)
		}
		e = decide.New(r.policy, decide.Env{Hosts: hosts})
		r.engines[host] = e
	}
	d := e.Decide(u, decide.Request{}, false)
	if rule := d.Matched; rule != nil && rule.RetentionDays != nil {
		return Period{Days: *rule.RetentionDays, By: d.Rule}, nil
	}
	return def, nil
}

func (r *Rules) user(name string) (*decide.User, error) {
	if u, ok := r.users[name]; ok {
		return u, nil
	}
	u, err := r.lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	if u != nil {
		c := *u
		c.Shell = anyShell
		u = &c
	}
	r.users[name] = u
	return u, nil
}
