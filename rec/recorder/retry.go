package recorder

import (
	"fmt"
	"io"
	"time"

	"github.com/vigil-rec/vigil/rec/msg"
)

// retrySink keeps retrying a failing sink (disk full, journal restarting)
// instead of losing the message. It is called with the recording lock held,
// so while it waits the session's I/O is held too: nothing unrecorded passes.
type retrySink struct {
	sink     msg.Sink
	deadline time.Duration
	warn     io.Writer // the user's terminal
	// gaveUp: the session is ending; what is still written (its end) gets
	// one try.
	gaveUp bool
}

const retryInterval = 500 * time.Millisecond

func (s *retrySink) WriteMessage(m *msg.Message) error {
	return s.retry(func() error { return s.sink.WriteMessage(m) })
}

// Flush writes what a batching sink holds, retrying like WriteMessage.
func (s *retrySink) Flush() error {
	f, ok := s.sink.(msg.Flusher)
	if !ok {
		return nil
	}
	return s.retry(f.Flush)
}

// Buffered reports whether a batching sink holds messages not yet written.
func (s *retrySink) Buffered() bool {
	f, ok := s.sink.(msg.Flusher)
	return ok && f.Buffered()
}

func (s *retrySink) retry(write func() error) error {
	err := write()
	if err == nil {
		return nil
	}
	if s.gaveUp {
		return fmt.Errorf("recording sink: %w", err)
	}
	fmt.Fprintf(s.warn, "\r\nvigil-rec: cannot write the recording: %v\r\nvigil-rec: session paused, retrying for %v\r\n", err, s.deadline)
	give := time.Now().Add(s.deadline)
	for time.Now().Before(give) {
		time.Sleep(retryInterval)
		if err = write(); err == nil {
			fmt.Fprintf(s.warn, "vigil-rec: recording resumed\r\n")
			return nil
		}
	}
	fmt.Fprintf(s.warn, "vigil-rec: recording failed, ending the session: %v\r\n", err)
	s.gaveUp = true
	return fmt.Errorf("recording sink: %w", err)
}
