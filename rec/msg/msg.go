// Package msg defines the unit that flows from the tlog encoder through the
// rate limiter and the integrity chain to a sink (file, journal, syslog).
package msg

import (
	"errors"
	"time"
)

// Message is one encoded recording message: a single JSON object on one line.
type Message struct {
	// Line is the complete JSON line including the closing '}' and the
	// trailing '\n'. The encoder produces the 14 tlog fields; the chain stage
	// rewrites Line to add the "vigil" integrity object before the final '}'.
	Line []byte

	// Copies of the tlog fields that sinks need without parsing Line
	// (journal augment fields TLOG_REC, TLOG_USER, TLOG_SESSION, TLOG_ID).
	Rec     string
	User    string
	Session uint32
	ID      uint64
	Pos     time.Duration

	// Final marks the last message of a recording. It is never dropped by
	// the rate limiter and is always signed.
	Final bool

	// Dropped counts what the rate limiter discarded since the previous
	// message that was passed on; the chain stage records it, signed.
	Dropped Drop

	// Checkpoint asks the chain stage to sign this message (set when the
	// latency timer flushed it, so signatures come at least every latency).
	Checkpoint bool
}

// Drop is an account of messages discarded by the rate limiter.
type Drop struct {
	Messages uint64
	Bytes    uint64
}

// Writer consumes messages. Implementations: rate limiter, chain, sinks.
// WriteMessage may retain m only until it returns; Line may be reused.
type Writer interface {
	WriteMessage(m *Message) error
}

// Sink is the last Writer of a pipeline: it stores messages and must make
// them durable on Close. When WriteMessage fails, the caller may retry by
// sending the same message again; a sink that stored part of it completes
// it instead of storing it twice.
type Sink interface {
	Writer
	Close() error
}

// Flusher is implemented by sinks that gather messages in memory and write
// them in batches. The recorder flushes such a sink at the latest one
// latency after a message, as it does with the encoder's pending output.
type Flusher interface {
	Flush() error
	// Buffered reports whether the sink holds messages not yet written.
	Buffered() bool
}

// ErrNoSpace means the storage under a sink is full.
var ErrNoSpace = errors.New("no space left for the recording")

// Reserver is implemented by sinks that keep space in reserve for what is
// still to come (the file sink preallocates beyond the end of the file), so
// that a full disk never leaves output the user saw out of the recording:
// when the disk fills up, what was written is stored, and the reserve still
// holds the next messages and the signed end.
type Reserver interface {
	// Low reports that the reserve could not be renewed: the recording
	// must be held until Reserve succeeds, or end.
	Low() bool
	// Reserve tries to renew the reserve; its error wraps ErrNoSpace when
	// the storage is still full.
	Reserve() error
}
