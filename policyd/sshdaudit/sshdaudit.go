// Package sshdaudit asks sshd what it lets the users the policy records do
// without their login shell, the recorder, and reports it: for vigilctl
// enable, which refuses while anything is open that the admin has not
// accepted and prints the sshd_config lines that close it, and for vigilctl
// check USER. policyd/sshdcheck reads and analyzes sshd's configuration for
// one user; this package runs it for the users that matter.
package sshdaudit

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/policyd/nsslookup"
	"github.com/vigil-rec/vigil/policyd/sshdcheck"
)

// timeout bounds the whole sshd check (sshd -T takes ~30 ms a user).
const timeout = 10 * time.Minute

// dropIn is where the printed lines go on Debian: its sshd_config includes
// sshd_config.d/*.conf before its own settings.
const dropIn = "/etc/ssh/sshd_config.d/00-vigil.conf"

// Options say which sshd configuration is read, for which connections, and
// what enable leaves open.
type Options struct {
	// Config is the sshd_config to read (sshd -f); "": sshd's default.
	Config string
	// Matches are connection attributes for sshd's Match blocks on
	// addresses and ports, as sshd -C takes them; each is checked. None:
	// one check without.
	Matches []string
	// Accept names the ways (sshdcheck.Kinds) Problems leaves open; "all"
	// accepts every way, and a configuration that cannot be read.
	Accept []string
}

// Validate refuses an Accept name that is no way: a typo would otherwise
// accept nothing.
func (o Options) Validate() error {
	for _, a := range o.Accept {
		if a != "all" && !slices.Contains(sshdcheck.Kinds, sshdcheck.Kind(a)) {
			return fmt.Errorf("--accept-ssh-bypass: unknown way %q", a)
		}
	}
	return nil
}

func (o Options) accepted(k sshdcheck.Kind) bool {
	return slices.Contains(o.Accept, "all") || slices.Contains(o.Accept, string(k))
}

func (o Options) acceptedKinds() []sshdcheck.Kind {
	var out []sshdcheck.Kind
	for _, k := range sshdcheck.Kinds {
		if o.accepted(k) {
			out = append(out, k)
		}
	}
	return out
}

// findings runs sshd -T for u once per match and analyzes it.
func findings(ctx context.Context, o Options, u *decide.User) ([]sshdcheck.Finding, error) {
	a := sshdcheck.Account{Name: u.Name, UID: u.UID, GID: u.GID, Home: u.Dir}
	specs := o.Matches
	if len(specs) == 0 {
		specs = []string{""}
	}
	var out []sshdcheck.Finding
	for _, m := range specs {
		eff, err := sshdcheck.Run(ctx, sshdcheck.Options{Config: o.Config, Match: m}, u.Name)
		if err != nil {
			return nil, err
		}
		for _, f := range sshdcheck.Analyze(eff, a) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// recorded returns the engine policy loads and the users it records, as
// NSS sees them (without a service), among those NSS enumerates.
func recorded(policy func() (*decide.Engine, error)) (*decide.Engine, []*decide.User, error) {
	e, err := policy()
	if err != nil {
		return nil, nil, err
	}
	var users []*decide.User
	for _, u := range nsslookup.All() {
		if e.Decide(u, decide.Request{}, false).Record {
			users = append(users, u)
		}
	}
	return e, users, nil
}

// Problems checks what sshd allows the users whom the policy records
// (policy loads it, only when sshd is there to ask). It prints to w what it
// finds and the sshd_config lines that close it, and returns the problems
// that make enable refuse.
func Problems(w io.Writer, o Options, policy func() (*decide.Engine, error)) []string {
	if !sshdcheck.Installed() {
		fmt.Fprintf(w, "sshd: %s is not installed, nothing to check\n", sshdcheck.SSHD)
		return nil
	}
	unreadable := func(format string, args ...any) []string {
		msg := fmt.Sprintf(format, args...)
		if o.accepted("all") {
			fmt.Fprintf(w, "warning: %s (accepted: --accept-ssh-bypass=all)\n", msg)
			return nil
		}
		return []string{msg + "; --accept-ssh-bypass=all enables without this check"}
	}
	e, users, err := recorded(policy)
	if err != nil {
		return unreadable("sshd: cannot tell whom the policy records: %v", err)
	}
	if len(users) == 0 {
		fmt.Fprintln(w, "sshd: the policy records none of the users NSS lists: nothing to check")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type result struct {
		findings []sshdcheck.Finding
		err      error
	}
	results := make([]result, len(users))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.NumCPU() {
		wg.Go(func() {
			for i := range next {
				results[i].findings, results[i].err = findings(ctx, o, users[i])
			}
		})
	}
	for i := range users {
		next <- i
	}
	close(next)
	wg.Wait()

	var all []sshdcheck.Finding
	var open []sshdcheck.Finding
	who := map[sshdcheck.Finding][]string{}
	for i, r := range results {
		if r.err != nil {
			return unreadable("sshd: cannot read its configuration for %s: %v", users[i].Name, r.err)
		}
		for _, f := range r.findings {
			if _, ok := who[f]; !ok {
				all = append(all, f)
				if !o.accepted(f.Kind) {
					open = append(open, f)
				}
			}
			who[f] = append(who[f], users[i].Name)
		}
	}
	for _, f := range all {
		if o.accepted(f.Kind) {
			fmt.Fprintf(w, "warning: accepted: %s (%s): %s\n", f.Setting, names(who[f]), f.What)
		}
	}
	if len(open) == 0 {
		fmt.Fprintf(w, "sshd: nothing lets the %d users whom the policy records act outside the recorder\n", len(users))
		return nil
	}
	fmt.Fprintln(w, "sshd lets users whom the policy records act outside the recorder:")
	sortFindings(open)
	for _, f := range open {
		fmt.Fprintf(w, "  - %s (%s): %s [%s]\n", f.Setting, names(who[f]), f.What, f.Kind)
	}
	problem := []string{"sshd lets recorded users act outside the recorder (above); close it and restart sshd, or accept it with --accept-ssh-bypass=WAY,..."}
	terms, err := sshdcheck.Terms(e)
	if err != nil {
		fmt.Fprintf(w, "Cannot print the lines that close this: %v\n", err)
		return problem
	}
	v, err := sshdcheck.InstalledVersion(ctx)
	if err != nil {
		fmt.Fprintf(w, "Cannot print the lines that close this: %v\n", err)
		return problem
	}
	fx, err := sshdcheck.Render(terms, all, o.acceptedKinds(), v)
	if err != nil {
		fmt.Fprintf(w, "Cannot print the lines that close this: %v\n", err)
		return problem
	}
	printFix(w, fx, v)
	return problem
}

func printFix(w io.Writer, fx sshdcheck.Fix, v sshdcheck.Version) {
	if len(fx.Block) > 0 {
		fmt.Fprintf(w, "\nPut these lines first in sshd's configuration, as %s on Debian\n", dropIn)
		fmt.Fprintln(w, "(its sshd_config includes sshd_config.d/*.conf before its own settings):")
		fmt.Fprintln(w)
		for _, l := range fx.Block {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
	}
	for _, r := range fx.Replace {
		fmt.Fprintf(w, "Change this line where sshd's configuration has it (spacing may differ; OpenSSH %s takes it\nonly once, and not in Match blocks):\n", v)
		fmt.Fprintf(w, "  %s\nto\n  %s\n\n", r[0], r[1])
	}
	for _, m := range fx.Manual {
		fmt.Fprintf(w, "Decide: %s\n\n", m)
	}
	fmt.Fprintln(w, "Then restart sshd (systemctl restart ssh), see that vigilctl check USER finds nothing, and run vigilctl enable again.")
}

func sortFindings(fs []sshdcheck.Finding) {
	slices.SortStableFunc(fs, func(a, b sshdcheck.Finding) int {
		return slices.Index(sshdcheck.Kinds, a.Kind) - slices.Index(sshdcheck.Kinds, b.Kind)
	})
}

// names lists a few users and how many more.
func names(users []string) string {
	const shown = 5
	if len(users) <= shown {
		return strings.Join(users, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(users[:shown], ", "), len(users)-shown)
}

// Report is what vigilctl check says about sshd for one user (also as
// JSON).
type Report struct {
	Checked  bool                `json:"checked"`
	Note     string              `json:"note,omitempty"` // why not checked
	Error    string              `json:"error,omitempty"`
	Findings []sshdcheck.Finding `json:"findings"`
}

// Check checks what sshd lets user do without the login shell, unless the
// policy is known not to record user (recorded false; nil: unknown, as
// when policyd is down).
func Check(o Options, user string, recorded *bool) Report {
	r := Report{Findings: []sshdcheck.Finding{}}
	switch {
	case !sshdcheck.Installed():
		r.Note = sshdcheck.SSHD + " is not installed"
		return r
	case recorded != nil && !*recorded:
		r.Note = user + " is not recorded"
		return r
	}
	// As login programs see the user: only the home and ids matter here.
	u, err := nsslookup.User(user)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		var found []sshdcheck.Finding
		found, err = findings(ctx, o, u)
		r.Findings = append(r.Findings, found...)
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Checked = true
	sortFindings(r.Findings)
	return r
}

// Print writes the report as vigilctl check's sshd line(s).
func (r Report) Print(w io.Writer, user string) {
	switch {
	case r.Note != "":
		fmt.Fprintf(w, "  sshd:         not checked: %s\n", r.Note)
	case r.Error != "":
		fmt.Fprintf(w, "  sshd:         cannot check: %s\n", r.Error)
	case len(r.Findings) == 0:
		fmt.Fprintf(w, "  sshd:         nothing lets %s act outside the recorder\n", user)
	default:
		ways := "ways"
		if len(r.Findings) == 1 {
			ways = "way"
		}
		fmt.Fprintf(w, "  sshd:         %d %s for %s to act outside the recorder (vigilctl enable --dry-run prints the lines that close them):\n",
			len(r.Findings), ways, user)
		for _, f := range r.Findings {
			fmt.Fprintf(w, "    - %s\n", f)
		}
	}
}
