package main

// The sshd half of enable and check: sshd must not let a recorded user act
// without the login shell (policyd/sshdcheck).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/policyd/daemon"
	"github.com/vigil-rec/vigil/policyd/dbusapi"
	"github.com/vigil-rec/vigil/policyd/nsslookup"
	"github.com/vigil-rec/vigil/policyd/sshdcheck"
)

// sshdTimeout bounds the whole sshd check (sshd -T takes ~30 ms a user).
const sshdTimeout = 10 * time.Minute

// dropIn is where the printed lines go on Debian: its sshd_config includes
// sshd_config.d/*.conf before its own settings.
const dropIn = "/etc/ssh/sshd_config.d/00-vigil.conf"

type sshdOpts struct {
	config  string
	matches []string
	accept  []string // enable: kinds, or "all"
	policy  string   // enable: the policy deciding who is recorded
}

func (s *sshdOpts) flags(cmd *cobra.Command, enable bool) {
	f := cmd.Flags()
	f.StringVar(&s.config, "sshd-config", "", "check the sshd configuration `FILE` (sshd -f) instead of sshd's default")
	f.StringArrayVar(&s.matches, "sshd-match", nil, "connection `ATTRS` for sshd's Match blocks on addresses and ports, as sshd -C takes them\n"+
		"(addr=192.0.2.1,host=client.example,laddr=192.0.2.10,lport=22); repeatable: each is checked")
	if enable {
		var kinds []string
		for _, k := range sshdcheck.Kinds {
			kinds = append(kinds, string(k))
		}
		f.StringSliceVar(&s.accept, "accept-ssh-bypass", nil, "enable even though sshd lets recorded users act outside the recorder in these `WAYS`:\n"+
			strings.Join(kinds, ", ")+"; all also when sshd's configuration cannot be read")
		f.StringVarP(&s.policy, "policy", "p", "", "the policy `FILE` that decides who is recorded (default: the one vigil-policyd runs, else "+conf.DefaultPolicyPath+")")
	}
}

func (s *sshdOpts) validate() error {
	for _, a := range s.accept {
		if a != "all" && !slices.Contains(sshdcheck.Kinds, sshdcheck.Kind(a)) {
			return fmt.Errorf("--accept-ssh-bypass: unknown way %q", a)
		}
	}
	return nil
}

func (s *sshdOpts) accepted(k sshdcheck.Kind) bool {
	return slices.Contains(s.accept, "all") || slices.Contains(s.accept, string(k))
}

// sshdFindings runs sshd -T for u once per --sshd-match and analyzes it.
func sshdFindings(ctx context.Context, s *sshdOpts, u *decide.User) ([]sshdcheck.Finding, error) {
	a := sshdcheck.Account{Name: u.Name, UID: u.UID, GID: u.GID, Home: u.Dir}
	specs := s.matches
	if len(specs) == 0 {
		specs = []string{""}
	}
	var out []sshdcheck.Finding
	for _, m := range specs {
		eff, err := sshdcheck.Run(ctx, sshdcheck.Options{Config: s.config, Match: m}, u.Name)
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

// recorded returns the engine of the policy in force and the users it
// records, as NSS sees them (without a service), among those NSS
// enumerates.
func (s *sshdOpts) recorded() (*decide.Engine, []*decide.User, error) {
	policy, hosts := s.policy, []string(nil)
	if policy == "" {
		// policyd's file and host names; the default file when it does
		// not answer (enable --force).
		policy = conf.DefaultPolicyPath
		_ = withClient(func(ctx context.Context, c *dbusapi.Client) error {
			text, err := c.Status(ctx)
			var st daemon.Status
			if err == nil && json.Unmarshal([]byte(text), &st) == nil && st.Path != "" {
				policy, hosts = st.Path, st.Hosts
			}
			return err
		})
	}
	e, err := offline(policy, hosts)
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

// sshdProblems checks what sshd allows the users the policy records. It
// prints what it finds and the sshd_config lines that close it, and returns
// the problems that make enable refuse.
func sshdProblems(o *sysOpts, s *sshdOpts) []string {
	w := o.out
	switch {
	case o.root != "/":
		fmt.Fprintln(w, "--root: not checking sshd's configuration (vigilctl enable --dry-run and vigilctl check USER do on the running system)")
		return nil
	case !sshdcheck.Installed():
		fmt.Fprintf(w, "sshd: %s is not installed, nothing to check\n", sshdcheck.SSHD)
		return nil
	}
	unreadable := func(format string, args ...any) []string {
		msg := fmt.Sprintf(format, args...)
		if s.accepted("all") {
			fmt.Fprintf(w, "warning: %s (accepted: --accept-ssh-bypass=all)\n", msg)
			return nil
		}
		return []string{msg + "; --accept-ssh-bypass=all enables without this check"}
	}
	e, users, err := s.recorded()
	if err != nil {
		return unreadable("sshd: cannot tell whom the policy records: %v", err)
	}
	if len(users) == 0 {
		fmt.Fprintln(w, "sshd: the policy records none of the users NSS lists: nothing to check")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), sshdTimeout)
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
				results[i].findings, results[i].err = sshdFindings(ctx, s, users[i])
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
				if !s.accepted(f.Kind) {
					open = append(open, f)
				}
			}
			who[f] = append(who[f], users[i].Name)
		}
	}
	for _, f := range all {
		if s.accepted(f.Kind) {
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
	fx, err := sshdcheck.Render(terms, all, s.acceptedKinds(), v)
	if err != nil {
		fmt.Fprintf(w, "Cannot print the lines that close this: %v\n", err)
		return problem
	}
	printFix(w, fx, v)
	return problem
}

func (s *sshdOpts) acceptedKinds() []sshdcheck.Kind {
	var out []sshdcheck.Kind
	for _, k := range sshdcheck.Kinds {
		if s.accepted(k) {
			out = append(out, k)
		}
	}
	return out
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

// sshdReport is what check says about sshd for one user.
type sshdReport struct {
	Checked  bool                `json:"checked"`
	Note     string              `json:"note,omitempty"` // why not checked
	Error    string              `json:"error,omitempty"`
	Findings []sshdcheck.Finding `json:"findings"`
}

// checkSSHD checks what sshd lets user do without the login shell, unless
// the policy is known not to record user (wrapped false).
func checkSSHD(s *sshdOpts, user string, wrapped *bool) sshdReport {
	r := sshdReport{Findings: []sshdcheck.Finding{}}
	switch {
	case !sshdcheck.Installed():
		r.Note = sshdcheck.SSHD + " is not installed"
		return r
	case wrapped != nil && !*wrapped:
		r.Note = user + " is not recorded"
		return r
	}
	// As login programs see the user: only the home and ids matter here.
	u, err := nsslookup.User(user)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), sshdTimeout)
		defer cancel()
		var found []sshdcheck.Finding
		found, err = sshdFindings(ctx, s, u)
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

func (r sshdReport) print(w io.Writer, user string) {
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
