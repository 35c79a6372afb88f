package daemon

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/vigil-rec/vigil/policyd/dbusapi"
	"github.com/vigil-rec/vigil/policyd/decide"
)

// busObject carries the D-Bus methods of policyd/spec/dbus.md.
type busObject struct {
	d    *Daemon
	conn *dbus.Conn
}

const introspectXML = `<node>
  <interface name="` + dbusapi.Interface + `">
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
	if err := conn.Export(obj, dbusapi.Path, dbusapi.Interface); err != nil {
		conn.Close()
		return nil, fmt.Errorf("export %s: %w", dbusapi.Path, err)
	}
	if err := conn.Export(introspect.Introspectable(introspectXML), dbusapi.Path, "org.freedesktop.DBus.Introspectable"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("export introspection: %w", err)
	}
	reply, err := conn.RequestName(dbusapi.BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("request name %s: %w", dbusapi.BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, fmt.Errorf("request name %s: already owned (reply %d)", dbusapi.BusName, reply)
	}
	d.reloadMu.Lock()
	d.changed = func(gen uint64) {
		if err := conn.Emit(dbusapi.Path, dbusapi.SignalChanged, gen); err != nil {
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
		return busError(dbusapi.ErrNoSuchUser, err)
	}
	return busError(dbusapi.ErrFailed, err)
}

func (o *busObject) Decide(user, service, rhost, tty string) (bool, string, string, string, string, *dbus.Error) {
	dec, _, err := o.d.Decide(user, decide.Request{Service: service, RHost: rhost, TTY: tty}, false)
	if err != nil {
		return false, "", "", "", "", decideError(err)
	}
	return dec.Record, dec.Shell, dec.Recorder, string(dec.Conf.JSON()), dec.Rule, nil
}

func (o *busObject) Explain(user, service, rhost, tty string) (string, *dbus.Error) {
	req := decide.Request{Service: service, RHost: rhost, TTY: tty}
	dec, u, err := o.d.Decide(user, req, true)
	if err != nil {
		return "", decideError(err)
	}
	out, err := json.Marshal(decide.Explain(dec, u, req))
	if err != nil {
		return "", busError(dbusapi.ErrFailed, err)
	}
	return string(out), nil
}

func (o *busObject) Reload(sender dbus.Sender) *dbus.Error {
	var uid uint32
	if err := o.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, string(sender)).Store(&uid); err != nil {
		return busError(dbusapi.ErrFailed, fmt.Errorf("who is calling: %w", err))
	}
	if uid != 0 {
		return busError(dbusapi.ErrAccessDenied, fmt.Errorf("Reload is for root only (caller uid %d)", uid))
	}
	if err := o.d.Reload("D-Bus Reload"); err != nil {
		return busError(dbusapi.ErrBadPolicy, err)
	}
	return nil
}

func (o *busObject) Status() (string, *dbus.Error) {
	out, err := json.Marshal(o.d.Status())
	if err != nil {
		return "", busError(dbusapi.ErrFailed, err)
	}
	return string(out), nil
}

func (o *busObject) Rules() (string, *dbus.Error) {
	out, err := json.Marshal(o.d.state.Load().engine.Rules())
	if err != nil {
		return "", busError(dbusapi.ErrFailed, err)
	}
	return string(out), nil
}
