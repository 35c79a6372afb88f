// Package ptyfd opens pseudo-terminals as raw descriptors, outside Go's
// netpoller.
package ptyfd

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens a pseudo-terminal pair. The master stays a raw descriptor
// that Go's netpoller never sees: an os.File master is registered with the
// runtime's epoll, and every byte through the pty would then also wake an
// idle runtime thread for nothing (measured: about half the context
// switches of a recorded keystroke). The slave is returned as a blocking
// os.File for the child's standard streams.
func Open() (master int, slave *os.File, err error) {
	master, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fail := func(what string, err error) (int, *os.File, error) {
		unix.Close(master)
		return -1, nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fail("unlock pty", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return fail("pty number", err)
	}
	// TIOCGPTPEER opens the slave through the master, immune to a /dev/pts
	// path being swapped under us.
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER,
		uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return fail("open pty slave", errno)
	}
	return master, os.NewFile(sfd, fmt.Sprintf("/dev/pts/%d", n)), nil
}
