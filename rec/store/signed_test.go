package store

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

// A signed line verifies for its domain only, with the key that signed it,
// in exactly its layout.
func TestSignParseCheck(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	pub := key.Public().(ed25519.PublicKey)
	trusted := keys.Set{keys.ID(pub): pub}
	line := Sign("a-v1\n", []byte(`{"n":1}`), key)
	if want := `{"body":{"n":1},"key":"` + keys.ID(pub) + `","sig":"`; !bytes.HasPrefix(line, []byte(want)) || !bytes.HasSuffix(line, []byte("\"}\n")) {
		t.Fatalf("line %s", line)
	}
	r, err := ParseSigned(line)
	if err != nil {
		t.Fatal(err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	for _, c := range []struct {
		name    string
		r       Signed
		domain  string
		trusted keys.Set
		want    verify.State
	}{
		{"as signed", r, "a-v1\n", trusted, verify.OK},
		{"another domain", r, "b-v1\n", trusted, verify.Modified},
		{"another body", Signed{Body: []byte(`{"n":2}`), Key: r.Key, Sig: r.Sig}, "a-v1\n", trusted, verify.Modified},
		{"not hex", Signed{Body: r.Body, Key: r.Key, Sig: "zz"}, "a-v1\n", trusted, verify.Modified},
		{"untrusted key", r, "a-v1\n", keys.Set{keys.ID(other): other}, verify.UnknownKey},
		{"unsigned", Signed{Body: r.Body}, "a-v1\n", trusted, verify.Unsigned},
	} {
		var v Verdict
		c.r.Check(c.domain, c.trusted, &v)
		if v.Named(); v.State != c.want || v.StateName != c.want.String() {
			t.Errorf("%s: %+v, want %v", c.name, v, c.want)
		}
	}
	for _, bad := range [][]byte{
		bytes.Replace(line, []byte(`{"body":`), []byte(`{"body": `), 1), // same meaning, another layout
		bytes.TrimSuffix(line, []byte("\n")),
		[]byte("junk"),
	} {
		if _, err := ParseSigned(bad); err == nil {
			t.Errorf("ParseSigned(%q): no error", bad)
		}
	}
	if got := (Signed{Body: r.Body}).Encode(); string(got) != `{"body":{"n":1}}`+"\n" {
		t.Errorf("unsigned layout %q", got)
	}
}
