package main

// vigilctl enable / disable: switch recording on for the host's logins, and
// off again, with exactly three edits, each undone exactly by disable:
//
//  1. /etc/nsswitch.conf: `vigil` first on the passwd line (libnss_vigil
//     gives recorded users the recorder as their shell); a backup
//     nsswitch.conf.vigil-bak is written once and removed by disable when
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
// Before any of that, enable asks sshd what it lets the users the policy
// records do without their login shell, the recorder (sshd.go), and
// refuses while anything is open that the admin has not accepted.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/atomicfile"
	"github.com/vigil-rec/vigil/policyd/daemon"
	"github.com/vigil-rec/vigil/policyd/dbusapi"
	"github.com/vigil-rec/vigil/policyd/nssdb"
)

const (
	nsswitchPath   = "/etc/nsswitch.conf"
	nsswitchBackup = "/etc/nsswitch.conf.vigil-bak"
	pamDir         = "/etc/pam.d"
	pamProfile     = "/usr/share/pam-configs/vigil"
	pamAuthUpdate  = "/usr/sbin/pam-auth-update"
	profileName    = "vigil"
	nssSource      = "vigil"
	// nssAction stops the lookup when policyd is up but has not answered
	// in time (libnss_vigil's TRYAGAIN): the next source would hand out the
	// real shell of a user the policy may record. A dead policyd is
	// UNAVAIL, which continues as usual.
	nssAction = "[TRYAGAIN=return]"
	pamModule = "pam_vigil.so"
	nssModule = "libnss_vigil.so.2"
	account   = "vigil"

	// pamMarker precedes the session line enable adds to a service file;
	// disable removes the marker and the line after it.
	pamMarker = "# vigil: pam_vigil again after pam_env user_readenv=1, which could override what it set (vigilctl enable; vigilctl disable removes this)"
	pamLine   = "session    required     pam_vigil.so"
)

// multiarch is Debian's library directory tuple per GOARCH: where libpam
// looks for security/pam_*.so and where the package puts libnss_vigil.
var multiarch = map[string]string{
	"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "386": "i386-linux-gnu",
	"arm": "arm-linux-gnueabihf", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
	"riscv64": "riscv64-linux-gnu", "mips64le": "mips64el-linux-gnuabi64", "loong64": "loongarch64-linux-gnu",
}

// runPamAuthUpdate runs pam-auth-update in root (through chroot(8) for
// another root, so that root's own debconf database is the one updated).
// Tests replace it.
var runPamAuthUpdate = func(root string, args ...string) ([]byte, error) {
	argv := append([]string{pamAuthUpdate}, args...)
	if root != "/" {
		argv = append([]string{"chroot", root}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// Never a debconf dialog: --enable/--disable are the admin's answer.
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	return out, nil
}

type sysOpts struct {
	root   string
	force  bool
	dryRun bool
	out    io.Writer
}

func (o *sysOpts) flags(cmd *cobra.Command, force bool) {
	f := cmd.Flags()
	f.StringVar(&o.root, "root", "/", "operate on the system installed in `DIR` (image builds, tests)")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show the changes (diff) without making them")
	if force {
		f.BoolVar(&o.force, "force", false, "skip the checks that vigil-policyd runs, has published its NSS snapshot and names a setuid recorder (needed with --root)")
	}
}

// path is p (absolute, as on the target system) inside the root.
func (o *sysOpts) path(p string) string { return filepath.Join(o.root, p) }

func (o *sysOpts) prepare(cmd *cobra.Command) error {
	o.out = cmd.OutOrStdout()
	r, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	o.root = r
	if !o.dryRun && os.Geteuid() != 0 {
		return errors.New("must run as root (or use --dry-run)")
	}
	return nil
}

func enableCmd() *cobra.Command {
	var (
		o sysOpts
		s sshdOpts
	)
	cmd := &cobra.Command{
		Use:   "enable",
		Short: "Record logins: libnss_vigil in nsswitch.conf, pam_vigil in PAM (pam-auth-update)",
		Long: "Puts vigil first on the passwd line of /etc/nsswitch.conf (backup in\n" +
			nsswitchBackup + "), enables the pam-auth-update profile \"vigil\"\n" +
			"(pam_vigil in common-session), and adds pam_vigil after pam_env in services whose\n" +
			"pam_env reads the user's ~/.pam_environment after common-session (sshd).\n" +
			"Refuses unless the modules are installed, vigil-policyd answers, its NSS snapshot\n" +
			"exists and its recorder is setuid and setgid vigil, and while sshd lets users whom\n" +
			"the policy records act outside the recorder (internal-sftp, forwarding, environment\n" +
			"from the user, key options they write): it then prints the sshd_config lines that\n" +
			"close that. Idempotent.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.prepare(cmd); err != nil {
				return err
			}
			if err := s.validate(); err != nil {
				return err
			}
			return enable(&o, &s)
		},
	}
	o.flags(cmd, true)
	s.flags(cmd, true)
	return cmd
}

func disableCmd() *cobra.Command {
	var o sysOpts
	cmd := &cobra.Command{
		Use:   "disable",
		Short: "Stop recording logins: undo everything vigilctl enable changed",
		Long: "Disables the pam-auth-update profile \"vigil\", removes the pam_vigil lines enable\n" +
			"added to service files and vigil from the passwd line of /etc/nsswitch.conf\n" +
			"(and the backup, when the file is back to it). Refuses, changing nothing, while\n" +
			"other PAM files name pam_vigil.so. Needs no running daemon. Idempotent.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.prepare(cmd); err != nil {
				return err
			}
			return disable(&o)
		},
	}
	o.flags(cmd, false)
	return cmd
}

// fileEdit replaces a file's content; old == nil creates it, new == nil
// removes it.
type fileEdit struct {
	path     string // on the target system
	old, new []byte
	like     fs.FileInfo // mode and owner for the new content
	what     string
}

func enable(o *sysOpts, s *sshdOpts) error {
	if o.root != "/" && !o.force {
		return errors.New("--root: whether vigil-policyd runs there cannot be checked from here; add --force to skip those checks")
	}
	var problems []string
	problems = append(problems, checkInstalled(o)...)
	if o.force {
		fmt.Fprintln(o.out, "--force: not checking vigil-policyd, its NSS snapshot and the recorder")
	} else {
		problems = append(problems, checkPolicyd(o)...)
	}
	problems = append(problems, sshdProblems(o, s)...)
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
	warn(o.out, warns)
	if !bytes.Equal(out, nss.data) {
		if _, err := os.Lstat(o.path(nsswitchBackup)); errors.Is(err, fs.ErrNotExist) {
			edits = append(edits, fileEdit{path: nsswitchBackup, new: nss.data, like: nss.info,
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
	pamOn, err := profileEnabled(o)
	if err != nil {
		return err
	}

	if len(edits) == 0 && pamOn {
		fmt.Fprintln(o.out, "vigil is already enabled: nothing to change")
		return nil
	}
	if o.dryRun {
		if err := showEdits(o, edits); err != nil {
			return err
		}
		if !pamOn {
			fmt.Fprintf(o.out, "would run: pam-auth-update --enable %s (pam_vigil in %s/common-session)\n", profileName, pamDir)
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
	fmt.Fprintln(o.out, "vigil is enabled: users whom the policy records now log in through the recorder.")
	fmt.Fprintln(o.out, "Check a user: getent passwd USER; vigilctl check USER --service sshd")
	return nil
}

func disable(o *sysOpts) error {
	services, err := pamServices(o)
	if err != nil {
		return err
	}
	var edits, later []fileEdit
	var foreign []string
	for _, s := range services {
		out, removed, warns := pamServiceDisable(s.data, o.path(s.path))
		warn(o.out, warns)
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
		warn(o.out, warns)
		later = append(later, fileEdit{path: nsswitchPath, old: nss.data, new: out, like: nss.info,
			what: nssSource + " removed from passwd"})
		if bak, err := os.ReadFile(o.path(nsswitchBackup)); err == nil && bytes.Equal(bak, out) {
			later = append(later, fileEdit{path: nsswitchBackup, old: bak, what: "backup no longer needed"})
		} else if err == nil {
			fmt.Fprintf(o.out, "note: keeping %s: %s also has other changes since\n", o.path(nsswitchBackup), o.path(nsswitchPath))
		}
	} else if bak, err := os.ReadFile(o.path(nsswitchBackup)); err == nil && bytes.Equal(bak, nss.data) {
		later = append(later, fileEdit{path: nsswitchBackup, old: bak, what: "backup no longer needed"})
	}
	edits = append(edits, later...)
	pamOn, err := profileEnabled(o)
	if err != nil {
		return err
	}

	if len(edits) == 0 && !pamOn {
		fmt.Fprintln(o.out, "vigil is not enabled: nothing to change")
		return nil
	}
	if o.dryRun {
		if pamOn {
			fmt.Fprintf(o.out, "would run: pam-auth-update --disable %s\n", profileName)
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
	fmt.Fprintln(o.out, "vigil is disabled: logins no longer go through libnss_vigil and pam_vigil.")
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

// checkInstalled reports what enable needs on disk: both modules where
// libpam and glibc find them, and the pam-auth-update profile.
func checkInstalled(o *sysOpts) []string {
	var problems []string
	tuple, ok := multiarch[runtime.GOARCH]
	if !ok {
		return []string{"no multiarch directory known for " + runtime.GOARCH}
	}
	for _, m := range []string{"security/" + pamModule, nssModule} {
		found := false
		for _, dir := range []string{"/usr/lib/", "/lib/"} {
			if fi, err := os.Stat(o.path(dir + tuple + "/" + m)); err == nil && fi.Mode().IsRegular() {
				found = true
				break
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s is not installed (%s)", filepath.Base(m), o.path("/usr/lib/"+tuple+"/"+m)))
		}
	}
	if _, err := os.Stat(o.path(pamProfile)); err != nil {
		problems = append(problems, fmt.Sprintf("the pam-auth-update profile is missing: %v", err))
	}
	return problems
}

// checkPolicyd reports what would make enabled PAM refuse logins or NSS
// wrap nobody: policyd must answer, publish the snapshot the modules read,
// and name a recorder that is setuid and setgid vigil.
func checkPolicyd(o *sysOpts) []string {
	var st daemon.Status
	err := withClient(func(ctx context.Context, c *dbusapi.Client) error {
		text, err := c.Status(ctx)
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(text), &st)
	})
	if err != nil {
		return []string{fmt.Sprintf("vigil-policyd does not answer (%v): start it first (systemctl enable --now vigil-policyd)", err)}
	}
	var problems []string
	if st.Snapshot != nssdb.SnapshotPath {
		problems = append(problems, fmt.Sprintf("vigil-policyd publishes its NSS snapshot at %s, but libnss_vigil and pam_vigil read %s", st.Snapshot, nssdb.SnapshotPath))
	}
	if _, err := nssdb.OpenSnapshot(o.path(nssdb.SnapshotPath)); err != nil {
		problems = append(problems, fmt.Sprintf("no usable NSS snapshot (%v): vigil-policyd has not published one", err))
	}
	if err := checkRecorder(o, st.Recorder); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// checkRecorder checks that the recorder policyd names is a regular file,
// setuid and setgid vigil and writable by its owner only: otherwise the
// recorded user could stop or read the recording (or replace the binary).
func checkRecorder(o *sysOpts, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("vigil-policyd names no absolute recorder path (recorder = %q)", path)
	}
	uid, gid, err := lookupAccount(o)
	if err != nil {
		return err
	}
	fi, err := os.Stat(o.path(path))
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	m := fi.Mode()
	if m.IsRegular() && m&fs.ModeSetuid != 0 && m&fs.ModeSetgid != 0 && m.Perm()&0o022 == 0 && st.Uid == uid && st.Gid == gid {
		return nil
	}
	return fmt.Errorf("recorder %s is mode %04o, owner %d:%d; it must be setuid and setgid %s (%d:%d): dpkg-statoverride --update --add %s %s 6755 %s",
		path, unixMode(m), st.Uid, st.Gid, account, uid, gid, account, account, path)
}

func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// lookupAccount finds the vigil user and group in the root's /etc/passwd
// and /etc/group: a local system account (sysusers.d), also in --root.
func lookupAccount(o *sysOpts) (uid, gid uint32, err error) {
	find := func(file string) (uint32, error) {
		data, err := os.ReadFile(o.path(file))
		if err != nil {
			return 0, err
		}
		for _, l := range strings.Split(string(data), "\n") {
			f := strings.Split(l, ":")
			if len(f) >= 3 && f[0] == account {
				n, err := strconv.ParseUint(f[2], 10, 32)
				if err != nil {
					return 0, fmt.Errorf("%s: %s: bad id %q", o.path(file), account, f[2])
				}
				return uint32(n), nil
			}
		}
		return 0, fmt.Errorf("no %s in %s (the package creates it: systemd-sysusers vigil.conf)", account, o.path(file))
	}
	if uid, err = find("/etc/passwd"); err != nil {
		return 0, 0, err
	}
	gid, err = find("/etc/group")
	return uid, gid, err
}

type target struct {
	path string // on the target system
	data []byte
	info fs.FileInfo
}

func readTarget(o *sysOpts, path string) (target, error) {
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

// pamServices reads the service files in /etc/pam.d, except
// pam-auth-update's common-* and dpkg/ucf/editor leftovers.
func pamServices(o *sysOpts) ([]target, error) {
	ents, err := os.ReadDir(o.path(pamDir))
	if err != nil {
		return nil, err
	}
	var out []target
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, "common-") || strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") ||
			strings.Contains(n, ".dpkg-") || strings.Contains(n, ".ucf-") || strings.Contains(n, ".pam-") {
			continue
		}
		t, err := readTarget(o, pamDir+"/"+n)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// profileEnabled reports whether pam_vigil is in a pam-auth-update managed
// file (common-*): pam-auth-update's state is in those files.
func profileEnabled(o *sysOpts) (bool, error) {
	files, err := filepath.Glob(o.path(pamDir + "/common-*"))
	if err != nil {
		return false, err
	}
	for _, f := range files {
		if strings.Contains(f, ".pam-") || strings.Contains(f, ".dpkg-") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		if len(pamReferences(data)) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// pamAuthUpdateTo enables or disables the profile and checks that
// common-session followed: pam-auth-update exits 0 without changing
// anything when the admin edited common-* by hand.
func pamAuthUpdateTo(o *sysOpts, on bool) error {
	if _, err := os.Stat(o.path(pamAuthUpdate)); err != nil {
		return fmt.Errorf("pam-auth-update (libpam-runtime) is needed to change common-session: %w", err)
	}
	verb := "--disable"
	if on {
		verb = "--enable"
	}
	out, err := runPamAuthUpdate(o.root, verb, profileName)
	if err != nil {
		return err
	}
	now, err := profileEnabled(o)
	if err != nil {
		return err
	}
	if now != on {
		return fmt.Errorf("pam-auth-update %s %s left %s/common-* unchanged (edited by hand? see pam-auth-update(8)):\n%s",
			verb, profileName, o.path(pamDir), bytes.TrimSpace(out))
	}
	fmt.Fprintf(o.out, "%s: pam-auth-update %s %s\n", o.path(pamDir+"/common-session"), verb, profileName)
	return nil
}

func applyEdits(o *sysOpts, edits []fileEdit) (done []fileEdit, err error) {
	for _, e := range edits {
		if err := writeEdit(o, e.path, e.new, e.like); err != nil {
			return done, err
		}
		done = append(done, e)
		fmt.Fprintf(o.out, "%s: %s\n", o.path(e.path), e.what)
	}
	return done, nil
}

func rollback(o *sysOpts, done []fileEdit) error {
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		e := done[i]
		errs = append(errs, writeEdit(o, e.path, e.old, e.like))
	}
	return errors.Join(errs...)
}

// writeEdit replaces path atomically (new file, same mode and owner,
// rename), or removes it when data is nil.
func writeEdit(o *sysOpts, path string, data []byte, like fs.FileInfo) error {
	full := o.path(path)
	if data == nil {
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	ao := atomicfile.Options{Mode: like.Mode().Perm()}
	if st, ok := like.Sys().(*syscall.Stat_t); ok {
		ao.Owner = &atomicfile.Owner{UID: int(st.Uid), GID: int(st.Gid)}
	}
	if err := atomicfile.WriteData(full, ao, data); err != nil {
		return fmt.Errorf("write %s: %w", full, err)
	}
	return nil
}

// showEdits prints each edit as a unified diff (diff(1), from diffutils).
func showEdits(o *sysOpts, edits []fileEdit) error {
	for _, e := range edits {
		name := o.path(e.path)
		switch {
		case e.old == nil:
			fmt.Fprintf(o.out, "would create %s (%s)\n", name, e.what)
			continue
		case e.new == nil:
			fmt.Fprintf(o.out, "would remove %s (%s)\n", name, e.what)
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
		cmd.Stdout = o.out
		err = cmd.Run()
		os.Remove(f.Name())
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: files differ
			return fmt.Errorf("diff %s: %w", name, err)
		}
	}
	return nil
}

// passwdSources returns the source list of a `passwd:` line of nsswitch.conf:
// each source with its byte range in the line, actions ([NOTFOUND=return])
// included in the range of the source they follow.
type nssWord struct {
	name       string
	start, end int
}

func passwdSources(line string) (list []nssWord, listStart int, ok bool) {
	content := line
	if i := strings.IndexByte(content, '#'); i >= 0 {
		content = content[:i]
	}
	rest := strings.TrimLeft(content, " \t")
	if !strings.HasPrefix(rest, "passwd") {
		return nil, 0, false
	}
	rest = strings.TrimLeft(rest[len("passwd"):], " \t")
	if !strings.HasPrefix(rest, ":") {
		return nil, 0, false
	}
	i := len(content) - len(rest) + 1
	for i < len(content) && (content[i] == ' ' || content[i] == '\t') {
		i++
	}
	listStart = i
	for i < len(content) {
		switch c := content[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '[':
			if j := strings.IndexByte(content[i:], ']'); j >= 0 {
				i += j + 1
			} else {
				i = len(content)
			}
			if len(list) > 0 {
				list[len(list)-1].end = i
			}
		default:
			j := i
			for j < len(content) && !strings.ContainsRune(" \t[", rune(content[j])) {
				j++
			}
			list = append(list, nssWord{content[i:j], i, j})
			i = j
		}
	}
	return list, listStart, true
}

// nssEnable puts vigil first on every passwd line of nsswitch.conf (name is
// for messages), changing nothing else; a line that already has vigil is
// left alone.
func nssEnable(data []byte, name string) (out []byte, warns []string, err error) {
	lines := strings.Split(string(data), "\n")
	found := false
	for n, l := range lines {
		list, at, ok := passwdSources(l)
		if !ok {
			continue
		}
		found = true
		if len(list) == 0 {
			return nil, nil, fmt.Errorf("%s:%d: passwd: lists no sources", name, n+1)
		}
		if i := indexSource(list); i > 0 {
			warns = append(warns, fmt.Sprintf("%s:%d: %s comes after %s, whose entries win: move it first", name, n+1, nssSource, list[i-1].name))
		} else if i < 0 {
			lines[n] = l[:at] + nssSource + " " + nssAction + " " + l[at:]
		}
	}
	if !found {
		return nil, nil, fmt.Errorf("%s: no passwd: line (add `passwd: %s files`)", name, nssSource)
	}
	return []byte(strings.Join(lines, "\n")), warns, nil
}

// nssDisable removes vigil (and its actions) from every passwd line.
func nssDisable(data []byte, name string) (out []byte, removed bool, warns []string) {
	lines := strings.Split(string(data), "\n")
	for n := range lines {
		for {
			list, _, ok := passwdSources(lines[n])
			i := indexSource(list)
			if !ok || i < 0 {
				break
			}
			l := lines[n]
			switch {
			case i+1 < len(list): // up to the next source
				l = l[:list[i].start] + l[list[i+1].start:]
			case i > 0: // the last one: from the end of the one before
				l = l[:list[i-1].end] + l[list[i].end:]
			default: // the only one: glibc's default
				l = l[:list[i].start] + "files" + l[list[i].end:]
				warns = append(warns, fmt.Sprintf("%s:%d: %s was the only passwd source; now files", name, n+1, nssSource))
			}
			lines[n] = l
			removed = true
		}
	}
	return []byte(strings.Join(lines, "\n")), removed, warns
}

func indexSource(list []nssWord) int {
	for i, w := range list {
		if w.name == nssSource {
			return i
		}
	}
	return -1
}

// pamEntry is one PAM configuration line: type (without a leading "-"),
// control and module; "@include" has the included file as module.
type pamEntry struct {
	typ, control, module string
	args                 []string
}

func parsePAMLine(line string) (pamEntry, bool) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) >= 2 && f[0] == "@include" {
		return pamEntry{typ: "@include", module: f[1]}, true
	}
	if len(f) < 3 {
		return pamEntry{}, false
	}
	e := pamEntry{typ: strings.ToLower(strings.TrimPrefix(f[0], "-")), control: f[1]}
	rest := f[2:]
	for strings.HasPrefix(e.control, "[") && !strings.HasSuffix(e.control, "]") && len(rest) > 0 {
		e.control += " " + rest[0]
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return pamEntry{}, false
	}
	e.module, e.args = rest[0], rest[1:]
	return e, true
}

func (e pamEntry) includesCommonSession() bool {
	return e.module == "common-session" &&
		(e.typ == "@include" || e.typ == "session" && (e.control == "include" || e.control == "substack"))
}

func (e pamEntry) is(module string) bool {
	return e.typ == "session" && filepath.Base(e.module) == module
}

func (e pamEntry) userReadenv() bool {
	for _, a := range e.args {
		if v, ok := strings.CutPrefix(a, "user_readenv="); ok && v != "0" {
			return true
		}
	}
	return false
}

// pamServiceEnable adds the marked pam_vigil line after the last pam_env
// session line of a service whose session stack includes common-session
// and then runs pam_env with user_readenv=1, unless pam_vigil already runs
// after it. It returns the new content and the added line's number (0: no
// change).
func pamServiceEnable(data []byte) ([]byte, int) {
	lines := strings.Split(string(data), "\n")
	include, lastEnv, lastVigil, readenv := -1, -1, -1, false
	for i, l := range lines {
		e, ok := parsePAMLine(l)
		switch {
		case !ok:
		case include < 0:
			if e.includesCommonSession() {
				include = i
			}
		case e.is("pam_env.so"):
			lastEnv = i
			readenv = readenv || e.userReadenv()
		case e.is(pamModule):
			lastVigil = i
		}
	}
	if include < 0 || !readenv || lastVigil > lastEnv {
		return data, 0
	}
	at := lastEnv + 1
	lines = append(lines[:at], append([]string{pamMarker, pamLine}, lines[at:]...)...)
	return []byte(strings.Join(lines, "\n")), at + 2
}

// pamServiceDisable removes every marked pam_vigil line (the marker and the
// line after it, if that names pam_vigil.so).
func pamServiceDisable(data []byte, name string) (out []byte, removed int, warns []string) {
	lines := strings.Split(string(data), "\n")
	var keep []string
	for i := 0; i < len(lines); i++ {
		if strings.TrimRight(lines[i], " \t") != pamMarker {
			keep = append(keep, lines[i])
			continue
		}
		removed++
		if i+1 < len(lines) {
			if e, ok := parsePAMLine(lines[i+1]); ok && e.is(pamModule) {
				i++
				continue
			}
		}
		warns = append(warns, fmt.Sprintf("%s:%d: the line after vigil's marker is not pam_vigil's; removed the marker only", name, i+1))
	}
	if removed == 0 {
		return data, 0, nil
	}
	return []byte(strings.Join(keep, "\n")), removed, warns
}

// pamReferences returns the numbers of the lines that name pam_vigil.so.
func pamReferences(data []byte) []int {
	var out []int
	for i, l := range strings.Split(string(data), "\n") {
		if e, ok := parsePAMLine(l); ok && e.typ != "@include" && filepath.Base(e.module) == pamModule {
			out = append(out, i+1)
		}
	}
	return out
}
