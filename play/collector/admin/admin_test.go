package admin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/keys"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// A host added gets a token that enrolls it; the list shows it pending,
// enrolled, revoked.
func TestHosts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := pgstore.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	for _, h := range []string{"web1.example.com", "web2.example.com"} {
		if err := AddHost(ctx, st, &out, h, time.Hour, "https://collector.example.com:8443"); err != nil {
			t.Fatal(err)
		}
	}
	m := regexp.MustCompile(`(?m)^  vigil-ship enroll --collector https://collector\.example\.com:8443 --token ([0-9a-f]{64})$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("AddHost wrote no enroll command:\n%s", out.String())
	}
	// The first token is web1's.
	priv, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	if _, err := st.Enroll(ctx, "web1.example.com", m[1], pub); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := RevokeHost(ctx, st, &out, "web2.example.com"); err != nil || !strings.Contains(out.String(), "web2.example.com revoked") {
		t.Errorf("RevokeHost: %v, %q", err, out.String())
	}
	if err := RevokeHost(ctx, st, &out, "nope.example.com"); err == nil {
		t.Error("RevokeHost of an unknown host: no error")
	}
	out.Reset()
	if err := ListHosts(ctx, st, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^HOST +STATE +SINCE +KEYS$`,
		`(?m)^web1\.example\.com +enrolled +\S+ +` + keys.ID(pub) + `$`,
		`(?m)^web2\.example\.com +revoked +\S+ +-$`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("ListHosts: no line %s in\n%s", want, out.String())
		}
	}
}
