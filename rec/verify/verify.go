// Package verify checks Vigil recordings: the SHA-256 hash chain, ed25519
// signatures and completeness, per recording (rec id) in a tlog JSON file.
package verify

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/msg"
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
	Missing          // messages deleted: a predecessor is nowhere in the recording
	Reordered        // linkage broken but the predecessor is elsewhere in the recording
	Modified         // content does not match its hash, bad signature, invalid line
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
	// input, the tlog message id and the chain seq (0 when unknown).
	Line   int
	ID     uint64
	Seq    uint64
	Detail string

	Messages      int    // lines of this recording
	LastSignedSeq uint64 // highest seq with a valid signature by a trusted key
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
	fmt.Fprintf(&b, "; %d messages", r.Messages)
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

// MaxLine bounds one input line; tlog lines are a few KiB.
const MaxLine = 64 << 20

// Recordings verifies every recording in r against the trusted keys and
// returns one report per rec id, in order of first appearance. The error
// is only for failures to read r.
func Recordings(r io.Reader, trusted keys.Set) ([]Report, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var order []*group
	groups := map[string]*group{}
	prevRec := ""
	for n := 1; ; n++ {
		line, err := readLine(br)
		if len(line) == 0 {
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("verify: line %d: %w", n, err)
			}
		}
		e, perr := parseLine(line)
		if perr != nil && e.rec == "" {
			// A broken line's rec is guessed so the report lands on the
			// recording it most likely belongs to.
			e.rec = guessRec(line, prevRec)
		}
		g := groups[e.rec]
		if g == nil {
			g = newGroup(e.rec)
			groups[e.rec] = g
			order = append(order, g)
		}
		g.add(n, &e, perr, trusted)
		prevRec = e.rec
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("verify: line %d: %w", n, err)
		}
	}
	reports := make([]Report, len(order))
	for i, g := range order {
		reports[i] = g.finish()
	}
	return reports, nil
}

// readLine returns the next line including its '\n' (absent only at EOF).
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLine {
			return nil, fmt.Errorf("longer than %d bytes", MaxLine)
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

var recRE = regexp.MustCompile(`"rec":"([^"\\]*)"`)

func guessRec(line []byte, prev string) string {
	if m := recRE.FindSubmatch(line); m != nil {
		return string(m[1])
	}
	return prev
}

// problem is the first occurrence of one state in a recording.
type problem struct {
	line   int
	id     uint64
	seq    uint64
	detail string
}

// link is a prev reference that did not point at the line before it; it is
// classified when the whole recording has been read.
type link struct {
	problem
	prev [sha256.Size]byte
}

type group struct {
	rep      Report
	problems [len(stateNames)]*problem
	chained  int
	first    int      // line of the first chained message
	plain    *problem // first line without vigil object
	signed   bool
	ended    bool
	maxSeq   uint64
	// The last well-formed chained line, for linkage.
	hasLast  bool
	lastHash [sha256.Size]byte
	lastSeq  uint64
	lastEnd  bool
	hashes   map[[sha256.Size]byte]struct{}
	links    []link
	keys     map[string]struct{}
	unsigned []problem // end/drop/meta lines without a signature
}

func newGroup(rec string) *group {
	return &group{rep: Report{Rec: rec}, hashes: map[[sha256.Size]byte]struct{}{}, keys: map[string]struct{}{}}
}

// note records p as the state's problem unless one at an earlier line is
// known; line 0 (the recording as a whole) counts as latest.
func (g *group) note(s State, p problem) {
	if q := g.problems[s]; q == nil || (p.line > 0 && (q.line == 0 || p.line < q.line)) {
		g.problems[s] = &p
	}
}

// noteLine records a problem found at line n in e.
func (g *group) noteLine(s State, n int, e *entry, format string, args ...any) {
	g.note(s, problem{line: n, id: e.id, seq: e.seq, detail: fmt.Sprintf(format, args...)})
}

func (g *group) add(n int, e *entry, perr error, trusted keys.Set) {
	g.rep.Messages++
	if perr != nil {
		g.noteLine(Modified, n, e, "%v", perr)
		return
	}
	if e.plain {
		if g.plain == nil {
			g.plain = &problem{line: n, id: e.id, detail: "line without integrity fields in a chained recording"}
		}
		return
	}
	if g.chained == 0 {
		g.first = n
	}
	g.chained++
	if !e.hashOK {
		g.noteLine(Modified, n, e, "hash does not match the message content")
	}
	if e.seq > g.maxSeq {
		g.maxSeq = e.seq
	}
	g.hashes[e.hash] = struct{}{}
	switch {
	case !g.hasLast && e.prev == [sha256.Size]byte{}:
		if e.seq != 1 {
			g.noteLine(Modified, n, e, "first message has seq %d", e.seq)
		}
	case g.hasLast && e.prev == g.lastHash:
		if g.lastEnd {
			g.noteLine(Modified, n, e, "message after the end of the recording")
		} else if e.seq != g.lastSeq+1 {
			g.noteLine(Modified, n, e, "seq %d follows seq %d", e.seq, g.lastSeq)
		}
	default:
		g.links = append(g.links, link{problem{line: n, id: e.id, seq: e.seq}, e.prev})
	}
	g.ended = g.ended || e.end
	g.rep.Dropped.Messages += e.drop.Messages
	g.rep.Dropped.Bytes += e.drop.Bytes
	if e.meta != nil {
		g.rep.Meta = append(g.rep.Meta, e.meta)
	}
	if e.key != "" {
		g.signed = true
		g.keys[e.key] = struct{}{}
		g.checkSig(n, e, trusted)
	} else if e.end || e.meta != nil || e.drop != (msg.Drop{}) {
		g.unsigned = append(g.unsigned, problem{line: n, id: e.id, seq: e.seq})
	}
	g.hasLast, g.lastHash, g.lastSeq, g.lastEnd = true, e.hash, e.seq, e.end
}

func (g *group) checkSig(n int, e *entry, trusted keys.Set) {
	pub, ok := trusted[e.key]
	if !ok {
		g.noteLine(UnknownKey, n, e, "signed by key %s, which is not trusted", e.key)
		return
	}
	if !ed25519.Verify(pub, chain.SigInput(nil, e.rec, e.hashHex), e.sig) {
		g.noteLine(Modified, n, e, "signature by key %s does not verify", e.key)
		return
	}
	if e.hashOK && e.seq > g.rep.LastSignedSeq {
		g.rep.LastSignedSeq = e.seq
	}
}

func (g *group) finish() Report {
	for _, l := range g.links {
		_, found := g.hashes[l.prev]
		if found || l.prev == [sha256.Size]byte{} {
			g.note(Reordered, withDetail(l.problem, fmt.Sprintf("seq %d is out of order: its predecessor is elsewhere in the recording", l.seq)))
		} else if l.line == g.first {
			g.note(Missing, withDetail(l.problem, fmt.Sprintf("recording starts at seq %d: the messages before it are missing", l.seq)))
		} else {
			g.note(Missing, withDetail(l.problem, fmt.Sprintf("the message before seq %d is missing", l.seq)))
		}
	}
	if g.signed {
		for _, u := range g.unsigned {
			g.note(Modified, withDetail(u, "end, drop or meta message of a signed recording is not signed"))
		}
	}
	if g.chained > 0 && !g.ended {
		g.note(Truncated, problem{detail: fmt.Sprintf("no end message: the recording stops after seq %d, messages after seq %d are not covered by a trusted signature", g.maxSeq, g.rep.LastSignedSeq)})
	}
	switch {
	case g.chained == 0:
		g.note(Unsigned, problem{detail: "no integrity fields (plain tlog recording)"})
	case g.plain != nil:
		g.note(Modified, *g.plain)
	}
	if g.chained > 0 && !g.signed {
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
			break
		}
	}
	return g.rep
}

func withDetail(p problem, detail string) problem {
	p.detail = detail
	return p
}
