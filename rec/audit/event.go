package audit

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// Unset is the kernel's value for a login uid or session id that was never
// set (4294967295, "-1").
const Unset = ^uint32(0)

// CommandEvent is one execve or execveat call, joined from the records the
// kernel logged for it (SYSCALL, EXECVE, CWD, PATH, PROCTITLE) under one
// serial number.
type CommandEvent struct {
	Time    time.Time // the kernel's coarse clock at the call's entry, in ms (ticks of 1-10 ms): order by Serial
	Serial  uint32    // the audit serial number shared by the event's records
	Syscall string    // "execve" or "execveat"; empty if its SYSCALL record was lost
	Arch    string    // the caller's ABI, e.g. "x86_64" or "i386"

	PID, PPID int
	UID, EUID uint32
	GID, EGID uint32
	AUID      uint32 // login uid (Unset if none)
	Session   uint32 // audit session id, ses= (Unset if none)
	TTY       string // e.g. "pts0"; empty without a terminal

	Comm       string   // the task's name after the call (the new program's on success)
	Exe        string   // the program the kernel runs (exe=): a script's interpreter, not the script
	Executable string   // the file named to the call (PATH item 0), as given: may be relative to Cwd
	Cwd        string   // working directory at the call
	Argv       []string // arguments; nil when the call failed (the kernel logs none then)
	Proctitle  string   // PROCTITLE, NULs as spaces: at most 128 bytes; the caller's on failure

	Success bool     // the call succeeded
	Exit    int64    // its return value: 0, or -errno on failure
	Keys    []string // keys of the audit rule that logged it (auditrules.Key for Vigil's)

	// Incomplete marks an event some of whose records never arrived (lost
	// under load, or its last record overdue); Problems says which.
	Incomplete bool
	Problems   []string
}

// Errno returns the error of a failed call, 0 for a successful one.
func (e *CommandEvent) Errno() syscall.Errno {
	if e.Exit >= 0 {
		return 0
	}
	return syscall.Errno(-e.Exit)
}

// String is a one-line summary for logs and test failures.
func (e *CommandEvent) String() string {
	status := "ok"
	switch {
	case e.Syscall == "":
		status = "unknown (SYSCALL record lost)"
	case !e.Success:
		status = e.Errno().Error()
	}
	if e.Incomplete {
		status += fmt.Sprintf(" [incomplete: %s]", strings.Join(e.Problems, "; "))
	}
	return fmt.Sprintf("%s serial=%d ses=%d auid=%d pid=%d ppid=%d cwd=%q exe=%q argv=%q: %s",
		e.Time.Format(time.RFC3339Nano), e.Serial, int32(e.Session), int32(e.AUID), e.PID, e.PPID,
		e.Cwd, e.Executable, e.Argv, status)
}

// joinEvent makes a CommandEvent of one reassembled event, or returns nil
// when the event is another syscall's. Remains of an event that lost its
// SYSCALL record are returned too, Incomplete, with Syscall empty.
func joinEvent(msgs []*auparse.AuditMessage) *CommandEvent {
	if len(msgs) == 0 {
		return nil
	}
	ev := &CommandEvent{Time: msgs[0].Timestamp, Serial: msgs[0].Sequence, AUID: Unset, Session: Unset}
	var (
		haveSyscall, haveExecve, haveCwd, haveProctitle bool
		items, paths                                    int
		args                                            execveArgs
	)
	for _, m := range msgs {
		body := recordBody(m.RawData)
		switch m.RecordType {
		case auparse.AUDIT_SYSCALL:
			haveSyscall = true
			items = ev.syscallFields(body)
		case auparse.AUDIT_EXECVE:
			haveExecve = true
			args.add(body)
		case auparse.AUDIT_CWD:
			haveCwd = true
			eachField(body, func(k, v string, q bool) {
				if k == "cwd" {
					ev.Cwd, _ = decodeString(v, q)
				}
			})
		case auparse.AUDIT_PATH:
			paths++
			var item, name string
			var named, quoted bool
			eachField(body, func(k, v string, q bool) {
				switch k {
				case "item":
					item = v
				case "name":
					name, named, quoted = v, true, q
				}
			})
			if item == "0" && named {
				ev.Executable, _ = decodeString(name, quoted)
			}
		case auparse.AUDIT_PROCTITLE:
			haveProctitle = true
			eachField(body, func(k, v string, q bool) {
				if k == "proctitle" {
					s, _ := decodeString(v, q)
					ev.Proctitle = strings.TrimRight(strings.ReplaceAll(s, "\x00", " "), " ")
				}
			})
		}
	}
	if haveSyscall && ev.Syscall != "execve" && ev.Syscall != "execveat" {
		return nil
	}
	if !haveSyscall {
		// The kernel writes CWD, PATH, EXECVE and PROCTITLE only after a
		// SYSCALL record: this is what is left of a syscall event whose
		// first records were lost. It may have been an exec: say so.
		what := "unknown whether it was an exec"
		if haveExecve {
			what = "an exec (EXECVE record)"
		}
		ev.problem("SYSCALL record missing (lost); " + what)
	}
	if haveExecve {
		var problems []string
		ev.Argv, problems = args.argv()
		for _, p := range problems {
			ev.problem(p)
		}
	} else if ev.Success || !haveSyscall {
		// A successful exec always logs its arguments.
		ev.problem("EXECVE record missing")
	}
	if !haveCwd {
		ev.problem("CWD record missing")
	}
	if haveSyscall && paths != items {
		ev.problem(fmt.Sprintf("%d of items=%d PATH records", paths, items))
	}
	if !haveProctitle {
		ev.problem("PROCTITLE record missing (event ended by timeout or eviction)")
	}
	return ev
}

func (e *CommandEvent) problem(p string) {
	e.Incomplete = true
	e.Problems = append(e.Problems, p)
}

// syscallFields fills in the SYSCALL record's fields and returns items=.
func (e *CommandEvent) syscallFields(body string) (items int) {
	var arch auparse.AuditArch
	var sysno = -1
	eachField(body, func(k, v string, q bool) {
		switch k {
		case "arch":
			if a, err := strconv.ParseUint(v, 16, 32); err == nil {
				arch = auparse.AuditArch(a)
			}
		case "syscall":
			sysno, _ = strconv.Atoi(v)
		case "success":
			e.Success = v == "yes"
		case "exit":
			e.Exit, _ = strconv.ParseInt(v, 10, 64)
		case "items":
			items, _ = strconv.Atoi(v)
		case "ppid":
			e.PPID, _ = strconv.Atoi(v)
		case "pid":
			e.PID, _ = strconv.Atoi(v)
		case "auid":
			e.AUID = parseID(v)
		case "uid":
			e.UID = parseID(v)
		case "euid":
			e.EUID = parseID(v)
		case "gid":
			e.GID = parseID(v)
		case "egid":
			e.EGID = parseID(v)
		case "ses":
			e.Session = parseID(v)
		case "tty":
			if v != "(none)" {
				e.TTY = v
			}
		case "comm":
			e.Comm, _ = decodeString(v, q)
		case "exe":
			e.Exe, _ = decodeString(v, q)
		case "key":
			if s, ok := decodeString(v, q); ok {
				// Several keys are joined by \x01 (and then hex encoded).
				e.Keys = strings.Split(s, "\x01")
			}
		}
	})
	e.Arch = arch.String()
	e.Syscall = auparse.AuditSyscalls[e.Arch][sysno]
	if e.Syscall == "" {
		e.Syscall = strconv.Itoa(sysno)
	}
	return items
}

// parseID reads a uid, gid or session id; "-1" and unparsable values are
// Unset.
func parseID(v string) uint32 {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return Unset
	}
	return uint32(n)
}
