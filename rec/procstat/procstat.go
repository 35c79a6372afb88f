// Package procstat reads the fields of /proc/PID/stat.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Fields returns the fields of a /proc/PID/stat line from the third
// (state) on, so that field N of proc(5) is Fields(...)[N-3]. The command
// name (field 2) may hold spaces and parentheses: fields are counted after
// its last ')'.
func Fields(stat []byte) ([]string, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("no command name in %q", stat)
	}
	return strings.Fields(string(stat[i+1:])), nil
}

// Read returns the Fields of process pid.
func Read(pid int) ([]string, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Fields(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// CPU returns the user and system time of process pid (all its threads)
// so far: fields 14 and 15, in USER_HZ (100 on Linux).
func CPU(pid int) (time.Duration, error) {
	f, err := Read(pid)
	if err != nil {
		return 0, err
	}
	if len(f) <= 15-3 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var ticks int64
	for _, s := range f[14-3 : 15-3+1] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
