package sshdcheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
)

// Term is one sshd `Match` line, for users named in Users (nil: any user)
// but not in NotUsers, in some group of Groups (nil: any group) and in none
// of NotGroups.
type Term struct {
	Users, NotUsers, Groups, NotGroups []string
}

// maxTerms bounds the Match lines a policy may need (each norecord rule
// naming both users and groups doubles the lines of the rules after it).
const maxTerms = 64

// Terms returns Match lines that together select exactly the users e's
// policy hands the recorder as login shell (the decision without a service,
// as NSS takes it: record rules count whatever services they name, norecord
// rules that name services do not), on this host. Users with a no-login
// shell are never wrapped, but Match cannot tell them apart; the lines
// cover them too.
func Terms(e *decide.Engine) ([]Term, error) {
	var exclusions []Term // norecord rules met so far, as (users, groups)
	var terms []Term
	for _, r := range e.Rules().Rules {
		if !r.Here {
			continue
		}
		switch r.Action {
		case conf.ActionNoRecord:
			if len(r.Services) == 0 {
				exclusions = append(exclusions, Term{Users: nonEmpty(r.Users), Groups: nonEmpty(r.Groups)})
			}
		case conf.ActionRecord:
			terms = append(terms, subtract(Term{Users: nonEmpty(r.Users), Groups: nonEmpty(r.Groups)}, exclusions)...)
		}
		if len(terms) > maxTerms {
			return nil, fmt.Errorf("the policy needs more than %d sshd Match lines (norecord rules naming both users and groups); close the bypasses by hand", maxTerms)
		}
	}
	// The fallback decides when no rule matched; a record rule that matched
	// records too, so only the norecord rules need to be taken out.
	sr := e.Policy().SessionRecording
	switch sr.Scope {
	case conf.ScopeSome:
		if len(sr.Users) > 0 {
			terms = append(terms, subtract(Term{Users: sr.Users}, exclusions)...)
		}
		if len(sr.Groups) > 0 {
			terms = append(terms, subtract(Term{Groups: sr.Groups}, exclusions)...)
		}
	case conf.ScopeAll:
		terms = append(terms, subtract(Term{NotUsers: sr.ExcludeUsers, NotGroups: sr.ExcludeGroups}, exclusions)...)
	}
	if len(terms) > maxTerms {
		return nil, fmt.Errorf("the policy needs more than %d sshd Match lines (norecord rules naming both users and groups); close the bypasses by hand", maxTerms)
	}
	var out []Term
	seen := map[string]bool{}
	for _, t := range terms {
		line, err := t.Line()
		if err != nil {
			return nil, err
		}
		if !seen[line] {
			seen[line] = true
			out = append(out, t)
		}
	}
	return out, nil
}

func nonEmpty(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return list
}

// subtract returns the terms selecting t's users that none of the
// exclusions (users AND groups; an empty list matches anyone) matches.
func subtract(t Term, exclusions []Term) []Term {
	terms := []Term{t}
	for _, ex := range exclusions {
		var next []Term
		for _, t := range terms {
			// not (user in U and in a group of G) = not in U, or in no group of G
			if ex.Users != nil {
				next = appendTerm(next, Term{Users: t.Users, NotUsers: union(t.NotUsers, ex.Users), Groups: t.Groups, NotGroups: t.NotGroups})
			}
			if ex.Groups != nil {
				next = appendTerm(next, Term{Users: t.Users, NotUsers: t.NotUsers, Groups: t.Groups, NotGroups: union(t.NotGroups, ex.Groups)})
			}
		}
		terms = next
	}
	return terms
}

// appendTerm appends t simplified, unless it selects nobody.
func appendTerm(list []Term, t Term) []Term {
	if t.Users != nil {
		t.Users = without(t.Users, t.NotUsers)
		t.NotUsers = nil
		if len(t.Users) == 0 {
			return list
		}
	}
	if t.Groups != nil {
		t.Groups = without(t.Groups, t.NotGroups)
		if len(t.Groups) == 0 {
			return list
		}
	}
	return append(list, t)
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func without(a, b []string) []string {
	out := []string{}
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// Line renders t as sshd's Match line. sshd's pattern lists make a negated
// entry veto the whole list, so "any but" reads `*,!x`; a user with no
// named group at all fails `Group *,!x` (sshd_config(5), PATTERNS in
// ssh_config(5)).
func (t Term) Line() (string, error) {
	for _, n := range slices.Concat(t.Users, t.NotUsers, t.Groups, t.NotGroups) {
		if n == "" || strings.ContainsAny(n, " \t,*?!\"#%") {
			return "", fmt.Errorf("name %q cannot be written in an sshd Match pattern", n)
		}
	}
	var parts []string
	list := func(pos, neg []string) string {
		if pos == nil {
			pos = []string{"*"}
		}
		items := slices.Clone(pos)
		for _, n := range neg {
			items = append(items, "!"+n)
		}
		return strings.Join(items, ",")
	}
	if t.Users != nil || len(t.NotUsers) > 0 {
		parts = append(parts, "User "+list(t.Users, t.NotUsers))
	}
	if t.Groups != nil || len(t.NotGroups) > 0 {
		parts = append(parts, "Group "+list(t.Groups, t.NotGroups))
	}
	if len(parts) == 0 {
		return "Match All", nil
	}
	return "Match " + strings.Join(parts, " "), nil
}

// alwaysClosed are the Match settings every printed block carries, found
// open or not, so that a later Match block (on an address, say, which
// `sshd -T -C user=` does not evaluate) cannot reopen them for recorded
// users: sshd keeps the first value it obtains.
var alwaysClosed = []Finding{
	{Kind: TCPForwarding, Fix: "AllowTcpForwarding no"},
	{Kind: StreamLocalForwarding, Fix: "AllowStreamLocalForwarding no"},
	{Kind: Tunnel, Fix: "PermitTunnel no"},
	{Kind: X11, Fix: "X11Forwarding no"},
}

// Fix is what closes a set of findings.
type Fix struct {
	// Block holds sshd_config lines for the top of sshd's configuration:
	// global settings that first-value-wins makes stick, then a Match block
	// per term.
	Block []string
	// Replace maps global lines that must be edited where they are (sshd
	// refuses a second definition) to their replacement.
	Replace [][2]string
	// Manual says what only the admin can decide.
	Manual []string
}

// Render builds the Fix for findings (of any users the terms select), for
// OpenSSH version v; accepted kinds are left open.
func Render(terms []Term, findings []Finding, accepted []Kind, v Version) (Fix, error) {
	var fx Fix
	var global, body []string
	var acceptEnv []string
	for _, f := range slices.Concat(alwaysClosed, findings) {
		switch {
		case slices.Contains(accepted, f.Kind):
		case f.Fix == "":
			fx.Manual = appendNew(fx.Manual, f.Setting+": "+f.What)
		case f.Kind == UserEnvironment:
			global = appendNew(global, f.Fix)
		case f.Kind == SFTPSubsystem && v < subsystemInMatch:
			if !slices.Contains(fx.Replace, [2]string{f.Setting, f.Fix}) {
				fx.Replace = append(fx.Replace, [2]string{f.Setting, f.Fix})
			}
		case f.Kind == AcceptEnv:
			// One AcceptEnv line: in Match blocks they add up.
			acceptEnv = appendNew(acceptEnv, strings.Fields(strings.TrimPrefix(f.Fix, "AcceptEnv "))...)
		default:
			body = appendNew(body, f.Fix)
		}
	}
	if len(acceptEnv) > 0 {
		body = append(body, "AcceptEnv "+strings.Join(acceptEnv, " "))
	}
	if len(body)+len(global) == 0 {
		return fx, nil
	}
	fx.Block = append([]string{
		"# vigil: users whom the policy records act only through the recorder (vigilctl enable)",
		"# Keep this before every other setting and Match block: sshd takes the first value it finds.",
	}, global...)
	if len(body) > 0 {
		for _, t := range terms {
			line, err := t.Line()
			if err != nil {
				return Fix{}, err
			}
			fx.Block = append(fx.Block, line)
			for _, b := range body {
				fx.Block = append(fx.Block, "\t"+b)
			}
		}
	}
	return fx, nil
}
