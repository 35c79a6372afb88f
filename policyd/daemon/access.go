package daemon

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"

	"github.com/vigil-rec/vigil/policyd/accesslog"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/nsslookup"
	"github.com/vigil-rec/vigil/rec/keys"
)

// maxAccessField bounds each text RecordAccess takes.
const maxAccessField = 4096

// RecordAccess appends an access to the access log (accesslog): the
// caller, as the bus vouches for it, did action to the recording file
// (rec), from where the page was told. Root, wire.AdminGroup and
// wire.AuditorsGroup only: the page records before it shows, and refuses
// to show what it could not record. It returns the line's seq.
func (o *busObject) RecordAccess(action, file, rec, detail, from string, sender dbus.Sender) (uint64, *dbus.Error) {
	a, derr := o.access(sender)
	if derr != nil {
		return 0, derr
	}
	if !(a.privileged && !a.recorder || a.auditor) {
		return 0, busError(wire.ErrAccessDenied, fmt.Errorf("uid %d: RecordAccess is for root and groups %s and %s",
			a.uid, wire.AuditorsGroup, wire.AdminGroup))
	}
	if !slices.Contains(accesslog.Actions, action) {
		return 0, busError(wire.ErrFailed, fmt.Errorf("action %q: want one of %s", action, strings.Join(accesslog.Actions, ", ")))
	}
	for _, f := range []struct{ name, v string }{{"file", file}, {"rec", rec}, {"detail", detail}, {"from", from}} {
		if len(f.v) > maxAccessField || !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return 0, busError(wire.ErrFailed, fmt.Errorf("%s: valid UTF-8 without NUL, at most %d bytes", f.name, maxAccessField))
		}
	}
	if file == "" {
		return 0, busError(wire.ErrFailed, fmt.Errorf("no file"))
	}
	e := accesslog.Entry{Who: o.who(a), UID: a.uid, Session: auditSession(a.pid), Action: action, File: file, Rec: rec,
		Detail: detail, From: from}
	e, err := o.d.recordAccess(e)
	if err != nil {
		o.d.log.Error("access not recorded", "who", e.Who, "action", action, "file", file, "err", err)
		return 0, busError(wire.ErrFailed, err)
	}
	// The journal keeps each line's seq and time: a copy outside the log,
	// to notice its newest lines being removed.
	o.d.log.Info("access recorded", "seq", e.Seq, "who", e.Who, "session", e.Session, "action", action, "file", file, "rec", rec, "from", from)
	return e.Seq, nil
}

// who names the caller: its user and, when another, the user who logged
// in (/proc/PID/loginuid: an admin's superuser bridge runs as root).
func (o *busObject) who(a access) string {
	name := func(uid uint32) string {
		var n string
		_ = o.d.lookup(func() error {
			if u, err := nsslookup.UserByID(uid); err == nil {
				n = u.Name
			}
			return nil
		})
		if n == "" {
			return "uid " + strconv.FormatUint(uint64(uid), 10)
		}
		return n
	}
	who := name(a.uid)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/loginuid", a.pid))
	if err != nil {
		return who
	}
	login, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err == nil && login != 4294967295 && uint32(login) != a.uid {
		who += " (login " + name(uint32(login)) + ")"
	}
	return who
}

// auditSession is process pid's audit session id, 0 when it has none.
func auditSession(pid uint32) uint32 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/sessionid", pid))
	if err != nil {
		return 0
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || id == 4294967295 {
		return 0
	}
	return uint32(id)
}

// recordAccess appends e to the access log, opening it at its first use.
func (d *Daemon) recordAccess(e accesslog.Entry) (accesslog.Entry, error) {
	d.accessMu.Lock()
	defer d.accessMu.Unlock()
	if d.access == nil {
		key, err := keys.LoadPrivate(d.cfg.SigningKey)
		if err != nil {
			return e, fmt.Errorf("access log signing key: %w", err)
		}
		if d.access, err = accesslog.Open(d.cfg.AccessLog, key); err != nil {
			return e, err
		}
	}
	return d.access.Append(e)
}
