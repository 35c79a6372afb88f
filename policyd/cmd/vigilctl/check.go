package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/policyd/dbusapi"
	"github.com/vigil-rec/vigil/policyd/pamcheck"
	"github.com/vigil-rec/vigil/policyd/sshdaudit"
)

func checkCmd() *cobra.Command {
	var (
		service, rhost, tty, confDir string
		asJSON                       bool
		s                            sshdaudit.Options
	)
	cmd := &cobra.Command{
		Use:   "check USER",
		Short: "Open a real PAM session for USER through a service's stack and show what Vigil decided and set (root)",
		Long: "Runs pam_open_session for USER through the PAM stack of --service (no\n" +
			"authentication), as the login program would, then closes it. Modules with side\n" +
			"effects have them. Then asks sshd (sshd -T) what it lets USER do without the login\n" +
			"shell, if the policy records USER. Exit status 0 if the session would open, 1 if it\n" +
			"is refused (what sshd allows does not change it; vigilctl enable refuses on it).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := pamcheck.Check(service, args[0], pamcheck.Options{ConfDir: confDir, Rhost: rhost, Tty: tty})
			if err != nil {
				return err
			}
			// What policyd says, for the rule's name; a check still reports
			// the PAM side when policyd is down.
			var decision, why string
			var wrapped *bool // recorded as NSS sees it: the recorder is the login shell
			err = withClient(func(ctx context.Context, c *dbusapi.Client) error {
				d, err := c.Decide(ctx, args[0], service, rhost, tty)
				if err != nil {
					return err
				}
				decision = "not recorded"
				if d.Record {
					decision = "recorded"
				}
				why = d.Rule
				if nss, err := c.Decide(ctx, args[0], "", rhost, tty); err == nil {
					wrapped = &nss.Record
				}
				return nil
			})
			if err != nil {
				decision, why = "unknown", err.Error()
			}
			nss := checkNSS(args[0])
			sshd := sshdaudit.Check(s, args[0], wrapped)
			status := "success: the session opens"
			if !res.Opened() {
				status = "refused: " + res.Status.Error()
			}
			w := cmd.OutOrStdout()
			if asJSON {
				var msgs []string
				for _, m := range res.Messages {
					msgs = append(msgs, m.Text)
				}
				if err := printJSON(w, map[string]any{"user": args[0], "service": service, "opened": res.Opened(), "status": status,
					"policyd": decision, "rule": why, "nss": nss, "vigil_env": res.Vigil, "messages": msgs, "sshd": sshd}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "%s through PAM service %s:\n", args[0], service)
				fmt.Fprintf(w, "  open_session: %s\n", status)
				fmt.Fprintf(w, "  policyd:      %s (%s)\n", decision, why)
				fmt.Fprintf(w, "  nss:          %s\n", nss)
				if len(res.Vigil) == 0 {
					fmt.Fprintln(w, "  environment:  no VIGIL_/TLOG_ variables set")
				}
				for _, k := range slices.Sorted(maps.Keys(res.Vigil)) {
					v, _ := json.Marshal(res.Vigil[k])
					fmt.Fprintf(w, "  %s=%s\n", k, v)
				}
				for _, m := range res.Messages {
					// A motd has many lines: keep them inside the report.
					text := strings.ReplaceAll(strings.TrimRight(m.Text, "\n"), "\n", "\n           ")
					fmt.Fprintf(w, "  message: %s\n", text)
				}
				sshd.Print(w, args[0])
			}
			if !res.Opened() {
				return &exitError{1, fmt.Errorf("the session for %s through %s is refused", args[0], service)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&service, "service", "s", "sshd", "PAM `SERVICE` whose stack is run")
	f.StringVar(&rhost, "rhost", "", "PAM_RHOST")
	f.StringVar(&tty, "tty", "", "PAM_TTY")
	f.StringVar(&confDir, "pam-dir", "", "PAM configuration `DIR` instead of /etc/pam.d")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	sshdFlags(cmd, &s, nil)
	return cmd
}

// checkNSS is the passwd entry the login program and PAM's modules get for
// user (getent passwd, through nsswitch.conf and libnss_vigil): the
// recorder as the shell of a recorded user; pam_unix and pam_loginuid
// refuse the session of a user NSS does not resolve.
func checkNSS(user string) string {
	out, err := exec.Command("getent", "passwd", user).Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return strings.TrimSpace(string(out))
	case errors.As(err, &exit) && exit.ExitCode() == 2:
		return "getent passwd " + user + ": not found"
	default:
		return fmt.Sprintf("getent passwd %s: %v", user, err)
	}
}
