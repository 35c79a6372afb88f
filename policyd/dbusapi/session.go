package dbusapi

import (
	"context"
	"fmt"
	"syscall"

	"github.com/godbus/dbus/v5"

	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
)

// ClaimTerminal asks policyd to give the terminal open on fd, the caller's
// controlling terminal, to the recorder account and to hang up every other
// descriptor open on it (recorder account only; policyd/spec/dbus.md). The
// caller's own descriptors on it are hung up too: it must open the
// terminal again.
func (c *Client) ClaimTerminal(ctx context.Context, fd int) error {
	if !c.conn.SupportsUnixFDs() {
		return fmt.Errorf("claim terminal: the system bus connection cannot pass file descriptors")
	}
	if err := c.call(ctx, wire.MethodClaimTerminal, []any{dbus.UnixFD(fd)}); err != nil {
		return fmt.Errorf("claim terminal: %w", err)
	}
	return nil
}

// SignalSession asks policyd to send sig to every process below the caller
// (recorder account only); SIGKILL is repeated until none is left. It
// returns how many processes were reached.
func (c *Client) SignalSession(ctx context.Context, sig syscall.Signal) (int, error) {
	var n uint32
	if err := c.call(ctx, wire.MethodSignalSession, []any{uint32(sig)}, &n); err != nil {
		return int(n), fmt.Errorf("signal session (%v): %w", sig, err)
	}
	return int(n), nil
}
