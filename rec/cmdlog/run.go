package cmdlog

import (
	"context"
	"fmt"
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
			if what := losses(seen, st); what != "" {
				l.cfg.Log.Warn("audit records lost", "what", what)
				l.Lost(what)
			}
			seen = st
		}
	}
}

// losses says in words what was lost between two readings of the status.
func losses(a, b audit.Status) string {
	var what []string
	if n := b.LostSinceOpen - a.LostSinceOpen; n > 0 {
		what = append(what, fmt.Sprintf("the kernel lost %d audit records", n))
	}
	if n := b.SerialGaps - a.SerialGaps; n > 0 {
		what = append(what, fmt.Sprintf("%d audit events never arrived", n))
	}
	return strings.Join(what, "; ")
}
