package svctest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// PolicyXML is the project's real bus policy, relative to the module root.
const PolicyXML = "policyd/dbus/io.vigil.Policy1.conf"

// StartSystemBus runs a private dbus-daemon of type system listening on a
// socket in a temp dir, with the project's real bus policy included, and
// returns its address (for DBUS_SYSTEM_BUS_ADDRESS). It needs no namespace:
// nothing but the temp dir is touched.
func StartSystemBus(t testing.TB) string {
	return StartSystemBusAt(t, "")
}

// StartSystemBusAt is StartSystemBus listening on sock ("" for a temp
// dir), e.g. the real /run/dbus/system_bus_socket on a namespace's /run.
func StartSystemBusAt(t testing.TB, sock string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	xml, err := filepath.Abs(filepath.Join(root, PolicyXML))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "vigil-bus.")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Unprivileged test users must reach the socket.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	policies := filepath.Join(dir, "system.d")
	if err := os.Mkdir(policies, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(xml, filepath.Join(policies, filepath.Base(xml))); err != nil {
		t.Fatal(err)
	}
	if sock == "" {
		sock = filepath.Join(dir, "system_bus_socket")
	}
	cfg := BusConfig(sock, policies)
	cf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	Start(t, "dbus-daemon", "--nofork", "--nopidfile", "--config-file="+cf)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dbus-daemon on %s is not up: %v", sock, err)
		}
	}
	return "unix:path=" + sock
}

// BusConfig is a dbus-daemon configuration for a private system bus on the
// socket sock that includes the bus policies in dir. As Debian's
// system.conf: every user may connect, messages are denied by default, and
// the included policies open what they open.
func BusConfig(sock, dir string) string {
	return fmt.Sprintf(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny send_type="method_call"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny own="*"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <includedir>%s</includedir>
</busconfig>
`, sock, dir)
}

// HungBus returns the address of a bus socket that accepts a connection
// and never answers it: clients must give up at their deadline.
func HungBus(t testing.TB) string {
	sock := t.TempDir() + "/bus"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			held <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		select {
		case c := <-held:
			c.Close()
		default:
		}
	})
	return "unix:path=" + sock
}
