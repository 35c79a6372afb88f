// Package session is pam_vigil's open_session logic in pure Go: from the
// module arguments, the PAM items, the shell NSS gives the login program and
// policyd's decision (or, when policyd cannot be asked, the NSS snapshot) it
// works out the PAM result, the environment to put, the messages for the
// user and the syslog lines. pam/module applies them through libpam.
package session

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-rec/vigil/conf/pamenv"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/nssdb"
)

// DecideTimeout bounds the whole exchange with policyd (connect, owner
// check, Decide): logins must not hang on a stuck daemon.
const DecideTimeout = 2 * time.Second

// Result is what pam_sm_open_session returns.
type Result int

const (
	Ignore     Result = iota // PAM_IGNORE: not recorded, nothing set
	Success                  // PAM_SUCCESS: recorder environment set
	PermDenied               // PAM_PERM_DENIED: the session is refused
)

func (r Result) String() string {
	switch r {
	case Ignore:
		return "PAM_IGNORE"
	case Success:
		return "PAM_SUCCESS"
	case PermDenied:
		return "PAM_PERM_DENIED"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Priority is a syslog(3) level; pam_syslog adds facility authpriv.
type Priority int

const (
	Err     Priority = 3
	Warning Priority = 4
	Notice  Priority = 5
	Info    Priority = 6
	Debug   Priority = 7
)

// Options are the module arguments from the pam.d line.
type Options struct {
	Debug            bool   // also log every decision at LOG_DEBUG
	Quiet            bool   // no informational messages (errors are always shown)
	AllowUnavailable bool   // on_unavailable=allow
	Snapshot         string // snapshot=PATH, default nssdb.SnapshotPath
}

// ParseArgs parses the module arguments. Problems (unknown arguments, bad
// values) come back as syslog lines; a bad on_unavailable keeps deny.
func ParseArgs(args []string) (Options, []Log) {
	opts := Options{Snapshot: nssdb.SnapshotPath}
	var logs []Log
	for _, a := range args {
		switch {
		case a == "debug":
			opts.Debug = true
		case a == "quiet":
			opts.Quiet = true
		case a == "on_unavailable=deny":
			opts.AllowUnavailable = false
		case a == "on_unavailable=allow":
			opts.AllowUnavailable = true
		case strings.HasPrefix(a, "snapshot=") && len(a) > len("snapshot="):
			opts.Snapshot = strings.TrimPrefix(a, "snapshot=")
		default:
			logs = append(logs, Log{Err, fmt.Sprintf("unknown or bad argument %q ignored", a)})
		}
	}
	return opts, logs
}

// Request is one pam_open_session call.
type Request struct {
	User, Service, Rhost, Tty string
	// NSSFound and NSSShell: getpwnam_r(User) in the login process, through
	// its NSS chain (libnss_vigil when installed): the shell it will run.
	NSSFound bool
	NSSShell string
	Silent   bool // PAM_SILENT: like quiet
	// CallerRoot: the login program was started by root (su run by root,
	// which may run a shell of root's choosing instead of the login shell).
	CallerRoot bool
}

// Decider asks policyd; the module uses Bus.
type Decider interface {
	Decide(ctx context.Context, user, service, rhost, tty string) (wire.Decision, error)
}

// Snapshot is the part of *nssdb.Snapshot used here.
type Snapshot interface {
	ByName(name string) (nssdb.Entry, bool)
	Nobody() bool
}

// OpenSnapshot opens the snapshot file at path.
type OpenSnapshot func(path string) (Snapshot, error)

// Message is shown to the user through the PAM conversation.
type Message struct {
	Error bool // PAM_ERROR_MSG, else PAM_TEXT_INFO
	Text  string
}

// Log is a line for pam_syslog.
type Log struct {
	Priority Priority
	Text     string
}

// Outcome is what pam_sm_open_session must do.
type Outcome struct {
	Result   Result
	Env      []string // NAME=value for pam_putenv, in order
	Messages []Message
	Logs     []Log
}

func (o *Outcome) log(p Priority, format string, args ...any) {
	o.Logs = append(o.Logs, Log{p, fmt.Sprintf(format, args...)})
}

// The user-facing reasons for a refusal; syslog gets the details.
const (
	msgNotWrapped = "vigil: this session must be recorded, but the recorder is not the login shell here; " +
		"login refused, please tell your administrator"
	msgUnavailable = "vigil: this session must be recorded, but the recording policy service is unavailable; " +
		"login refused, please try again later or tell your administrator"
)

// deny refuses the session, telling the user msg and syslog detail.
func (o *Outcome) deny(msg, detail string) {
	o.Result = PermDenied
	o.Env = nil
	o.Messages = append(o.Messages, Message{Error: true, Text: msg})
	o.log(Err, "%s: session denied", detail)
}

// setEnv puts the recorder's environment: the real shell and the conf
// overlay under vigil's and tlog's names.
func (o *Outcome) setEnv(service, shell, conf string) {
	if conf == "" {
		conf = "{}"
	}
	o.Env = []string{pamenv.RecShell + "=" + shell, pamenv.RecConf + "=" + conf, pamenv.RecService + "=" + service,
		pamenv.TlogSessionShell + "=" + shell, pamenv.TlogSessionConf + "=" + conf}
}

// Open decides one session. See pam/README.md for the table of cases.
func Open(ctx context.Context, opts Options, req Request, d Decider, open OpenSnapshot) Outcome {
	var o Outcome
	who := fmt.Sprintf("user %s (service %s, rhost %q, tty %q)", req.User, req.Service, req.Rhost, req.Tty)
	if opts.Debug {
		if req.NSSFound {
			o.log(Debug, "%s: NSS shell %s", who, req.NSSShell)
		} else {
			o.log(Debug, "%s: no passwd entry through NSS", who)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, DecideTimeout)
	defer cancel()
	dec, err := d.Decide(ctx, req.User, req.Service, req.Rhost, req.Tty)
	switch {
	case err == nil:
		o.decided(opts, req, who, dec)
	case wire.ErrorName(err) == wire.ErrNoSuchUser:
		// policyd cannot see the user, so neither its NSS module nor its
		// policy can record them: nothing to do.
		o.Result = Ignore
		o.log(Notice, "%s: unknown to policyd, not recorded: %v", who, err)
	default:
		o.fallback(opts, req, who, err, open)
	}
	if opts.Quiet || req.Silent {
		var errs []Message
		for _, m := range o.Messages {
			if m.Error {
				errs = append(errs, m)
			}
		}
		o.Messages = errs
	}
	return o
}

// decided applies policyd's decision.
func (o *Outcome) decided(opts Options, req Request, who string, dec wire.Decision) {
	if opts.Debug {
		o.log(Debug, "%s: policyd: record=%t shell=%s recorder=%s rule=%s", who, dec.Record, dec.Shell, dec.Recorder, dec.Rule)
	}
	wrapped := req.NSSFound && dec.Recorder != "" && req.NSSShell == dec.Recorder
	switch {
	case dec.Record && (dec.Recorder == "" || dec.Shell == ""):
		o.deny(msgNotWrapped, fmt.Sprintf("%s must be recorded (%s) but policyd named no recorder or no shell", who, dec.Rule))
	case dec.Record && !req.NSSFound:
		o.deny(msgNotWrapped, fmt.Sprintf("%s must be recorded (%s) but NSS has no passwd entry for the login program", who, dec.Rule))
	case dec.Record && !wrapped:
		o.deny(msgNotWrapped, fmt.Sprintf("%s must be recorded (%s) but NSS gives the login program the shell %q, not the recorder %s "+
			"(is libnss_vigil missing or not first on nsswitch.conf's passwd line?)", who, dec.Rule, req.NSSShell, dec.Recorder))
	case dec.Record:
		o.Result = Success
		o.setEnv(req.Service, dec.Shell, dec.Conf)
		// PAM cannot see which shell the login program then runs: say what
		// the recording depends on.
		o.log(Info, "%s: recorded (%s): the login shell is the recorder %s", who, dec.Rule, dec.Recorder)
		if req.CallerRoot && strings.HasPrefix(req.Service, "su") {
			o.log(Notice, "%s: su run by root: a shell named with -s/--shell (or kept with -m/-p) runs instead of the recorder, unrecorded", who)
		}
	case wrapped:
		// NSS wraps the user for every service, so the recorder runs and
		// records whatever PAM says; give it the real shell.
		o.Result = Success
		o.setEnv(req.Service, dec.Shell, dec.Conf)
		o.log(Notice, "%s: not recorded by policy (%s), but NSS gives the recorder as shell: recorded anyway", who, dec.Rule)
	default:
		o.Result = Ignore
	}
}

// fallback decides from the snapshot when policyd could not answer (err).
func (o *Outcome) fallback(opts Options, req Request, who string, derr error, open OpenSnapshot) {
	snap, err := open(opts.Snapshot)
	var why string
	switch {
	case err != nil:
		why = fmt.Sprintf("policyd gave no decision (%v) and the snapshot is unusable (%v)", derr, err)
	default:
		e, ok := snap.ByName(req.User)
		switch {
		case ok && e.Recorded:
			why = fmt.Sprintf("policyd gave no decision (%v) and the snapshot %s says %s is recorded", derr, opts.Snapshot, req.User)
		case ok:
			o.Result = Ignore
			o.log(Notice, "%s: policyd gave no decision (%v); not recorded according to the snapshot", who, derr)
			return
		case snap.Nobody():
			o.Result = Ignore
			o.log(Notice, "%s: policyd gave no decision (%v); the snapshot's policy records nobody", who, derr)
			return
		default:
			// A user the snapshot does not know (one from SSSD or LDAP
			// that does not enumerate, or one added since) may be one the
			// policy records: on_unavailable decides, as for a recorded one.
			why = fmt.Sprintf("policyd gave no decision (%v) and the snapshot %s does not know %s, who may be recorded", derr, opts.Snapshot, req.User)
		}
	}
	if !opts.AllowUnavailable {
		o.deny(msgUnavailable, fmt.Sprintf("%s: %s; on_unavailable=deny", who, why))
		return
	}
	o.Result = Ignore
	o.Messages = append(o.Messages, Message{Text: "vigil: the session recording policy is unavailable; login allowed"})
	o.log(Warning, "%s: %s; on_unavailable=allow: session allowed, it may not be recorded", who, why)
}
