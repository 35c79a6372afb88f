// Package audit builds a command timeline from the kernel's audit trail:
// it installs Vigil's audit rules and reads the exec events they produce
// from the kernel's audit netlink socket, joining each event's records into
// a CommandEvent (time, session, user, working directory, program, argv,
// result).
//
// What the rules (rec/auditrules) catch: every execve and execveat, of
// 64- and 32-bit programs, by a process with a login uid, that is below a
// login that went through pam_loginuid (sshd, login, cron; su and sudo keep
// the login's uid, so what runs under them is still attributed to it). That
// includes commands typed at a shell, programs run by scripts or by other
// programs at any depth, a shell's exec, the last command of sh -c or
// bash -c (run without a fork), and failed execs (ENOENT, EACCES), which
// arrive with Success false and no argv. A script is logged with the argv
// the kernel built for its interpreter ("/bin/sh", "script", args...).
//
// What they cannot catch:
//   - shell builtins and functions (cd, echo, printf, kill, read,
//     redirections into files): they are not execs; nor what a program does
//     without exec'ing (an interpreter's own code, file reads and writes);
//   - a command name the shell does not find in PATH: bash and dash
//     search PATH themselves and say "not found" without any exec (a path
//     with a slash that does not exist is a failed exec, and is logged);
//   - processes without a login uid: daemons and what services start on a
//     user's behalf (systemd --user, D-Bus activation);
//   - a process that existed before auditing was first enabled since boot
//     has no audit context: its own execs are missed (its later children
//     are seen);
//   - the environment, and anything after exec (exit status of the
//     program): the events are of the exec call only;
//   - x32-ABI programs (other syscall numbers; the ABI is off in most
//     kernels).
//
// The kernel logs an exec under the first exit rule that matches it: a rule
// listed before Vigil's that also matches execve logs it under its own key
// (or, with "never", not at all). The Reader therefore delivers every
// execve/execveat event it receives, whichever rule logged it (Keys).
//
// A Reader is either the audit daemon (when none runs: it registers itself,
// enables auditing and raises the backlog limits, and restores them on
// Close) or a listener on the read-only multicast group beside a running
// auditd. In daemon mode the kernel makes exec'ing processes wait rather
// than lose records; if the Reader dies without Close, auditing, the raised
// backlog settings and the rules stay until changed (records then go to the
// kernel log). Losses are never silent: see Status and
// CommandEvent.Incomplete.
package audit
