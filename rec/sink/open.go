package sink

import (
	"fmt"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/store"
)

// Ident is the SYSLOG_IDENTIFIER / syslog tag of recordings.
const Ident = "vigil-rec"

// Open opens the sink that c.Writer selects: "file" (c.File.Path, meta
// names the per-recording file), "journal" (c.Journal) or "syslog"
// (c.Syslog).
func Open(c conf.Rec, meta store.Meta) (msg.Sink, error) {
	switch c.Writer {
	case "file":
		s, err := OpenFile(c.File.Path, meta)
		if err != nil {
			return nil, fmt.Errorf("writer file (path %q): %w", c.File.Path, err)
		}
		return s, nil
	case "journal":
		s, err := OpenJournal(c.Journal.Priority, c.Journal.Augment, Ident)
		if err != nil {
			return nil, fmt.Errorf("writer journal: %w", err)
		}
		return s, nil
	case "syslog":
		s, err := OpenSyslog(c.Syslog.Facility, c.Syslog.Priority, Ident)
		if err != nil {
			return nil, fmt.Errorf("writer syslog (facility %s): %w", c.Syslog.Facility, err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("unknown writer %q (want file, journal or syslog)", c.Writer)
	}
}
