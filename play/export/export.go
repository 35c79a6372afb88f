// Package export converts recordings read by play/reader into other
// formats: the raw output byte stream, asciicast v2 and v3 (asciinema), and
// JSON lines of decoded events.
package export

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/play/cmdtimeline"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Format names an export format.
type Format string

// Formats.
const (
	Raw         Format = "raw"          // the recorded output bytes, exactly
	Asciicast   Format = "asciicast"    // asciicast v2
	AsciicastV3 Format = "asciicast-v3" // asciicast v3
	JSON        Format = "json"         // one decoded event per line
	Text        Format = "text"         // the readable transcript (text.go)
)

// Formats lists the formats in the order help texts show them.
var Formats = []Format{Raw, Asciicast, AsciicastV3, Text, JSON}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown export format %q (want raw, asciicast, asciicast-v3, text or json)", s)
}

// Options control an export.
type Options struct {
	Format Format
	// Input adds the recorded input to asciicast exports as "i" events
	// (JSON exports always include it).
	Input bool
	// Cols and Rows are the terminal size when the recording has no
	// window record before its first output; 0 means 80x24.
	Cols, Rows int
	// Filtered passes the output of JSON exports through play/termfilter,
	// as play writes it to a terminal: a viewer rendering it (the web
	// page's terminal) gets nothing that makes it answer or set the
	// clipboard, and shows what the screen model and its repaints show.
	Filtered bool
	// Commands, if set, is the recording's command log, which a JSON
	// export of the whole recording then holds (commands.go).
	Commands *cmdtimeline.Timeline
}

// Write exports everything r yields to w. On malformed input it writes all
// that came before, then returns the reader's error.
func Write(w io.Writer, r *reader.Reader, o Options) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	var err error
	switch o.Format {
	case Raw:
		err = writeRaw(bw, r)
	case Asciicast, AsciicastV3:
		err = writeAsciicast(bw, r, o)
	case JSON:
		err = writeJSON(bw, r, o)
	case Text:
		err = writeText(bw, r, o)
	default:
		err = fmt.Errorf("unknown export format %q", o.Format)
	}
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	return err
}

func writeRaw(w *bufio.Writer, r *reader.Reader) error {
	for ev, err := range r.Events() {
		if err != nil {
			return err
		}
		if ev.Kind == tlog.KindOut {
			if _, err := w.Write(ev.Data); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
	}
	return nil
}

// appendSeconds formats a duration as seconds with millisecond precision,
// the resolution of tlog times.
func appendSeconds(b []byte, d time.Duration) []byte {
	ms := d.Milliseconds()
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	f := ms % 1000
	b = append(b, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	return b
}

// writeAsciicast writes asciicast v2 or v3. Window sizes are those the
// text export models (screen.FitSize: an unknown size keeps the last one,
// a huge one is cut), so that a player of the export does not allocate a
// screen of 65535×65535.
func writeAsciicast(w *bufio.Writer, r *reader.Reader, o Options) error {
	cols, rows := screen.FitSize(o.Cols, o.Rows, 0, 0)
	var start time.Time
	var term string
	first, err := r.Peek()
	if err != nil && err != io.EOF {
		return err
	}
	if first != nil {
		start, term = first.Time, first.Term
		// tlog writes the window as the first record of a terminal
		// recording, so the first message has it when there is one.
		for _, ev := range first.Events {
			if ev.Kind == tlog.KindWindow {
				cols, rows = screen.FitSize(ev.Cols, ev.Rows, cols, rows)
				break
			}
			if ev.Kind == tlog.KindOut {
				break
			}
		}
	}
	v3 := o.Format == AsciicastV3
	b := make([]byte, 0, 4096)
	if v3 {
		b = fmt.Appendf(b, `{"version":3,"term":{"cols":%d,"rows":%d`, cols, rows)
		if term != "" {
			b = appendJSONString(append(b, `,"type":`...), []byte(term))
		}
		b = append(b, '}')
	} else {
		b = fmt.Appendf(b, `{"version":2,"width":%d,"height":%d`, cols, rows)
	}
	if !start.IsZero() {
		b = fmt.Appendf(b, `,"timestamp":%d`, start.Unix())
	}
	if term != "" {
		b = appendJSONString(append(b, `,"env":{"TERM":`...), []byte(term))
		b = append(b, '}')
	}
	b = append(b, "}\n"...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	// Event times are whole milliseconds, so v3 intervals computed from the
	// absolute times are exact: the rounding carried forward is always zero
	// and the sum of the intervals equals the recording's timeline.
	var prev time.Duration
	exit := -1 // as the end message states it
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if m.Vigil != nil {
			if e, ok := endExit(m.Vigil); ok {
				exit = e
			}
		}
		if err := writeEvents(w, m, o.Input, v3, &prev, &cols, &rows); err != nil {
			return err
		}
		if exit >= 0 && v3 {
			// When the session ended: its last event, or the end message.
			end := max(m.Pos, prev)
			b = fmt.Appendf(appendSeconds(append(b[:0], '['), end-prev), `,"x","%d"]`+"\n", exit)
			if _, err := w.Write(b); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			prev, exit = end, -1
		}
	}
	return nil
}

// endExit is the exit status in a Vigil end message's "vigil" object.
func endExit(vigil []byte) (int, bool) {
	if !bytes.Contains(vigil, []byte(`"exit"`)) {
		return 0, false
	}
	var v struct {
		End  bool `json:"end"`
		Meta struct {
			Exit *int `json:"exit"`
		} `json:"meta"`
	}
	if json.Unmarshal(vigil, &v) != nil || !v.End || v.Meta.Exit == nil || *v.Meta.Exit < 0 {
		return 0, false
	}
	return *v.Meta.Exit, true
}

// writeEvents writes one message's events; prev is the time of the last
// event written (v3 times are intervals), cols and rows the window.
func writeEvents(w *bufio.Writer, m *reader.Message, input, v3 bool, prev *time.Duration, cols, rows *int) error {
	var b []byte
	for _, ev := range m.Events {
		b = b[:0]
		t := ev.T
		if v3 {
			t -= *prev
		}
		switch ev.Kind {
		case tlog.KindOut:
			b = appendJSONString(append(appendSeconds(append(b, '['), t), `,"o",`...), ev.Data)
		case tlog.KindIn:
			if !input {
				continue
			}
			b = appendJSONString(append(appendSeconds(append(b, '['), t), `,"i",`...), ev.Data)
		case tlog.KindWindow:
			c, r := screen.FitSize(ev.Cols, ev.Rows, *cols, *rows)
			if c == *cols && r == *rows {
				continue
			}
			*cols, *rows = c, r
			b = fmt.Appendf(appendSeconds(append(b, '['), t), `,"r","%dx%d"`, c, r)
		}
		b = append(b, "]\n"...)
		*prev = ev.T
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

func writeJSON(w *bufio.Writer, r *reader.Reader, o Options) error {
	j := newJSONWriter(w, o)
	var items []cmdtimeline.Item
	if tl := o.Commands; tl != nil {
		if err := j.members(0, "commands", tl.Report); err != nil {
			return err
		}
		// In time order: a loss is written when it is noticed, which can
		// be after commands that ran before it.
		items = tl.Items()
		slices.SortStableFunc(items, func(a, b cmdtimeline.Item) int { return cmp.Compare(a.Offset, b.Offset) })
	}
	for ev, rerr := range r.Events() {
		if rerr != nil {
			return rerr
		}
		var err error
		if items, err = j.commands(o.Commands, items, ev.T); err != nil {
			return err
		}
		if err := j.event(ev); err != nil {
			return err
		}
	}
	_, err := j.commands(o.Commands, items, math.MaxInt64)
	return err
}

// appendData appends a JSON event's data: "data" as a string when it is
// valid UTF-8, else "data_base64".
func appendData(b, data []byte) []byte {
	if utf8.Valid(data) {
		return appendJSONString(append(b, `,"data":`...), data)
	}
	b = append(b, `,"data_base64":"`...)
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends p as a JSON string. Invalid UTF-8 becomes U+FFFD,
// one per maximal invalid subpart (Unicode's recommended practice, and how
// tlog itself splits invalid input), so the text matches tlog's out_txt.
func appendJSONString(b, p []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r != utf8.RuneError || size > 1 {
			b = append(b, p[i:i+size]...)
			i += size
			continue
		}
		b = utf8.AppendRune(b, utf8.RuneError)
		i += invalidLen(p[i:])
	}
	return append(b, '"')
}

// invalidLen is the length of the maximal subpart of an ill-formed sequence
// at the start of p: the longest prefix of a well-formed sequence, at
// least one byte.
func invalidLen(p []byte) int {
	var want int
	lo, hi := byte(0x80), byte(0xbf)
	switch c := p[0]; {
	case c >= 0xc2 && c <= 0xdf:
		want = 2
	case c == 0xe0:
		want, lo = 3, 0xa0
	case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
		want = 3
	case c == 0xed:
		want, hi = 3, 0x9f
	case c == 0xf0:
		want, lo = 4, 0x90
	case c >= 0xf1 && c <= 0xf3:
		want = 4
	case c == 0xf4:
		want, hi = 4, 0x8f
	default:
		return 1
	}
	n := 1
	for n < want && n < len(p) && p[n] >= lo && p[n] <= hi {
		n++
		lo, hi = 0x80, 0xbf
	}
	return n
}
