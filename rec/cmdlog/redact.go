package cmdlog

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vigil-rec/vigil/rec/commands"
)

// Redactor removes secrets from argv before it is written
// (rec/spec/commands.md §5).
type Redactor struct {
	patterns []*regexp.Regexp
	after    map[string]bool
}

// NewRedactor compiles the patterns (conf.Commands.Redact) and the
// options whose next argument is a secret (RedactAfter).
func NewRedactor(patterns, after []string) (*Redactor, error) {
	r := &Redactor{after: map[string]bool{}}
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact pattern %q: %w", p, err)
		}
		r.patterns = append(r.patterns, re)
	}
	for _, a := range after {
		r.after[a] = true
	}
	return r, nil
}

// Argv returns argv with secrets replaced by commands.Redacted (a new
// slice when anything changed) and how many arguments were changed.
func (r *Redactor) Argv(argv []string) ([]string, int) {
	var out []string
	n := 0
	for i, arg := range argv {
		red := arg
		if i > 0 && r.after[argv[i-1]] {
			red = commands.Redacted
		} else {
			for _, re := range r.patterns {
				red = redact(re, red)
			}
		}
		if red != arg {
			if out == nil {
				out = append([]string(nil), argv...)
			}
			out[i] = red
			n++
		}
	}
	if out == nil {
		return argv, 0
	}
	return out, n
}

// redact replaces what re's groups match in s (all of s when re has no
// groups and matches).
func redact(re *regexp.Regexp, s string) string {
	if re.NumSubexp() == 0 {
		if re.MatchString(s) {
			return commands.Redacted
		}
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		for g := 2; g < len(m); g += 2 {
			if m[g] < last || m[g] < 0 || m[g] == m[g+1] {
				continue // unmatched, empty, or inside a group already replaced
			}
			b.WriteString(s[last:m[g]])
			b.WriteString(commands.Redacted)
			last = m[g+1]
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
