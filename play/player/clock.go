package player

import (
	"context"
	"io"
	"time"
)

// Clock is the real Waiter: wall-clock time, and keys from a channel such
// as ReadKeys's.
type Clock struct {
	keys <-chan []byte
}

// NewClock makes a Clock reading keys from keys; nil means no keyboard.
func NewClock(keys <-chan []byte) *Clock { return &Clock{keys: keys} }

// Now implements Waiter.
func (c *Clock) Now() time.Time { return time.Now() }

// Wait implements Waiter. Once the key channel is closed (the keyboard's
// input ended) it waits out the time alone: an input at its end must not
// wake the player over and over.
func (c *Clock) Wait(ctx context.Context, d time.Duration) ([]byte, error) {
	var expired <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-expired:
			return nil, nil
		case b, ok := <-c.keys:
			if !ok {
				c.keys = nil
				continue
			}
			return b, nil
		}
	}
}

// ReadKeys reads r (a terminal) in the background and sends what is typed,
// read by read. The channel is closed when r ends or fails; the reader then
// stops, so an input at its end is not polled.
func ReadKeys(r io.Reader) <-chan []byte {
	ch := make(chan []byte, 16)
	go func() {
		defer close(ch)
		buf := make([]byte, 256)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				ch <- append([]byte(nil), buf[:n]...)
			}
			if err != nil || n == 0 {
				return
			}
		}
	}()
	return ch
}
