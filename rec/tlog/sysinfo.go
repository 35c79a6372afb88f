package tlog

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vigil-rec/vigil/rec/procstat"
)

// Paths read by the helpers; variables so tests can point them elsewhere.
var (
	bootIDPath    = "/proc/sys/kernel/random/boot_id"
	selfStatPath  = "/proc/self/stat"
	sessionIDPath = "/proc/self/sessionid"
)

// NewRecID returns the recording ID as tlog builds it (spec 1.8):
// <boot_id hex without dashes>-<pid hex>-<process start time in ticks, hex>.
func NewRecID() (string, error) {
	boot, err := os.ReadFile(bootIDPath)
	if err != nil {
		return "", fmt.Errorf("tlog: reading boot ID: %w", err)
	}
	var id strings.Builder
	// Like tlog: keep hex digits, skip dashes, stop at anything else.
	for _, c := range boot {
		if c == '-' {
			continue
		}
		if !isHex(c) {
			break
		}
		id.WriteByte(c)
	}
	if id.Len() == 0 {
		return "", fmt.Errorf("tlog: boot ID file %s has no hex digits", bootIDPath)
	}
	st, err := os.ReadFile(selfStatPath)
	if err != nil {
		return "", fmt.Errorf("tlog: reading process status: %w", err)
	}
	start, err := statStartTime(st)
	if err != nil {
		return "", fmt.Errorf("tlog: %s: %w", selfStatPath, err)
	}
	fmt.Fprintf(&id, "-%x-%x", os.Getpid(), start)
	return id.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// statStartTime extracts field 22 (starttime) of /proc/PID/stat.
func statStartTime(st []byte) (uint64, error) {
	f, err := procstat.Fields(st)
	if err != nil {
		return 0, err
	}
	const idx = 22 - 3
	if len(f) <= idx {
		return 0, fmt.Errorf("only %d fields after the command name", len(f))
	}
	v, err := strconv.ParseUint(f[idx], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad starttime %q: %w", f[idx], err)
	}
	return v, nil
}

// SessionID returns the audit session ID (4294967295 means unset).
func SessionID() (uint32, error) {
	b, err := os.ReadFile(sessionIDPath)
	if err != nil {
		return 0, fmt.Errorf("tlog: reading audit session ID: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("tlog: parsing audit session ID %q: %w", b, err)
	}
	return uint32(v), nil
}
