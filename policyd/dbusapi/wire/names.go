// Package wire is policyd's D-Bus API (policyd/spec/dbus.md) without
// godbus: its names, types and errors. Package dbusapi, the client,
// re-exports all of it. The PAM module, in C, spells the names it uses
// itself (pam/src/bus.h); package pam's TestNames checks they are these.
package wire

// Names on the system bus.
const (
	BusName   = "io.vigil.Policy1"
	Path      = "/io/vigil/Policy1"
	Interface = "io.vigil.Policy1"

	MethodDecide  = Interface + ".Decide"
	MethodExplain = Interface + ".Explain"
	MethodReload  = Interface + ".Reload"
	MethodStatus  = Interface + ".Status"
	MethodRules   = Interface + ".Rules"

	MethodRecordAccess  = Interface + ".RecordAccess"
	MethodClaimTerminal = Interface + ".ClaimTerminal"
	MethodSignalSession = Interface + ".SignalSession"
	SignalChanged       = Interface + ".PolicyChanged"

	ErrNoSuchUser   = Interface + ".Error.NoSuchUser"
	ErrAccessDenied = Interface + ".Error.AccessDenied"
	ErrBadPolicy    = Interface + ".Error.BadPolicy"
	ErrFailed       = Interface + ".Error.Failed"
)

// Accounts the bus policy and policyd grant more than the decision about
// oneself: the recorder (vigil-rec-session runs setuid to it) may also claim
// its terminal and signal its session; members of AdminGroup may read every
// decision and the rules; members of AuditorsGroup, root and AdminGroup
// record their views of recordings in the access log (RecordAccess).
const (
	RecorderAccount = "vigil"
	AdminGroup      = "vigil-admin"
	AuditorsGroup   = "vigil-auditors"
)

// Decision is Decide's reply.
type Decision struct {
	Record   bool
	Shell    string // the user's real shell
	Recorder string // the recorder path from the policy
	Conf     string // tlog session JSON overlay for VIGIL_REC_CONF ("{}" when none)
	Rule     string // what decided
}
