package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	priv, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	kp := filepath.Join(dir, "signing.key")
	if err := WritePrivate(kp, priv); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(kp)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("private key mode %v %v", fi.Mode(), err)
	}
	if err := WritePrivate(kp, priv); err == nil {
		t.Fatal("existing private key overwritten")
	}
	got, err := LoadPrivate(kp)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("LoadPrivate: %v", err)
	}

	pubDir := filepath.Join(dir, "trusted")
	if err := os.Mkdir(pubDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WritePublic(filepath.Join(pubDir, "host1.pub"), pub); err != nil {
		t.Fatal(err)
	}
	other, _ := Generate()
	if err := WritePublic(filepath.Join(pubDir, "host2.pub"), other.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	// Not *.pub: ignored in a directory.
	if err := os.WriteFile(filepath.Join(pubDir, "README"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := LoadPublic(pubDir)
	if err != nil || len(set) != 2 || !set[ID(pub)].Equal(pub) {
		t.Fatalf("LoadPublic(dir) = %v, %v", set, err)
	}
	// A private key file yields its public half.
	set, err = LoadPublic(kp)
	if err != nil || len(set) != 1 || !set[ID(pub)].Equal(pub) {
		t.Fatalf("LoadPublic(private) = %v, %v", set, err)
	}
	if ids := set.IDs(); len(ids) != 1 || ids[0] != ID(pub) {
		t.Fatalf("IDs %v", ids)
	}
}

func TestWorldReadablePrivate(t *testing.T) {
	kp := filepath.Join(t.TempDir(), "k")
	priv, _ := Generate()
	if err := WritePrivate(kp, priv); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(kp, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrivate(kp); err == nil || !strings.Contains(err.Error(), "all users") {
		t.Fatalf("world-readable key: %v", err)
	}
}

func TestID(t *testing.T) {
	// ID is SHA-256 of the raw key, first 8 bytes in hex (checked with
	// `printf '\0%.0s' {1..32} | sha256sum`).
	if got := ID(make(ed25519.PublicKey, 32)); got != "66687aadf862bd77" {
		t.Fatalf("ID(zero key) = %s", got)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaPub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	priv, _ := Generate()
	good, _ := x509.MarshalPKCS8PrivateKey(priv)
	files := map[string][]byte{
		"empty":    nil,
		"garbage":  []byte("not a key"),
		"rsa":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}),
		"rsapub":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub}),
		"cert":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: good}),
		"trailing": append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: good}), "junk"...),
		"huge":     make([]byte, maxKeyFile+1),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPrivate(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadPrivate(%s): %v", name, err)
		}
		if _, err := LoadPublic(p); err == nil {
			t.Errorf("LoadPublic(%s) accepted", name)
		}
	}
	if _, err := LoadPublic(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := LoadPublic(t.TempDir()); err == nil {
		t.Error("directory without *.pub accepted")
	}
	if err := WritePrivate(filepath.Join(dir, "short"), ed25519.PrivateKey{1}); err == nil {
		t.Error("short private key written")
	}
	if err := WritePublic(filepath.Join(dir, "short.pub"), ed25519.PublicKey{1}); err == nil {
		t.Error("short public key written")
	}
}

func FuzzParse(f *testing.F) {
	priv, _ := Generate()
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pder, _ := x509.MarshalPKIXPublicKey(priv.Public())
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := ParsePrivate(data); err == nil && len(k) != ed25519.PrivateKeySize {
			t.Fatalf("private key of %d bytes", len(k))
		}
		if k, err := ParsePublic(data); err == nil && len(k) != ed25519.PublicKeySize {
			t.Fatalf("public key of %d bytes", len(k))
		}
	})
}
