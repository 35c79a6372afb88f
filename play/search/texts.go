package search

import (
	"bytes"
	"hash/maphash"
	"strings"

	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Texts gives, line by line of a recording, the texts a search of it
// checks: every screen line as it changes and as it leaves the screen, and
// every typed line at its longest before each deletion and at its end. A
// pattern that search finds in the recording is in one of them: an index
// of them (the collector's) tells which recordings are worth searching.
//
// Texts that another text already given contains at its start, or that
// came shortly before, are left out: a line being typed is echoed once per
// key, and only its longest version is needed.
type Texts struct {
	emit func(string)
	recs map[string]*textState // by recording id: a file may hold several
	// order has recs' states in order of appearance: Flush, called at
	// every text given, goes through them without a map's iteration.
	order []*textState
	last  *textState // the last recording's: messages without rec go on with it
	// incomplete is set when a recording's texts are no longer given: more
	// recordings in the file, or a bigger window, than Texts keeps screens
	// for (a host could otherwise make the collector keep thousands).
	incomplete bool
	dec        tlog.Decoder
	msg        tlog.Message
	pending    string // the last text, not given yet: the next may extend it
	// given has the hashes of the texts given last, the four latest of
	// each set their top bits name: a text is left out while its set
	// holds it, which a screen or two of texts later it nearly always
	// does (Changed gives each line on the screen, which is given again
	// when it leaves). Scanning the last 64 given took twice as long.
	given [256][4]uint64
	seed  maphash.Seed
}

// textState is one recording's screen and typed line.
type textState struct {
	scr        *screen.Screen
	dropped    bool // its window was too big: no more texts of it
	winKnown   bool
	cols, rows int
	typed      inputSearch
}

// Bounds on what Texts keeps: screens of at most maxTextsCells cells (a
// 400x100 window) for at most maxTextsRecs recordings of a file.
const (
	maxTextsRecs  = 2
	maxTextsCells = 40000
)

// Incomplete reports whether some texts were not given: the recording
// must be searched whatever its texts say.
func (x *Texts) Incomplete() bool { return x.incomplete }

// Several reports whether the lines held more than one recording.
func (x *Texts) Several() bool { return len(x.recs) > 1 }

// NewTexts returns a Texts that gives each text to emit.
func NewTexts(emit func(string)) *Texts {
	return &Texts{emit: emit, recs: map[string]*textState{}, seed: maphash.MakeSeed()}
}

// Line reads one line of the recording (with or without its '\n'). A line
// that does not decode gives nothing: search stops there, so nothing
// after it can be a hit it finds either.
func (x *Texts) Line(line []byte) {
	if x.dec.Decode(bytes.TrimSuffix(line, []byte("\n")), &x.msg) != nil {
		return
	}
	st := x.last
	if x.msg.Rec != "" || st == nil {
		// As the reader: a message without rec is the recording's
		// before it.
		st = x.recs[x.msg.Rec]
	}
	if st == nil {
		if len(x.recs) == maxTextsRecs {
			x.incomplete = true
			return
		}
		st = &textState{}
		st.typed.onPeak = x.add
		x.recs[x.msg.Rec] = st
		x.order = append(x.order, st)
	}
	x.last = st
	if st.dropped {
		return
	}
	for _, ev := range x.msg.Events {
		switch ev.Kind {
		case tlog.KindWindow:
			// As reader.Events: a restated size is no event.
			if st.winKnown && ev.Cols == st.cols && ev.Rows == st.rows {
				continue
			}
			st.winKnown, st.cols, st.rows = true, ev.Cols, ev.Rows
			if min(ev.Cols, screen.MaxCols)*min(ev.Rows, screen.MaxRows) > maxTextsCells {
				st.scr, st.dropped, x.incomplete = nil, true, true
				return
			}
			if st.scr == nil {
				x.initScreen(st, ev.Cols, ev.Rows)
			} else {
				st.scr.Resize(ev.Cols, ev.Rows)
			}
		case tlog.KindOut:
			if st.scr == nil {
				x.initScreen(st, 0, 0)
			}
			st.scr.Write(ev.Data)
			st.scr.Changed(func(text string, _ bool) bool {
				x.add(text)
				return true
			})
		case tlog.KindIn:
			st.typed.write(ev.T, ev.Data, func(string) bool { return false })
		}
	}
}

func (x *Texts) initScreen(st *textState, cols, rows int) {
	st.scr = screen.New(cols, rows)
	st.scr.OnScroll = func(l screen.Line) { x.add(l.Text) }
	st.scr.OnClear = func(ls []screen.Line) {
		for _, l := range ls {
			x.add(l.Text)
		}
	}
}

// add takes a text: it replaces the pending one when it extends it, else
// the pending one is given and it waits in its place.
func (x *Texts) add(text string) {
	if text == "" || strings.HasPrefix(x.pending, text) {
		return
	}
	if strings.HasPrefix(text, x.pending) {
		x.pending = text
		return
	}
	x.Flush()
	x.pending = text
}

// Flush gives the pending text, and the typed lines' current versions:
// what Line has read so far is all in the texts given.
func (x *Texts) Flush() {
	for _, st := range x.order {
		if len(st.typed.line) > 0 {
			x.give(string(st.typed.line))
		}
	}
	x.give(x.pending)
	x.pending = ""
}

// give emits text unless it was given shortly before.
func (x *Texts) give(text string) {
	if text == "" {
		return
	}
	h := maphash.String(x.seed, text) | 1 // no text's is an empty slot's
	set := &x.given[h>>56]
	if set[0] == h || set[1] == h || set[2] == h || set[3] == h {
		return
	}
	copy(set[1:], set[:3])
	set[0] = h
	x.emit(text)
}
