package session

import (
	"context"

	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/nssdb"
)

// Bus is the Decider pam_vigil uses: a private system bus connection per
// session, closed before returning, so no connection outlives the call (the
// login program forks right after open_session). ctx bounds connecting too.
type Bus struct{}

// Decide asks policyd with wire.DecideOnce (the owner must be root): no
// godbus in the login program.
func (Bus) Decide(ctx context.Context, user, service, rhost, tty string) (wire.Decision, error) {
	return wire.DecideOnce(ctx, user, service, rhost, tty)
}

// ReadSnapshot is the OpenSnapshot pam_vigil uses.
func ReadSnapshot(path string) (Snapshot, error) {
	s, err := nssdb.OpenSnapshot(path)
	if err != nil {
		// A nil *nssdb.Snapshot in the interface would not compare nil.
		return nil, err
	}
	return s, nil
}
