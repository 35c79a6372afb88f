// Package dbusapi names policyd's D-Bus API (policyd/spec/dbus.md) and holds
// the client side of it. The names and types are package wire's, which
// pam_vigil uses without godbus; they are re-exported here.
package dbusapi

import "github.com/vigil-rec/vigil/policyd/dbusapi/wire"

// Names on the system bus.
const (
	BusName   = wire.BusName
	Path      = wire.Path
	Interface = wire.Interface

	MethodDecide  = wire.MethodDecide
	MethodExplain = wire.MethodExplain
	MethodReload  = wire.MethodReload
	MethodStatus  = wire.MethodStatus
	MethodRules   = wire.MethodRules

	MethodClaimTerminal = wire.MethodClaimTerminal
	MethodSignalSession = wire.MethodSignalSession
	SignalChanged       = wire.SignalChanged

	ErrNoSuchUser   = wire.ErrNoSuchUser
	ErrAccessDenied = wire.ErrAccessDenied
	ErrBadPolicy    = wire.ErrBadPolicy
	ErrFailed       = wire.ErrFailed
)

// The accounts granted more than the decision about oneself (see wire).
const (
	RecorderAccount = wire.RecorderAccount
	AdminGroup      = wire.AdminGroup
)

// Decision is Decide's reply.
type Decision = wire.Decision

// Error is an error reply of policyd or of the bus, e.g. Name ErrNoSuchUser.
type Error = wire.Error

// ErrUnavailable matches every error that means policyd could not be
// asked, ErrUntrusted an answer from a BusName owner that is not root.
var (
	ErrUnavailable = wire.ErrUnavailable
	ErrUntrusted   = wire.ErrUntrusted
)

// ErrorName returns the D-Bus error name carried by err, or "" if it has
// none (a transport or context error).
func ErrorName(err error) string { return wire.ErrorName(err) }
