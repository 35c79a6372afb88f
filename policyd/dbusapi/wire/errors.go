package wire

import (
	"errors"
	"os"
)

// ErrUnavailable matches (errors.Is) every error that means policyd could not
// be asked: no system bus, nobody owning BusName, a timeout or a lost
// connection. Callers fall back to the NSS snapshot on it.
var ErrUnavailable = errors.New("policyd is unavailable")

// ErrUntrusted matches an error from a BusName owner whose uid is not the
// trusted one (root): its answers are never used.
var ErrUntrusted = errors.New("io.vigil.Policy1 is not owned by root")

// Error is an error reply of policyd or of the bus, e.g. Name ErrNoSuchUser.
type Error struct {
	Name    string // the D-Bus error name
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// Is makes the bus's own "nobody there / no answer" errors match
// ErrUnavailable.
func (e *Error) Is(target error) bool {
	if target != ErrUnavailable {
		return false
	}
	switch e.Name {
	case "org.freedesktop.DBus.Error.ServiceUnknown",
		"org.freedesktop.DBus.Error.NameHasNoOwner",
		"org.freedesktop.DBus.Error.NoReply",
		"org.freedesktop.DBus.Error.Timeout",
		"org.freedesktop.DBus.Error.TimedOut",
		"org.freedesktop.DBus.Error.Disconnected",
		"org.freedesktop.DBus.Error.NoServer",
		"org.freedesktop.DBus.Error.LimitsExceeded":
		return true
	}
	return false
}

// ErrorName returns the D-Bus error name carried by err, or "" if it has
// none (a transport or context error).
func ErrorName(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Name
	}
	return ""
}

// DefaultSystemBus is the system bus address when the environment may not
// choose one.
const DefaultSystemBus = "unix:path=/run/dbus/system_bus_socket"

// SystemBusAddress is DBUS_SYSTEM_BUS_ADDRESS, or the default socket. A
// setuid or setgid process (pam_vigil inside su or sudo) ignores the
// variable: the invoking user could point it at a bus of their own, whose
// daemon would vouch that a fake policyd is root.
func SystemBusAddress() string {
	if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" && os.Getuid() == os.Geteuid() && os.Getgid() == os.Getegid() {
		return a
	}
	return DefaultSystemBus
}
