// Package dbusapi is the godbus client of policyd's D-Bus API, for the
// daemon's admin tools and the recorder; the API's names and types are
// package wire's (policyd/spec/dbus.md), which pam_vigil uses without godbus.
package dbusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"

	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
)

// Client talks to policyd over its own private system bus connection.
//
// Every call first looks up the unique name owning wire.BusName and checks with
// the bus that it belongs to uid TrustUID, then sends the call to that
// unique name, so the answer comes from the connection that was checked even
// if the well-known name changes hands in between. TrustUID is 0 (root), as
// policyd/spec/dbus.md requires; only tests that run a fake policyd as
// another user set it to that user's uid.
type Client struct {
	TrustUID uint32

	conn *dbus.Conn
}

// Connect opens a private connection to the system bus
// (DBUS_SYSTEM_BUS_ADDRESS, unless privileged, or the default socket).
// Close releases it.
func Connect() (*Client, error) {
	return ConnectContext(context.Background())
}

// ConnectContext is Connect with ctx bounding the connection handshake
// (a hung bus daemon cannot hold the caller past ctx's deadline).
func ConnectContext(ctx context.Context) (*Client, error) {
	conn, err := dbus.Dial(wire.SystemBusAddress())
	if err != nil {
		return nil, fmt.Errorf("%w: system bus: %w", wire.ErrUnavailable, err)
	}
	// Closing the connection is what unblocks Auth and Hello.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err = conn.Auth(nil)
	if err == nil {
		err = conn.Hello()
	}
	if !stop() {
		conn.Close()
		return nil, fmt.Errorf("%w: system bus handshake: %w", wire.ErrUnavailable, ctx.Err())
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: system bus handshake: %w", wire.ErrUnavailable, err)
	}
	return &Client{conn: conn}, nil
}

// Close closes the connection.
func (c *Client) Close() {
	c.conn.Close()
}

// Decide asks policyd whether a session of user opened by PAM service
// service from rhost on tty is recorded. An unknown user is an *wire.Error named
// wire.ErrNoSuchUser.
func (c *Client) Decide(ctx context.Context, user, service, rhost, tty string) (wire.Decision, error) {
	var d wire.Decision
	err := c.call(ctx, wire.MethodDecide, []any{user, service, rhost, tty},
		&d.Record, &d.Shell, &d.Recorder, &d.Conf, &d.Rule)
	if err != nil {
		return wire.Decision{}, fmt.Errorf("decide %s (service %q): %w", user, service, err)
	}
	return d, nil
}

// Explain returns policyd's decision for the same arguments as Decide with
// every step, as JSON.
func (c *Client) Explain(ctx context.Context, user, service, rhost, tty string) (string, error) {
	var js string
	if err := c.call(ctx, wire.MethodExplain, []any{user, service, rhost, tty}, &js); err != nil {
		return "", fmt.Errorf("explain %s (service %q): %w", user, service, err)
	}
	return js, nil
}

// Reload makes policyd re-read its policy (root only); a broken policy is an
// *wire.Error named wire.ErrBadPolicy whose message is "file:line: reason".
func (c *Client) Reload(ctx context.Context) error {
	if err := c.call(ctx, wire.MethodReload, nil); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	return nil
}

// Status returns policyd's status JSON.
func (c *Client) Status(ctx context.Context) (string, error) {
	var js string
	if err := c.call(ctx, wire.MethodStatus, nil, &js); err != nil {
		return "", fmt.Errorf("status: %w", err)
	}
	return js, nil
}

// call finds wire.BusName's owner, then asks the bus for the owner's uid and
// calls method on the owner at once, in parallel (one round trip less on
// every PAM login); the reply is used only if the uid is TrustUID. Unique
// names are never reused, so the checked connection is the one that
// answered.
func (c *Client) call(ctx context.Context, method string, args []any, ret ...any) error {
	bus := c.conn.BusObject()
	var owner string
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, wire.BusName).Store(&owner); err != nil {
		return fmt.Errorf("owner of %s: %w", wire.BusName, busError(err))
	}
	uidCall := bus.GoWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixUser", 0, make(chan *dbus.Call, 1), owner)
	reply := c.conn.Object(owner, wire.Path).GoWithContext(ctx, method, 0, make(chan *dbus.Call, 1), args...)
	<-uidCall.Done
	<-reply.Done
	var uid uint32
	if err := uidCall.Store(&uid); err != nil {
		return fmt.Errorf("uid of %s (%s): %w", wire.BusName, owner, busError(err))
	}
	if uid != c.TrustUID {
		return fmt.Errorf("%w: %s (%s) has uid %d, want %d", wire.ErrUntrusted, wire.BusName, owner, uid, c.TrustUID)
	}
	if reply.Err != nil {
		return busError(reply.Err)
	}
	if err := reply.Store(ret...); err != nil {
		return fmt.Errorf("%s reply: %w", method, err)
	}
	return nil
}

// busError turns what godbus returns into *wire.Error (keeping the D-Bus error
// name) or, for transport and context errors, an error matching
// wire.ErrUnavailable.
func busError(err error) error {
	var de dbus.Error
	if errors.As(err, &de) {
		e := &wire.Error{Name: de.Name}
		if len(de.Body) > 0 {
			if s, ok := de.Body[0].(string); ok {
				e.Message = s
			}
		}
		return e
	}
	return fmt.Errorf("%w: %w", wire.ErrUnavailable, err)
}

// Host returns the host name policyd resolved for recordings (the fqdn of
// Status): recorders take it from there rather than wait for DNS at login.
func (c *Client) Host(ctx context.Context) (string, error) {
	js, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	var st struct {
		FQDN string `json:"fqdn"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return "", fmt.Errorf("status: %w", err)
	}
	return st.FQDN, nil
}
