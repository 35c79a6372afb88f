package audit

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
	"golang.org/x/sys/unix"
)

// Mode is how a Reader gets the kernel's audit records.
type Mode int

const (
	// ModeAuto picks ModeMulticast when an audit daemon is registered and
	// alive, ModeDaemon otherwise.
	ModeAuto Mode = iota
	// ModeDaemon registers the Reader as the audit daemon: the kernel
	// sends it every record. It enables auditing and raises the backlog
	// settings (while the kernel's own queue is full, processes wait
	// instead of losing records), and puts them back on Close. A record
	// the kernel cannot hand over because the Reader's socket is full is
	// lost without the kernel's lost counter moving (it goes to the kernel
	// log): Status.SerialGaps and Overruns show it. While the Reader runs,
	// other audit records (logins, AVCs) are read and dropped, not logged.
	ModeDaemon
	// ModeMulticast reads the read-only multicast group beside a running
	// auditd (needs CAP_AUDIT_READ) and changes no setting. The kernel does
	// not wait for this reader: records it cannot take in time are lost to
	// it alone (Status.Overruns, Status.SerialGaps).
	ModeMulticast
)

func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeDaemon:
		return "daemon"
	case ModeMulticast:
		return "multicast"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Options tune a Reader; the zero value is the default.
type Options struct {
	Mode Mode
	// BacklogLimit: in ModeDaemon, raise the kernel's queue limit to at
	// least this many records (default 8192; the kernel's own is 64).
	BacklogLimit uint32
	// BacklogWaitTime: in ModeDaemon, raise how long a process waits for
	// room in a full queue before its record is lost, to at least this, in
	// kernel jiffies (default 60000, as auditd's default rules set it).
	BacklogWaitTime uint32
	// SocketBuffer is the socket's receive buffer in bytes (default 8 MiB).
	SocketBuffer int
	// EventBuffer is how many events Events() holds for a slow consumer
	// (default 4096). Beyond it the Reader stops reading, the socket buffer
	// fills, and then records are lost (and counted): consume promptly.
	EventBuffer int
	// ReassemblyTimeout is how long an event may wait for its last record
	// before it is delivered as Incomplete (default 2 s).
	ReassemblyTimeout time.Duration
}

func (o *Options) defaults() {
	if o.BacklogLimit == 0 {
		o.BacklogLimit = 8192
	}
	if o.BacklogWaitTime == 0 {
		o.BacklogWaitTime = 60000
	}
	if o.SocketBuffer == 0 {
		o.SocketBuffer = 8 << 20
	}
	if o.EventBuffer == 0 {
		o.EventBuffer = 4096
	}
	if o.ReassemblyTimeout == 0 {
		o.ReassemblyTimeout = 2 * time.Second
	}
}

// Status is the kernel's audit state and the Reader's counters. Losses show
// in three places: Lost (records the kernel dropped before numbering them:
// queue full past the wait time, rate limit), SerialGaps (serials never
// received: dropped after numbering, as when the Reader's socket was full,
// in either mode; Overruns counts those overflows) and Incomplete events
// (some of an event's records missing). A whole exec event lost before
// numbering shows only in Lost.
type Status struct {
	Mode            Mode
	Enabled         uint32 // 0 off, 1 on, 2 on and immutable
	PID             uint32 // the registered audit daemon
	Lost            uint32 // the kernel's lost-record counter (since boot; wraps)
	LostSinceOpen   uint32 // Lost minus its value when the Reader opened
	Backlog         uint32 // records queued in the kernel now
	BacklogLimit    uint32
	BacklogWaitTime uint32 // jiffies
	// BacklogWaitTimeActual is how long (jiffies, since boot or its last
	// reset) processes waited for room in the full queue.
	BacklogWaitTimeActual uint32

	Events     uint64 // events delivered
	Incomplete uint64 // of which Incomplete
	SerialGaps uint64 // serials never received (known once a later one arrives)
	// Overruns counts socket overflows (ENOBUFS). A multicast reader lost
	// records then; a daemon's records were retried, and only those still
	// refused are lost (SerialGaps).
	Overruns uint64
}

// Reader delivers CommandEvents from the kernel's audit subsystem.
type Reader struct {
	mode   Mode
	opts   Options
	ctlMu  sync.Mutex
	ctl    *libaudit.AuditClient // status and settings; never receives records
	conn   *conn                 // receives the records
	daemon *libaudit.AuditClient // ModeDaemon: conn as the registered daemon

	prev     libaudit.AuditStatus // settings at Open
	changed  libaudit.AuditStatusMask
	lostOpen uint32

	reasm    *libaudit.Reassembler
	events   chan *CommandEvent
	done     chan struct{} // closed by Close
	stopped  chan struct{} // closed when the receive loop has returned
	err      error         // why the loop stopped, read after stopped
	closing  sync.Once
	closeErr error

	nEvents, nIncomplete, nGaps, nOverruns atomic.Uint64
}

// Open starts reading exec events. In ModeDaemon it needs CAP_AUDIT_CONTROL,
// in ModeMulticast CAP_AUDIT_READ; Vigil's rules (AddRules) must be in the
// kernel for events to come.
func Open(opts Options) (*Reader, error) {
	opts.defaults()
	ctl, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return nil, fmt.Errorf("open audit control socket: %w", err)
	}
	st, err := ctl.GetStatus()
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("get audit status: %w", err)
	}
	mode := opts.Mode
	if mode == ModeAuto {
		mode = ModeDaemon
		if st.PID != 0 && alive(int(st.PID)) {
			mode = ModeMulticast
		}
	}
	r := &Reader{
		mode: mode, opts: opts, ctl: ctl, prev: *st, lostOpen: st.Lost,
		events:  make(chan *CommandEvent, opts.EventBuffer),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	r.reasm, err = libaudit.NewReassembler(1024, opts.ReassemblyTimeout, stream{r})
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("audit reassembler: %w", err)
	}
	switch mode {
	case ModeDaemon:
		err = r.openDaemon(st)
	case ModeMulticast:
		err = r.openMulticast(st)
	default:
		err = fmt.Errorf("unknown audit reader mode %v", mode)
	}
	if err != nil {
		ctl.Close()
		return nil, err
	}
	go r.loop()
	return r, nil
}

func (r *Reader) openMulticast(st *libaudit.AuditStatus) error {
	if st.Enabled == 0 {
		return errors.New("audit multicast: auditing is disabled (enabled=0) and this mode changes no settings")
	}
	c, err := dial(libaudit.NetlinkGroupReadLog, r.opts.SocketBuffer)
	if err != nil {
		return fmt.Errorf("audit multicast (needs CAP_AUDIT_READ): %w", err)
	}
	r.conn = c
	return nil
}

func (r *Reader) openDaemon(st *libaudit.AuditStatus) error {
	c, err := dial(0, r.opts.SocketBuffer)
	if err != nil {
		return err
	}
	r.conn = c
	r.daemon = &libaudit.AuditClient{Netlink: c}
	if err := r.daemon.SetPID(libaudit.WaitForReply); err != nil {
		c.Close()
		if errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("register as audit daemon: audit daemon pid %d is registered: %w", st.PID, err)
		}
		return fmt.Errorf("register as audit daemon: %w", err)
	}
	if st.Enabled == 2 {
		return nil // immutable: nothing may change, and it is on
	}
	// Before records flow: while the kernel's queue is full, processes
	// wait (up to the wait time) instead of losing records.
	if st.BacklogLimit < r.opts.BacklogLimit {
		if err := r.ctl.SetBacklogLimit(r.opts.BacklogLimit, libaudit.WaitForReply); err != nil {
			return r.undo(fmt.Errorf("set audit backlog limit %d: %w", r.opts.BacklogLimit, err))
		}
		r.changed |= libaudit.AuditStatusBacklogLimit
	}
	if st.BacklogWaitTime < r.opts.BacklogWaitTime {
		// The kernel refuses more than ten times its default (60*HZ);
		// keep its value then rather than fail.
		err := r.ctl.SetBacklogWaitTime(int32(r.opts.BacklogWaitTime), libaudit.WaitForReply)
		switch {
		case err == nil:
			r.changed |= libaudit.AuditStatusBacklogWaitTime
		case !errors.Is(err, syscall.EINVAL):
			return r.undo(fmt.Errorf("set audit backlog wait time %d: %w", r.opts.BacklogWaitTime, err))
		}
	}
	if st.Enabled == 0 {
		if err := r.ctl.SetEnabled(true, libaudit.WaitForReply); err != nil {
			return r.undo(fmt.Errorf("enable auditing: %w", err))
		}
		r.changed |= libaudit.AuditStatusEnabled
	}
	return nil
}

// undo puts back what openDaemon changed before it failed.
func (r *Reader) undo(err error) error {
	return errors.Join(err, r.restore(), r.daemon.Close())
}

// restore puts back the settings Open changed (not the PID: see Close).
func (r *Reader) restore() error {
	var errs []error
	if r.changed&libaudit.AuditStatusEnabled != 0 {
		if err := r.ctl.SetEnabled(r.prev.Enabled == 1, libaudit.WaitForReply); err != nil {
			errs = append(errs, fmt.Errorf("restore audit enabled=%d: %w", r.prev.Enabled, err))
		}
	}
	if r.changed&libaudit.AuditStatusBacklogWaitTime != 0 {
		if err := r.ctl.SetBacklogWaitTime(int32(r.prev.BacklogWaitTime), libaudit.WaitForReply); err != nil {
			errs = append(errs, fmt.Errorf("restore audit backlog wait time %d: %w", r.prev.BacklogWaitTime, err))
		}
	}
	if r.changed&libaudit.AuditStatusBacklogLimit != 0 {
		if err := r.ctl.SetBacklogLimit(r.prev.BacklogLimit, libaudit.WaitForReply); err != nil {
			errs = append(errs, fmt.Errorf("restore audit backlog limit %d: %w", r.prev.BacklogLimit, err))
		}
	}
	r.changed = 0
	return errors.Join(errs...)
}

// alive reports whether process pid exists (the kernel keeps a dead
// daemon's pid until it next fails to send to it).
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// Mode returns the mode the Reader runs in.
func (r *Reader) Mode() Mode { return r.mode }

// Events returns the exec events, in serial order; the channel is closed
// when the Reader stops (Close, or a receive error: see Err).
func (r *Reader) Events() <-chan *CommandEvent { return r.events }

// Err returns why the Reader stopped on its own, once Events is closed;
// nil after Close.
func (r *Reader) Err() error {
	select {
	case <-r.stopped:
		return r.err
	default:
		return nil
	}
}

// Status returns the kernel's audit state and the Reader's counters.
func (r *Reader) Status() (Status, error) {
	s := Status{
		Mode:       r.mode,
		Events:     r.nEvents.Load(),
		Incomplete: r.nIncomplete.Load(),
		SerialGaps: r.nGaps.Load(),
		Overruns:   r.nOverruns.Load(),
	}
	r.ctlMu.Lock()
	defer r.ctlMu.Unlock()
	select {
	case <-r.done:
		return s, errors.New("audit reader closed")
	default:
	}
	st, err := r.ctl.GetStatus()
	if err != nil {
		return s, fmt.Errorf("get audit status: %w", err)
	}
	s.Enabled, s.PID, s.Lost, s.LostSinceOpen = st.Enabled, st.PID, st.Lost, st.Lost-r.lostOpen
	s.Backlog, s.BacklogLimit, s.BacklogWaitTime = st.Backlog, st.BacklogLimit, st.BacklogWaitTime
	s.BacklogWaitTimeActual = st.BacklogWaitTimeActual
	return s, nil
}

// Close stops the Reader and, in ModeDaemon, turns auditing back off if it
// was, unregisters and restores the backlog settings. Events not yet
// complete are discarded.
func (r *Reader) Close() error {
	r.closing.Do(func() {
		r.ctlMu.Lock()
		defer r.ctlMu.Unlock()
		var errs []error
		// Stop new records first, while still their daemon: records with
		// no daemon would go to the kernel log.
		if r.changed&libaudit.AuditStatusEnabled != 0 {
			if err := r.ctl.SetEnabled(r.prev.Enabled == 1, libaudit.WaitForReply); err != nil {
				errs = append(errs, fmt.Errorf("restore audit enabled=%d: %w", r.prev.Enabled, err))
			}
			r.changed &^= libaudit.AuditStatusEnabled
		}
		close(r.done)
		if err := r.conn.setReadDeadline(time.Unix(1, 0)); err != nil {
			errs = append(errs, fmt.Errorf("stop audit receive loop: %w", err))
		}
		<-r.stopped
		if r.daemon != nil {
			// Sends pid 0 on the registered socket and closes it; the
			// previous pid, if any, was dead (else we would be multicast).
			if err := r.daemon.Close(); err != nil {
				errs = append(errs, fmt.Errorf("unregister audit daemon: %w", err))
			}
		} else if err := r.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close audit socket: %w", err))
		}
		errs = append(errs, r.restore())
		errs = append(errs, r.ctl.Close())
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

// joined are the record types an exec event is made of; only they go to
// the reassembler. A record of another type may stand alone (no EOE
// follows a CONFIG_CHANGE or EVENT_LISTENER from a process that is not
// audited), and go-libaudit's reassembler, which delivers in serial order,
// would hold every later event back behind it until its timeout.
var joined = map[auparse.AuditMessageType]bool{
	auparse.AUDIT_SYSCALL:   true,
	auparse.AUDIT_EXECVE:    true,
	auparse.AUDIT_CWD:       true,
	auparse.AUDIT_PATH:      true,
	auparse.AUDIT_PROCTITLE: true, // the last record of a syscall's event
	auparse.AUDIT_EOE:       true,
}

// loop receives records and feeds the reassembler until Close.
func (r *Reader) loop() {
	defer close(r.events)
	defer close(r.stopped)
	// Expire overdue events a few times per timeout, from this goroutine
	// only, so that events leave in serial order.
	every := r.opts.ReassemblyTimeout / 4
	var serials serialTracker
	next := time.Now().Add(every)
	_ = r.conn.setReadDeadline(next)
	b := newBatch()
	for {
		err := r.conn.recvBatch(b)
		switch {
		case err == nil:
			for i := range b.n {
				typ, data, ok := b.record(i)
				if !ok {
					continue
				}
				if serial, ok := recordSerial(data); ok {
					serials.see(serial)
				}
				if joined[auparse.AuditMessageType(typ)] {
					_ = r.reasm.Push(auparse.AuditMessageType(typ), data)
				}
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, unix.ENOBUFS):
			r.nOverruns.Add(1)
		case errors.Is(err, unix.EINTR):
		default:
			select {
			case <-r.done:
			default:
				r.err = fmt.Errorf("receive audit records: %w", err)
			}
			return
		}
		select {
		case <-r.done:
			return
		default:
		}
		if now := time.Now(); !now.Before(next) {
			serials.check()
			r.nGaps.Store(serials.lost)
			_ = r.reasm.Maintain()
			next = now.Add(every)
			_ = r.conn.setReadDeadline(next)
		}
	}
}

// stream receives the reassembler's events (on the loop's goroutine).
type stream struct{ r *Reader }

func (s stream) ReassemblyComplete(msgs []*auparse.AuditMessage) {
	ev := joinEvent(msgs)
	if ev == nil {
		return
	}
	s.r.nEvents.Add(1)
	if ev.Incomplete {
		s.r.nIncomplete.Add(1)
	}
	select {
	case s.r.events <- ev:
	case <-s.r.done:
	}
}

// EventsLost is ignored: the reassembler sees only exec-related records,
// so its serial gaps are mostly other events; serialTracker counts gaps
// over all records instead. (It also reports a repeated serial as 2^32-1.)
func (stream) EventsLost(int) {}
