package cmdlog

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vigil-rec/vigil/rec/audit"
)

// Source is where exec events come from: an *audit.Reader.
type Source interface {
	Events() <-chan *audit.CommandEvent
	Status() (audit.Status, error)
	Err() error
}

// Run writes src's events until ctx is done or src stops, scanning the
// registrations and the reader's loss counters every tick. On return the
// logs are closed, not ended (Close).
func (l *Logger) Run(ctx context.Context, src Source, tick time.Duration) error {
	l.Start()
	defer l.Close()
	t := time.NewTicker(tick)
	defer t.Stop()
	var seen audit.Status
	if st, err := src.Status(); err == nil {
		seen = st
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-src.Events():
			if !ok {
				return src.Err()
			}
			l.Handle(ev)
		case <-t.C:
			l.Scan()
			st, err := src.Status()
			if err != nil {
				l.cfg.Log.Warn("audit status", "err", err)
				continue
			}
			self := uint32(os.Getpid())
			if what := losses(seen, st, self); what != "" {
				l.cfg.Log.Warn("audit records lost", "what", what)
				l.Lost(what)
			}
			if deposed(seen, st, self) {
				// Deaf from now on: exit, and let the service manager
				// start a reader that registers again.
				return fmt.Errorf("no longer the audit daemon (process %d is)", st.PID)
			}
			seen = st
		}
	}
}

// losses says in words what was lost between two readings of the status
// of a reader running in process self: records, events, or all that
// follows, when auditing was turned off or another process took the
// audit daemon's place.
func losses(a, b audit.Status, self uint32) string {
	var what []string
	if a.Enabled != 0 && b.Enabled == 0 {
		what = append(what, "kernel auditing was turned off: no command is seen until it is on again")
	}
	if deposed(a, b, self) {
		what = append(what, "the kernel no longer sends its audit records to vigil-cmdlog: no command is seen until it restarts")
	}
	if n := b.LostSinceOpen - a.LostSinceOpen; n > 0 {
		what = append(what, fmt.Sprintf("the kernel lost %d audit records", n))
	}
	if n := b.SerialGaps - a.SerialGaps; n > 0 {
		what = append(what, fmt.Sprintf("%d audit events never arrived", n))
	}
	return strings.Join(what, "; ")
}

// deposed says whether the reader of process self stopped being the audit
// daemon between two readings of the status (another process registered,
// or the kernel dropped it).
func deposed(a, b audit.Status, self uint32) bool {
	return b.Mode == audit.ModeDaemon && a.PID == self && b.PID != self
}
