package recorder

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/vigil-rec/vigil/rec/msg"
)

// pathSink is implemented by sinks that store the recording in a file.
type pathSink interface{ Path() string }

// startMeta is attached to the first message: what ran and how.
type startMeta struct {
	Cmd  []string `json:"cmd"`
	Mode string   `json:"mode"` // pty | pipe
	Bulk bool     `json:"bulk,omitempty"`
}

// endMeta is attached to the final message.
type endMeta struct {
	Exit    int                  `json:"exit"`
	Streams map[string]StreamSum `json:"streams,omitempty"`
	// Ended says which processes of the session the recorder had to end.
	Ended *endReport `json:"ended,omitempty"`
	// Failed is why recording failed and the session was ended (the disk
	// filled up).
	Failed string `json:"failed,omitempty"`
}

func startHook(o *Options, rec *recording, cmd *exec.Cmd, mode string) error {
	if o.Started != nil {
		if err := o.Started(); err != nil {
			return err
		}
	}
	return rec.setMeta(startMeta{Cmd: cmd.Args, Mode: mode, Bulk: rec.bulk != nil})
}

// finishRun writes the final signed message with the exit status and how
// the session ended, and makes the recording durable. A relay error
// (recording failure) wins over the command's own status; when it is a full
// disk the end is still written, from the sink's reserve, and says so.
func finishRun(o *Options, rec *recording, end *ender, relayErr error) (Result, error) {
	if relayErr == nil {
		relayErr = rec.err()
	}
	ended, status := end.finish()
	res := Result{Status: status}
	if p, ok := o.Sink.(pathSink); ok {
		res.Path = p.Path()
	}
	em := endMeta{Exit: res.Status, Ended: ended}
	if rec.bulk != nil {
		em.Streams = rec.bulk.sums()
	}
	err := relayErr
	if err == nil || errors.Is(err, msg.ErrNoSpace) {
		if err != nil {
			em.Failed = err.Error()
		}
		ferr := rec.setMeta(em)
		if ferr == nil {
			ferr = rec.finish()
		}
		if err == nil {
			err = ferr
		}
	}
	if cerr := o.Sink.Close(); cerr != nil {
		// One line: the recorder prints it to the user's terminal.
		if err == nil {
			err = fmt.Errorf("close recording: %w", cerr)
		} else {
			err = fmt.Errorf("%w; close recording: %w", err, cerr)
		}
	}
	if err != nil && relayErr != nil {
		res.Status = 1
	}
	return res, err
}
