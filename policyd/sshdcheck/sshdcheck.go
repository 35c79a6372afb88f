// Package sshdcheck finds the ways sshd lets a recorded user act without
// the login shell, which is the recorder: sftp served inside sshd, port,
// socket, tunnel and X11 forwarding, environment from the user, and
// authorized_keys options the user can write. It reads sshd's effective
// configuration for a user the way sshd itself applies it (`sshd -T -C
// user=U`, Match blocks and Includes evaluated by sshd), never by parsing
// sshd_config, and renders the sshd_config lines that close what it finds
// for exactly the users the policy records.
package sshdcheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// SSHD is where Debian (and every other distribution) installs sshd.
const SSHD = "/usr/sbin/sshd"

// Effective is sshd's configuration for one connection, as `sshd -T`
// prints it: lower-case keywords, each with the value of every line that
// names it, in order (acceptenv and subsystem repeat; most appear once).
type Effective map[string][]string

// Get returns the value of keyword's first line ("" when absent).
func (e Effective) Get(keyword string) string {
	if v := e[keyword]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Parse reads `sshd -T` output. name is for messages.
func Parse(r io.Reader, name string) (Effective, error) {
	e := Effective{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		kw, val, _ := strings.Cut(line, " ")
		if !validKeyword(kw) {
			return nil, fmt.Errorf("%s:%d: not a keyword line of sshd -T: %.60q", name, n, line)
		}
		e[kw] = append(e[kw], val)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(e) == 0 {
		return nil, fmt.Errorf("%s: empty: not sshd -T output", name)
	}
	return e, nil
}

func validKeyword(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Options say which sshd configuration to read.
type Options struct {
	// Config is the sshd_config to read (sshd -f); empty: sshd's default.
	Config string
	// Match holds connection attributes for Match blocks on other criteria
	// than User and Group, as sshd -C takes them after user=
	// ("addr=192.0.2.1,lport=22"). sshd -T counts such criteria as not
	// matching when the attribute is not given.
	Match string
}

// Installed reports whether sshd is there to be checked.
func Installed() bool {
	fi, err := os.Stat(SSHD)
	return err == nil && fi.Mode().IsRegular()
}

// Run asks sshd for the configuration it applies to a connection by user
// (root only: sshd -T loads the host keys).
func Run(ctx context.Context, o Options, user string) (Effective, error) {
	if strings.ContainsAny(user, ", \t\n") || user == "" {
		return nil, fmt.Errorf("sshd -T: user name %q cannot be given to sshd -C", user)
	}
	spec := "user=" + user
	if o.Match != "" {
		spec += "," + o.Match
	}
	args := []string{"-T", "-C", spec}
	if o.Config != "" {
		args = append(args, "-f", o.Config)
	}
	cmd := exec.CommandContext(ctx, SSHD, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "privilege separation directory") {
			// /run/sshd comes with the running service (RuntimeDirectory).
			msg += " (sshd is not running: start it, or mkdir -m 0755 /run/sshd)"
		}
		return nil, fmt.Errorf("%s %s: %w: %s", SSHD, strings.Join(args, " "), err, msg)
	}
	return Parse(&stdout, "sshd -T -C "+spec)
}

// Version is OpenSSH's version, as major*100+minor (902 for 9.2).
type Version int

// Match blocks accept Subsystem from OpenSSH 9.5 on.
const subsystemInMatch Version = 905

var versionRE = regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`)

// ParseVersion reads the version out of sshd -V's banner.
func ParseVersion(banner string) (Version, error) {
	m := versionRE.FindStringSubmatch(banner)
	if m == nil {
		return 0, fmt.Errorf("no OpenSSH version in %.80q", banner)
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err := errors.Join(err1, err2); err != nil || minor > 99 {
		return 0, fmt.Errorf("OpenSSH version %s.%s: out of range", m[1], m[2])
	}
	return Version(major*100 + minor), nil
}

// InstalledVersion asks sshd for its version (sshd -V prints it on stderr
// and exits non-zero on older releases, which print it with their usage).
func InstalledVersion(ctx context.Context) (Version, error) {
	out, _ := exec.CommandContext(ctx, SSHD, "-V").CombinedOutput()
	v, err := ParseVersion(string(out))
	if err != nil {
		return 0, fmt.Errorf("%s -V: %w", SSHD, err)
	}
	return v, nil
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v/100, v%100) }
