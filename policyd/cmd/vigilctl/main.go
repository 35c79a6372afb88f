// Command vigilctl administers Vigil: asks policyd for its status and
// decisions, explains a decision offline against a policy file before it is
// deployed, checks configuration files, and manages the signing keys.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/clidoc"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/conf/shells"
	"github.com/vigil-rec/vigil/conf/version"
	"github.com/vigil-rec/vigil/policyd/daemon"
	"github.com/vigil-rec/vigil/policyd/dbusapi"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/ldaprules"
	"github.com/vigil-rec/vigil/policyd/nsslookup"
)

// exitError carries an exit status other than 1 (check-config: 1 = bad
// file; explain: 0 either way).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// check runs PAM modules that work only on the main thread (pam/check):
// keep main, and so cobra's commands, there.
func init() { runtime.LockOSThread() }

func main() {
	root := &cobra.Command{
		Use:           "vigilctl",
		Short:         "Administer Vigil session recording",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(statusCmd(), explainCmd(), reloadCmd(), rulesCmd(), checkConfigCmd(), keygenCmd(), rotateKeyCmd(), checkCmd(), enableCmd(), disableCmd(), holdCmd(), releaseCmd(), holdsCmd(), purgeCmd(), verifyPurgesCmd(), accessLogCmd())
	root.AddCommand(clidoc.Command(root, "8"))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "vigilctl:", err)
		code := 1
		if e, ok := err.(*exitError); ok {
			code = e.code
		}
		os.Exit(code)
	}
}

const busTimeout = 5 * time.Second

// withClient runs f with a client of the running policyd.
func withClient(f func(ctx context.Context, c *dbusapi.Client) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	c, err := dbusapi.ConnectContext(ctx)
	if errors.Is(err, wire.ErrUnavailable) {
		return err // "policyd is unavailable: ..."
	}
	if err != nil {
		return fmt.Errorf("policyd: %w", err)
	}
	defer c.Close()
	return f(ctx, c)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the policy in force and where it came from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(func(ctx context.Context, c *dbusapi.Client) error {
				text, err := c.Status(ctx)
				if err != nil {
					return err
				}
				var s daemon.Status
				if err := json.Unmarshal([]byte(text), &s); err != nil {
					return fmt.Errorf("policyd status: %w", err)
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), s)
				}
				w := cmd.OutOrStdout()
				src := s.Path
				if s.Source == "ldap" {
					src += fmt.Sprintf(" + LDAP %s (%d rules, fetched %s)", s.URI, s.LDAPRules, s.LDAPFetched.Format(time.RFC3339))
				}
				fmt.Fprintf(w, "policy:     %s\n", src)
				fmt.Fprintf(w, "generation: %d, loaded %s\n", s.Generation, s.Loaded.Format(time.RFC3339))
				fmt.Fprintf(w, "rules:      %d, fallback scope=%s\n", s.Rules, s.Scope)
				fmt.Fprintf(w, "recorder:   %s\n", s.Recorder)
				fmt.Fprintf(w, "host:       %s\n", strings.Join(s.Hosts, ", "))
				fmt.Fprintf(w, "users:      %d known, %d recorded\n", s.Users, s.RecordedUsers)
				fmt.Fprintf(w, "nss:        %s, %s\n", s.Snapshot, s.Socket)
				if s.LastError != "" {
					fmt.Fprintf(w, "last error: %s (the policy above stays in force)\n", s.LastError)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func reloadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Make policyd re-read its policy now (root only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(func(ctx context.Context, c *dbusapi.Client) error {
				if err := c.Reload(ctx); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "policy reloaded")
				return nil
			})
		},
	}
}

// offline loads a policy file for evaluation without the daemon; a policy
// with source = "ldap" gets the daemon's cached LDAP rules when readable.
func offline(path string, hosts []string) (*decide.Engine, error) {
	nsslookup.Bypass() // the real shells, not the recorder the vigil module gives
	p, err := conf.LoadPolicy(path)
	if err != nil {
		return nil, err
	}
	var rs *ldaprules.RuleSet
	if p.Source == "ldap" {
		if rs, err = ldaprules.LoadCache(p.LDAP.Cache); err != nil {
			fmt.Fprintf(os.Stderr, "vigilctl: LDAP rules not included (%v)\n", err)
		}
	}
	p, clashes := daemon.Effective(p, rs)
	for _, r := range clashes {
		fmt.Fprintf(os.Stderr, "vigilctl: LDAP rule %q (%s) left out: the file has a rule of that name\n", r.Name, r.Origin)
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	list, err := shells.Read(shells.File)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		hosts = daemon.HostNames()
	}
	return decide.New(p, decide.Env{Hosts: hosts, Shells: list}), nil
}

func explainCmd() *cobra.Command {
	var (
		service, rhost, tty, policy string
		hosts                       []string
		asJSON                      bool
	)
	cmd := &cobra.Command{
		Use:   "explain USER",
		Short: "Show whether USER's sessions are recorded, and why",
		Long: "Asks the running policyd, or with --policy (or --host) evaluates a policy file\n" +
			"offline, so a change can be tested before it is deployed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := decide.Request{Service: service, RHost: rhost, TTY: tty}
			var ex decide.Explanation
			if policy != "" || len(hosts) > 0 {
				if policy == "" {
					policy = conf.DefaultPolicyPath
				}
				e, err := offline(policy, hosts)
				if err != nil {
					return err
				}
				u, err := nsslookup.User(args[0])
				if err != nil {
					return err
				}
				if u.Groups, err = nsslookup.Groups(u.Name, u.GID); err != nil {
					return err
				}
				ex = decide.Explain(e.Decide(u, req, true), u, req)
			} else {
				err := withClient(func(ctx context.Context, c *dbusapi.Client) error {
					text, err := c.Explain(ctx, args[0], service, rhost, tty)
					if err != nil {
						return err
					}
					return json.Unmarshal([]byte(text), &ex)
				})
				if err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), ex)
			}
			printExplanation(cmd.OutOrStdout(), ex)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&service, "service", "s", "", "PAM `SERVICE` of the session (sshd, login, su, ...; default: any, as NSS sees it)")
	f.StringVar(&rhost, "rhost", "", "remote `HOST` of the session")
	f.StringVar(&tty, "tty", "", "`TTY` of the session")
	f.StringSliceVarP(&hosts, "host", "H", nil, "evaluate as if on host `NAME` (offline; repeatable)")
	f.StringVarP(&policy, "policy", "p", "", "evaluate the policy `FILE` offline instead of asking policyd")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printExplanation(w io.Writer, ex decide.Explanation) {
	verdict := "NOT recorded"
	if ex.Record {
		verdict = "RECORDED"
	}
	svc := ex.Service
	if svc == "" {
		svc = "any service"
	}
	groups := ""
	if ex.User != nil {
		groups = strings.Join(ex.User.Groups, ", ")
	}
	fmt.Fprintf(w, "%s (%s): %s\n", ex.User.Name, svc, verdict)
	fmt.Fprintf(w, "  decided by: %s\n", ex.Rule)
	fmt.Fprintf(w, "  groups:     %s\n", groups)
	// A wrapped user's recorder runs ex.Shell, which is not the passwd
	// entry's spelling when that is unclean or not in /etc/shells.
	switch passwd := ex.User.Shell; {
	case !ex.Record:
		fmt.Fprintf(w, "  shell:      %s\n", shells.Clean(passwd))
	case passwd == ex.Shell:
		fmt.Fprintf(w, "  shell:      %s (run by %s)\n", ex.Shell, ex.Recorder)
	default:
		fmt.Fprintf(w, "  shell:      %s (run by %s; passwd: %q)\n", ex.Shell, ex.Recorder, passwd)
	}
	if ex.Record && string(ex.Conf) != "{}" {
		fmt.Fprintf(w, "  recorder settings: %s\n", ex.Conf)
	}
	fmt.Fprintln(w, "  steps:")
	for _, s := range ex.Steps {
		mark := "-"
		if s.Matched {
			mark = "*"
		}
		fmt.Fprintf(w, "   %s %s: %s\n", mark, s.What, s.Why)
	}
}

func rulesCmd() *cobra.Command {
	var (
		policy string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Show the effective rule set, in evaluation order, with where each rule comes from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rs decide.RuleSet
			if policy != "" {
				e, err := offline(policy, nil)
				if err != nil {
					return err
				}
				rs = e.Rules()
			} else if err := withClient(func(ctx context.Context, c *dbusapi.Client) error {
				text, err := c.Rules(ctx)
				if err != nil {
					return err
				}
				return json.Unmarshal([]byte(text), &rs)
			}); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rs)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-4s %-20s %-8s %-5s %s\n", "PRIO", "NAME", "ACTION", "HERE", "MATCH / ORIGIN")
			for _, r := range rs.Rules {
				here := "yes"
				if !r.Here {
					here = "no"
				}
				fmt.Fprintf(w, "%-4d %-20s %-8s %-5s %s\n", r.Priority, r.Name, r.Action, here, ruleMatch(r))
				fmt.Fprintf(w, "%-40s from %s\n", "", r.Origin)
				if len(r.Rec) > 0 {
					fmt.Fprintf(w, "%-40s rec: %s\n", "", strings.Join(r.Rec, " "))
				}
			}
			sr, _ := json.Marshal(rs.SessionRecording)
			fmt.Fprintf(w, "then session_recording %s\n", sr)
			return nil
		},
	}
	cmd.Flags().StringVarP(&policy, "policy", "p", "", "show the rules of the policy `FILE` instead of policyd's")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func ruleMatch(r decide.RuleView) string {
	var parts []string
	for _, m := range []struct {
		name  string
		items []string
	}{{"users", r.Users}, {"groups", r.Groups}, {"services", r.Services}, {"hosts", r.Hosts}} {
		if len(m.items) > 0 {
			parts = append(parts, m.name+"="+strings.Join(m.items, ","))
		}
	}
	if len(parts) == 0 {
		return "everyone"
	}
	return strings.Join(parts, " ")
}

func checkConfigCmd() *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "check-config FILE...",
		Short: "Check policy or recorder configuration files (exit 1 on the first bad one)",
		Long: "Checks each FILE as a policy (policy.toml) or a recorder configuration (rec.toml):\n" +
			"--type, or guessed from the name (rec*.toml is a recorder configuration).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, path := range args {
				k := kind
				if k == "" {
					k = "policy"
					if strings.HasPrefix(filepath.Base(path), "rec") {
						k = "rec"
					}
				}
				switch k {
				case "policy":
					p, err := conf.LoadPolicy(path)
					if err != nil {
						return &exitError{1, err}
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (policy: %d rules, scope=%s, source=%s)\n", path, len(p.Rules), p.SessionRecording.Scope, p.Source)
				case "rec":
					if _, err := conf.LoadRec(path, nil, nil); err != nil {
						return &exitError{1, err}
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (recorder configuration)\n", path)
				default:
					return &exitError{2, fmt.Errorf("--type: must be policy or rec (got %q)", k)}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "type", "", "file `TYPE`: policy or rec")
	return cmd
}
