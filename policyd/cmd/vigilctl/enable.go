package main

// vigilctl enable / disable: policyd/loginhooks does the work.

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/policyd/daemon"
	"github.com/vigil-rec/vigil/policyd/dbusapi"
	"github.com/vigil-rec/vigil/policyd/loginhooks"
	"github.com/vigil-rec/vigil/rec/auditrules"
)

// sysFlags adds the flags enable and disable share: which system, and
// whether to change it.
func sysFlags(cmd *cobra.Command, o *loginhooks.Options) {
	f := cmd.Flags()
	f.StringVar(&o.Root, "root", "/", "operate on the system installed in `DIR` (image builds, tests)")
	f.BoolVarP(&o.DryRun, "dry-run", "n", false, "show the changes (diff) without making them")
}

func enableCmd() *cobra.Command {
	var (
		o loginhooks.Options
		c = loginhooks.Checks{Status: policydStatus, Load: offline}
	)
	cmd := &cobra.Command{
		Use:   "enable",
		Short: "Record logins: libnss_vigil in nsswitch.conf, pam_vigil in PAM (pam-auth-update)",
		Long: "Puts vigil first on the passwd line of /etc/nsswitch.conf (backup in\n" +
			loginhooks.NsswitchBackup + "), enables the pam-auth-update profile \"vigil\"\n" +
			"(pam_vigil in common-session), and adds pam_vigil after pam_env in services whose\n" +
			"pam_env reads the user's ~/.pam_environment after common-session (sshd).\n" +
			"Where auditd is installed, also writes its rules file " + auditrules.Path + "\n" +
			"(every exec of a logged-in process, for the command timeline).\n" +
			"Refuses unless the modules are installed, vigil-policyd answers, its NSS snapshot\n" +
			"exists and its recorder is setuid and setgid vigil, and while sshd lets users whom\n" +
			"the policy records act outside the recorder (internal-sftp, forwarding, environment\n" +
			"from the user, key options they write): it then prints the sshd_config lines that\n" +
			"close that. Idempotent.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			return loginhooks.Enable(o, c)
		},
	}
	sysFlags(cmd, &o)
	cmd.Flags().BoolVar(&c.Force, "force", false, "skip the checks that vigil-policyd runs, has published its NSS snapshot and names a setuid recorder (needed with --root)")
	sshdFlags(cmd, &c.SSHD, &c.Policy)
	return cmd
}

func disableCmd() *cobra.Command {
	var o loginhooks.Options
	cmd := &cobra.Command{
		Use:   "disable",
		Short: "Stop recording logins: undo everything vigilctl enable changed",
		Long: "Disables the pam-auth-update profile \"vigil\", removes the pam_vigil lines enable\n" +
			"added to service files and vigil from the passwd line of /etc/nsswitch.conf\n" +
			"(and the backup, when the file is back to it), and " + auditrules.Path + ".\n" +
			"Refuses, changing nothing, while\n" +
			"other PAM files name pam_vigil.so. Needs no running daemon. Idempotent.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			return loginhooks.Disable(o)
		},
	}
	sysFlags(cmd, &o)
	return cmd
}

// policydStatus asks the running vigil-policyd for its status.
func policydStatus() (daemon.Status, error) {
	var st daemon.Status
	err := withClient(func(ctx context.Context, c *dbusapi.Client) error {
		text, err := c.Status(ctx)
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(text), &st)
	})
	return st, err
}
