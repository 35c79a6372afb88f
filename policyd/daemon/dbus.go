package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/nsslookup"
	"github.com/vigil-rec/vigil/policyd/sessionkill"
	"github.com/vigil-rec/vigil/policyd/ttyclaim"
)

// busObject carries the D-Bus methods of policyd/spec/dbus.md.
type busObject struct {
	d    *Daemon
	conn *dbus.Conn
}

const introspectXML = `<node>
  <interface name="` + wire.Interface + `">
    <method name="Decide">
      <arg name="user" type="s" direction="in"/>
      <arg name="service" type="s" direction="in"/>
      <arg name="rhost" type="s" direction="in"/>
      <arg name="tty" type="s" direction="in"/>
      <arg name="record" type="b" direction="out"/>
      <arg name="shell" type="s" direction="out"/>
      <arg name="recorder" type="s" direction="out"/>
      <arg name="conf" type="s" direction="out"/>
      <arg name="rule" type="s" direction="out"/>
    </method>
    <method name="Explain">
      <arg name="user" type="s" direction="in"/>
      <arg name="service" type="s" direction="in"/>
      <arg name="rhost" type="s" direction="in"/>
      <arg name="tty" type="s" direction="in"/>
      <arg name="json" type="s" direction="out"/>
    </method>
    <method name="Reload"/>
    <method name="Rules">
      <arg name="json" type="s" direction="out"/>
    </method>
    <method name="Status">
      <arg name="json" type="s" direction="out"/>
    </method>
    <method name="RecordAccess">
      <arg name="action" type="s" direction="in"/>
      <arg name="file" type="s" direction="in"/>
      <arg name="rec" type="s" direction="in"/>
      <arg name="detail" type="s" direction="in"/>
      <arg name="from" type="s" direction="in"/>
      <arg name="seq" type="t" direction="out"/>
    </method>
    <method name="ClaimTerminal">
      <arg name="tty" type="h" direction="in"/>
    </method>
    <method name="SignalSession">
      <arg name="signal" type="u" direction="in"/>
      <arg name="reached" type="u" direction="out"/>
    </method>
    <signal name="PolicyChanged">
      <arg name="generation" type="t"/>
    </signal>
  </interface>` + introspect.IntrospectDataString + `</node>`

// ServeBus connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS or the
// default), exports the API and takes the well-known name. It returns the
// connection; closing it stops serving.
func (d *Daemon) ServeBus() (*dbus.Conn, error) {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, fmt.Errorf("system bus: %w", err)
	}
	obj := &busObject{d: d, conn: conn}
	if err := conn.Export(obj, wire.Path, wire.Interface); err != nil {
		conn.Close()
		return nil, fmt.Errorf("export %s: %w", wire.Path, err)
	}
	if err := conn.Export(introspect.Introspectable(introspectXML), wire.Path, "org.freedesktop.DBus.Introspectable"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("export introspection: %w", err)
	}
	reply, err := conn.RequestName(wire.BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("request name %s: %w", wire.BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, fmt.Errorf("request name %s: already owned (reply %d)", wire.BusName, reply)
	}
	d.reloadMu.Lock()
	d.changed = func(gen uint64) {
		if err := conn.Emit(wire.Path, wire.SignalChanged, gen); err != nil {
			d.log.Warn("emitting PolicyChanged", "err", err)
		}
	}
	d.reloadMu.Unlock()
	return conn, nil
}

func busError(name string, err error) *dbus.Error {
	return dbus.NewError(name, []any{err.Error()})
}

func decideError(err error) *dbus.Error {
	if errors.Is(err, ErrNoSuchUser) {
		return busError(wire.ErrNoSuchUser, err)
	}
	return busError(wire.ErrFailed, err)
}

// caller is who sent a method call, as the bus vouches for it: the
// credentials of the connection (SO_PEERCRED, SO_PEERGROUPS), which are
// also what the bus policy judged.
type caller struct {
	uid, pid uint32
	gids     []uint32
}

func (o *busObject) caller(sender dbus.Sender) (caller, error) {
	var creds map[string]dbus.Variant
	if err := o.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionCredentials", 0, string(sender)).Store(&creds); err != nil {
		return caller{}, fmt.Errorf("who is calling: %w", err)
	}
	var c caller
	uid, ok1 := creds["UnixUserID"].Value().(uint32)
	pid, ok2 := creds["ProcessID"].Value().(uint32)
	if !ok1 || !ok2 {
		return c, fmt.Errorf("who is calling: the bus gave no uid or pid for %s", sender)
	}
	c.uid, c.pid = uid, pid
	c.gids, _ = creds["UnixGroupIDs"].Value().([]uint32)
	return c, nil
}

// access is what a caller may learn of the policy: root, the recorder
// account and members of wire.AdminGroup everything; anyone else only
// the decision about themselves (policyd/spec/dbus.md, "Access").
type access struct {
	caller
	name       string // the caller's user name, "" if NSS does not know it
	privileged bool
	recorder   bool // the caller is the recorder account
	auditor    bool // in wire.AuditorsGroup
}

func (o *busObject) access(sender dbus.Sender) (access, *dbus.Error) {
	c, err := o.caller(sender)
	if err != nil {
		return access{}, busError(wire.ErrFailed, err)
	}
	a := access{caller: c}
	if c.uid == 0 {
		a.privileged = true
		return a, nil
	}
	err = o.d.lookup(func() error {
		u, err := nsslookup.UserByID(c.uid)
		if err != nil {
			return err
		}
		a.name = u.Name
		if r, err := nsslookup.User(wire.RecorderAccount); err == nil && r.UID == c.uid {
			a.recorder = true
		}
		for _, g := range c.gids {
			switch nsslookup.GroupName(g) {
			case wire.AdminGroup:
				a.privileged = true
			case wire.AuditorsGroup:
				a.auditor = true
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, nsslookup.ErrNoSuchUser) {
		return a, busError(wire.ErrFailed, fmt.Errorf("caller uid %d: %w", c.uid, err))
	}
	a.privileged = a.privileged || a.recorder
	return a, nil
}

// mayAsk refuses a decision about someone else to an unprivileged caller:
// the rules, exemptions and groups behind decisions are the admin's.
func (a access) mayAsk(user string) *dbus.Error {
	if a.privileged || (a.name != "" && a.name == user) {
		return nil
	}
	return busError(wire.ErrAccessDenied, fmt.Errorf("uid %d may ask only about itself (root, %s and group %s may ask about anyone)",
		a.uid, wire.RecorderAccount, wire.AdminGroup))
}

func (o *busObject) Decide(user, service, rhost, tty string, sender dbus.Sender) (bool, string, string, string, string, *dbus.Error) {
	a, derr := o.access(sender)
	if derr == nil {
		derr = a.mayAsk(user)
	}
	if derr != nil {
		return false, "", "", "", "", derr
	}
	dec, _, err := o.d.Decide(user, decide.Request{Service: service, RHost: rhost, TTY: tty}, false)
	if err != nil {
		return false, "", "", "", "", decideError(err)
	}
	return dec.Record, dec.Shell, dec.Recorder, string(dec.Conf.JSON()), dec.Rule, nil
}

func (o *busObject) Explain(user, service, rhost, tty string, sender dbus.Sender) (string, *dbus.Error) {
	a, derr := o.access(sender)
	if derr == nil {
		derr = a.mayAsk(user)
	}
	if derr != nil {
		return "", derr
	}
	req := decide.Request{Service: service, RHost: rhost, TTY: tty}
	dec, u, err := o.d.Decide(user, req, true)
	if err != nil {
		return "", decideError(err)
	}
	out, err := json.Marshal(decide.Explain(dec, u, req))
	if err != nil {
		return "", busError(wire.ErrFailed, err)
	}
	return string(out), nil
}

func (o *busObject) Reload(sender dbus.Sender) *dbus.Error {
	c, err := o.caller(sender)
	if err != nil {
		return busError(wire.ErrFailed, err)
	}
	if c.uid != 0 {
		return busError(wire.ErrAccessDenied, fmt.Errorf("Reload is for root only (caller uid %d)", c.uid))
	}
	if err := o.d.Reload("D-Bus Reload"); err != nil {
		return busError(wire.ErrBadPolicy, err)
	}
	return nil
}

func (o *busObject) Status(sender dbus.Sender) (string, *dbus.Error) {
	a, derr := o.access(sender)
	if derr != nil {
		return "", derr
	}
	st := o.d.Status()
	if !a.privileged {
		// A rejected policy's error quotes the policy.
		st.LastError = ""
	}
	out, err := json.Marshal(st)
	if err != nil {
		return "", busError(wire.ErrFailed, err)
	}
	return string(out), nil
}

func (o *busObject) Rules(sender dbus.Sender) (string, *dbus.Error) {
	a, derr := o.access(sender)
	if derr != nil {
		return "", derr
	}
	if !a.privileged {
		return "", busError(wire.ErrAccessDenied, fmt.Errorf("Rules is for root, %s and group %s (caller uid %d)",
			wire.RecorderAccount, wire.AdminGroup, a.uid))
	}
	out, err := json.Marshal(o.d.state.Load().engine.Rules())
	if err != nil {
		return "", busError(wire.ErrFailed, err)
	}
	return string(out), nil
}

// recorder checks that the caller is the recorder account (the setuid
// vigil-rec-session), for the methods that act on a recorded session.
func (o *busObject) recorder(sender dbus.Sender, method string) (access, *dbus.Error) {
	a, derr := o.access(sender)
	if derr != nil {
		return a, derr
	}
	if !a.recorder {
		return a, busError(wire.ErrAccessDenied, fmt.Errorf("%s is for the %s recorder only (caller uid %d)", method, wire.RecorderAccount, a.uid))
	}
	return a, nil
}

func (o *busObject) ClaimTerminal(tty dbus.UnixFD, sender dbus.Sender) *dbus.Error {
	defer unix.Close(int(tty))
	a, derr := o.recorder(sender, "ClaimTerminal")
	if derr != nil {
		return derr
	}
	c, err := ttyclaim.Take(int(tty), int(a.pid), a.uid)
	if err != nil {
		o.d.log.Warn("terminal not taken", "pid", a.pid, "err", err)
		return busError(wire.ErrFailed, fmt.Errorf("take terminal: %w", err))
	}
	o.d.log.Info("terminal taken for recording", "pid", a.pid, "tty", fmt.Sprintf("%d:%d", c.Major, c.Minor), "user_uid", c.Owner, "mode", c.Mode)
	return nil
}

// signalsForSessions are what a recorder may send to its session: hang
// it up, terminate it, wake it, end it.
var signalsForSessions = map[uint32]bool{
	uint32(unix.SIGHUP): true, uint32(unix.SIGTERM): true, uint32(unix.SIGCONT): true, uint32(unix.SIGKILL): true,
}

// killWithin bounds SignalSession(SIGKILL)'s rounds.
const killWithin = 2 * time.Second

func (o *busObject) SignalSession(sig uint32, sender dbus.Sender) (uint32, *dbus.Error) {
	a, derr := o.recorder(sender, "SignalSession")
	if derr != nil {
		return 0, derr
	}
	if !signalsForSessions[sig] {
		return 0, busError(wire.ErrFailed, fmt.Errorf("signal %d is not one a session is ended with", sig))
	}
	var n int
	var err error
	if unix.Signal(sig) == unix.SIGKILL {
		n, err = sessionkill.Kill(int(a.pid), killWithin)
	} else {
		n, err = sessionkill.Signal(int(a.pid), unix.Signal(sig))
	}
	if n > 0 || err != nil {
		o.d.log.Info("session signalled", "recorder_pid", a.pid, "signal", unix.SignalName(unix.Signal(sig)), "processes", n, "err", err)
	}
	if err != nil {
		return uint32(n), busError(wire.ErrFailed, err)
	}
	return uint32(n), nil
}
