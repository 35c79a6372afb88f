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
}

const retryInterval = 500 * time.Millisecond

func (s *retrySink) WriteMessage(m *msg.Message) error {
	err := s.sink.WriteMessage(m)
	if err == nil {
		return nil
	}
	fmt.Fprintf(s.warn, "\r\nvigil-rec: cannot write the recording: %v\r\nvigil-rec: session paused, retrying for %v\r\n", err, s.deadline)
	give := time.Now().Add(s.deadline)
	for time.Now().Before(give) {
		time.Sleep(retryInterval)
		if err = s.sink.WriteMessage(m); err == nil {
			fmt.Fprintf(s.warn, "vigil-rec: recording resumed\r\n")
			return nil
		}
	}
	fmt.Fprintf(s.warn, "vigil-rec: recording failed, ending the session: %v\r\n", err)
	return fmt.Errorf("recording sink: %w", err)
}
