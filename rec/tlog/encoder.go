// Package tlog encodes terminal I/O into tlog JSON log messages (format
// version 2.3), byte-compatible with tlog-rec 12, and decodes them back.
//
// The encoder is a port of tlog's json_sink/json_chunk/json_stream logic
// (space reservation, runs, delays, window restating, UTF-8 splitting) built
// for speed: JSON is assembled by hand into buffers allocated once.
package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/rec/msg"
)

// MinPayload is tlog's smallest allowed payload; every single character
// record (with a restated window) fits into it, so splitting always advances.
const MinPayload = 32

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("tlog: encoder is closed")

// Meta is the per-recording metadata repeated in every message.
type Meta struct {
	Host, Rec, User, Term string
	Session               uint32
	// Start is the wall-clock time of the recording's first packet (t=0);
	// "time" = Start + pos, formatted %d.%03d.
	Start time.Time
}

// Options select the payload limit and what is logged.
type Options struct {
	Payload               int // max encoded payload, >= MinPayload
	Input, Output, Window bool
}

// window record state, as tlog's TLOG_JSON_CHUNK_WINDOW_STATE_*.
const (
	winUnknown  = iota // no window seen yet
	winKnown           // known, not yet restated in the current message
	winReserved        // restatement reserved, written before the next timing record
	winWritten         // written in the current message
)

// stream is one direction (input or output) of the current message.
type stream struct {
	txt            []byte // escaped text
	bin            []byte // decimal bytes joined by ','
	txtRun, txtDig int    // characters in the open run; next run length needing a digit
	binRun, binDig int    // same for the binary part of an invalid run
	valid, invalid byte   // run markers: '<'/'[' or '>'/']'
	u              utf8Acc
	ts             time.Duration // time of the last byte added to u
}

// opKind names a deferred operation in the backlog.
type opKind uint8

const (
	opIn opKind = iota
	opOut
	opWindow
)

// pendingOp is input accepted while the writer was failing, encoded once the
// stalled message is delivered.
type pendingOp struct {
	kind       opKind
	t          time.Duration
	data       []byte
	cols, rows int
}

// Encoder turns timed terminal I/O into tlog JSON messages handed to a
// msg.Writer. It is not safe for concurrent use.
//
// Writer errors: every byte passed to Input/Output (and every Window) is
// accepted even when the call returns an error. The error only reports that
// a message could not be delivered; that message keeps its ID and contents
// and is retried first by the next call (Input, Output, Window, Flush or
// Close); data that could not be encoded yet is copied into a backlog and
// encoded, in order, after the retry succeeds. Callers must therefore never
// resubmit data; to keep retrying, call Flush or Close again.
type Encoder struct {
	opt Options
	w   msg.Writer
	m   msg.Message

	prefix []byte // {"ver":...,"session":N,"id":
	line   []byte
	timing []byte
	in     stream
	out    stream

	size, rem int // payload size and what is not yet reserved

	started bool          // a logged event fixed the recording origin
	origin  time.Duration // t of the first logged event (tlog's "start")
	start   time.Time     // wall clock at t=0

	gotTs           bool // the current message has an event
	firstTs, lastTs time.Duration
	floor           time.Duration // latest event time of the delivered messages

	win          int
	lastW, lastH int

	id uint64

	stalled             bool // current message must be delivered before anything else
	stallFinal, stallCk bool
	backlog             []pendingOp
	closed, cutDone     bool
	done                bool // final message delivered
}

// NewEncoder creates an encoder writing to w. A payload below MinPayload is
// raised to MinPayload (tlog's minimum). Invalid UTF-8 in the metadata
// strings is replaced by U+FFFD so every line stays valid JSON.
func NewEncoder(m Meta, o Options, w msg.Writer) *Encoder {
	if o.Payload < MinPayload {
		o.Payload = MinPayload
	}
	e := &Encoder{
		opt:    o,
		w:      w,
		size:   o.Payload,
		rem:    o.Payload,
		start:  m.Start,
		id:     1,
		timing: make([]byte, 0, o.Payload),
		in:     newStream(o.Payload, '<', '['),
		out:    newStream(o.Payload, '>', ']'),
	}
	p := make([]byte, 0, 128+len(m.Host)+len(m.Rec)+len(m.User)+len(m.Term))
	p = append(p, `{"ver":"2.3","host":"`...)
	p = appendEscString(p, m.Host)
	p = append(p, `","rec":"`...)
	p = appendEscString(p, m.Rec)
	p = append(p, `","user":"`...)
	p = appendEscString(p, m.User)
	p = append(p, `","term":"`...)
	p = appendEscString(p, m.Term)
	p = append(p, `","session":`...)
	p = strconv.AppendUint(p, uint64(m.Session), 10)
	p = append(p, `,"id":`...)
	e.prefix = p
	// Fixed metadata + numbers + field names + the payload itself.
	e.line = make([]byte, 0, len(p)+256+o.Payload)
	e.m = msg.Message{Rec: m.Rec, User: m.User, Session: m.Session}
	return e
}

func newStream(size int, valid, invalid byte) stream {
	return stream{
		txt:     make([]byte, 0, size),
		bin:     make([]byte, 0, size),
		valid:   valid,
		invalid: invalid,
	}
}

// Window records a terminal size change at t. It is ignored when window
// logging is off or the size equals the last recorded one.
func (e *Encoder) Window(t time.Duration, cols, rows int) error {
	if !e.opt.Window {
		return nil
	}
	if cols < 0 || rows < 0 || cols > MaxWindow || rows > MaxWindow {
		return fmt.Errorf("tlog: window %dx%d out of range 0..%d", cols, rows, MaxWindow)
	}
	if e.closed {
		return ErrClosed
	}
	e.begin(t)
	if e.stalled || len(e.backlog) > 0 {
		e.backlog = append(e.backlog, pendingOp{kind: opWindow, t: t, cols: cols, rows: rows})
		return e.resume()
	}
	if err := e.window(t, cols, rows); err != nil {
		// The window did not get in; keep it for after the retry.
		e.backlog = append(e.backlog, pendingOp{kind: opWindow, t: t, cols: cols, rows: rows})
		return err
	}
	return nil
}

// Input records bytes typed by the user at t (ignored unless input logging
// is on; ignored input does not move the recording's origin, as in tlog).
func (e *Encoder) Input(t time.Duration, p []byte) error {
	if !e.opt.Input {
		return nil
	}
	return e.write(opIn, &e.in, t, p)
}

// Output records bytes written to the terminal at t.
func (e *Encoder) Output(t time.Duration, p []byte) error {
	if !e.opt.Output {
		return nil
	}
	return e.write(opOut, &e.out, t, p)
}

func (e *Encoder) write(k opKind, s *stream, t time.Duration, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if e.closed {
		return ErrClosed
	}
	e.begin(t)
	if e.stalled || len(e.backlog) > 0 {
		e.backlog = append(e.backlog, pendingOp{kind: k, t: t, data: bytes.Clone(p)})
		return e.resume()
	}
	rest, err := e.encode(s, t, p)
	if err != nil && len(rest) > 0 {
		e.backlog = append(e.backlog, pendingOp{kind: k, t: t, data: bytes.Clone(rest)})
	}
	return err
}

// Pending reports whether a partially filled message is waiting and the
// time its first event was buffered (the latency timer runs from it).
func (e *Encoder) Pending() (since time.Duration, ok bool) {
	return e.firstTs, e.gotTs
}

// Flush writes the partially filled message now, if there is one.
// Incomplete UTF-8 sequences stay held back (they are not part of any
// message yet). checkpoint is copied to msg.Message.Checkpoint.
func (e *Encoder) Flush(checkpoint bool) error {
	if e.done {
		return nil
	}
	if err := e.resume(); err != nil {
		return err
	}
	if !e.gotTs {
		return nil
	}
	return e.emit(false, checkpoint)
}

// Close flushes incomplete UTF-8 as binary and writes the last message with
// Final set. If nothing is pending it still writes a final message at t
// (timing empty or just the restated window) so every recording ends with a
// Final message. After a writer error Close may be called again to retry.
func (e *Encoder) Close(t time.Duration) error {
	if e.done {
		return nil
	}
	e.closed = true
	e.begin(t)
	if err := e.resume(); err != nil {
		return err
	}
	if e.done { // the retried message was the final one
		return nil
	}
	for !e.cutDone {
		if e.cut() {
			e.cutDone = true
			break
		}
		if err := e.emit(false, false); err != nil {
			return err
		}
	}
	if !e.gotTs {
		e.gotTs = true
		e.firstTs, e.lastTs = t, t
		if e.win == winKnown {
			e.timing = appendWindow(e.timing, e.lastW, e.lastH)
			e.rem -= windowLen(e.lastW, e.lastH)
			e.win = winWritten
		}
	}
	if err := e.emit(true, false); err != nil {
		return err
	}
	e.done = true
	return nil
}

// begin fixes the recording origin at the first logged event, like tlog's
// json_sink which takes "start" from the first packet it is given.
func (e *Encoder) begin(t time.Duration) {
	if !e.started {
		e.started = true
		e.origin = t
	}
}

// resume delivers a stalled message and then the backlog.
func (e *Encoder) resume() error {
	if e.stalled {
		if err := e.send(e.stallFinal, e.stallCk); err != nil {
			return err
		}
		e.stalled = false
		if e.stallFinal {
			e.done = true
			return nil
		}
	}
	for len(e.backlog) > 0 {
		op := &e.backlog[0]
		var err error
		switch op.kind {
		case opWindow:
			err = e.window(op.t, op.cols, op.rows)
		case opIn:
			op.data, err = e.encode(&e.in, op.t, op.data)
		case opOut:
			op.data, err = e.encode(&e.out, op.t, op.data)
		}
		if err != nil && (op.kind == opWindow || len(op.data) > 0) {
			return err // op is still (partly) waiting
		}
		e.backlog = e.backlog[1:]
		if err != nil {
			return err // op got in; only the message after it failed
		}
	}
	e.backlog = nil
	return nil
}

// encode writes p of one stream, emitting full messages as needed. On a
// writer error it returns the part of p not yet encoded.
func (e *Encoder) encode(s *stream, t time.Duration, p []byte) ([]byte, error) {
	for {
		n, full := e.writeStream(s, t, p)
		p = p[n:]
		if !full {
			return nil, nil
		}
		if err := e.emit(false, false); err != nil {
			return p, err
		}
	}
}

// window records a window change, emitting a full message if needed.
func (e *Encoder) window(t time.Duration, cols, rows int) error {
	if e.win >= winKnown && cols == e.lastW && rows == e.lastH {
		return nil
	}
	for !e.writeWindow(t, cols, rows) {
		if err := e.emit(false, false); err != nil {
			return err
		}
	}
	return nil
}

// emit delivers the current message; on failure the encoder stalls on it.
func (e *Encoder) emit(final, checkpoint bool) error {
	if err := e.send(final, checkpoint); err != nil {
		e.stalled, e.stallFinal, e.stallCk = true, final, checkpoint
		return err
	}
	return nil
}

// send formats the current message and hands it to the writer; on success
// the message is cleared and the ID advances.
func (e *Encoder) send(final, checkpoint bool) error {
	e.flushRuns(&e.in)
	e.flushRuns(&e.out)
	pos := (e.firstTs - e.origin) / time.Millisecond
	if pos < 0 {
		pos = 0
	}
	l := append(e.line[:0], e.prefix...)
	l = strconv.AppendUint(l, e.id, 10)
	l = append(l, `,"pos":`...)
	l = strconv.AppendInt(l, int64(pos), 10)
	l = append(l, `,"time":`...)
	l = appendTime(l, e.start.Add(e.firstTs))
	l = append(l, `,"timing":"`...)
	l = append(l, e.timing...)
	l = append(l, `","in_txt":"`...)
	l = append(l, e.in.txt...)
	l = append(l, `","in_bin":[`...)
	l = append(l, e.in.bin...)
	l = append(l, `],"out_txt":"`...)
	l = append(l, e.out.txt...)
	l = append(l, `","out_bin":[`...)
	l = append(l, e.out.bin...)
	l = append(l, "]}\n"...)
	e.line = l
	e.m.Line = l
	e.m.ID = e.id
	e.m.Pos = pos * time.Millisecond
	e.m.Final = final
	e.m.Checkpoint = checkpoint
	if err := e.w.WriteMessage(&e.m); err != nil {
		return fmt.Errorf("tlog: writing message %d (pos %d): %w", e.id, pos, err)
	}
	e.id++
	e.reset()
	return nil
}

// reset empties the current message (tlog_json_chunk_empty).
func (e *Encoder) reset() {
	e.rem = e.size
	e.timing = e.timing[:0]
	for _, s := range [2]*stream{&e.in, &e.out} {
		s.txt, s.bin = s.txt[:0], s.bin[:0]
		s.txtRun, s.binRun = 0, 0
	}
	e.floor = max(e.floor, e.lastTs)
	e.gotTs = false
	e.firstTs, e.lastTs = 0, 0
	if e.win > winKnown {
		e.win = winKnown
	}
}

// appendTime formats a wall-clock time as tlog does: seconds.milliseconds.
func appendTime(b []byte, t time.Time) []byte {
	sec, ms := t.Unix(), t.Nanosecond()/int(time.Millisecond)
	if sec < 0 { // a zero/pre-epoch Start; tlog-play rejects negative times
		sec, ms = 0, 0
	}
	b = strconv.AppendInt(b, sec, 10)
	return append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

// timingWindowFirst writes a reserved window restatement before the
// message's first timing record.
func (e *Encoder) timingWindowFirst() {
	if e.win == winReserved {
		e.timing = appendWindow(e.timing, e.lastW, e.lastH)
		e.win = winWritten
	}
}

// flushRuns writes the open run record of s and closes the run
// (tlog_json_stream_write_meta). Its space was reserved when the run grew.
func (e *Encoder) flushRuns(s *stream) {
	if s.txtRun != 0 {
		e.timingWindowFirst()
		m := s.valid
		if s.binRun != 0 {
			m = s.invalid
		}
		e.timing = append(e.timing, m)
		e.timing = strconv.AppendUint(e.timing, uint64(s.txtRun), 10)
	}
	if s.binRun != 0 {
		e.timing = append(e.timing, '/')
		e.timing = strconv.AppendUint(e.timing, uint64(s.binRun), 10)
	}
	s.txtRun, s.binRun = 0, 0
}

// delayMs returns the whole milliseconds a record at ts adds after the
// previous event (0: no delay record).
func (e *Encoder) delayMs(ts time.Duration) int64 {
	if !e.gotTs || ts <= e.lastTs {
		return 0
	}
	return int64((ts - e.lastTs) / time.Millisecond)
}

// advance moves the message clock to ts, writing a delay record (after
// closing both streams' runs) if a whole millisecond passed. The caller has
// reserved the record's space.
func (e *Encoder) advance(ts time.Duration, ms int64) {
	if !e.gotTs {
		// A held-back sequence keeps the time of its last byte, which can
		// be older than events already delivered. tlog would then start a
		// message in the past, and tlog-play rejects that ("Packet
		// timestamp is out of order"); never let pos go backwards.
		ts = max(ts, e.floor)
		e.gotTs = true
		e.firstTs, e.lastTs = ts, ts
		return
	}
	if ts <= e.lastTs {
		return
	}
	// The reference point moves even when less than 1 ms passed (tlog
	// drops sub-millisecond remainders).
	e.lastTs = ts
	if ms > 0 {
		e.flushRuns(&e.in)
		e.flushRuns(&e.out)
		e.timingWindowFirst()
		e.timing = append(e.timing, '+')
		e.timing = strconv.AppendInt(e.timing, ms, 10)
	}
}

// writeWindow adds a window record at t if it fits (tlog_json_chunk_write_window).
func (e *Encoder) writeWindow(t time.Duration, cols, rows int) bool {
	// Closing runs first is harmless if the record does not fit: emitting
	// the message closes them in the same order.
	e.flushRuns(&e.in)
	e.flushRuns(&e.out)
	ms := e.delayMs(t)
	cost := windowLen(cols, rows)
	if ms > 0 {
		cost += 1 + decLen(uint64(ms))
	}
	// A restatement of the old window is never needed: if the message is
	// empty (state winKnown) the new window replaces it.
	if cost > e.rem {
		return false
	}
	e.rem -= cost
	e.advance(t, ms)
	e.timing = appendWindow(e.timing, cols, rows)
	e.win = winWritten
	e.lastW, e.lastH = cols, rows
	return true
}

// writeStream encodes as much of p as fits into the current message
// (tlog_json_stream_write). It returns the bytes consumed (including bytes
// of an incomplete character now held in s.u) and whether it stopped
// because the message is full.
func (e *Encoder) writeStream(s *stream, t time.Duration, p []byte) (int, bool) {
	i := 0
	for {
		if s.u.n == 0 && i < len(p) && p[i] < 0x80 {
			n, full := e.writeASCII(s, t, p[i:])
			i += n
			if full {
				return i, true
			}
			continue
		}
		startI, startU, startTs := i, s.u, s.ts
		for {
			if i == len(p) {
				return i, false // keep the incomplete character buffered
			}
			added, ended := s.u.add(p[i])
			if added {
				i++
				s.ts = t
			}
			if ended {
				break
			}
		}
		if s.u.n == 0 {
			// An invalid lead byte is a 1-byte invalid sequence.
			if !e.writeSeq(s, t, false, p[i:i+1]) {
				return i, true
			}
			i++
		} else if !e.writeSeq(s, s.ts, s.u.complete(), s.u.buf[:s.u.n]) {
			i, s.u, s.ts = startI, startU, startTs
			return i, true
		}
		s.u = utf8Acc{}
	}
}

// writeASCII writes a prefix of p made of ASCII bytes (p[0] < 0x80 and no
// character is pending). After the first character, further characters at
// the same time need neither run cuts, delays nor run starts, so only their
// escaped length and the run counter's digits are accounted.
func (e *Encoder) writeASCII(s *stream, t time.Duration, p []byte) (int, bool) {
	if !e.writeSeq(s, t, true, p[:1]) {
		return 0, true
	}
	s.ts = t
	txt, rem, run, dig := s.txt, e.rem, s.txtRun, s.txtDig
	full := false
	j := 1
	for j < len(p) {
		c := p[j]
		if c >= 0x80 {
			break
		}
		// Bulk-copy unescaped bytes while neither the payload nor the run
		// counter's digit count runs out (each then costs exactly 1).
		if room := min(dig-1-run, rem, len(p)-j); escLen[c] == 1 && room > 0 {
			k := j + 1 + plainRun(p[j+1:j+room])
			txt = append(txt, p[j:k]...)
			run += k - j
			rem -= k - j
			j = k
			continue
		}
		cost := int(escLen[c])
		grow := run+1 >= dig
		if grow {
			cost++
		}
		if cost > rem {
			full = true
			break
		}
		rem -= cost
		run++
		if grow {
			dig *= 10
		}
		txt = appendEscByte(txt, c)
		j++
	}
	s.txt, e.rem, s.txtRun, s.txtDig = txt, rem, run, dig
	return j, full
}

// writeSeq atomically writes one valid character or one invalid sequence
// with timestamp ts if it fits (tlog_json_stream_write_seq). All costs are
// computed before anything changes, which replaces tlog's transactions.
func (e *Encoder) writeSeq(s *stream, ts time.Duration, valid bool, b []byte) bool {
	cut := !valid != (s.binRun != 0)
	ms := e.delayMs(ts)
	cost := 0
	txtRun, binRun, txtDig, binDig := s.txtRun, s.binRun, s.txtDig, s.binDig
	if ms > 0 {
		cost += 1 + decLen(uint64(ms))
	}
	if cut || ms > 0 {
		txtRun, binRun = 0, 0
	}
	if txtRun == 0 {
		cost += 2 // run marker and first digit
		txtDig = 10
	}
	if txtRun+1 >= txtDig {
		cost++
	}
	switch {
	case !valid:
		cost += 3 // U+FFFD
		if binRun == 0 {
			cost += 2 // '/' and first digit
			binDig = 10
		}
		binLen := len(s.bin)
		for _, c := range b {
			binRun++
			if binRun >= binDig {
				cost++
				binDig *= 10
			}
			if binLen > 0 {
				cost++
			}
			n := len(byteDec[c])
			cost += n
			binLen += n + 1
		}
	case len(b) > 1:
		cost += len(b)
	default:
		cost += int(escLen[b[0]])
	}
	if e.win == winKnown {
		cost += windowLen(e.lastW, e.lastH)
	}
	if cost > e.rem {
		return false
	}

	if cut {
		e.flushRuns(s)
	}
	if e.win == winKnown {
		e.win = winReserved
	}
	e.advance(ts, ms)
	e.rem -= cost
	if s.txtRun == 0 {
		s.txtDig = 10
	}
	s.txtRun++
	if s.txtRun >= s.txtDig {
		s.txtDig *= 10
	}
	switch {
	case !valid:
		s.txt = append(s.txt, "\uFFFD"...)
		if s.binRun == 0 {
			s.binDig = 10
		}
		for _, c := range b {
			s.binRun++
			if s.binRun >= s.binDig {
				s.binDig *= 10
			}
			if len(s.bin) > 0 {
				s.bin = append(s.bin, ',')
			}
			s.bin = append(s.bin, byteDec[c]...)
		}
	case len(b) > 1:
		s.txt = append(s.txt, b...)
	default:
		s.txt = appendEscByte(s.txt, b[0])
	}
	return true
}

// cut writes held incomplete characters of both streams as invalid
// sequences, both or none (tlog_json_chunk_cut). It reports false when they
// do not fit into the current message.
func (e *Encoder) cut() bool {
	m := e.save()
	for _, s := range [2]*stream{&e.in, &e.out} {
		if s.u.n == 0 {
			continue
		}
		if !e.writeSeq(s, s.ts, false, s.u.buf[:s.u.n]) {
			e.restore(m)
			return false
		}
		s.u = utf8Acc{}
	}
	return true
}

// snapshot is the state a sequence write can change; writes only append to
// the buffers, so their lengths are enough to undo them.
type snapshot struct {
	rem, timing     int
	gotTs           bool
	firstTs, lastTs time.Duration
	win             int
	in, out         streamSnapshot
}

type streamSnapshot struct {
	txt, bin                       int
	txtRun, txtDig, binRun, binDig int
	u                              utf8Acc
	ts                             time.Duration
}

func (e *Encoder) save() snapshot {
	return snapshot{e.rem, len(e.timing), e.gotTs, e.firstTs, e.lastTs, e.win, e.in.save(), e.out.save()}
}

func (e *Encoder) restore(m snapshot) {
	e.rem, e.timing, e.gotTs, e.firstTs, e.lastTs, e.win = m.rem, e.timing[:m.timing], m.gotTs, m.firstTs, m.lastTs, m.win
	e.in.restore(m.in)
	e.out.restore(m.out)
}

func (s *stream) save() streamSnapshot {
	return streamSnapshot{len(s.txt), len(s.bin), s.txtRun, s.txtDig, s.binRun, s.binDig, s.u, s.ts}
}

func (s *stream) restore(m streamSnapshot) {
	s.txt, s.bin = s.txt[:m.txt], s.bin[:m.bin]
	s.txtRun, s.txtDig, s.binRun, s.binDig, s.u, s.ts = m.txtRun, m.txtDig, m.binRun, m.binDig, m.u, m.ts
}

// plainRun returns how many bytes at the start of p are ASCII that JSON
// takes as they are (escLen 1). It tests eight bytes at a time: terminal
// text is mostly such runs, and this is the encoder's hottest loop.
func plainRun(p []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// zero has the high bit set in some byte iff a byte of v is zero.
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	k := 0
	for ; k+8 <= len(p); k += 8 {
		v := binary.LittleEndian.Uint64(p[k:])
		if (v&highs | (v-0x20*ones)&^v&highs | zero(v^'"'*ones) | zero(v^'\\'*ones) | zero(v^0x7f*ones)) != 0 {
			break
		}
	}
	for k < len(p) && p[k] < 0x80 && escLen[p[k]] == 1 {
		k++
	}
	return k
}

// escLen is the escaped JSON length of each ASCII byte.
var escLen = func() (t [128]uint8) {
	for c := range t {
		switch {
		case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			t[c] = 2
		case c < 0x20 || c == 0x7f:
			t[c] = 6
		default:
			t[c] = 1
		}
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// byteDec holds the decimal form of every byte value, for the bin lists.
var byteDec = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// appendEscByte appends ASCII byte c JSON-escaped the way tlog does it:
// short escapes where JSON has them, lowercase \u00XX for other controls
// and DEL, '/' left alone.
func appendEscByte(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	if c < 0x20 || c == 0x7f {
		return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, c)
}

// appendEscString escapes a metadata string; non-ASCII is kept raw.
func appendEscString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x80 {
			b = appendEscByte(b, c)
		} else {
			b = append(b, c)
		}
	}
	return b
}

func appendWindow(b []byte, cols, rows int) []byte {
	b = append(b, '=')
	b = strconv.AppendUint(b, uint64(cols), 10)
	b = append(b, 'x')
	return strconv.AppendUint(b, uint64(rows), 10)
}

func windowLen(cols, rows int) int {
	return 2 + decLen(uint64(cols)) + decLen(uint64(rows))
}

// decLen is the number of decimal digits of v.
func decLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}
