// Package auditrules is Vigil's kernel audit rules, the contract between
// vigilctl enable, which installs them for auditd (Path), and the reader of
// the command timeline (rec/audit), which adds them to the kernel itself
// and knows its events by Key.
package auditrules

import "strings"

// Key tags the records Vigil's rules produce (key= in SYSCALL records).
const Key = "vigil-exec"

// Path is where the rules go for auditd to load them (augenrules).
const Path = "/etc/audit/rules.d/vigil.rules"

// Lines returns Vigil's rules in auditctl syntax: every execve and execveat
// of both ABIs (or a 32-bit program's execs go unseen) by a process with a
// login uid (auid!=unset keeps daemons and boot-time services out).
func Lines() []string {
	return []string{
		"-a always,exit -F arch=b64 -S execve,execveat -F auid!=unset -k " + Key,
		"-a always,exit -F arch=b32 -S execve,execveat -F auid!=unset -k " + Key,
	}
}

// File returns the content of Path. It never sets -e 2 (an immutable
// configuration cannot be changed again until a reboot) and no -D (that
// would delete everyone else's rules).
func File() []byte {
	var b strings.Builder
	b.WriteString("# Vigil: log every execve/execveat of a logged-in process (login uid set),\n")
	b.WriteString("# for the command timeline of recorded sessions. Installed by vigilctl enable.\n")
	for _, l := range Lines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
