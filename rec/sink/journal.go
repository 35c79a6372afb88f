package sink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/msg"
)

// JournalSocket is journald's native protocol socket.
const JournalSocket = "/run/systemd/journal/socket"

// Journal is the systemd journal sink. It speaks journald's native protocol
// itself (as sd_journal_send does) so that every send error is returned and
// entries too large for one datagram go through a sealed memfd.
//
// MESSAGE is the JSON line without its trailing newline, exactly as tlog
// sends it: journalctl -o json shows it as a string, and tlog-play -r
// journal and Cockpit parse it as JSON; readers add the newline back. With augment the entry also carries
// TLOG_REC, TLOG_USER, TLOG_SESSION and TLOG_ID, which Cockpit and
// tlog-play -M TLOG_REC=... search by.
type Journal struct {
	mu       sync.Mutex
	fd       int // unbound AF_UNIX datagram socket, -1 once closed
	addr     unix.SockaddrUnix
	priority string // numeric, preformatted
	ident    string
	augment  bool
	buf      []byte // reused entry buffer
}

// OpenJournal opens the journal sink. priority is a syslog severity name
// (emerg .. debug); identifier becomes SYSLOG_IDENTIFIER. It fails if
// journald is not listening.
func OpenJournal(priority string, augment bool, identifier string) (*Journal, error) {
	prio, err := ParsePriority(priority)
	if err != nil {
		return nil, fmt.Errorf("journal sink: %w", err)
	}
	if identifier == "" {
		return nil, errors.New("journal sink: empty identifier")
	}
	// Probe with a connect so that a missing journald is reported now, not
	// at the first message; the sink itself sends unconnected like
	// sd_journal_send, so a restarted journald is picked up.
	if err := probeDgram(JournalSocket); err != nil {
		return nil, fmt.Errorf("journal sink: journald at %s: %w", JournalSocket, err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("journal sink: socket: %w", err)
	}
	return &Journal{
		fd:       fd,
		addr:     unix.SockaddrUnix{Name: JournalSocket},
		priority: strconv.Itoa(prio),
		ident:    identifier,
		augment:  augment,
	}, nil
}

func probeDgram(path string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// WriteMessage sends m as one journal entry.
func (j *Journal) WriteMessage(m *msg.Message) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fd < 0 {
		return errors.New("journal sink: write after close")
	}
	b := j.buf[:0]
	b = appendField(b, "PRIORITY", j.priority)
	b = appendField(b, "SYSLOG_IDENTIFIER", j.ident)
	if j.augment {
		b = appendField(b, "TLOG_REC", m.Rec)
		b = appendField(b, "TLOG_USER", m.User)
		b = appendField(b, "TLOG_SESSION", strconv.FormatUint(uint64(m.Session), 10))
		b = appendField(b, "TLOG_ID", strconv.FormatUint(m.ID, 10))
	}
	b = appendField(b, "MESSAGE", strings.TrimSuffix(string(m.Line), "\n"))
	j.buf = b
	if err := j.send(b); err != nil {
		return fmt.Errorf("journal sink: message %d of %s (%d bytes): %w", m.ID, m.Rec, len(b), err)
	}
	return nil
}

// appendField encodes one field of the native protocol: NAME=value\n, or,
// for values containing a newline, NAME\n, the value length as a 64-bit
// little-endian integer, the value and \n.
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	for i := 0; i < len(value); i++ {
		if value[i] == '\n' {
			b = append(b, '\n')
			b = binary.LittleEndian.AppendUint64(b, uint64(len(value)))
			b = append(b, value...)
			return append(b, '\n')
		}
	}
	b = append(b, '=')
	b = append(b, value...)
	return append(b, '\n')
}

func (j *Journal) send(entry []byte) error {
	err := unix.Sendmsg(j.fd, entry, nil, &j.addr, 0)
	if !errors.Is(err, unix.EMSGSIZE) && !errors.Is(err, unix.ENOBUFS) {
		return err
	}
	// Too large for a datagram: hand journald a sealed memfd holding the
	// entry, as sd_journal_send does.
	mfd, err := unix.MemfdCreate("vigil-journal", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("memfd for large entry: %w", err)
	}
	defer unix.Close(mfd)
	for off := 0; off < len(entry); {
		n, err := unix.Write(mfd, entry[off:])
		if err != nil {
			return fmt.Errorf("write memfd: %w", err)
		}
		off += n
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(mfd), unix.F_ADD_SEALS, seals); err != nil {
		return fmt.Errorf("seal memfd: %w", err)
	}
	if err := unix.Sendmsg(j.fd, nil, unix.UnixRights(mfd), &j.addr, 0); err != nil {
		return fmt.Errorf("send memfd: %w", err)
	}
	return nil
}

// Close closes the socket. journald stores entries as they arrive, so
// there is nothing to flush.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fd < 0 {
		return nil
	}
	err := unix.Close(j.fd)
	j.fd = -1
	if err != nil {
		return fmt.Errorf("journal sink: close socket: %w", err)
	}
	return nil
}
