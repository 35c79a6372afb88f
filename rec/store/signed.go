package store

// Signed records, such as the purge records of hosts and of the collector
// (rec/spec/purge.md): a compact JSON body, kept byte for byte, and an
// ed25519 signature over it, on one line that is authentic only in exactly
// this layout:
//
//	{"body":BODY,"key":"<key id>","sig":"<128 hex>"}\n
//
// The signature covers a domain, naming the kind of record, and the hex
// SHA-256 of the body: no signature made for one kind of record, or for a
// recording's chain, passes for another.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

// Signed is a signed record: the body's exact bytes and the signature.
type Signed struct {
	Body json.RawMessage `json:"body"`
	Key  string          `json:"key,omitempty"` // rec/keys.ID of the signing key
	Sig  string          `json:"sig,omitempty"` // lowercase hex
}

// Sign returns the line of body signed with key for domain.
func Sign(domain string, body []byte, key ed25519.PrivateKey) []byte {
	r := Signed{Body: body, Key: keys.ID(key.Public().(ed25519.PublicKey))}
	r.Sig = hex.EncodeToString(ed25519.Sign(key, sigInput(domain, body)))
	return r.Encode()
}

// sigInput is what a signature for domain covers.
func sigInput(domain string, body []byte) []byte {
	return append([]byte(domain), SHA256Hex(body)...)
}

// Encode lays r out canonically; without Key and Sig it is {"body":BODY}\n
// (unsigned).
func (r Signed) Encode() []byte {
	var b bytes.Buffer
	b.WriteString(`{"body":`)
	b.Write(r.Body)
	if r.Key != "" || r.Sig != "" {
		fmt.Fprintf(&b, `,"key":%q,"sig":%q`, r.Key, r.Sig)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// ParseSigned reads a signed record's line. Only the canonical layout is accepted: a
// record re-encoded with the same meaning (spaces, escapes, order) was
// edited all the same.
func ParseSigned(data []byte) (Signed, error) {
	var r Signed
	if err := json.Unmarshal(data, &r); err != nil {
		return Signed{}, fmt.Errorf("not a signed record: %w", err)
	}
	if !bytes.Equal(data, r.Encode()) {
		return Signed{}, errors.New("not in the canonical layout (edited?)")
	}
	return r, nil
}

// DecodeBody decodes r's body into v, refusing members v does not know,
// then checks that its format version (what version returns, once v is
// decoded) is want: a record is read only in the format it was signed in.
func (r Signed) DecodeBody(v any, version func() int, want int) error {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if got := version(); got != want {
		return fmt.Errorf("format version %d, want %d", got, want)
	}
	return nil
}

// Verdict is what checking a record found: its worst state, and why.
type Verdict struct {
	State     verify.State `json:"-"`
	StateName string       `json:"state"` // State's name, once Named
	Detail    string       `json:"detail,omitempty"`
}

// Note keeps s, and why, when it is worse than what was found so far.
func (v *Verdict) Note(s verify.State, format string, args ...any) {
	if s > v.State {
		v.State, v.Detail = s, fmt.Sprintf(format, args...)
	}
}

// Named sets StateName, once every check is done.
func (v *Verdict) Named() { v.StateName = v.State.String() }

// Check checks r's signature for domain against the trusted keys, and
// notes in v what is wrong: Unsigned (neither key nor signature),
// UnknownKey, or Modified (the signature does not verify).
func (r Signed) Check(domain string, trusted keys.Set, v *Verdict) {
	pub, known := trusted[r.Key]
	switch {
	case r.Key == "" && r.Sig == "":
		v.Note(verify.Unsigned, "no signature")
		return
	case !known:
		v.Note(verify.UnknownKey, "signed by key %s, which is not trusted", r.Key)
		return
	}
	sig, err := hex.DecodeString(r.Sig)
	if err != nil || !ed25519.Verify(pub, sigInput(domain, r.Body), sig) {
		v.Note(verify.Modified, "the signature does not verify: the record was changed after it was signed")
	}
}
