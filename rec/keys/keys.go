// Package keys manages Vigil's ed25519 recording keys: generation, PEM files
// (PKCS#8 private, PKIX public) and key ids.
package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/vigil-rec/vigil/conf/atomicfile"
)

// Set is a set of trusted public keys indexed by key id (see ID).
type Set map[string]ed25519.PublicKey

// Add puts pub into the set under its key id.
func (s Set) Add(pub ed25519.PublicKey) { s[ID(pub)] = pub }

// IDs returns the key ids of the set, sorted.
func (s Set) IDs() []string {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ID is the key id written into signed messages: the first 16 lowercase hex
// characters of SHA-256 over the raw 32-byte public key.
func ID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Generate creates a new signing key from the system's CSPRNG.
func Generate() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("keys: generate ed25519 key: %w", err)
	}
	return priv, nil
}

// WritePrivate stores key as a PEM "PRIVATE KEY" (PKCS#8) file with mode
// 0640. It never overwrites: an existing path is an error, so a rotation
// cannot silently destroy the key old recordings were signed with.
func WritePrivate(path string, key ed25519.PrivateKey) error {
	return WritePrivateMode(path, key, 0o640)
}

// WritePrivateMode is WritePrivate with the file's mode: 0600 for a
// person's own key (a reader's), which no group may read.
func WritePrivateMode(path string, key ed25519.PrivateKey, mode os.FileMode) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("keys: write %s: private key has %d bytes, want %d", path, len(key), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	return writePEM(path, mode, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// GenerateFiles makes a new key and writes it to path with mode
// (WritePrivateMode) and its public half to path.pub, never over existing
// files, and returns the public key.
func GenerateFiles(path string, mode os.FileMode) (ed25519.PublicKey, error) {
	priv, err := Generate()
	if err != nil {
		return nil, err
	}
	if err := WritePrivateMode(path, priv, mode); err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	if err := WritePublic(path+".pub", pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// WritePublic stores pub as a PEM "PUBLIC KEY" (PKIX) file with mode 0644,
// refusing to overwrite an existing file.
func WritePublic(path string, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("keys: write %s: public key has %d bytes, want %d", path, len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	return writePEM(path, 0o644, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func writePEM(path string, mode os.FileMode, b *pem.Block) error {
	// The mode is set as given: the umask must not make the key unreadable
	// for the vigil group (private) or for verifiers (public). Never over
	// an existing key, and never a part of one.
	err := atomicfile.Write(path, atomicfile.Options{Mode: mode, NoReplace: true}, func(w io.Writer) error { return pem.Encode(w, b) })
	if err != nil {
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	return nil
}

// LoadPrivate reads a PEM PKCS#8 ed25519 private key. Files that other
// users may read or write are refused: such a key can no longer prove that
// a recording was written by this host's recorder.
func LoadPrivate(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the checked file is the read one.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("keys: refusing private key %s: mode %04o gives access to all users (chmod o-rwx, e.g. 0640 owned by vigil)", path, perm)
	}
	data, err := readLimited(f, path)
	if err != nil {
		return nil, err
	}
	priv, err := ParsePrivate(data)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", path, err)
	}
	return priv, nil
}

// maxKeyFile bounds what is read from a key file; a PEM ed25519 key is
// about 120 bytes, so anything near this is not a key.
const maxKeyFile = 64 << 10

func readLimited(f *os.File, path string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("keys: read %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("keys: %s: larger than %d bytes, not a key file", path, maxKeyFile)
	}
	return data, nil
}

// LoadPublic reads trusted public keys from each path: a PEM "PUBLIC KEY"
// file, a PEM "PRIVATE KEY" file (its public half is used), or a directory
// whose *.pub files are read.
func LoadPublic(paths ...string) (Set, error) {
	set := Set{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		files := []string{p}
		if fi.IsDir() {
			if files, err = filepath.Glob(filepath.Join(p, "*.pub")); err != nil {
				return nil, fmt.Errorf("keys: list %s: %w", p, err)
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("keys: no *.pub files in %s", p)
			}
		}
		for _, name := range files {
			pub, err := loadPublicFile(name)
			if err != nil {
				return nil, err
			}
			set.Add(pub)
		}
	}
	return set, nil
}

func loadPublicFile(path string) (ed25519.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer f.Close()
	data, err := readLimited(f, path)
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublic(data)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", path, err)
	}
	return pub, nil
}

// ParsePrivate decodes a PEM PKCS#8 ed25519 private key.
func ParsePrivate(data []byte) (ed25519.PrivateKey, error) {
	b, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	if b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\"", b.Type)
	}
	return parsePKCS8(b.Bytes)
}

// ParsePublic decodes a PEM PKIX ed25519 public key, or derives it from a
// PEM PKCS#8 private key.
func ParsePublic(data []byte) (ed25519.PublicKey, error) {
	b, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	switch b.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, want ed25519", k)
		}
		return pub, nil
	case "PRIVATE KEY":
		priv, err := parsePKCS8(b.Bytes)
		if err != nil {
			return nil, err
		}
		return priv.Public().(ed25519.PublicKey), nil
	}
	return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\" or \"PRIVATE KEY\"", b.Type)
}

func parsePKCS8(der []byte) (ed25519.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want ed25519", k)
	}
	return priv, nil
}

// decodePEM accepts exactly one PEM block; anything else around it means
// the file is not what the administrator thinks it is.
func decodePEM(data []byte) (*pem.Block, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the PEM block")
	}
	return b, nil
}
