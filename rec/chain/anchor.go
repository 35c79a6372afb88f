package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vigil-rec/vigil/rec/msg"
)

// Anchor is the vigil object of an anchor message: what the Writer wrote
// and ParseAnchor reads back, its matched reader.
type Anchor struct {
	Seq     uint64
	Drop    msg.Drop
	Meta    json.RawMessage // aliases the line; nil without meta
	End     bool
	Hashed  int               // bytes of the line its hash covers
	Hash    [sha256.Size]byte // as stored in the line
	HashHex []byte            // the stored hash text (aliases the line), part of the signature input
	Key     string            // key id; empty when unsigned
	Sig     []byte
}

// ParseAnchor reads the vigil object of line (without its '\n') that
// starts at at, the first occurrence of Marker, in exactly the layout the
// Writer writes: any other spelling of the same JSON would escape the hash
// check, which covers the line's bytes. It checks neither the hash nor the
// signature.
func ParseAnchor(line []byte, at int) (Anchor, error) {
	var a Anchor
	p := parser{b: line, i: at + len(Marker)}
	if err := p.vigil(&a); err != nil {
		return a, fmt.Errorf("vigil object not canonical at byte %d: %w", p.i+1, err)
	}
	return a, nil
}

// parser reads the vigil object in exactly the layout the chain writes.
type parser struct {
	b []byte
	i int
}

func (p *parser) lit(s string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return fmt.Errorf("want %s", s)
	}
	p.i += len(s)
	return nil
}

func (p *parser) opt(s string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.i += len(s)
		return true
	}
	return false
}

// uint reads a canonical decimal (no sign, no leading zeros).
func (p *parser) uint() (uint64, error) {
	j := p.i
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	s := p.b[p.i:j]
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return 0, errors.New("want a canonical unsigned integer")
	}
	v, err := strconv.ParseUint(string(s), 10, 64)
	if err != nil {
		return 0, err
	}
	p.i = j
	return v, nil
}

// hex reads a quoted string of exactly n lowercase hex digits and returns
// the digits; re-encodings (upper case, other lengths) are not canonical.
func (p *parser) hex(n int) ([]byte, error) {
	if p.i+n+2 > len(p.b) || p.b[p.i] != '"' || p.b[p.i+n+1] != '"' {
		return nil, fmt.Errorf("want a string of %d hex digits", n)
	}
	s := p.b[p.i+1 : p.i+n+1]
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, fmt.Errorf("want %d lowercase hex digits", n)
		}
	}
	p.i += n + 2
	return s, nil
}

func decodeHex(dst, src []byte) {
	for k := range dst {
		dst[k] = unhex(src[2*k])<<4 | unhex(src[2*k+1])
	}
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func (p *parser) vigil(e *Anchor) error {
	var err error
	if err = p.lit(`,"seq":`); err != nil {
		return err
	}
	if e.Seq, err = p.uint(); err != nil {
		return err
	}
	if e.Seq == 0 {
		return errors.New("seq must start at 1")
	}
	if p.opt(`,"drop":{"messages":`) {
		if e.Drop.Messages, err = p.uint(); err != nil {
			return err
		}
		if err = p.lit(`,"bytes":`); err != nil {
			return err
		}
		if e.Drop.Bytes, err = p.uint(); err != nil {
			return err
		}
		if err = p.lit(`}`); err != nil {
			return err
		}
		if e.Drop == (msg.Drop{}) {
			return errors.New("empty drop record")
		}
	}
	if p.opt(`,"meta":`) {
		if err = p.meta(e); err != nil {
			return err
		}
	}
	e.End = p.opt(`,"end":true`)
	if err = p.lit(`,`); err != nil {
		return err
	}
	e.Hashed = p.i
	if err = p.lit(`"hash":`); err != nil {
		return err
	}
	if e.HashHex, err = p.hex(2 * sha256.Size); err != nil {
		return err
	}
	decodeHex(e.Hash[:], e.HashHex)
	if p.opt(`,"key":`) {
		k, err := p.hex(16)
		if err != nil {
			return err
		}
		e.Key = string(k)
		if err = p.lit(`,"sig":`); err != nil {
			return err
		}
		s, err := p.hex(128)
		if err != nil {
			return err
		}
		e.Sig = make([]byte, 64)
		decodeHex(e.Sig, s)
	}
	if err = p.lit(`}}`); err != nil {
		return err
	}
	if p.i != len(p.b) {
		return errors.New("data after the vigil object")
	}
	return nil
}

// meta reads a compact JSON object, as the chain's SetMeta writes it.
func (p *parser) meta(e *Anchor) error {
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return errors.New("meta must be a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(p.b[p.i:]))
	var raw json.RawMessage
	if err := d.Decode(&raw); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil || !bytes.Equal(c.Bytes(), raw) {
		return errors.New("meta is not compact JSON")
	}
	e.Meta = raw
	p.i += int(d.InputOffset())
	return nil
}
