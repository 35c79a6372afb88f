package dbusapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// fakePolicyd answers like policyd: alice is recorded, bob is not, anyone
// else is unknown, "slow" never answers in time.
type fakePolicyd struct{}

func (fakePolicyd) Decide(user, service, rhost, tty string) (bool, string, string, string, string, *dbus.Error) {
	switch user {
	case "alice":
		return true, "/bin/bash", "/usr/bin/vigil-rec-session", `{"notice":"hi"}`, `rule "all" (/etc/vigil/policy.toml:3)`, nil
	case "bob":
		return false, "/bin/sh", "/usr/bin/vigil-rec-session", "{}", "default", nil
	case "slow":
		time.Sleep(2 * time.Second)
		return false, "", "", "", "", nil
	}
	return false, "", "", "", "", dbus.NewError(wire.ErrNoSuchUser, []any{"no such user: " + user})
}

func (fakePolicyd) Explain(user, service, rhost, tty string) (string, *dbus.Error) {
	return `{"user":"` + user + `","service":"` + service + `"}`, nil
}

func (fakePolicyd) Reload() *dbus.Error {
	return dbus.NewError(wire.ErrBadPolicy, []any{"/etc/vigil/policy.toml:7: unknown key"})
}

func (fakePolicyd) Status() (string, *dbus.Error) { return `{"source":"file"}`, nil }

// startBus starts a private system bus for this test and points
// DBUS_SYSTEM_BUS_ADDRESS at it.
func startBus(t *testing.T) string {
	t.Helper()
	svctest.RequireRoot(t)
	addr := svctest.StartSystemBus(t)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
	return addr
}

// servePolicyd owns wire.BusName on the bus at addr with fakePolicyd (the test
// runs as root, which the bus policy requires).
func servePolicyd(t *testing.T, addr string) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Export(fakePolicyd{}, wire.Path, wire.Interface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(wire.BusName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request %s: %v %v", wire.BusName, reply, err)
	}
}

func connect(t *testing.T) *Client {
	t.Helper()
	c, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestClient(t *testing.T) {
	addr := startBus(t)
	servePolicyd(t, addr)
	c := connect(t)
	ctx := context.Background()

	d, err := c.Decide(ctx, "alice", "sshd", "10.0.0.1", "pts/0")
	want := wire.Decision{Record: true, Shell: "/bin/bash", Recorder: "/usr/bin/vigil-rec-session",
		Conf: `{"notice":"hi"}`, Rule: `rule "all" (/etc/vigil/policy.toml:3)`}
	if err != nil || d != want {
		t.Errorf("Decide(alice) = %+v, %v; want %+v", d, err, want)
	}

	_, err = c.Decide(ctx, "mallory", "sshd", "", "")
	if wire.ErrorName(err) != wire.ErrNoSuchUser || errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("Decide(mallory): %v (name %q), want %s", err, wire.ErrorName(err), wire.ErrNoSuchUser)
	}

	js, err := c.Explain(ctx, "bob", "su", "", "")
	if err != nil || js != `{"user":"bob","service":"su"}` {
		t.Errorf("Explain = %q, %v", js, err)
	}
	js, err = c.Status(ctx)
	if err != nil || js != `{"source":"file"}` {
		t.Errorf("Status = %q, %v", js, err)
	}
	err = c.Reload(ctx)
	var e *wire.Error
	if !errors.As(err, &e) || e.Name != wire.ErrBadPolicy || e.Message != "/etc/vigil/policy.toml:7: unknown key" {
		t.Errorf("Reload: %v, want %s with file:line", err, wire.ErrBadPolicy)
	}

	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := c.Decide(tctx, "slow", "sshd", "", ""); !errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("Decide past the deadline: %v, want wire.ErrUnavailable", err)
	}
}

func TestClientUntrustedOwner(t *testing.T) {
	addr := startBus(t)
	servePolicyd(t, addr)
	c := connect(t)
	// Stands for "owned by someone else": the fake runs as root, so trusting
	// only another uid must reject it.
	c.TrustUID = 4242
	_, err := c.Decide(context.Background(), "alice", "sshd", "", "")
	if !errors.Is(err, wire.ErrUntrusted) {
		t.Fatalf("Decide with owner uid 0 but TrustUID 4242: %v, want wire.ErrUntrusted", err)
	}
}

func TestClientNoOwner(t *testing.T) {
	startBus(t)
	c := connect(t)
	_, err := c.Decide(context.Background(), "alice", "sshd", "", "")
	if !errors.Is(err, wire.ErrUnavailable) {
		t.Fatalf("Decide without policyd: %v, want wire.ErrUnavailable", err)
	}
	if wire.ErrorName(err) != "org.freedesktop.DBus.Error.NameHasNoOwner" {
		t.Errorf("error name %q, want the bus's NameHasNoOwner", wire.ErrorName(err))
	}
}

func TestConnectNoBus(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+t.TempDir()+"/none")
	if _, err := Connect(); !errors.Is(err, wire.ErrUnavailable) {
		t.Fatalf("Connect without a bus: %v, want wire.ErrUnavailable", err)
	}
}

func TestConnectHungBus(t *testing.T) {
	// Accepts and never answers the handshake.
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", svctest.HungBus(t))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ConnectContext(ctx)
	if !errors.Is(err, wire.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ConnectContext to a hung bus: %v, want wire.ErrUnavailable and the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ConnectContext took %v past a 300ms deadline", d)
	}
}
