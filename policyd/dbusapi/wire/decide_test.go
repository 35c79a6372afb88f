package wire_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/pam/pamtest"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/rec/svctest"
)

var policy = pamtest.Policy{Decisions: map[string]wire.Decision{
	"alice": {Record: true, Shell: "/bin/bash", Recorder: pamtest.Recorder, Conf: `{"notice":"hi"}`, Rule: `rule "all" (/etc/vigil/policy.toml:3)`},
	"bob":   {Shell: "/bin/sh", Recorder: pamtest.Recorder, Conf: "{}", Rule: "default"},
	"slow":  {Record: true},
}, Slow: "slow"}

// startBus starts a private system bus for this test, points
// DBUS_SYSTEM_BUS_ADDRESS at it and returns its address.
func startBus(t *testing.T) string {
	t.Helper()
	svctest.RequireRoot(t)
	addr := svctest.StartSystemBus(t)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
	return addr
}

func deadline(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestDecideOnce(t *testing.T) {
	pamtest.Serve(t, startBus(t), policy)
	for _, user := range []string{"alice", "bob"} {
		d, err := wire.DecideOnce(deadline(t, 5*time.Second), user, "sshd", "10.0.0.1", "pts/0")
		if want := policy.Decisions[user]; err != nil || d != want {
			t.Errorf("DecideOnce(%s) = %+v, %v; want %+v", user, d, err, want)
		}
	}

	_, err := wire.DecideOnce(deadline(t, 5*time.Second), "mallory", "sshd", "", "")
	if wire.ErrorName(err) != wire.ErrNoSuchUser || errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("DecideOnce(mallory): %v (name %q), want %s", err, wire.ErrorName(err), wire.ErrNoSuchUser)
	}

	start := time.Now()
	_, err = wire.DecideOnce(deadline(t, 200*time.Millisecond), "slow", "sshd", "", "")
	if !errors.Is(err, wire.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DecideOnce past the deadline: %v, want ErrUnavailable and the deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("DecideOnce took %v past a 200ms deadline", d)
	}

	if _, err := wire.DecideOnce(context.Background(), "alice", "sshd", "", ""); !errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("DecideOnce without a deadline: %v, want ErrUnavailable", err)
	}
}

func TestDecideOnceUntrustedOwner(t *testing.T) {
	pamtest.Serve(t, startBus(t), policy)
	// Stands for "owned by someone else": the fake runs as root.
	_, err := wire.DecideOnceTrusting(deadline(t, 5*time.Second), 4242, "alice", "sshd", "", "")
	if !errors.Is(err, wire.ErrUntrusted) {
		t.Fatalf("DecideOnce with owner uid 0 but trusting 4242: %v, want ErrUntrusted", err)
	}
}

func TestDecideOnceNoOwner(t *testing.T) {
	startBus(t)
	_, err := wire.DecideOnce(deadline(t, 5*time.Second), "alice", "sshd", "", "")
	if !errors.Is(err, wire.ErrUnavailable) || wire.ErrorName(err) != "org.freedesktop.DBus.Error.NameHasNoOwner" {
		t.Fatalf("DecideOnce without policyd: %v (name %q), want ErrUnavailable from NameHasNoOwner", err, wire.ErrorName(err))
	}
}

func TestDecideOnceNoBus(t *testing.T) {
	for _, addr := range []string{"unix:path=" + t.TempDir() + "/none", "tcp:host=localhost,port=1"} {
		t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
		if _, err := wire.DecideOnce(deadline(t, 5*time.Second), "alice", "sshd", "", ""); !errors.Is(err, wire.ErrUnavailable) {
			t.Errorf("DecideOnce on %q: %v, want ErrUnavailable", addr, err)
		}
	}
}

// The first address of a list that accepts is the bus.
func TestDecideOnceAddressList(t *testing.T) {
	addr := startBus(t)
	pamtest.Serve(t, addr, policy)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+t.TempDir()+"/none;"+addr)
	if d, err := wire.DecideOnce(deadline(t, 5*time.Second), "alice", "sshd", "", ""); err != nil || !d.Record {
		t.Errorf("DecideOnce with a dead first address: %+v, %v", d, err)
	}
}

func TestDecideOnceHungBus(t *testing.T) {
	// Accepts and never answers the handshake.
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", svctest.HungBus(t))
	start := time.Now()
	_, err := wire.DecideOnce(deadline(t, 300*time.Millisecond), "alice", "sshd", "", "")
	if !errors.Is(err, wire.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DecideOnce on a hung bus: %v, want ErrUnavailable and the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("DecideOnce took %v past a 300ms deadline", d)
	}
}
