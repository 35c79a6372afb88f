// Package shells is the one reading of a passwd entry's login shell and of
// /etc/shells that policyd (decisions, NSS snapshot), vigilctl and the
// recorder share, so that they can never disagree about which shell a user
// has and whether it is an acceptable one.
package shells

import (
	"fmt"
	"os"
	"path"
	"strings"
)

// File is the system's list of acceptable login shells.
const File = "/etc/shells"

// Nologin is what the recorder runs for a user whose shell is not
// acceptable: never bash, never the unacceptable shell itself.
const Nologin = "/usr/sbin/nologin"

// Default is what login programs (sshd, login, su) run for an empty shell
// field.
const Default = "/bin/sh"

// noLogin are the system's programs that refuse a login. Exact spellings
// only: any other path, even one cleaning to these, or another file
// named nologin, may be something else.
var noLogin = map[string]bool{
	"/usr/sbin/nologin": true, "/sbin/nologin": true,
	"/usr/bin/false": true, "/bin/false": true,
}

// Clean is the program a login program runs for the passwd shell field:
// Default for an empty field, else the path lexically cleaned (/bin//bash
// and /bin/./bash are /bin/bash). A relative field stays relative.
func Clean(field string) string {
	if field == "" {
		return Default
	}
	if !path.IsAbs(field) {
		return field
	}
	return path.Clean(field)
}

// NoLogin says whether the passwd shell field is, spelled exactly, one of
// the system's no-login programs. Such accounts are never wrapped, so that
// nologin stays nologin and programs that test the shell (pam_shells, ftp
// daemons) still refuse them; anything else a recorded user has is
// wrapped.
func NoLogin(field string) bool { return noLogin[field] }

// List is /etc/shells, its entries cleaned. The zero List allows nothing.
type List struct {
	entries map[string]bool
	// aliases maps a directory to the one it is the same directory as
	// (/bin and /usr/bin on a merged-/usr system), both ways.
	aliases map[string]string
}

// usrMerged are the directory pairs a merged-/usr system makes one.
var usrMerged = [][2]string{{"/bin", "/usr/bin"}, {"/sbin", "/usr/sbin"}}

// Read reads an /etc/shells file and learns which of the merged-/usr
// directory pairs are the same directory on this system.
func Read(file string) (List, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return List{}, fmt.Errorf("read allowed shells: %w", err)
	}
	var merged [][2]string
	for _, p := range usrMerged {
		a, err1 := os.Stat(p[0])
		b, err2 := os.Stat(p[1])
		if err1 == nil && err2 == nil && a.IsDir() && os.SameFile(a, b) {
			merged = append(merged, p)
		}
	}
	return New(Parse(data), merged), nil
}

// Parse returns the entries of an /etc/shells file: absolute paths, one a
// line, blanks around them ignored; comments and anything else skipped, as
// getusershell(3) and pam_shells do.
func Parse(data []byte) []string {
	var entries []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "/") {
			entries = append(entries, l)
		}
	}
	return entries
}

// New is the list of entries, on a system where each pair of directories
// in merged is one directory.
func New(entries []string, merged [][2]string) List {
	l := List{entries: map[string]bool{}, aliases: map[string]string{}}
	for _, e := range entries {
		l.entries[Clean(e)] = true
	}
	for _, p := range merged {
		l.aliases[p[0]], l.aliases[p[1]] = p[1], p[0]
	}
	return l
}

// Allows says whether the shell, as Clean returns it, is listed, under
// its own name or, on a merged-/usr system, under its other one.
func (l List) Allows(shell string) bool {
	if !path.IsAbs(shell) || shell != path.Clean(shell) {
		return false
	}
	if l.entries[shell] {
		return true
	}
	dir, name := path.Split(shell)
	other, ok := l.aliases[path.Clean(dir)]
	return ok && l.entries[path.Join(other, name)]
}
