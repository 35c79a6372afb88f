// Package hostinfo names the host the way tlog writes it into recordings and
// the way policy rules match it, and who runs a command on it: one
// implementation for the recorder, policyd, vigilctl and vigil-collector.
package hostinfo

import (
	"context"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// FQDN returns the host name as tlog writes it: gethostname() resolved to
// its canonical name (getaddrinfo AI_CANONNAME semantics, via the system
// resolver configuration; tlog format spec 1.1). When that fails or takes
// longer than within, it is the kernel's host name: a recording always
// names its host, and a DNS server that does not answer never holds up a
// login.
func FQDN(within time.Duration) string {
	host, err := os.Hostname()
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cname, err := net.DefaultResolver.LookupCNAME(ctx, host)
	if err != nil || cname == "" {
		return host
	}
	return strings.TrimSuffix(cname, ".")
}

// Names returns the names policy rules may give this host: the kernel's
// host name, its first label, and fqdn (FQDN's answer) when it differs.
func Names(fqdn string) []string {
	h, _ := os.Hostname()
	names := []string{h}
	if short, _, ok := strings.Cut(h, "."); ok {
		names = append(names, short)
	}
	if fqdn != "" && fqdn != h {
		names = append(names, fqdn)
	}
	return names
}

// Caller names who runs this process, for holds and purge records: the
// user, and the audit login user behind sudo or su, which the caller cannot
// change (unlike SUDO_USER).
func Caller() string {
	name := func(uid string) string {
		if u, err := user.LookupId(uid); err == nil {
			return u.Username
		}
		return "uid " + uid
	}
	uid := strconv.Itoa(os.Getuid())
	who := name(uid)
	if b, err := os.ReadFile("/proc/self/loginuid"); err == nil {
		if login := strings.TrimSpace(string(b)); login != "4294967295" && login != uid {
			who += " (login " + name(login) + ")"
		}
	}
	return who
}
