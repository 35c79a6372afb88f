package hostinfo

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// FQDN must agree with `hostname -f`, which uses the same
// gethostname+getaddrinfo(AI_CANONNAME) path as tlog.
func TestFQDN(t *testing.T) {
	out, err := exec.Command("hostname", "-f").Output()
	if err != nil {
		t.Skipf("hostname -f unavailable: %v", err)
	}
	if got, want := FQDN(5*time.Second), strings.TrimSpace(string(out)); got != want {
		t.Fatalf("FQDN() = %q, hostname -f = %q", got, want)
	}
}

func TestNames(t *testing.T) {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if got := Names(h); !slices.Equal(got[:1], []string{h}) || slices.Contains(got[1:], h) {
		t.Errorf("Names(%q) = %q: the host name once, first", h, got)
	}
	if got := Names("other.example.org"); got[len(got)-1] != "other.example.org" {
		t.Errorf("Names(other.example.org) = %q", got)
	}
}
