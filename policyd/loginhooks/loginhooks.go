// Package loginhooks switches recording on for the host's logins, and off
// again (vigilctl enable and disable), with exactly three edits, each
// undone exactly by Disable (and, where auditd is installed, a fourth: its
// rules file for the command timeline, audit.go):
//
//  1. /etc/nsswitch.conf: `vigil` first on the passwd line (libnss_vigil
//     gives recorded users the recorder as their shell); a backup
//     nsswitch.conf.vigil-bak is written once and removed by Disable when
//     the file is back to it.
//  2. pam-auth-update --enable vigil: pam_vigil in common-session (profile
//     /usr/share/pam-configs/vigil, after pam_unix, before pam_systemd).
//  3. Services whose session stack runs `pam_env user_readenv=1` after
//     common-session (Debian 12's sshd): pam_env would let the user's
//     ~/.pam_environment replace what pam_vigil set (the real shell, the
//     recorder settings), so a marked `session required pam_vigil.so`
//     line is added right after their last pam_env line: the last module
//     to set a variable wins. user_readenv itself is left alone, so
//     users who are not recorded keep their ~/.pam_environment.
//
// Before any of that, Enable checks that the modules are installed, that
// vigil-policyd serves what they read, and asks sshd what it lets the users
// the policy records do without their login shell, the recorder
// (policyd/sshdaudit); it refuses while anything is open that the admin has
// not accepted.
package loginhooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/atomicfile"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/policyd/daemon"
	"github.com/vigil-rec/vigil/policyd/sshdaudit"
)

// NsswitchBackup is where Enable keeps nsswitch.conf as it found it.
const NsswitchBackup = "/etc/nsswitch.conf.vigil-bak"

const nsswitchPath = "/etc/nsswitch.conf"

// Options say which system Enable and Disable change, and how.
type Options struct {
	// Root is the system's root directory: "/", or an image's (builds,
	// tests), where the running system's services cannot be asked.
	Root string
	// DryRun shows the changes (diffs) without making them, and so needs
	// no root.
	DryRun bool
	// Out receives what is done, warnings, and the dry run's diffs.
	Out io.Writer
}

// Checks are what Enable asks the running system before it changes
// anything.
type Checks struct {
	// Force skips the checks of vigil-policyd, its NSS snapshot and the
	// recorder: required with another Root, where they cannot be made.
	Force bool
	// Status asks the running vigil-policyd for its status: the snapshot
	// and recorder it names, the policy it runs.
	Status func() (daemon.Status, error)
	// Policy is the policy file that decides whom sshd is checked for;
	// "": the one vigil-policyd runs, else conf.DefaultPolicyPath.
	Policy string
	// Load loads a policy file as vigil-policyd would on hosts (nil: this
	// host's names).
	Load func(path string, hosts []string) (*decide.Engine, error)
	// SSHD says how sshd is asked, and what it may leave open.
	SSHD sshdaudit.Options
}

// path is p (absolute, as on the target system) inside the root.
func (o Options) path(p string) string { return filepath.Join(o.Root, p) }

// prepare makes Root absolute (the paths it prints are then the ones to
// look at) and refuses changes without root.
func (o Options) prepare() (Options, error) {
	r, err := filepath.Abs(o.Root)
	if err != nil {
		return o, err
	}
	o.Root = r
	if !o.DryRun && os.Geteuid() != 0 {
		return o, errors.New("must run as root (or use --dry-run)")
	}
	return o, nil
}

// engine loads the policy that decides who is recorded: Checks.Policy,
// else the file and host names of vigil-policyd, else the default file
// (vigil-policyd does not answer: enable --force).
func (c Checks) engine() (*decide.Engine, error) {
	policy, hosts := c.Policy, []string(nil)
	if policy == "" {
		policy = conf.DefaultPolicyPath
		if st, err := c.Status(); err == nil && st.Path != "" {
			policy, hosts = st.Path, st.Hosts
		}
	}
	return c.Load(policy, hosts)
}

// fileEdit replaces a file's content; old == nil creates it, new == nil
// removes it.
type fileEdit struct {
	path     string // on the target system
	old, new []byte
	like     fs.FileInfo // mode and owner for the new content
	what     string
}

// Enable records the logins of the system at o.Root, once c's checks pass;
// when it fails half way, it restores the files it changed. Nothing to
// change is no error.
func Enable(o Options, c Checks) error {
	o, err := o.prepare()
	if err != nil {
		return err
	}
	if err := c.SSHD.Validate(); err != nil {
		return err
	}
	if o.Root != "/" && !c.Force {
		return errors.New("--root: whether vigil-policyd runs there cannot be checked from here; add --force to skip those checks")
	}
	var problems []string
	problems = append(problems, checkInstalled(o)...)
	if c.Force {
		fmt.Fprintln(o.Out, "--force: not checking vigil-policyd, its NSS snapshot and the recorder")
	} else {
		problems = append(problems, checkPolicyd(o, c.Status)...)
	}
	if o.Root != "/" {
		fmt.Fprintln(o.Out, "--root: not checking sshd's configuration (vigilctl enable --dry-run and vigilctl check USER do on the running system)")
	} else {
		problems = append(problems, sshdaudit.Problems(o.Out, c.SSHD, c.engine)...)
	}
	if len(problems) > 0 {
		return refusal("not enabling", problems)
	}

	var edits []fileEdit
	nss, err := readTarget(o, nsswitchPath)
	if err != nil {
		return err
	}
	out, warns, err := nssEnable(nss.data, o.path(nsswitchPath))
	if err != nil {
		return err
	}
	warn(o.Out, warns)
	if !bytes.Equal(out, nss.data) {
		if _, err := os.Lstat(o.path(NsswitchBackup)); errors.Is(err, fs.ErrNotExist) {
			edits = append(edits, fileEdit{path: NsswitchBackup, new: nss.data, like: nss.info,
				what: "backup of " + nsswitchPath})
		}
		edits = append(edits, fileEdit{path: nsswitchPath, old: nss.data, new: out, like: nss.info,
			what: "passwd: " + nssSource + " first"})
	}
	services, err := pamServices(o)
	if err != nil {
		return err
	}
	for _, s := range services {
		if out, line := pamServiceEnable(s.data); line > 0 {
			edits = append(edits, fileEdit{path: s.path, old: s.data, new: out, like: s.info,
				what: fmt.Sprintf("pam_vigil again after pam_env user_readenv=1 (line %d)", line)})
		}
	}
	audit, err := auditEnable(o)
	if err != nil {
		return err
	}
	if audit != nil {
		edits = append(edits, *audit)
	}
	pamOn, err := profileEnabled(o)
	if err != nil {
		return err
	}

	if len(edits) == 0 && pamOn {
		fmt.Fprintln(o.Out, "vigil is already enabled: nothing to change")
		return nil
	}
	if o.DryRun {
		if err := showEdits(o, edits); err != nil {
			return err
		}
		if !pamOn {
			fmt.Fprintf(o.Out, "would run: pam-auth-update --enable %s (pam_vigil in %s/common-session)\n", profileName, pamDir)
		}
		return nil
	}

	// NSS first, PAM last: until pam_vigil runs, a recorded user who logs
	// in gets the recorder with its configured shell (still recorded);
	// the other way round pam_vigil would refuse them.
	done, err := applyEdits(o, edits)
	if err == nil && !pamOn {
		err = pamAuthUpdateTo(o, true)
	}
	if err != nil {
		if rerr := rollback(o, done); rerr != nil {
			err = fmt.Errorf("%w\nrolling back also failed: %v", err, rerr)
		} else if len(done) > 0 {
			err = fmt.Errorf("%w\n(the files changed before are restored)", err)
		}
		return err
	}
	fmt.Fprintln(o.Out, "vigil is enabled: users whom the policy records now log in through the recorder.")
	fmt.Fprintln(o.Out, "Check a user: getent passwd USER; vigilctl check USER --service sshd")
	return nil
}

// Disable undoes what Enable changed at o.Root. It needs no running
// vigil-policyd, and refuses, changing nothing, while PAM files name
// pam_vigil.so in lines Enable did not add. Nothing to change is no error.
func Disable(o Options) error {
	o, err := o.prepare()
	if err != nil {
		return err
	}
	services, err := pamServices(o)
	if err != nil {
		return err
	}
	var edits, later []fileEdit
	var foreign []string
	for _, s := range services {
		out, removed, warns := pamServiceDisable(s.data, o.path(s.path))
		warn(o.Out, warns)
		for _, n := range pamReferences(out) {
			foreign = append(foreign, fmt.Sprintf("%s:%d", o.path(s.path), n))
		}
		if removed > 0 {
			edits = append(edits, fileEdit{path: s.path, old: s.data, new: out, like: s.info,
				what: "pam_vigil lines added by vigilctl enable removed"})
		}
	}
	// Lines enable did not add would outlive the package's modules, and a
	// `required` module that is missing refuses every login: change nothing.
	if len(foreign) > 0 {
		return refusal("not disabling", []string{"these PAM lines name " + pamModule +
			" but were not added by vigilctl enable; remove them first: " + strings.Join(foreign, ", ")})
	}
	nss, err := readTarget(o, nsswitchPath)
	if err != nil {
		return err
	}
	if out, removed, warns := nssDisable(nss.data, o.path(nsswitchPath)); removed {
		warn(o.Out, warns)
		later = append(later, fileEdit{path: nsswitchPath, old: nss.data, new: out, like: nss.info,
			what: nssSource + " removed from passwd"})
		if bak, err := os.ReadFile(o.path(NsswitchBackup)); err == nil && bytes.Equal(bak, out) {
			later = append(later, fileEdit{path: NsswitchBackup, old: bak, what: "backup no longer needed"})
		} else if err == nil {
			fmt.Fprintf(o.Out, "note: keeping %s: %s also has other changes since\n", o.path(NsswitchBackup), o.path(nsswitchPath))
		}
	} else if bak, err := os.ReadFile(o.path(NsswitchBackup)); err == nil && bytes.Equal(bak, nss.data) {
		later = append(later, fileEdit{path: NsswitchBackup, old: bak, what: "backup no longer needed"})
	}
	audit, err := auditDisable(o)
	if err != nil {
		return err
	}
	if audit != nil {
		later = append(later, *audit)
	}
	edits = append(edits, later...)
	pamOn, err := profileEnabled(o)
	if err != nil {
		return err
	}

	if len(edits) == 0 && !pamOn {
		fmt.Fprintln(o.Out, "vigil is not enabled: nothing to change")
		return nil
	}
	if o.DryRun {
		if pamOn {
			fmt.Fprintf(o.Out, "would run: pam-auth-update --disable %s\n", profileName)
		}
		return showEdits(o, edits)
	}
	// PAM first (nothing else is changed if that fails), NSS last.
	if pamOn {
		if err := pamAuthUpdateTo(o, false); err != nil {
			return err
		}
	}
	if _, err := applyEdits(o, edits); err != nil {
		return err
	}
	fmt.Fprintln(o.Out, "vigil is disabled: logins no longer go through libnss_vigil and pam_vigil.")
	return nil
}

func refusal(what string, problems []string) error {
	return fmt.Errorf("%s:\n  - %s", what, strings.Join(problems, "\n  - "))
}

func warn(w io.Writer, warns []string) {
	for _, s := range warns {
		fmt.Fprintln(w, "warning:", s)
	}
}

type target struct {
	path string // on the target system
	data []byte
	info fs.FileInfo
}

func readTarget(o Options, path string) (target, error) {
	fi, err := os.Lstat(o.path(path))
	if err != nil {
		return target{}, err
	}
	if !fi.Mode().IsRegular() {
		return target{}, fmt.Errorf("%s is not a regular file (a symlink?): edit it by hand", o.path(path))
	}
	data, err := os.ReadFile(o.path(path))
	return target{path, data, fi}, err
}

func applyEdits(o Options, edits []fileEdit) (done []fileEdit, err error) {
	for _, e := range edits {
		if err := writeEdit(o, e.path, e.new, e.like); err != nil {
			return done, err
		}
		done = append(done, e)
		fmt.Fprintf(o.Out, "%s: %s\n", o.path(e.path), e.what)
	}
	return done, nil
}

func rollback(o Options, done []fileEdit) error {
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		e := done[i]
		errs = append(errs, writeEdit(o, e.path, e.old, e.like))
	}
	return errors.Join(errs...)
}

// writeEdit replaces path atomically (new file, same mode and owner,
// rename), or removes it when data is nil.
func writeEdit(o Options, path string, data []byte, like fs.FileInfo) error {
	full := o.path(path)
	if data == nil {
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	ao := atomicfile.Options{Mode: 0o640} // a new file: root's, as auditd's rules are
	if like != nil {
		ao.Mode = like.Mode().Perm()
		if st, ok := like.Sys().(*syscall.Stat_t); ok {
			ao.Owner = &atomicfile.Owner{UID: int(st.Uid), GID: int(st.Gid)}
		}
	}
	if err := atomicfile.WriteData(full, ao, data); err != nil {
		return fmt.Errorf("write %s: %w", full, err)
	}
	return nil
}

// showEdits prints each edit as a unified diff (diff(1), from diffutils).
func showEdits(o Options, edits []fileEdit) error {
	for _, e := range edits {
		name := o.path(e.path)
		switch {
		case e.old == nil:
			fmt.Fprintf(o.Out, "would create %s (%s)\n", name, e.what)
			continue
		case e.new == nil:
			fmt.Fprintf(o.Out, "would remove %s (%s)\n", name, e.what)
			continue
		}
		f, err := os.CreateTemp("", "vigilctl-diff-")
		if err != nil {
			return err
		}
		_, err = f.Write(e.old)
		f.Close()
		if err != nil {
			os.Remove(f.Name())
			return err
		}
		cmd := exec.Command("diff", "-u", "--label", name, "--label", name, f.Name(), "-")
		cmd.Stdin = bytes.NewReader(e.new)
		cmd.Stdout = o.Out
		err = cmd.Run()
		os.Remove(f.Name())
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: files differ
			return fmt.Errorf("diff %s: %w", name, err)
		}
	}
	return nil
}
