package loginhooks

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	pamDir        = "/etc/pam.d"
	pamProfile    = "/usr/share/pam-configs/vigil"
	pamAuthUpdate = "/usr/sbin/pam-auth-update"
	profileName   = "vigil"
	pamModule     = "pam_vigil.so"

	// pamMarker precedes the session line enable adds to a service file;
	// disable removes the marker and the line after it.
	pamMarker = "# vigil: pam_vigil again after pam_env user_readenv=1, which could override what it set (vigilctl enable; vigilctl disable removes this)"
	pamLine   = "session    required     pam_vigil.so"
)

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

// pamServices reads the service files in /etc/pam.d, except
// pam-auth-update's common-* and dpkg/ucf/editor leftovers.
func pamServices(o Options) ([]target, error) {
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
func profileEnabled(o Options) (bool, error) {
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
func pamAuthUpdateTo(o Options, on bool) error {
	if _, err := os.Stat(o.path(pamAuthUpdate)); err != nil {
		return fmt.Errorf("pam-auth-update (libpam-runtime) is needed to change common-session: %w", err)
	}
	verb := "--disable"
	if on {
		verb = "--enable"
	}
	out, err := runPamAuthUpdate(o.Root, verb, profileName)
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
	fmt.Fprintf(o.Out, "%s: pam-auth-update %s %s\n", o.path(pamDir+"/common-session"), verb, profileName)
	return nil
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
