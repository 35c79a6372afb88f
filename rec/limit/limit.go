// Package limit is tlog's rate limiter: a leaky bucket over whole message
// bytes with the actions pass, delay and drop.
package limit

import (
	"fmt"
	"math"
	"time"

	"github.com/vigil-rec/vigil/rec/msg"
)

// Actions, as in tlog's limit.action.
const (
	Pass  = "pass"
	Delay = "delay"
	Drop  = "drop"
)

// Writer is the rate limiting stage.
type Writer struct {
	next   msg.Writer
	action string
	rate   float64 // bytes per second drained from the bucket
	cap    float64 // rate + burst
	clock  func() time.Time
	sleep  func(time.Duration)

	level   float64   // bytes in the bucket at time last
	last    time.Time // of the last drain; monotonic when from time.Now
	started bool
	dropped msg.Drop // discarded since the last message passed on
}

// New returns a limiter in front of next. The bucket holds rate+burst
// bytes and drains at rate bytes per second; a message fits when the
// bucket has room for len(Line), or when the bucket is empty (so a message
// larger than the bucket is not blocked forever). Over the limit, "drop"
// discards the message (its id stays consumed) and reports the discarded
// total in the Dropped field of the next message passed on, and "delay"
// calls sleep until the message fits. A Final message is never dropped.
// "pass" returns next itself. clock and sleep default to time.Now and
// time.Sleep. An invalid configuration yields a Writer whose every write
// fails, so a recorder stops instead of recording unlimited.
func New(next msg.Writer, action string, rate, burst int64, clock func() time.Time, sleep func(time.Duration)) msg.Writer {
	if clock == nil {
		clock = time.Now
	}
	if sleep == nil {
		sleep = time.Sleep
	}
	switch {
	case action != Pass && action != Delay && action != Drop:
		return failing{fmt.Errorf("limit: unknown action %q (want pass, delay or drop)", action)}
	case rate < 0 || burst < 0:
		return failing{fmt.Errorf("limit: rate %d and burst %d must not be negative", rate, burst)}
	case action == Pass:
		return next
	}
	return &Writer{next: next, action: action, rate: float64(rate), cap: float64(rate) + float64(burst), clock: clock, sleep: sleep}
}

type failing struct{ err error }

func (f failing) WriteMessage(*msg.Message) error { return f.err }

// drain empties the bucket by the time passed since the last call.
func (w *Writer) drain() {
	now := w.clock()
	if w.started {
		w.level = math.Max(0, w.level-w.rate*now.Sub(w.last).Seconds())
	}
	w.last, w.started = now, true
}

func (w *Writer) fits(n float64) bool { return w.level == 0 || w.level+n <= w.cap }

// WriteMessage passes m on, delays it or drops it.
func (w *Writer) WriteMessage(m *msg.Message) error {
	n := float64(len(m.Line))
	w.drain()
	for !w.fits(n) {
		if w.action == Drop {
			if m.Final {
				break // the final message carries the drop total
			}
			w.dropped.Messages++
			w.dropped.Bytes += uint64(len(m.Line))
			return nil
		}
		if w.rate == 0 {
			return fmt.Errorf("limit: message id %d (%d bytes) can never fit: rate is 0 and the bucket is full", m.ID, len(m.Line))
		}
		excess := w.level + n - w.cap
		w.sleep(time.Duration(math.Ceil(excess / w.rate * float64(time.Second))))
		w.drain()
	}
	w.level += n

	saved := m.Dropped
	m.Dropped.Messages += w.dropped.Messages
	m.Dropped.Bytes += w.dropped.Bytes
	err := w.next.WriteMessage(m)
	m.Dropped = saved
	if err != nil {
		return err // keep the drop account for a retry
	}
	w.dropped = msg.Drop{}
	return nil
}
