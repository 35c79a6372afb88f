package session

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Transfer is a bulk transfer as the recorder runs it.
type Transfer struct {
	Path string   // the program, at its system path
	Argv []string // the command's words
	Env  []string // its environment: not the user's (transferEnv)
}

// transferProgram is a server side of file transfers that the fast path
// may run: one whose every knob the recorded user holds (options, dotfiles,
// the environment, repository configuration) is closed or neutralised.
type transferProgram struct {
	paths []string            // the absolute paths a command may name it by, Debian's first
	args  func([]string) bool // the arguments are what a client sends, and nothing that steers it
	git   bool                // gets git's neutralised configuration, and HOME for "~/repo"
}

// transferPrograms, by name. Left out, so that they are full sessions,
// recorded byte for byte: git-receive-pack and `git receive-pack`, whose
// job is to run the repository's hooks (and its filters, for
// receive.denyCurrentBranch=updateInstead), and git-upload-archive, which
// runs the repository's tar.<format>.command and filters.
var transferPrograms = map[string]transferProgram{
	// sftp-server reads no configuration and runs nothing; none of its
	// options (-d -e -f -h -l -P -p -Q -R -u) changes that.
	"sftp-server": {
		paths: []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"},
		args:  func([]string) bool { return true },
	},
	"scp":   {paths: []string{"/usr/bin/scp"}, args: scpServerArgs},
	"rsync": {paths: []string{"/usr/bin/rsync"}, args: rsyncServerArgs},
	// git-upload-pack (as of git 2.39) runs no hook and reads no command
	// from the repository's configuration; uploadpack.packObjectsHook comes only from
	// the system and global files, and lazy fetches (which run transports
	// the repository configures) are off: see gitEnv.
	"git-upload-pack": {paths: []string{"/usr/bin/git-upload-pack"}, args: gitRepoArg, git: true},
	"git": {paths: []string{"/usr/bin/git"}, git: true, args: func(args []string) bool {
		return len(args) == 2 && args[0] == "upload-pack" && gitRepoArg(args[1:])
	}},
}

// BulkTransfer tells whether a `-c` command string is the server side of a
// file transfer (scp, sftp, rsync, git fetch or clone over ssh), whose
// payload is data, not a terminal session: policy records it as sizes and
// digests unless told to keep every byte. Because that hides what the
// program prints, the test is strict: plain words or single-quoted strings
// only (no shell syntax that could run anything else), a program whose
// behaviour the user cannot steer, with the arguments its client sends,
// which exists at the system path returned. The caller runs that path
// itself with argv and the returned environment, built from environ (the
// user's: sshd's AcceptEnv and PermitUserEnvironment and pam_env's
// ~/.pam_environment put what they like in it), not through the user's
// shell, so that PATH, aliases and dotfiles cannot swap or steer it.
func BulkTransfer(command string, environ []string) (Transfer, bool) {
	argv, ok := plainWords(command)
	if !ok || len(argv) == 0 {
		return Transfer{}, false
	}
	name := argv[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	prog, known := transferPrograms[name]
	if !known || strings.Contains(argv[0], "/") && !slices.Contains(prog.paths, argv[0]) || !prog.args(argv[1:]) {
		return Transfer{}, false
	}
	for _, p := range prog.paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return Transfer{Path: p, Argv: argv, Env: transferEnv(environ, prog.git)}, true
		}
	}
	return Transfer{}, false
}

// scpServerArgs accepts what an scp client (legacy protocol) runs: flags
// among -v -r -p -d with -t (sink) or -f (source), then paths, after "--"
// when one starts with '-'. Other options (-S, -o, -F, -D, ...) do nothing
// on the server side, but are left to a full session rather than
// reasoned about.
func scpServerArgs(args []string) bool {
	mode := false
	for _, a := range args {
		if a == "--" {
			return mode
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		for _, c := range a[1:] {
			switch c {
			case 't', 'f':
				mode = true
			case 'v', 'r', 'p', 'd':
			default:
				return false
			}
		}
	}
	return mode
}

// rsyncRefused are rsync's long options that make the server a daemon,
// which reads ./rsyncd.conf (the user's, in their home) and runs its
// early, pre- and post-transfer exec commands, or that let it take further
// options (--daemon too) from the connection, where this check cannot see
// them.
var rsyncRefused = map[string]bool{
	"daemon": true, "config": true, "dparam": true, "detach": true, "no-detach": true,
	"secluded-args": true, "protect-args": true, "remote-option": true,
}

// rsyncServerArgs accepts rsync's server side as an rsync client starts it:
// --server first, so that rsync drops popt's aliases before applying any (an
// exec alias for --server in ~/.popt would replace the server; HOME is not
// passed either, so popt finds no ~/.popt), and none of rsyncRefused
// anywhere, spelled --name, --name=value, or -name (popt reads that as the
// long option too), nor -s or -M among short flags. Other options only
// shape the transfer (audited against rsync 3.5.0 and popt 1.19).
func rsyncServerArgs(args []string) bool {
	if len(args) == 0 || args[0] != "--server" {
		return false
	}
	for _, a := range args[1:] {
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if rsyncRefused[name] || a[1] != '-' && !rsyncShortFlags(a[1:]) {
			return false
		}
	}
	return true
}

// rsyncShortFlags checks a bundle of short options: none may be -s
// (--secluded-args) or -M (--remote-option, --dparam for a daemon). The
// rest of the bundle after an option that takes an argument (-@ -f -B -e
// -T -M) is that argument: the client's -e.iLsfxC carries capability
// letters, not options.
func rsyncShortFlags(bundle string) bool {
	for i := 0; i < len(bundle); i++ {
		switch c := bundle[i]; {
		case c == 's' || c == 'M':
			return false
		case strings.IndexByte("@fBeT", c) >= 0:
			return true
		}
	}
	return true
}

// gitRepoArg accepts the one argument a git client sends: the repository.
// An option in its place is left to a full session: --help runs git help,
// which runs the man viewer or pager the user's configuration names.
func gitRepoArg(args []string) bool {
	return len(args) == 1 && !strings.HasPrefix(args[0], "-")
}

// transferPath is the transfer's PATH: system directories only (git finds
// its helpers in its own exec path, which comes from the environment no
// more).
const transferPath = "PATH=/usr/bin:/bin"

// gitEnv neutralises what git reads besides the repository: the system
// and global configuration files (the user's own, and any file a system
// one includes from the user's home: uploadpack.packObjectsHook replaces
// pack-objects), lazy fetches from a partial clone's promisor remote
// (which run the transports and ssh commands the repository configures;
// git-upload-pack turns them off only if the environment does not say
// otherwise), and, through command-line configuration, which beats the
// repository's, hooks, should git-upload-pack ever run one.
var gitEnv = []string{
	"GIT_CONFIG_NOSYSTEM=1",
	"GIT_CONFIG_GLOBAL=/dev/null",
	"GIT_NO_LAZY_FETCH=1",
	"GIT_CONFIG_COUNT=1",
	"GIT_CONFIG_KEY_0=core.hooksPath",
	"GIT_CONFIG_VALUE_0=/dev/null",
}

// transferEnv is a transfer's environment. None of the user's variables
// pass (LD_PRELOAD, GCONV_PATH, GIT_*, RSYNC_*, HOME and the dotfiles it
// leads to, ...) but the locale, which only names system locale data
// (glibc refuses names with a '/'), and for git HOME, which git-upload-pack
// needs for a repository named "~/repo" and, with gitEnv, reads nothing
// from, and GIT_PROTOCOL, which only selects the protocol version.
func transferEnv(environ []string, git bool) []string {
	env := []string{transferPath}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case (k == "LANG" || k == "LANGUAGE" || len(k) > 3 && strings.HasPrefix(k, "LC_") && plain(k[3:], "")) && plain(v, "_.@:-"):
			env = append(env, kv)
		case git && k == "HOME" && filepath.IsAbs(v):
			env = append(env, kv)
		case git && k == "GIT_PROTOCOL" && plain(v, "_.:=-"):
			env = append(env, kv)
		}
	}
	if git {
		env = append(env, gitEnv...)
	}
	return env
}

// plain says whether s has only ASCII letters, digits and bytes of extra.
func plain(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i], extra) {
			return false
		}
	}
	return true
}

func plainByte(c byte, extra string) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0
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
		case plainByte(c, "-_./:@=,+%"):
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
