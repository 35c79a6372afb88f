// Package verify checks Vigil recordings: the SHA-256 hash chain carried by
// anchor messages, ed25519 signatures, the order of the tlog ids and
// completeness, per recording (rec id) in a tlog JSON file.
package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// State is the verdict for one recording. Higher values take precedence
// when several apply.
type State int

// Verdicts, from best to worst.
const (
	OK         State = iota
	Unsigned         // no vigil fields at all, or a chain without any signature
	UnknownKey       // signed by a key not in the trusted set
	Truncated        // no end message
	Missing          // messages deleted: an id is nowhere in the recording
	Reordered        // ids out of order, or an id skipped here is elsewhere in the recording
	Modified         // content does not match its anchor's hash, bad signature, invalid line
)

var stateNames = [...]string{"OK", "UNSIGNED", "UNKNOWN_KEY", "TRUNCATED", "MISSING", "REORDERED", "MODIFIED"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// Report is the verification result of one recording.
type Report struct {
	State State
	Rec   string // recording id ("" for lines without rec)
	// Where the reported problem was found: 1-based line number in the
	// input, the tlog message id and the message's seq, its 1-based number
	// among the recording's lines (0 when unknown).
	Line   int
	ID     uint64
	Seq    uint64
	Detail string

	Messages int // lines of this recording
	// LastHash is the stored chain hash (hex) of the recording's last
	// line when that line is an anchor: what a purge record names.
	LastHash      string
	LastSignedSeq uint64 // highest anchor seq with a valid signature by a trusted key
	KeyIDs        []string
	Dropped       msg.Drop // totals of the rate limiter's drop records
	Meta          []json.RawMessage
}

// String is a one-line summary for people.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.recName(), r.State)
	if r.State != OK {
		if r.Line > 0 {
			fmt.Fprintf(&b, " at line %d (id %d, seq %d)", r.Line, r.ID, r.Seq)
		}
		fmt.Fprintf(&b, ": %s", r.Detail)
	}
	fmt.Fprintf(&b, "; %d message", r.Messages)
	if r.Messages != 1 {
		b.WriteByte('s')
	}
	if len(r.KeyIDs) > 0 {
		fmt.Fprintf(&b, ", keys %s, last signed seq %d", strings.Join(r.KeyIDs, ","), r.LastSignedSeq)
	}
	if r.Dropped != (msg.Drop{}) {
		fmt.Fprintf(&b, ", rate limit dropped %d messages (%d bytes)", r.Dropped.Messages, r.Dropped.Bytes)
	}
	return b.String()
}

func (r Report) recName() string {
	if r.Rec == "" {
		return "recording without rec id"
	}
	return "recording " + r.Rec
}

// MaxRecordings bounds the recordings one input may interleave: each costs
// about 2 KiB of state until the end, and a hostile input can open one per
// line. Files of the file writer hold one recording each.
const MaxRecordings = 100000

// Recordings verifies every recording in r against the trusted keys and
// returns one report per rec id, in order of first appearance. The error
// is only for failures to read r.
func Recordings(r io.Reader, trusted keys.Set) ([]Report, error) {
	size := 64 << 10
	if b, ok := r.(interface{ Len() int }); ok {
		// Data in memory (a small file read at once): no bigger buffer
		// than the data, whose zeroing would cost more than verifying.
		size = min(size, b.Len()+1)
	}
	lines := tlog.NewLineReader(r, size, tlog.MaxLine)
	v := NewVerifier(trusted)
	for {
		line, err := lines.ReadLine()
		if err == io.EOF {
			break
		}
		if err == nil {
			err = v.Line(line)
		}
		if err != nil {
			return nil, fmt.Errorf("verify: line %d: %w", lines.Line, err)
		}
	}
	return v.Reports(), nil
}

// Verifier verifies recordings a line at a time, as they arrive: a
// collector checks what a host sends while it is being written.
type Verifier struct {
	trusted keys.Set
	lp      lineParser
	order   []*group
	groups  map[string]*group
	prevRec string
	n       int // lines so far
}

// NewVerifier returns a Verifier that trusts the signatures of trusted.
func NewVerifier(trusted keys.Set) *Verifier {
	return &Verifier{trusted: trusted, groups: map[string]*group{}}
}

// Line verifies the next line, with its '\n' (only the input's last line
// may lack it). The error is for an input of more than MaxRecordings
// recordings; problems of the recordings are in the reports.
func (v *Verifier) Line(line []byte) error {
	v.n++
	e, perr := v.lp.line(line)
	if perr != nil && e.rec == "" {
		// A broken line's rec is guessed so the report lands on the
		// recording it most likely belongs to.
		var ok bool
		if e.rec, ok = tlog.GuessRec(line); !ok {
			e.rec = v.prevRec
		}
	}
	g := v.groups[e.rec]
	if g == nil {
		if len(v.order) == MaxRecordings {
			return fmt.Errorf("more than %d recordings in one input; verify them in parts", MaxRecordings)
		}
		g = newGroup(e.rec)
		v.groups[e.rec] = g
		v.order = append(v.order, g)
	}
	if perr != nil && !g.ended && !bytes.HasSuffix(line, []byte("\n")) {
		// The last line, unterminated: the writer stopped mid-line
		// (crash, full disk), the recording is cut short, not edited.
		g.tornLine, g.tornBytes = v.n, len(line)
	} else {
		g.add(v.n, line, &e, perr, v.trusted)
	}
	v.prevRec = e.rec
	return nil
}

// Reports returns one report per recording so far, in order of first
// appearance, as if the input ended here; more lines may follow.
func (v *Verifier) Reports() []Report {
	reports := make([]Report, len(v.order))
	for i, g := range v.order {
		// finish notes what only the end shows (truncation, gaps) in its
		// group: a copy keeps the Verifier going.
		c := *g
		reports[i] = c.finish()
	}
	return reports
}

// problem is the first occurrence of one state in a recording.
type problem struct {
	line   int
	id     uint64
	seq    uint64
	detail string
}

// gap is a run of ids skipped at a line; it is classified when the whole
// recording has been read: moved elsewhere or missing.
type gap struct {
	problem
	from, to uint64
}

type group struct {
	rep      Report
	problems [len(stateNames)]*problem
	anchors  int
	signed   bool
	ended    bool
	endID    uint64
	// The segment: the lines since the last anchor. h holds that anchor's
	// stored hash (zeros before the first) and every byte since.
	h         hash.Hash
	segLine   int    // input line of the segment's first line
	segSeq    int    // seq of the segment's first line
	segID     uint64 // id of the segment's first line
	segBroken bool   // ids in the segment are out of order or skip: the hash cannot match
	unchecked uint64 // messages in such segments: edits in them go unseen
	// The last anchor's stored seq and its place among the lines read.
	anchorSeq, anchorLines uint64
	hasID                  bool
	lastID                 uint64
	ids                    map[uint64]struct{}
	gaps                   []gap
	keys                   map[string]struct{}
	unsigned               []problem // first, end, drop and meta anchors without a signature
	// A last line without its newline that does not parse: where, and its
	// length.
	tornLine, tornBytes int
}

func newGroup(rec string) *group {
	// The maps are made when first needed: a hostile input can open a
	// recording per line.
	g := &group{rep: Report{Rec: rec}, h: sha256.New()}
	g.h.Write(make([]byte, sha256.Size))
	return g
}

// note records p as the state's problem unless one at an earlier line is
// known; line 0 (the recording as a whole) counts as latest.
func (g *group) note(s State, p problem) {
	if q := g.problems[s]; q == nil || (p.line > 0 && (q.line == 0 || p.line < q.line)) {
		g.problems[s] = &p
	}
}

// noteLine records a problem found at line n in e, the recording's seq'th line.
func (g *group) noteLine(s State, n int, e *entry, seq int, format string, args ...any) {
	g.note(s, problem{line: n, id: e.id, seq: uint64(seq), detail: fmt.Sprintf(format, args...)})
}

func (g *group) add(n int, line []byte, e *entry, perr error, trusted keys.Set) {
	g.rep.Messages++
	g.rep.LastHash = ""
	seq := g.rep.Messages // the line's place in the recording
	if g.segLine == 0 {
		g.segLine, g.segSeq, g.segID = n, seq, e.id
	}
	if perr != nil {
		g.h.Write(line)
		g.noteLine(Modified, n, e, seq, "%v", perr)
		return
	}
	if g.ended && e.id > g.endID {
		// Earlier ids after the end are out of order, which checkID tells.
		g.noteLine(Modified, n, e, seq, "message after the end of the recording")
	}
	g.checkID(n, e, seq)
	if e.plain {
		g.h.Write(line)
		return
	}
	g.anchors++
	g.rep.LastHash = string(e.HashHex)
	g.h.Write(line[:e.Hashed])
	var sum [sha256.Size]byte
	hashOK := [sha256.Size]byte(g.h.Sum(sum[:0])) == e.Hash
	switch {
	case g.segBroken:
		// Reported as reordered or missing; the content cannot be judged.
		g.unchecked += uint64(seq) - uint64(g.segSeq) + 1
	case !hashOK:
		// Reported at the segment's first line, by its id: the edit is
		// somewhere from there to the anchor.
		g.note(Modified, problem{line: g.segLine, id: g.segID, seq: uint64(g.segSeq),
			detail: fmt.Sprintf("messages %d to %d (lines %d to %d, ids %d to %d) do not match the hash of their anchor", g.segSeq, seq, g.segLine, n, g.segID, e.id)})
	case e.Seq-g.anchorSeq != uint64(seq)-g.anchorLines:
		// Relative to the anchor before: lines missing further back are
		// reported where they are missing.
		g.noteLine(Modified, n, e, seq, "anchor seq %d follows seq %d after %d messages", e.Seq, g.anchorSeq, uint64(seq)-g.anchorLines)
	}
	g.h.Reset()
	stored := e.Hash // a copy: e would escape through the hash.Hash
	g.h.Write(stored[:])
	g.segLine, g.segBroken = 0, false
	g.anchorSeq, g.anchorLines = e.Seq, uint64(seq)

	if e.End && !g.ended {
		g.ended, g.endID = true, e.id
	}
	g.rep.Dropped.Messages += e.Drop.Messages
	g.rep.Dropped.Bytes += e.Drop.Bytes
	if e.Meta != nil {
		g.rep.Meta = append(g.rep.Meta, e.Meta)
	}
	if e.Key != "" {
		g.signed = true
		if g.keys == nil {
			g.keys = map[string]struct{}{}
		}
		g.keys[e.Key] = struct{}{}
		g.checkSig(n, e, seq, hashOK, trusted)
	} else if e.Seq == 1 || e.End || e.Meta != nil || e.Drop != (msg.Drop{}) {
		g.unsigned = append(g.unsigned, problem{line: n, id: e.id, seq: uint64(seq)})
	}
}

// checkID checks that tlog ids rise by one from line to line; an anchor
// with a drop record accounts for the ids the rate limiter dropped before it.
func (g *group) checkID(n int, e *entry, seq int) {
	from := uint64(1) // the id expected unless the rate limiter dropped some
	if g.hasID {
		from = g.lastID + 1
	}
	next := from
	if !e.plain {
		next += e.Drop.Messages
	}
	switch {
	case g.hasID && e.id <= g.lastID:
		g.segBroken = true
		g.noteLine(Reordered, n, e, seq, "id %d comes after id %d: messages are out of order or repeated", e.id, g.lastID)
	case e.id != next:
		g.segBroken = true
		g.gaps = append(g.gaps, gap{problem{line: n, id: e.id, seq: uint64(seq)}, from, e.id - 1})
	}
	g.hasID, g.lastID = true, e.id
	if g.ids == nil {
		g.ids = map[uint64]struct{}{}
	}
	g.ids[e.id] = struct{}{}
}

func (g *group) checkSig(n int, e *entry, seq int, hashOK bool, trusted keys.Set) {
	pub, ok := trusted[e.Key]
	if !ok {
		g.noteLine(UnknownKey, n, e, seq, "signed by key %s, which is not trusted", e.Key)
		return
	}
	if !ed25519.Verify(pub, chain.SigInput(nil, e.rec, e.HashHex), e.Sig) {
		g.noteLine(Modified, n, e, seq, "signature by key %s does not verify", e.Key)
		return
	}
	if hashOK && e.Seq > g.rep.LastSignedSeq {
		g.rep.LastSignedSeq = e.Seq
	}
}

// present reports whether every id in [from, to] is in the recording,
// sorted holding the recording's distinct ids in ascending order.
func present(sorted []uint64, from, to uint64) bool {
	if to < from || to-from >= uint64(len(sorted)) {
		return false
	}
	i, _ := slices.BinarySearch(sorted, from)
	j, found := slices.BinarySearch(sorted, to)
	return found && uint64(j-i) == to-from
}

func (g *group) finish() Report {
	var sorted []uint64
	if len(g.gaps) > 0 {
		sorted = slices.Sorted(maps.Keys(g.ids))
	}
	for _, gp := range g.gaps {
		switch {
		case present(sorted, gp.from, gp.to):
			g.note(Reordered, withDetail(gp.problem, fmt.Sprintf("ids %d to %d belong before id %d but are elsewhere in the recording", gp.from, gp.to, gp.id)))
		case gp.from == 1:
			g.note(Missing, withDetail(gp.problem, fmt.Sprintf("recording starts at id %d: the messages before it are missing", gp.id)))
		default:
			g.note(Missing, withDetail(gp.problem, fmt.Sprintf("messages with ids %d to %d before id %d are missing", gp.from, gp.to, gp.id)))
		}
	}
	if g.signed {
		for _, u := range g.unsigned {
			g.note(Modified, withDetail(u, "first, end, drop or meta message of a signed recording is not signed"))
		}
	}
	torn := ""
	if g.tornLine != 0 {
		torn = fmt.Sprintf("the last line is cut off after %d bytes (its writer stopped mid-line)", g.tornBytes)
	}
	if g.anchors > 0 && !g.ended {
		tail := ""
		if g.segLine != 0 {
			tail = fmt.Sprintf("; the last %d messages are not covered by any hash", g.rep.Messages-g.segSeq+1)
		}
		if torn != "" {
			tail += "; " + torn
		}
		g.note(Truncated, problem{line: g.tornLine, seq: uint64(g.rep.Messages + 1), detail: fmt.Sprintf("no end message: the recording stops after seq %d, messages after seq %d are not covered by a trusted signature%s", g.rep.Messages, g.rep.LastSignedSeq, tail)})
	} else if torn != "" {
		g.note(Truncated, problem{line: g.tornLine, seq: uint64(g.rep.Messages + 1), detail: torn})
	}
	if g.anchors == 0 {
		g.note(Unsigned, problem{detail: "no integrity fields (plain tlog recording)"})
	} else if !g.signed {
		g.note(Unsigned, problem{detail: "hash chain without any signature"})
	}
	g.rep.KeyIDs = make([]string, 0, len(g.keys))
	for k := range g.keys {
		g.rep.KeyIDs = append(g.rep.KeyIDs, k)
	}
	sort.Strings(g.rep.KeyIDs)
	for s := Modified; s > OK; s-- {
		if p := g.problems[s]; p != nil {
			g.rep.State = s
			g.rep.Line, g.rep.ID, g.rep.Seq, g.rep.Detail = p.line, p.id, p.seq, p.detail
			if (s == Reordered || s == Missing) && g.unchecked > 0 {
				g.rep.Detail += fmt.Sprintf("; %d messages in runs out of order or incomplete could not be checked for edits", g.unchecked)
			}
			break
		}
	}
	return g.rep
}

func withDetail(p problem, detail string) problem {
	p.detail = detail
	return p
}
