// Package player plays a recording's output with its recorded timing, as
// tlog-play does: speed changes, pausing, stepping, going to a time
// (backwards too, in a file: seek.go), compressing long pauses and
// following a recording that is still being written, all driven by keys.
// Time and input come through the Waiter interface and events through
// Source, so that the logic runs in tests without real time or a terminal.
package player

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/vigil-rec/vigil/play/termfilter"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Speed bounds and the follow poll interval.
const (
	MinSpeed     = 1.0 / 16
	MaxSpeed     = 16.0
	PollInterval = 250 * time.Millisecond
)

// lateTolerance is how late an event may be written and still keep the
// schedule. Timer wake-ups are always a little late; re-anchoring on each of
// them would let the playback drift further behind with every event. Beyond
// this, the player is genuinely behind (a slow terminal, a stopped process)
// and, like tlog-play, stretches time instead of rushing to catch up.
const lateTolerance = 50 * time.Millisecond

// Source yields a recording's events in order. At the end it returns io.EOF;
// in follow mode the player asks again later, so a Source over a growing
// recording returns io.EOF whenever it has nothing more yet.
type Source interface {
	Next() (tlog.Event, error)
}

// Waiter is the player's clock and keyboard.
type Waiter interface {
	// Now is the current time.
	Now() time.Time
	// Wait returns when d has passed (d < 0: never), early with the bytes
	// typed if there is input, or with ctx's error when it is done.
	Wait(ctx context.Context, d time.Duration) ([]byte, error)
}

// Options control a playback.
type Options struct {
	Speed     float64       // initial speed; 0 means 1
	Goto      Target        // where to start; the zero Target is the start
	Paused    bool          // start paused (after going to Goto)
	Follow    bool          // at the end, wait for more events until quit
	Persist   bool          // ignore q
	IdleLimit time.Duration // pauses longer than this last this long; 0: no limit
	// TermCols and TermRows are the viewer's terminal size (0: unknown).
	TermCols, TermRows int
	// Notice is told once when the recording's window is larger than the
	// viewer's terminal.
	Notice func(string)
	// Unfiltered writes the recorded output as it is. By default, what
	// the recorded user could use against the viewer's terminal is left
	// out (play/termfilter): queries it would answer as if the viewer
	// typed, the clipboard, control strings other than the title.
	Unfiltered bool
}

// Target is a position to go to: End, or a time from the recording's start.
type Target struct {
	End bool
	T   time.Duration
}

// ErrQuit is returned by Run when the viewer pressed q.
var ErrQuit = errors.New("quit")

// pending is the next output event, read but not written yet.
type pending struct {
	t    time.Duration // recording time
	eff  time.Duration // recording time with idle pauses compressed
	data []byte
}

// Player plays one recording; use it once.
type Player struct {
	src    Source
	w      Waiter
	out    *bufio.Writer
	rec    io.Writer          // where the recorded output goes: out, or filter
	filter *termfilter.Filter // nil when unfiltered
	opt    Options

	speed  float64
	paused bool
	keys   keyParser

	// The schedule: recording time (compressed) effRef is due at wallRef;
	// later times follow at the current speed.
	wallRef time.Time
	effRef  time.Duration
	// Compression state: the last written output event's recording time
	// and its compressed time.
	lastT, lastEff time.Duration

	next         *pending
	seek         *Target // goto in progress: writing everything before it
	step         bool    // write the next event now
	noticed      bool
	shown        bool // the terminal shows the output up to lastT
	cantSeekBack bool // told the viewer that going back needs an index
}

// New makes a Player that writes src's output events to out.
func New(src Source, w Waiter, out io.Writer, opt Options) *Player {
	if opt.Speed <= 0 {
		opt.Speed = 1
	}
	p := &Player{src: src, w: w, out: bufio.NewWriterSize(out, 64<<10), opt: opt,
		speed: opt.Speed, paused: opt.Paused}
	p.rec = p.out
	if !opt.Unfiltered {
		p.filter = termfilter.New(p.out)
		p.rec = p.filter
	}
	return p
}

// Speed is the current playback speed.
func (p *Player) Speed() float64 { return p.speed }

// Run plays until the end of the recording (in follow mode: until ctx is
// done or q), a source error, or ctx is done. It returns ErrQuit after q, and
// nil at the end of the recording.
func (p *Player) Run(ctx context.Context) error {
	p.wallRef = p.w.Now()
	var err error
	if p.opt.Goto.End || p.opt.Goto.T > 0 {
		err = p.goTo(ctx, p.opt.Goto)
	}
	if err == nil {
		err = p.run(ctx)
	}
	if ferr := p.out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	return err
}

func (p *Player) run(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.next == nil {
			ok, err := p.fetch()
			if err != nil {
				return err
			}
			if !ok {
				if p.seek != nil && p.opt.Follow {
					// A goto ends at the end of what there is so far:
					// what is appended later plays in time.
					p.seekDone()
				}
				if !p.opt.Follow {
					return nil
				}
				if err := p.wait(ctx, PollInterval); err != nil {
					return err
				}
				continue
			}
		}
		if p.seek != nil {
			if p.seek.End || p.next.t < p.seek.T {
				if err := p.write(); err != nil {
					return err
				}
				continue
			}
			p.seekDone()
		}
		if p.step {
			p.step = false
			p.anchor(p.w.Now(), p.next.eff)
			if err := p.write(); err != nil {
				return err
			}
			continue
		}
		if p.paused {
			if err := p.wait(ctx, -1); err != nil {
				return err
			}
			continue
		}
		now := p.w.Now()
		due := p.due(p.next.eff)
		if d := due.Sub(now); d > 0 {
			if err := p.wait(ctx, d); err != nil {
				return err
			}
			continue
		}
		if now.Sub(due) > lateTolerance {
			p.anchor(now, p.next.eff)
		}
		if err := p.write(); err != nil {
			return err
		}
	}
}

// fetch reads up to the next output event into p.next; false at the end.
func (p *Player) fetch() (bool, error) {
	for {
		ev, err := p.src.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch ev.Kind {
		case tlog.KindWindow:
			p.window(ev.Cols, ev.Rows)
			continue
		case tlog.KindOut:
		default:
			continue
		}
		// The source may reuse ev.Data's memory for its next event.
		p.next = &pending{t: ev.T, eff: p.effective(ev.T), data: append([]byte(nil), ev.Data...)}
		return true, nil
	}
}

// effective is the compressed time of recording time t, at or after the
// last written output event.
func (p *Player) effective(t time.Duration) time.Duration {
	gap := max(t-p.lastT, 0)
	if p.opt.IdleLimit > 0 && gap > p.opt.IdleLimit {
		gap = p.opt.IdleLimit
	}
	return p.lastEff + gap
}

// window tells the viewer once when the recording needs a larger terminal.
func (p *Player) window(cols, rows int) {
	if p.noticed || p.opt.Notice == nil || p.opt.TermCols <= 0 || p.opt.TermRows <= 0 {
		return
	}
	if cols > p.opt.TermCols || rows > p.opt.TermRows {
		p.noticed = true
		p.opt.Notice(fmt.Sprintf("the recording's window is %dx%d, larger than this terminal (%dx%d): resize it for a faithful replay",
			cols, rows, p.opt.TermCols, p.opt.TermRows))
	}
}

// write writes the pending event. Only a fast-forward leaves it in the
// buffer: otherwise it is due now, and reading the next event may block.
func (p *Player) write() error {
	_, err := p.rec.Write(p.next.data)
	p.lastT, p.lastEff, p.shown = p.next.t, p.next.eff, true
	p.next = nil
	if err == nil && p.seek == nil {
		err = p.out.Flush()
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// seekDone ends a forward goto: the schedule restarts now from the target.
func (p *Player) seekDone() {
	at := p.lastEff
	if !p.seek.End {
		at = p.effective(p.seek.T)
	}
	p.seek = nil
	p.anchor(p.w.Now(), at)
}

func (p *Player) anchor(wall time.Time, eff time.Duration) { p.wallRef, p.effRef = wall, eff }

// due is when compressed recording time eff is to be written.
func (p *Player) due(eff time.Duration) time.Time {
	return p.wallRef.Add(time.Duration(float64(eff-p.effRef) / p.speed))
}

// position is the compressed recording time now.
func (p *Player) position(now time.Time) time.Duration {
	if p.paused {
		return p.effRef
	}
	return p.effRef + time.Duration(float64(now.Sub(p.wallRef))*p.speed)
}

// wait flushes the output, waits and acts on the keys typed meanwhile.
func (p *Player) wait(ctx context.Context, d time.Duration) error {
	if err := p.out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	typed, err := p.w.Wait(ctx, d)
	if err != nil {
		return err
	}
	for _, a := range p.keys.feed(typed) {
		if err := p.act(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// act carries out one key's action.
func (p *Player) act(ctx context.Context, a action) error {
	now := p.w.Now()
	switch a.kind {
	case actQuit:
		if !p.opt.Persist {
			return ErrQuit
		}
	case actPause:
		pos := p.position(now)
		if p.next != nil && !p.paused {
			// Never pause past the event waiting to be written.
			pos = min(pos, p.next.eff)
		}
		p.paused = !p.paused
		p.anchor(now, pos)
	case actStep:
		p.step = true
	case actFaster, actSlower, actNormal:
		pos := p.position(now)
		switch a.kind {
		case actFaster:
			p.speed = min(p.speed*2, MaxSpeed)
		case actSlower:
			p.speed = max(p.speed/2, MinSpeed)
		default:
			p.speed = 1
		}
		p.anchor(now, pos)
	case actGoto:
		return p.goTo(ctx, a.target)
	case actSeek:
		return p.goTo(ctx, Target{T: max(p.recordingTime(now)+a.delta, 0)})
	}
	return nil
}

// recordingTime is the recording's time now: that of the last output
// written plus the time played since, up to the next output.
func (p *Player) recordingTime(now time.Time) time.Duration {
	if p.seek != nil && !p.seek.End {
		return p.seek.T // keys typed together: the first went there
	}
	t := p.lastT + max(p.position(now)-p.lastEff, 0)
	if p.next != nil {
		t = min(t, p.next.t)
	}
	return t
}

// resetTerminal brings the viewer's terminal to a known state before a
// keyframe's repaint, whatever the output before left it in: main screen,
// soft reset (DECSTR: modes, scroll region, attributes, character sets),
// no mouse reporting, cursor shown, screen cleared (the start's repaint
// is empty).
const resetTerminal = "\x1b[?1049l\x1b[!p\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1004l\x1b[?1006l\x1b[?25h\x1b[H\x1b[2J"

// goTo goes to a target. Output already written at or after it means going
// back, which needs a Seeker; going forward uses a keyframe when there is
// one past what was written, and otherwise writes the output up to the
// target at once.
func (p *Player) goTo(ctx context.Context, t Target) error {
	back := !t.End && t.T <= p.lastT && p.shown
	sk, ok := p.src.(Seeker)
	if back && !ok {
		if !p.cantSeekBack && p.opt.Notice != nil {
			p.cantSeekBack = true
			p.opt.Notice("going back needs a recording file (not standard input or the journal, nor --follow)")
		}
		return nil
	}
	if ok {
		to, from := t.T, p.lastT
		if t.End {
			to = math.MaxInt64
		}
		if back {
			from = math.MinInt64
		}
		at, repaint, jumped, err := sk.SeekBefore(ctx, to, from)
		if err != nil {
			return err
		}
		if jumped {
			if p.filter != nil {
				p.filter.Reset()
			}
			p.out.WriteString(resetTerminal)
			p.out.Write(repaint)
			p.next, p.shown = nil, at >= 0
			p.lastT = max(at, 0)
			p.lastEff = p.lastT
		}
	}
	p.seek = &t
	return nil
}
