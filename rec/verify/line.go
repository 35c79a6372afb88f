package verify

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// entry is what one recording line contributes to its recording's report.
type entry struct {
	rec   string
	id    uint64
	plain bool // a tlog line without the vigil object
	chain.Anchor
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
	var err error
	e.Anchor, err = chain.ParseAnchor(body, idx)
	return e, err
}
