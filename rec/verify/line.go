package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// entry is what one recording line contributes to its recording's report.
type entry struct {
	rec   string
	id    uint64
	plain bool // a tlog line without the vigil object

	// An anchor's fields (plain is false).
	seq     uint64
	hashed  int               // bytes of the line its hash covers
	hash    [sha256.Size]byte // as stored in the line
	hashHex []byte            // stored hash text, part of the signature input
	drop    msg.Drop
	meta    json.RawMessage
	end     bool
	key     string // empty when unsigned
	sig     []byte
}

// lineParser parses lines, reusing its buffers.
type lineParser struct {
	dec  tlog.Decoder
	head tlog.Head
	tlog []byte // an anchor's tlog fields, as an object
}

// line checks that line (including its '\n') is a canonical tlog line,
// with or without the vigil object, and extracts its fields. It does not
// check hashes, signatures or order. The entry may alias line.
func (lp *lineParser) line(line []byte) (entry, error) {
	body, nl := bytes.CutSuffix(line, []byte("\n"))
	e, err := lp.body(body)
	if err == nil && !nl {
		err = errors.New("line is not newline-terminated")
	}
	return e, err
}

// body parses a line without its '\n'. On error, rec and id are set
// when the tlog fields could be read. Member names are matched exactly,
// the last of duplicates winning, as vigil-play's reader does
// (encoding/json's struct decoding would also take "Rec" or "ID" for them).
func (lp *lineParser) body(body []byte) (entry, error) {
	var e entry
	h := &lp.head
	// The first occurrence is the real one: tlog fields are flat (no
	// objects), and a JSON string cannot contain the marker's unescaped
	// quotes. The last occurrence would be wrong when meta holds a member
	// named "vigil" whose value starts with "v".
	idx := bytes.Index(body, []byte(chain.Marker))
	if idx < 0 {
		if err := lp.dec.Scan(body, h); err != nil {
			return e, fmt.Errorf("not valid JSON: %w", err)
		}
		e.rec, e.id, e.plain = h.Rec, h.ID, true
		if h.Vigil != nil {
			// An anchor in another layout would escape its hash check.
			return e, errors.New(`"vigil" object not in the canonical layout`)
		}
		return e, nil
	}
	lp.tlog = append(append(lp.tlog[:0], body[:idx]...), '}')
	if err := lp.dec.Scan(lp.tlog, h); err != nil {
		return e, fmt.Errorf("tlog fields are not a valid JSON object: %w", err)
	}
	if h.Members == 0 {
		return e, errors.New("no tlog fields before the vigil object")
	}
	e.rec, e.id = h.Rec, h.ID
	if h.Vigil != nil {
		return e, errors.New(`"vigil" appears among the tlog fields`)
	}
	p := parser{b: body, i: idx + len(chain.Marker)}
	if err := p.vigil(&e); err != nil {
		return e, fmt.Errorf("vigil object not canonical at byte %d: %w", p.i+1, err)
	}
	return e, nil
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

func (p *parser) vigil(e *entry) error {
	var err error
	if err = p.lit(`,"seq":`); err != nil {
		return err
	}
	if e.seq, err = p.uint(); err != nil {
		return err
	}
	if e.seq == 0 {
		return errors.New("seq must start at 1")
	}
	if p.opt(`,"drop":{"messages":`) {
		if e.drop.Messages, err = p.uint(); err != nil {
			return err
		}
		if err = p.lit(`,"bytes":`); err != nil {
			return err
		}
		if e.drop.Bytes, err = p.uint(); err != nil {
			return err
		}
		if err = p.lit(`}`); err != nil {
			return err
		}
		if e.drop == (msg.Drop{}) {
			return errors.New("empty drop record")
		}
	}
	if p.opt(`,"meta":`) {
		if err = p.meta(e); err != nil {
			return err
		}
	}
	e.end = p.opt(`,"end":true`)
	if err = p.lit(`,`); err != nil {
		return err
	}
	e.hashed = p.i
	if err = p.lit(`"hash":`); err != nil {
		return err
	}
	if e.hashHex, err = p.hex(2 * sha256.Size); err != nil {
		return err
	}
	decodeHex(e.hash[:], e.hashHex)
	if p.opt(`,"key":`) {
		k, err := p.hex(16)
		if err != nil {
			return err
		}
		e.key = string(k)
		if err = p.lit(`,"sig":`); err != nil {
			return err
		}
		s, err := p.hex(128)
		if err != nil {
			return err
		}
		e.sig = make([]byte, 64)
		decodeHex(e.sig, s)
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
func (p *parser) meta(e *entry) error {
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
	e.meta = raw
	p.i += int(d.InputOffset())
	return nil
}
