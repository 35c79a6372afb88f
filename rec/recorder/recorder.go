// Package recorder runs a command under recording: it relays the command's
// terminal or pipe I/O, encodes it as tlog JSON, chains and signs the messages
// and hands them to a sink. Nothing reaches the user or the command before it
// has been accounted in the recording.
package recorder

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/limit"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Options describe one recording.
type Options struct {
	Conf conf.Rec
	// Meta is the recording's identity; Start is set by Run.
	Meta tlog.Meta
	Sink msg.Sink
	// Key signs checkpoints; nil records an unsigned chain.
	Key ed25519.PrivateKey
	// Bulk records only byte counts and SHA-256 digests of each stream
	// (bulk transfers under transfer.record = "metadata").
	Bulk bool
	// Stdin, Stdout and Stderr are the recorder's own standard streams.
	Stdin, Stdout, Stderr *os.File
	// Started runs once the command is running, before any I/O is relayed
	// (vigil-rec-session drops to the vigil user there).
	Started func() error
	// RetryFor is how long a failing sink is retried, with the session's I/O
	// held, before the session is ended.
	RetryFor time.Duration
	// Session signals every process of the recorded session and returns
	// how many it reached. nil signals the command's process group, which
	// is enough while the recorder runs as the user; vigil-rec-session, a
	// child subreaper that gives up the user's identity, asks policyd.
	Session func(syscall.Signal) (int, error)
}

// Result is how a recorded command ended.
type Result struct {
	// Status is the exit status a shell would report: the code, or
	// 128+signal.
	Status int
	// Path is where the recording went, when the sink is a file.
	Path string
}

// recording is the state shared by the relay goroutines. All encoder and
// chain calls happen under mu, so I/O is ordered in the log as it was read.
type recording struct {
	mu    sync.Mutex
	enc   *tlog.Encoder
	chain *chain.Writer
	sink  *retrySink
	// reserver is the sink's, when it keeps space in reserve.
	reserver msg.Reserver
	start    time.Time
	latency  time.Duration
	timer    *time.Timer
	failed   error
	dead     chan struct{} // closed when recording fails
	bulk     *bulkStreams
}

func newRecording(o *Options, warn io.Writer) *recording {
	r := &recording{
		start:   time.Now(),
		latency: time.Duration(o.Conf.Latency) * time.Second,
		dead:    make(chan struct{}),
	}
	o.Meta.Start = r.start
	retryFor := o.RetryFor
	if retryFor == 0 {
		retryFor = 30 * time.Second
	}
	r.sink = &retrySink{sink: o.Sink, deadline: retryFor, warn: warn}
	r.reserver, _ = o.Sink.(msg.Reserver)
	var w msg.Writer = r.sink
	r.chain = chain.New(w, o.Key, r.latency, time.Now)
	r.chain.SetAnchorEvery(o.Conf.Sign.AnchorEvery)
	w = r.chain
	if o.Conf.Limit.Action != "pass" {
		w = limit.New(w, o.Conf.Limit.Action, o.Conf.Limit.Rate, o.Conf.Limit.Burst, time.Now, time.Sleep)
	}
	r.enc = tlog.NewEncoder(o.Meta, tlog.Options{
		Payload: o.Conf.Payload,
		Input:   o.Conf.Log.Input,
		Output:  o.Conf.Log.Output,
		Window:  o.Conf.Log.Window,
	}, w)
	if o.Bulk {
		r.bulk = &bulkStreams{}
	}
	return r
}

func (r *recording) now() time.Duration { return time.Since(r.start) }

// record runs fn on the encoder under the lock and keeps the latency timer
// armed while a message is pending. Once the recording has failed every
// later call fails too, so the relays stop passing data.
func (r *recording) record(fn func(t time.Duration) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed != nil {
		return r.failed
	}
	if err := fn(r.now()); err != nil {
		r.failLocked(err)
		return err
	}
	if err := r.holdLocked(); err != nil {
		r.failLocked(err)
		return err
	}
	r.armLocked()
	return nil
}

// holdLocked holds the session's I/O while the sink's reserve is low (the
// disk is full): what was recorded is stored, the reserve still holds the
// end, and nothing more passes until there is room again. Giving up fails
// the recording with msg.ErrNoSpace, which still writes the signed end.
func (r *recording) holdLocked() error {
	if r.reserver == nil || !r.reserver.Low() {
		return nil
	}
	return r.sink.retry(r.reserver.Reserve)
}

// err is why the recording failed, or nil.
func (r *recording) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recording) failLocked(err error) {
	r.failed = err
	close(r.dead)
}

// armLocked keeps a timer armed while output waits in the encoder or in a
// batching sink, so that it is written within latency.
func (r *recording) armLocked() {
	if r.timer != nil {
		return
	}
	wait := r.latency
	if since, ok := r.enc.Pending(); ok {
		wait -= r.now() - since
	} else if !r.sink.Buffered() {
		return
	}
	r.timer = time.AfterFunc(max(wait, 0), r.flushLatency)
}

func (r *recording) flushLatency() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer = nil
	if r.failed != nil {
		return
	}
	err := r.enc.Flush(true)
	if err == nil {
		err = r.sink.Flush()
	}
	if err == nil {
		err = r.holdLocked()
	}
	if err != nil {
		r.failLocked(err)
	}
}

func (r *recording) output(stream int, p []byte) error {
	if r.bulk != nil {
		return r.record(func(time.Duration) error { r.bulk.add(stream, p); return nil })
	}
	return r.record(func(t time.Duration) error { return r.enc.Output(t, p) })
}

func (r *recording) input(p []byte) error {
	if r.bulk != nil {
		return r.record(func(time.Duration) error { r.bulk.add(streamIn, p); return nil })
	}
	return r.record(func(t time.Duration) error { return r.enc.Input(t, p) })
}

func (r *recording) window(cols, rows int) error {
	return r.record(func(t time.Duration) error { return r.enc.Window(t, cols, rows) })
}

// setMeta attaches recorder metadata to the next message written.
func (r *recording) setMeta(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("recorder metadata: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.chain.SetMeta(b)
}

// finish writes the final, signed message. A recording that failed for
// lack of space still gets it: the sink's reserve holds it.
func (r *recording) finish() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if r.failed != nil && !errors.Is(r.failed, msg.ErrNoSpace) {
		return r.failed
	}
	if err := r.enc.Close(r.now()); err != nil {
		if r.failed == nil {
			r.failLocked(err)
		}
		return err
	}
	return r.failed
}

// Run records cmd until it exits. It picks the terminal relay when the
// recorder has a terminal, as tlog does, and separate pipes otherwise.
func Run(cmd *exec.Cmd, o Options) (Result, error) {
	if isTerminal(o.Stdin) && isTerminal(o.Stdout) {
		return runPTY(cmd, &o)
	}
	return runPipes(cmd, &o)
}
