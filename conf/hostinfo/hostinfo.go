// Package hostinfo names the host the way tlog writes it into recordings and
// the way policy rules match it: one implementation for the recorder,
// policyd and vigilctl.
package hostinfo

import (
	"context"
	"net"
	"os"
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
