package conf

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// The checks of a rule's values, whether policy.toml or an LDAP entry
// holds the rule: one set, so that both sources accept the same values and
// say the same of a bad one. Each returns "" for a good value, else what
// is wrong, for the caller to prefix with where it is.

// MaxRulePriority is the highest rule priority (a C int for LDAP's INTEGER).
const MaxRulePriority = 1<<31 - 1

// CheckName checks a user, group, service or host name as a list item: a
// name that is empty or holds NUL or a newline matches nothing and is
// always a mistake. Callers use it trimmed.
func CheckName(v string) string {
	s := strings.TrimSpace(v)
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\n") {
		return fmt.Sprintf("empty or not a valid name (%q)", v)
	}
	return ""
}

// CheckHost checks a host name or glob (path.Match syntax); "@group" names
// a host group where groups may appear (rules, not host groups).
func CheckHost(h string, groups bool) string {
	if msg := CheckName(h); msg != "" {
		return msg
	}
	if strings.HasPrefix(h, "@") && !groups {
		return fmt.Sprintf("%q: host groups cannot contain host groups", h)
	}
	if _, err := path.Match(strings.TrimPrefix(h, "@"), ""); err != nil {
		return fmt.Sprintf("bad pattern %q: %v", h, err)
	}
	return ""
}

// CheckAction checks a rule's action.
func CheckAction(a string) string {
	switch a {
	case ActionRecord, ActionNoRecord:
		return ""
	case "":
		return fmt.Sprintf("missing; must be %q or %q", ActionRecord, ActionNoRecord)
	}
	return fmt.Sprintf("must be %q or %q (got %q)", ActionRecord, ActionNoRecord, a)
}

// CheckPriority checks a rule's priority.
func CheckPriority(p int64) string {
	if p < 0 || p > MaxRulePriority {
		return fmt.Sprintf("must be between 0 and %d (got %d)", MaxRulePriority, p)
	}
	return ""
}
