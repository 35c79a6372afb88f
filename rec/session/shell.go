// Package session holds what vigil-rec-session needs beyond recording: how
// the login program invoked it, which real shell to run, the per-audit-
// session lock, and the switch between the user's and vigil's identities.
package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigil-rec/vigil/conf/pamenv"
	"github.com/vigil-rec/vigil/conf/shells"
)

// Nologin is what a user gets whose shell cannot be used: never bash.
const Nologin = shells.Nologin

// Invocation is how the login program started us.
type Invocation struct {
	Login       bool     // argv[0] starts with '-', or -l
	Interactive bool     // -i
	Command     []string // -c CMD [NAME [ARG...]]: CMD and the rest
	Args        []string // CMD_FILE [ARG...] without -c
}

// ParseArgs reads a login shell's arguments the way sh does: options first,
// then -c's command string or a script with its arguments.
func ParseArgs(argv []string) (Invocation, error) {
	var inv Invocation
	if len(argv) > 0 && strings.HasPrefix(filepath.Base(argv[0]), "-") {
		inv.Login = true
	}
	cmd := false
	i := 1
	for ; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		if a == "--login" {
			inv.Login = true
			continue
		}
		if a == "--interactive" {
			inv.Interactive = true
			continue
		}
		if a == "--command" {
			cmd = true
			continue
		}
		if strings.HasPrefix(a, "--") {
			return inv, fmt.Errorf("unknown option %q", a)
		}
		for _, c := range a[1:] {
			switch c {
			case 'l':
				inv.Login = true
			case 'i':
				inv.Interactive = true
			case 'c':
				cmd = true
			default:
				return inv, fmt.Errorf("unknown option -%c", c)
			}
		}
	}
	rest := argv[i:]
	if cmd {
		if len(rest) == 0 {
			return inv, errors.New("-c: option requires an argument")
		}
		inv.Command = rest
	} else {
		inv.Args = rest
	}
	return inv, nil
}

// ShellArgv is the argv for the real shell: "-bash" for a login, then -i,
// then -c and the command, or the script and its arguments.
func (inv Invocation) ShellArgv(shell string) []string {
	name := filepath.Base(shell)
	if inv.Login {
		name = "-" + name
	}
	argv := []string{name}
	if inv.Interactive {
		argv = append(argv, "-i")
	}
	if inv.Command != nil {
		argv = append(argv, "-c")
		argv = append(argv, inv.Command...)
	}
	return append(argv, inv.Args...)
}

// RealShell picks the user's real shell: VIGIL_REC_SHELL, then tlog's
// TLOG_REC_SESSION_SHELL (set by SSSD), then the configured one, read as
// login programs read a passwd shell field (shells.Clean). A shell that
// shellsFile (normally /etc/shells) does not allow, or that is a recorder
// itself, is refused, and the user gets nologin: a locked account must stay
// locked, and a bad setting must never hand out bash. Nologin itself is
// what policyd names for such a shell, and is run as it is.
func RealShell(getenv func(string) string, configured, shellsFile, self string) (string, error) {
	shell := getenv(pamenv.RecShell)
	source := pamenv.RecShell
	if shell == "" {
		shell, source = getenv(pamenv.TlogSessionShell), pamenv.TlogSessionShell
	}
	if shell == "" {
		shell, source = configured, "shell"
	}
	return checkShell(shell, source, shellsFile, self)
}

// checkShell reads shell as login programs read a passwd shell field
// (shells.Clean) and returns it if shellsFile allows it and it is no
// recorder, else nologin and why (source says where the shell came from).
func checkShell(named, source, shellsFile, self string) (string, error) {
	shell := shells.Clean(named)
	if shell == Nologin {
		return Nologin, nil
	}
	if !filepath.IsAbs(shell) {
		return Nologin, fmt.Errorf("%s: shell %q is not an absolute path", source, named)
	}
	if isRecorder(shell, self) {
		return Nologin, fmt.Errorf("%s: shell %q is a session recorder", source, named)
	}
	allowed, err := shells.Read(shellsFile)
	if err != nil {
		return Nologin, err
	}
	if !allowed.Allows(shell) {
		return Nologin, fmt.Errorf("%s: shell %q is not listed in %s", source, named, shellsFile)
	}
	return shell, nil
}

func isRecorder(shell, self string) bool {
	base := filepath.Base(shell)
	if strings.HasPrefix(base, "vigil-rec") || strings.HasPrefix(base, "tlog-rec") {
		return true
	}
	if self == "" {
		return false
	}
	a, err1 := os.Stat(shell)
	b, err2 := os.Stat(self)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// FilesShell returns the shell the passwd file (normally /etc/passwd)
// gives name, as login programs read it (shells.Clean: an empty field is
// /bin/sh), or "" if the file does not list name. The setuid recorder uses
// it when policyd cannot say: the file is root's, unlike the environment,
// and unlike NSS it does not answer with the recorder.
func FilesShell(passwdFile, name string) string {
	data, err := os.ReadFile(passwdFile)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[0] == name {
			return shells.Clean(f[6])
		}
	}
	return ""
}

// ShellSources is what a setuid recorder knows about the user's real
// shell from sources the user cannot forge.
type ShellSources struct {
	// Policyd is the shell policyd names for a user it records, "" if it
	// did not answer or does not record the user (then someone else's
	// rules, SSSD's session_recording, made us the login shell).
	Policyd string
	// Files is the shell the user's /etc/passwd entry names (FilesShell),
	// "" if the file does not list the user.
	Files string
}

// SetuidRealShell picks the real shell in a setuid run, where the
// environment is the user's to forge. A trusted source that names a real
// shell (not a recorder) wins: policyd's for a user it records, else
// /etc/passwd's, even nologin or a shell /etc/shells does not list
// (refused, as in RealShell). Only when neither knows, as for an SSSD user
// whose NSS entry is the recorder (SSSD puts the real shell into
// TLOG_REC_SESSION_SHELL), does the shell come from the environment
// (VIGIL_REC_SHELL, else TLOG_REC_SESSION_SHELL), and only one that
// shellsFile lists and that is no recorder: a shell the user could start
// inside the recording anyway. Anything else is nologin.
func SetuidRealShell(src ShellSources, getenv func(string) string, shellsFile, self string) (string, error) {
	if src.Policyd != "" && !isRecorder(shells.Clean(src.Policyd), self) {
		return checkShell(src.Policyd, "policyd", shellsFile, self)
	}
	if src.Files != "" && !isRecorder(src.Files, self) {
		return checkShell(src.Files, "passwd", shellsFile, self)
	}
	shell, source := getenv(pamenv.RecShell), pamenv.RecShell
	if shell == "" {
		shell, source = getenv(pamenv.TlogSessionShell), pamenv.TlogSessionShell
	}
	if shell == "" {
		return Nologin, errors.New("no real shell: neither policyd, /etc/passwd, VIGIL_REC_SHELL nor TLOG_REC_SESSION_SHELL names one")
	}
	return checkShell(shell, source, shellsFile, self)
}
