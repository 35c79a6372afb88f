package session

import (
	"os"
	"slices"
	"strings"
)

// transferBinaries are the server sides of file transfers, by name, with
// the absolute paths a command may name them by (Debian's first).
var transferBinaries = map[string][]string{
	"sftp-server":        {"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"},
	"scp":                {"/usr/bin/scp"},
	"rsync":              {"/usr/bin/rsync"},
	"git-upload-pack":    {"/usr/bin/git-upload-pack"},
	"git-receive-pack":   {"/usr/bin/git-receive-pack"},
	"git-upload-archive": {"/usr/bin/git-upload-archive"},
	"git":                {"/usr/bin/git"},
}

// BulkTransfer tells whether a `-c` command string is the server side of a
// file transfer (scp, sftp, rsync, git over ssh), whose payload is data,
// not a terminal session: policy records it as sizes and digests unless
// told to keep every byte. Because that hides the payload, the test is
// strict: plain words or single-quoted strings only (no shell syntax that
// could run anything else), a known program, which exists at the system
// path returned; the caller runs that path itself with argv, not through
// the user's shell, so that PATH, aliases and dotfiles cannot swap it.
func BulkTransfer(command string) (path string, argv []string, ok bool) {
	argv, ok = plainWords(command)
	if !ok || len(argv) == 0 {
		return "", nil, false
	}
	name := argv[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	paths, known := transferBinaries[name]
	if !known || strings.Contains(argv[0], "/") && !slices.Contains(paths, argv[0]) {
		return "", nil, false
	}
	args := argv[1:]
	switch name {
	case "scp":
		ok = slices.Contains(args, "-t") || slices.Contains(args, "-f")
	case "rsync":
		ok = slices.Contains(args, "--server")
	case "git":
		ok = len(args) > 0 && (args[0] == "upload-pack" || args[0] == "receive-pack" || args[0] == "upload-archive")
	default:
		ok = true
	}
	if !ok {
		return "", nil, false
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, argv, true
		}
	}
	return "", nil, false
}

// plainWords splits a command into words if it has no shell syntax beyond
// blanks and single quotes around strings without quotes.
func plainWords(s string) ([]string, bool) {
	var words []string
	var w strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			w.WriteByte(c)
		case c == '\'':
			quoted, in = true, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_./:@=,+%", c) >= 0:
			w.WriteByte(c)
			in = true
		default:
			return nil, false
		}
	}
	if quoted {
		return nil, false
	}
	if in {
		words = append(words, w.String())
	}
	return words, true
}
