package tests

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// A host whose name does not resolve, behind a DNS server that never
// answers: recordings still name the host (the kernel's host name) and a
// recorded login is not held up by DNS (it was: 0.4 s became 5.5 s, and
// recordings had "host":"").
func TestLoginHostNameWithoutDNS(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	login := func() time.Duration {
		t.Helper()
		start := time.Now()
		if out, err := ssh("alice", "HOST", "true").CombinedOutput(); err != nil {
			t.Fatalf("ssh: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	before := recordings(t)
	quick := login()
	waitRecording(t, before)

	// A name server that takes every query and answers none, and a host
	// name that only it could resolve.
	dns, err := net.ListenPacket("udp", "127.0.0.99:53")
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := dns.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	writeFile(t, "/etc/hosts", "127.0.0.1 localhost\n")
	writeFile(t, "/etc/resolv.conf", "nameserver 127.0.0.99\n")
	nss, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(nss), "\n") {
		if strings.HasPrefix(l, "hosts:") {
			l = "hosts: files dns"
		}
		lines = append(lines, l)
	}
	writeFile(t, "/etc/nsswitch.conf", strings.Join(lines, "\n"))
	kernel, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if addrs, err := net.DefaultResolver.LookupHost(ctx, kernel); err == nil {
		t.Fatalf("the host name still resolves: %v", addrs)
	}

	check := func(what string) {
		t.Helper()
		before := recordings(t)
		took := login()
		rec := waitRecording(t, before)
		t.Logf("%s: recorded login in %v (%v with a resolving name)", what, took.Round(time.Millisecond), quick.Round(time.Millisecond))
		if took > quick+time.Second {
			t.Errorf("%s: the login took %v, %v with a resolving name: it waited for DNS", what, took, quick)
		}
		data, err := os.ReadFile(rec)
		if err != nil {
			t.Fatal(err)
		}
		var first struct {
			Host string `json:"host"`
		}
		if err := json.Unmarshal([]byte(strings.SplitN(string(data), "\n", 2)[0]), &first); err != nil {
			t.Fatal(err)
		}
		if first.Host != kernel || !strings.Contains(filepath.Base(rec), "-"+kernel+"-") {
			t.Errorf("%s: recording %s names host %q, want the kernel's %q", what, filepath.Base(rec), first.Host, kernel)
		}
	}
	// policyd, restarted, looks the name up once (bounded) and tells the
	// recorder; without policyd the recorder bounds its own look-up.
	h.stopPolicyd(t)
	h.startPolicyd(t)
	check("policyd up")
	h.stopPolicyd(t)
	for _, svc := range []string{"sshd"} {
		data, _ := os.ReadFile("/etc/pam.d/" + svc)
		writeFile(t, "/etc/pam.d/"+svc, strings.Replace(string(data), pamLine(h.w, ""), pamLine(h.w, "on_unavailable=allow"), 1))
	}
	check("policyd down")
}
