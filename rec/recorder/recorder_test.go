package recorder

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// batchingSink holds what it is given until Flush, like sink.File.
type batchingSink struct {
	mu      sync.Mutex
	held    int
	flushed chan struct{}
}

func (s *batchingSink) WriteMessage(*msg.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held++
	return nil
}

func (s *batchingSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held > 0 {
		s.held = 0
		close(s.flushed)
	}
	return nil
}

func (s *batchingSink) Buffered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held > 0
}

func (s *batchingSink) Close() error { return nil }

// A batching sink that holds lines while the encoder holds nothing is
// flushed within latency all the same.
func TestBufferedSinkFlushedWithinLatency(t *testing.T) {
	c := conf.DefaultRec()
	c.Latency = 1
	s := &batchingSink{flushed: make(chan struct{})}
	o := Options{Conf: c, Meta: tlog.Meta{Host: "h", Rec: "r", User: "u", Term: "xterm"}, Sink: s}
	rec := newRecording(&o, io.Discard)
	if err := rec.setMeta(startMeta{Cmd: []string{"x"}, Mode: "pty"}); err != nil {
		t.Fatal(err)
	}
	if err := rec.window(80, 24); err != nil {
		t.Fatal(err)
	}
	// Force the pending window message out, as a full payload would: the
	// encoder then holds nothing, the sink one line, and no timer runs.
	rec.mu.Lock()
	err := rec.enc.Flush(false)
	if rec.timer != nil {
		rec.timer.Stop()
		rec.timer = nil
	}
	rec.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, pending := rec.enc.Pending(); pending || !s.Buffered() {
		t.Fatalf("encoder pending %v, sink buffered %v: want false, true", pending, s.Buffered())
	}
	if err := rec.record(func(time.Duration) error { return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.flushed:
	case <-time.After(5 * time.Second):
		t.Fatal("the sink's lines were not flushed within 5 s (latency 1 s)")
	}
}
