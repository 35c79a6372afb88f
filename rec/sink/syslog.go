package sink

import (
	"errors"
	"fmt"
	"sync"

	gsyslog "github.com/hashicorp/go-syslog"

	"github.com/vigil-rec/vigil/rec/msg"
)

// Syslog is the syslog sink: one message to the local syslog daemon
// (/dev/log) per recording message, like tlog's openlog/syslog. The JSON
// line is sent with its trailing newline, which syslog daemons drop on
// reception; receivers must allow messages of payload + 1 KiB (rsyslog
// $MaxMessageSize, default 8 KiB).
type Syslog struct {
	mu     sync.Mutex
	l      gsyslog.Syslogger
	prio   gsyslog.Priority
	closed bool
}

// OpenSyslog connects to the local syslog daemon. facility and priority are
// tlog's names (authpriv, local0, ...; emerg .. debug); tag is the syslog
// tag (program name).
func OpenSyslog(facility, priority, tag string) (*Syslog, error) {
	if err := checkFacility(facility); err != nil {
		return nil, fmt.Errorf("syslog sink: %w", err)
	}
	prio, err := ParsePriority(priority)
	if err != nil {
		return nil, fmt.Errorf("syslog sink: %w", err)
	}
	if tag == "" {
		return nil, errors.New("syslog sink: empty tag")
	}
	l, err := gsyslog.NewLogger(gsyslog.Priority(prio), facility, tag)
	if err != nil {
		return nil, fmt.Errorf("syslog sink: connect to local syslog: %w", err)
	}
	return &Syslog{l: l, prio: gsyslog.Priority(prio)}, nil
}

// WriteMessage sends m.Line as one syslog message.
func (s *Syslog) WriteMessage(m *msg.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("syslog sink: write after close")
	}
	if err := s.l.WriteLevel(s.prio, m.Line); err != nil {
		return fmt.Errorf("syslog sink: message %d of %s (%d bytes): %w", m.ID, m.Rec, len(m.Line), err)
	}
	return nil
}

// Close closes the connection to the syslog daemon.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.l.Close(); err != nil {
		return fmt.Errorf("syslog sink: close: %w", err)
	}
	return nil
}
