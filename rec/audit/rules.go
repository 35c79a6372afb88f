package audit

import (
	"errors"
	"fmt"
	"slices"
	"syscall"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/rule"
	"github.com/elastic/go-libaudit/v2/rule/flags"

	"github.com/vigil-rec/vigil/rec/auditrules"
)

// compiled is a rule in the kernel's binary form and as the kernel lists it.
type compiled struct {
	line  string
	wire  rule.WireFormat
	canon string // rule.ToCommandLine of wire: what kernel rules compare by
}

func compile(line string) (compiled, error) {
	r, err := flags.Parse(line)
	if err != nil {
		return compiled{}, fmt.Errorf("parse audit rule %q: %w", line, err)
	}
	wf, err := rule.Build(r)
	if err != nil {
		return compiled{}, fmt.Errorf("build audit rule %q: %w", line, err)
	}
	canon, err := rule.ToCommandLine(wf, false)
	if err != nil {
		return compiled{}, fmt.Errorf("render audit rule %q: %w", line, err)
	}
	return compiled{line: line, wire: wf, canon: canon}, nil
}

// vigilRules compiles the given lines, which must be among auditrules.Lines(): the
// delete path is only ever given Vigil's own rules.
func vigilRules(lines []string) ([]compiled, error) {
	out := make([]compiled, 0, len(lines))
	for _, l := range lines {
		if !slices.Contains(auditrules.Lines(), l) {
			return nil, fmt.Errorf("audit rule %q is not one of Vigil's", l)
		}
		c, err := compile(l)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// kernelRules lists the kernel's rules, binary and rendered.
func kernelRules(c *libaudit.AuditClient) ([][]byte, []string, error) {
	raw, err := c.GetRules()
	if err != nil {
		return nil, nil, fmt.Errorf("list audit rules: %w", err)
	}
	text := make([]string, len(raw))
	for i, r := range raw {
		if text[i], err = rule.ToCommandLine(r, false); err != nil {
			// A rule go-libaudit cannot render is nobody we would match.
			text[i] = fmt.Sprintf("(unreadable rule %d: %v)", i, err)
		}
	}
	return raw, text, nil
}

// KernelRules returns the kernel's audit rules, as go-libaudit renders them
// (auditctl -l style, e.g. "auid!=-1" and "-F key=..."), in kernel order.
func KernelRules() ([]string, error) {
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return nil, fmt.Errorf("open audit control socket: %w", err)
	}
	defer c.Close()
	_, text, err := kernelRules(c)
	return text, err
}

// AddRules appends to the kernel's list those of Vigil's rules it does not
// have yet and returns them (a rule already there, e.g. loaded by auditd
// from auditrules.Path, is left alone and not returned).
func AddRules() ([]string, error) {
	want, err := vigilRules(auditrules.Lines())
	if err != nil {
		return nil, err
	}
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return nil, fmt.Errorf("open audit control socket: %w", err)
	}
	defer c.Close()
	_, have, err := kernelRules(c)
	if err != nil {
		return nil, err
	}
	var added []string
	for _, r := range want {
		if slices.Contains(have, r.canon) {
			continue
		}
		if err := c.AddRule(r.wire); err != nil {
			return added, fmt.Errorf("add audit rule %q: %w", r.line, lockedHint(err))
		}
		added = append(added, r.line)
	}
	return added, nil
}

// DeleteRules removes from the kernel the rules equal to the given ones,
// which must be among auditrules.Lines() (pass auditrules.Lines() for all of them, or what
// AddRules returned to undo it). It compares the kernel's own rendering of
// each rule, deletes by the kernel's bytes for it, and never touches
// another rule. It returns how many it deleted.
func DeleteRules(lines []string) (int, error) {
	del, err := vigilRules(lines)
	if err != nil {
		return 0, err
	}
	if len(del) == 0 {
		return 0, nil
	}
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return 0, fmt.Errorf("open audit control socket: %w", err)
	}
	defer c.Close()
	raw, have, err := kernelRules(c)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range del {
		i := slices.Index(have, r.canon)
		if i < 0 {
			continue
		}
		if err := c.DeleteRule(raw[i]); err != nil {
			return n, fmt.Errorf("delete audit rule %q: %w", r.line, lockedHint(err))
		}
		n++
	}
	// go-libaudit's DeleteRule does not read the kernel's answer: check.
	_, after, err := kernelRules(c)
	if err != nil {
		return n, err
	}
	for _, r := range del {
		if slices.Contains(after, r.canon) {
			return n, fmt.Errorf("delete audit rule %q: the kernel still has it", r.line)
		}
	}
	return n, nil
}

// lockedHint explains EPERM from a configuration locked with -e 2.
func lockedHint(err error) error {
	if errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("%w (is the audit configuration immutable, enabled=2? it stays so until reboot)", err)
	}
	return err
}
