package limit

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/msg"
)

type rec struct {
	ids   []uint64
	drops []msg.Drop
	at    []time.Time
	clk   *fakeClock
	err   error
}

func (r *rec) WriteMessage(m *msg.Message) error {
	if r.err != nil {
		return r.err
	}
	r.ids = append(r.ids, m.ID)
	r.drops = append(r.drops, m.Dropped)
	r.at = append(r.at, r.clk.t)
	return nil
}

type fakeClock struct {
	t      time.Time
	slept  time.Duration
	sleeps int
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(d time.Duration) {
	c.t = c.t.Add(d)
	c.slept += d
	c.sleeps++
}

func message(id uint64, size int) *msg.Message {
	return &msg.Message{ID: id, Line: bytes.Repeat([]byte("x"), size)}
}

func setup(action string, rate, burst int64) (*rec, *fakeClock, msg.Writer) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	r := &rec{clk: clk}
	return r, clk, New(r, action, rate, burst, clk.now, clk.sleep)
}

func TestPass(t *testing.T) {
	r, _, w := setup(Pass, 1, 0)
	if w != msg.Writer(r) {
		t.Fatal("pass should return the next writer itself")
	}
	for i := uint64(1); i <= 5; i++ {
		if err := w.WriteMessage(message(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.ids) != 5 {
		t.Fatalf("passed %v", r.ids)
	}
}

func TestDrop(t *testing.T) {
	// Bucket of 1000+2000 bytes, drained at 1000 B/s.
	r, clk, w := setup(Drop, 1000, 2000)
	write := func(id uint64, size int, final bool) {
		t.Helper()
		m := message(id, size)
		m.Final = final
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
		if m.Dropped != (msg.Drop{}) {
			t.Fatal("caller's Dropped field was not restored")
		}
	}
	write(1, 1500, false) // level 1500
	write(2, 1500, false) // level 3000: exactly full
	write(3, 10, false)   // dropped
	write(4, 20, false)   // dropped
	clk.t = clk.t.Add(500 * time.Millisecond)
	write(5, 500, false) // level 2500+500 = 3000 fits, carries 2 drops
	write(6, 700, false) // dropped
	write(7, 100, true)  // over the limit but final: passes with the drop
	if want := []uint64{1, 2, 5, 7}; !slices.Equal(r.ids, want) {
		t.Fatalf("passed ids %v, want %v", r.ids, want)
	}
	wantDrops := []msg.Drop{{}, {}, {Messages: 2, Bytes: 30}, {Messages: 1, Bytes: 700}}
	for i, d := range wantDrops {
		if r.drops[i] != d {
			t.Errorf("message %d: drop %+v, want %+v", r.ids[i], r.drops[i], d)
		}
	}
	if clk.sleeps != 0 {
		t.Error("drop action slept")
	}
}

func TestDelay(t *testing.T) {
	r, clk, w := setup(Delay, 1000, 1000)
	start := clk.t
	for i := uint64(1); i <= 6; i++ {
		if err := w.WriteMessage(message(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	// 2000 bytes pass at once, the other 4000 need 4 s of draining.
	if len(r.ids) != 6 {
		t.Fatalf("passed %v", r.ids)
	}
	if got := clk.t.Sub(start); got < 4*time.Second || got > 4*time.Second+time.Millisecond {
		t.Fatalf("delayed %v, want 4s", got)
	}
	if r.at[1] != start || r.at[2].Sub(start) < time.Second {
		t.Fatalf("send times %v", r.at)
	}
	for _, d := range r.drops {
		if d != (msg.Drop{}) {
			t.Fatal("delay action dropped")
		}
	}
}

func TestOversizedMessage(t *testing.T) {
	for _, action := range []string{Delay, Drop} {
		r, clk, w := setup(action, 100, 100)
		// Larger than the whole bucket: passes when the bucket is empty.
		if err := w.WriteMessage(message(1, 500)); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessage(message(2, 500)); err != nil {
			t.Fatal(err)
		}
		if action == Delay && (len(r.ids) != 2 || clk.slept < 5*time.Second) {
			t.Fatalf("delay: ids %v slept %v", r.ids, clk.slept)
		}
		if action == Drop && len(r.ids) != 1 {
			t.Fatalf("drop: ids %v", r.ids)
		}
	}
}

func TestZeroRate(t *testing.T) {
	_, _, w := setup(Delay, 0, 100)
	if err := w.WriteMessage(message(1, 80)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(message(2, 80)); err == nil {
		t.Fatal("delay with rate 0 waited forever or passed over the limit")
	}
	r, _, w := setup(Drop, 0, 0)
	for i := uint64(1); i <= 3; i++ {
		m := message(i, 50)
		m.Final = i == 3
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(r.ids, []uint64{1, 3}) || r.drops[1] != (msg.Drop{Messages: 1, Bytes: 50}) {
		t.Fatalf("ids %v drops %v", r.ids, r.drops)
	}
}

func TestInvalid(t *testing.T) {
	for _, c := range []struct {
		action      string
		rate, burst int64
	}{{"throttle", 1, 1}, {Drop, -1, 0}, {Delay, 1, -5}} {
		w := New(&rec{}, c.action, c.rate, c.burst, nil, nil)
		if err := w.WriteMessage(message(1, 1)); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestNextErrorKeepsDrops(t *testing.T) {
	r, clk, w := setup(Drop, 10, 0)
	_ = w.WriteMessage(message(1, 10))
	_ = w.WriteMessage(message(2, 10)) // dropped
	clk.t = clk.t.Add(time.Second)
	r.err = errors.New("sink down")
	if err := w.WriteMessage(message(3, 1)); err == nil {
		t.Fatal("error not passed up")
	}
	r.err = nil
	m := message(4, 1)
	m.Final = true
	if err := w.WriteMessage(m); err != nil {
		t.Fatal(err)
	}
	if got := r.drops[len(r.drops)-1]; got != (msg.Drop{Messages: 1, Bytes: 10}) {
		t.Fatalf("drop after failed write %+v", got)
	}
}
