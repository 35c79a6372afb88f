package sshdcheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Kind names one way around the recorder; `vigilctl enable
// --accept-ssh-bypass` takes these names.
type Kind string

const (
	// SFTPSubsystem: `Subsystem sftp internal-sftp` serves sftp inside sshd,
	// with no login shell.
	SFTPSubsystem Kind = "sftp-subsystem"
	// SFTPForced: `ForceCommand internal-sftp`, the same for every session.
	SFTPForced Kind = "sftp-forced"
	// TCPForwarding: ssh -L, -R, -D.
	TCPForwarding Kind = "tcp-forwarding"
	// StreamLocalForwarding: the same for Unix sockets.
	StreamLocalForwarding Kind = "streamlocal-forwarding"
	// Tunnel: tun/tap devices (ssh -w).
	Tunnel Kind = "tunnel"
	// X11: windows of programs started in the session, drawn on the client.
	X11 Kind = "x11-forwarding"
	// UserEnvironment: ~/.ssh/environment and environment= key options.
	UserEnvironment Kind = "user-environment"
	// AcceptEnv: variables the client sends.
	AcceptEnv Kind = "accept-env"
	// AuthorizedKeys: key options from a file the user can write, among
	// them command="internal-sftp".
	AuthorizedKeys Kind = "authorized-keys"
)

// Kinds lists every kind, in the order findings are reported.
var Kinds = []Kind{SFTPSubsystem, SFTPForced, TCPForwarding, StreamLocalForwarding, Tunnel, X11,
	UserEnvironment, AcceptEnv, AuthorizedKeys}

// Finding is one way sshd's configuration lets a user act without the
// recorder.
type Finding struct {
	Kind Kind `json:"kind"`
	// Setting is the effective value responsible, in sshd_config's spelling.
	Setting string `json:"setting"`
	// What the user can do with it.
	What string `json:"what"`
	// Fix is the sshd_config line that closes it for the user; empty when
	// only the admin can decide (ForceCommand internal-sftp).
	Fix string `json:"fix,omitempty"`
}

// Account is what Analyze needs to know about the user sshd logs in.
type Account struct {
	Name     string
	UID, GID uint32
	Home     string
}

// sftpServers are the external sftp servers by distribution, Debian's
// first: run through the login shell, so the recorder sees the session
// (and records it as a transfer).
var sftpServers = []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server"}

// rootKeysFile is where the printed lines make sshd read a recorded user's
// keys: a root-owned place, so the user cannot add key options.
const rootKeysFile = "/etc/ssh/authorized_keys/%u"

// envFamilies are the variable names a user must not set for a session:
// the recorder's and tlog's settings, the dynamic linker's (LD_PRELOAD in a
// program the recorder runs for the user) and git's (GIT_CONFIG_* can make
// git-upload-pack run any command).
var envFamilies = []string{"VIGIL_", "TLOG_", "LD_", "GIT_"}

// Analyze reports every way eff, sshd's configuration for a's sessions, lets
// a act without the login shell.
func Analyze(eff Effective, a Account) []Finding {
	var out []Finding
	add := func(k Kind, setting, what, fix string) {
		if strings.HasSuffix(setting, " ") {
			setting += "(not set)" // not sshd -T output; counted as open
		}
		out = append(out, Finding{Kind: k, Setting: setting, What: what, Fix: fix})
	}
	for _, s := range eff["subsystem"] {
		name, command, _ := strings.Cut(s, " ")
		if internalSFTP(command) {
			add(SFTPSubsystem, "Subsystem "+s,
				"sftp runs inside sshd, not through the login shell: its file reads and writes are not recorded",
				"Subsystem "+name+" "+sftpServer()+strings.TrimPrefix(command, "internal-sftp"))
		}
	}
	force := eff.Get("forcecommand")
	if internalSFTP(force) {
		add(SFTPForced, "ForceCommand "+force,
			"every session is sftp inside sshd, not through the login shell: not recorded; use ForceCommand "+
				sftpServer()+" instead (the recorder and shell must then exist inside any ChrootDirectory), or do not record these users", "")
	}
	forwarding := eff.Get("disableforwarding") != "yes"
	if tcp := eff.Get("allowtcpforwarding"); forwarding && tcp != "no" {
		local := tcp != "remote" && eff.Get("permitopen") != "none"
		remote := tcp != "local" && eff.Get("permitlisten") != "none"
		var what []string
		if local {
			what = append(what, "ssh -L and -D reach any port the host can reach")
		}
		if remote {
			what = append(what, "ssh -R opens listeners on the host")
		}
		if len(what) > 0 {
			add(TCPForwarding, "AllowTcpForwarding "+tcp,
				strings.Join(what, ", ")+": connections that never pass through the recorder", "AllowTcpForwarding no")
		}
	}
	if sl := eff.Get("allowstreamlocalforwarding"); forwarding && sl != "no" {
		add(StreamLocalForwarding, "AllowStreamLocalForwarding "+sl,
			"ssh -L/-R with Unix sockets: the user's programs' sockets (and the host's) reachable without the recorder", "AllowStreamLocalForwarding no")
	}
	// DisableForwarding does not cover tunnel devices (OpenSSH serverloop.c).
	if tun := eff.Get("permittunnel"); tun != "no" {
		add(Tunnel, "PermitTunnel "+tun, "ssh -w: network traffic through a tun/tap device, outside the recorder", "PermitTunnel no")
	}
	if x := eff.Get("x11forwarding"); forwarding && x != "no" {
		add(X11, "X11Forwarding "+x,
			"a program started in the session (xterm) draws on the client's display: its windows and input are not recorded", "X11Forwarding no")
	}
	if pue := eff.Get("permituserenvironment"); pue != "" && pue != "no" {
		if fam := admittedFamilies(pue == "yes", strings.Split(pue, ",")); len(fam) > 0 {
			add(UserEnvironment, "PermitUserEnvironment "+pue,
				"~/.ssh/environment and environment= in authorized_keys set "+strings.Join(fam, ", ")+
					" for the session (LD_PRELOAD in a program the recorder runs for the user)", "PermitUserEnvironment no")
		}
	}
	if pats := eff["acceptenv"]; len(pats) > 0 {
		var fams []string
		var safe []string
		for _, p := range pats {
			if f := admittedFamilies(false, []string{p}); len(f) > 0 {
				fams = appendNew(fams, f...)
			} else {
				safe = append(safe, p)
			}
		}
		if len(fams) > 0 {
			if len(safe) == 0 {
				// An AcceptEnv in a Match block replaces the global list
				// only when it names something: Debian's default.
				safe = []string{"LANG", "LC_*"}
			}
			add(AcceptEnv, "AcceptEnv "+strings.Join(pats, " "),
				"the client sets "+strings.Join(fams, ", ")+" for the session (LD_PRELOAD in a program the recorder runs for the user)",
				"AcceptEnv "+strings.Join(safe, " "))
		}
	}
	// Key options: command="internal-sftp" in a key line is sftp inside
	// sshd (OpenSSH session.c do_exec), unless ForceCommand overrides it;
	// other commands run through the login shell and are recorded.
	if eff.Get("pubkeyauthentication") == "yes" && force == "none" {
		for _, f := range strings.Fields(eff.Get("authorizedkeysfile")) {
			if f != "none" && userControlled(expandKeysPath(f, a), a) {
				add(AuthorizedKeys, "AuthorizedKeysFile "+eff.Get("authorizedkeysfile"),
					`the user can change the file: a key there with command="internal-sftp" gets sftp inside sshd, not recorded`,
					"AuthorizedKeysFile "+rootKeysFile)
				break
			}
		}
		if p := eff.Get("authorizedprincipalsfile"); p != "" && p != "none" && eff.Get("trustedusercakeys") != "none" &&
			userControlled(expandKeysPath(p, a), a) {
			add(AuthorizedKeys, "AuthorizedPrincipalsFile "+p,
				`the user can change the file: a principal there with command="internal-sftp" gets sftp inside sshd, not recorded`,
				"AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u")
		}
	}
	return out
}

// internalSFTP is OpenSSH's IS_INTERNAL_SFTP: the word, alone or with
// arguments.
func internalSFTP(command string) bool {
	rest, ok := strings.CutPrefix(command, "internal-sftp")
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// sftpServer is the installed external sftp server (Debian's path when none
// is installed).
func sftpServer() string {
	for _, p := range sftpServers {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return sftpServers[0]
}

func appendNew(list []string, items ...string) []string {
	for _, i := range items {
		if !contains(list, i) {
			list = append(list, i)
		}
	}
	return list
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// admittedFamilies returns the families of envFamilies (as "LD_*") that a
// pattern list admits: all of them when all is set; else, with sshd's
// match_pattern_list semantics, a family is admitted when some positive
// pattern matches a name in it and no negated pattern matches every name in
// it.
func admittedFamilies(all bool, patterns []string) []string {
	var out []string
	for _, fam := range envFamilies {
		admitted := all
		if !all {
			blocked := false
			for _, p := range patterns {
				if neg, ok := strings.CutPrefix(p, "!"); ok {
					blocked = blocked || globCoversPrefix(neg, fam)
				} else {
					admitted = admitted || globMeetsPrefix(p, fam)
				}
			}
			admitted = admitted && !blocked
		}
		if admitted {
			out = append(out, fam+"*")
		}
	}
	return out
}

// globStates returns the positions in pattern (sshd's wildcards: * any
// string, ? one character) reachable after reading prefix.
func globStates(pattern, prefix string) []int {
	closure := func(set map[int]bool) {
		for i := range len(pattern) {
			if set[i] && pattern[i] == '*' {
				set[i+1] = true
			}
		}
	}
	cur := map[int]bool{0: true}
	closure(cur)
	for _, c := range []byte(prefix) {
		next := map[int]bool{}
		for i := range cur {
			if i >= len(pattern) {
				continue
			}
			switch pattern[i] {
			case '*':
				next[i] = true
			case '?':
				next[i+1] = true
			case c:
				next[i+1] = true
			}
		}
		closure(next)
		cur = next
	}
	var out []int
	for i := range cur {
		out = append(out, i)
	}
	return out
}

// globMeetsPrefix says whether pattern matches some name starting with
// prefix: after reading prefix the pattern is still alive (its rest can
// always match something).
func globMeetsPrefix(pattern, prefix string) bool { return len(globStates(pattern, prefix)) > 0 }

// globCoversPrefix says whether pattern matches every name starting with
// prefix: after reading it, only stars may remain.
func globCoversPrefix(pattern, prefix string) bool {
	for _, i := range globStates(pattern, prefix) {
		if strings.Trim(pattern[i:], "*") == "" {
			return true
		}
	}
	return false
}

// expandKeysPath expands AuthorizedKeysFile's tokens as sshd does (%% %h %u
// %U; relative to the home directory).
func expandKeysPath(p string, a Account) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+1 == len(p) {
			b.WriteByte(p[i])
			continue
		}
		i++
		switch p[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			b.WriteString(a.Home)
		case 'u':
			b.WriteString(a.Name)
		case 'U':
			b.WriteString(strconv.FormatUint(uint64(a.UID), 10))
		default:
			b.WriteByte('%')
			b.WriteByte(p[i])
		}
	}
	s := b.String()
	if !filepath.IsAbs(s) {
		s = filepath.Join(a.Home, s)
	}
	return filepath.Clean(s)
}

// userControlled says whether a can write path or replace it: a owns it or
// a directory above it, or one of them is writable by a's primary group or
// by everyone (a sticky directory protects what others own, not names yet
// to be created). Followed through symbolic links.
func userControlled(path string, a Account) bool {
	paths := []string{path}
	if r, err := filepath.EvalSymlinks(path); err == nil && r != path {
		paths = append(paths, r)
	}
	for _, p := range paths {
		creating := false // p's child does not exist: writing p creates it
		for {
			fi, err := os.Lstat(p)
			if err == nil && writableBy(fi, a, creating) {
				return true
			}
			creating = err != nil
			if p == "/" {
				break
			}
			p = filepath.Dir(p)
		}
	}
	return false
}

func writableBy(fi fs.FileInfo, a Account, creating bool) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	m := fi.Mode()
	if st.Uid == a.UID {
		return true
	}
	if m.IsDir() && m&fs.ModeSticky != 0 && !creating {
		return false
	}
	return m.Perm()&0o002 != 0 || m.Perm()&0o020 != 0 && st.Gid == a.GID
}

// String is the finding as one report line.
func (f Finding) String() string { return fmt.Sprintf("%s: %s [%s]", f.Setting, f.What, f.Kind) }
