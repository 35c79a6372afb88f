package session

import (
	"fmt"
	"syscall"
)

// IDs are the identities of a setuid/setgid recorder: the user who ran it
// (real IDs) and the recorder account (the IDs it was installed with).
type IDs struct {
	UserUID, UserGID   int
	VigilUID, VigilGID int
}

// Privileged reports whether we run with an identity other than the
// user's, i.e. from a setuid/setgid binary.
func (ids IDs) Privileged() bool {
	return ids.UserUID != ids.VigilUID || ids.UserGID != ids.VigilGID
}

// CurrentIDs reads the identities at start: real = user, effective =
// recorder account.
func CurrentIDs() IDs {
	return IDs{
		UserUID: syscall.Getuid(), UserGID: syscall.Getgid(),
		VigilUID: syscall.Geteuid(), VigilGID: syscall.Getegid(),
	}
}

// AsUser makes the effective IDs the user's, keeping vigil's in the saved
// IDs so AsVigil can return. Files and the pty opened now belong to the user.
func (ids IDs) AsUser() error {
	if !ids.Privileged() {
		return nil
	}
	if err := syscall.Setresgid(-1, ids.UserGID, -1); err != nil {
		return fmt.Errorf("setresgid to user: %w", err)
	}
	if err := syscall.Setresuid(-1, ids.UserUID, -1); err != nil {
		return fmt.Errorf("setresuid to user: %w", err)
	}
	return nil
}

// AsVigil makes the effective IDs the recorder account's again.
func (ids IDs) AsVigil() error {
	if !ids.Privileged() {
		return nil
	}
	if err := syscall.Setresuid(-1, ids.VigilUID, -1); err != nil {
		return fmt.Errorf("setresuid to recorder: %w", err)
	}
	if err := syscall.Setresgid(-1, ids.VigilGID, -1); err != nil {
		return fmt.Errorf("setresgid to recorder: %w", err)
	}
	return nil
}

// BecomeVigil sets real, effective and saved IDs to the recorder account for
// good. Afterwards the user's processes can neither signal nor ptrace the
// recorder (tlog keeps the user's real UID and can be killed).
func (ids IDs) BecomeVigil() error {
	if !ids.Privileged() {
		return nil
	}
	if err := syscall.Setresgid(ids.VigilGID, ids.VigilGID, ids.VigilGID); err != nil {
		return fmt.Errorf("setresgid to recorder: %w", err)
	}
	if err := syscall.Setresuid(ids.VigilUID, ids.VigilUID, ids.VigilUID); err != nil {
		return fmt.Errorf("setresuid to recorder: %w", err)
	}
	return nil
}
