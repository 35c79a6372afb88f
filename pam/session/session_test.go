package session

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/nssdb"
)

const (
	recorder = "/usr/bin/vigil-rec-session"
	conf     = `{"log":{"input":true}}`
)

// decider returns a fixed decision or error and records its deadline.
type decider struct {
	dec wire.Decision
	err error
}

func (d decider) Decide(ctx context.Context, user, service, rhost, tty string) (wire.Decision, error) {
	if _, ok := ctx.Deadline(); !ok {
		return wire.Decision{}, errors.New("Decide called without a deadline")
	}
	return d.dec, d.err
}

type snapshot struct {
	entries map[string]nssdb.Entry
	nobody  bool
}

func (s snapshot) ByName(name string) (nssdb.Entry, bool) {
	e, ok := s.entries[name]
	return e, ok
}

func (s snapshot) Nobody() bool { return s.nobody }

func openSnap(s Snapshot, err error) OpenSnapshot {
	return func(string) (Snapshot, error) { return s, err }
}

var (
	recordDec     = wire.Decision{Record: true, Shell: "/bin/bash", Recorder: recorder, Conf: conf, Rule: `rule "ops" (policy.toml:4)`}
	norecordDec   = wire.Decision{Record: false, Shell: "/bin/bash", Recorder: recorder, Conf: "{}", Rule: `rule "sftp" (policy.toml:9)`}
	errDown       = fmt.Errorf("decide: %w: no owner", wire.ErrUnavailable)
	errNoSuchUser = fmt.Errorf("decide: %w", &wire.Error{Name: wire.ErrNoSuchUser, Message: "no such user"})
	snapAlice     = snapshot{entries: map[string]nssdb.Entry{
		"alice": {Name: "alice", Shell: recorder, Recorded: true},
		"bob":   {Name: "bob", Shell: "/bin/bash"},
	}}
	recordedEnv = []string{
		"VIGIL_REC_SHELL=/bin/bash", "VIGIL_REC_CONF=" + conf, "VIGIL_REC_SERVICE=sshd",
		"TLOG_REC_SESSION_SHELL=/bin/bash", "TLOG_REC_SESSION_CONF_TEXT=" + conf,
	}
)

func TestOpen(t *testing.T) {
	wrapped := Request{User: "alice", Service: "sshd", NSSFound: true, NSSShell: recorder}
	plain := Request{User: "alice", Service: "sshd", NSSFound: true, NSSShell: "/bin/bash"}
	for _, tc := range []struct {
		name    string
		args    []string
		req     Request
		d       decider
		open    OpenSnapshot
		want    Result
		env     []string
		errMsg  string // substring of the one error message, "" for none
		infoMsg bool   // one informational message
		log     string // substring of some syslog line
	}{
		{name: "recorded", req: wrapped, d: decider{dec: recordDec},
			want: Success, env: recordedEnv, log: "the login shell is the recorder " + recorder},
		{name: "recorded, su by root", req: Request{User: "alice", Service: "su", NSSFound: true, NSSShell: recorder, CallerRoot: true}, d: decider{dec: recordDec},
			want: Success, env: []string{"VIGIL_REC_SHELL=/bin/bash", "VIGIL_REC_CONF=" + conf, "VIGIL_REC_SERVICE=su", "TLOG_REC_SESSION_SHELL=/bin/bash", "TLOG_REC_SESSION_CONF_TEXT=" + conf},
			log: "su run by root: a shell named with -s/--shell"},
		{name: "recorded, empty conf", req: wrapped, d: decider{dec: wire.Decision{Record: true, Shell: "/bin/zsh", Recorder: recorder}},
			want: Success, env: []string{"VIGIL_REC_SHELL=/bin/zsh", "VIGIL_REC_CONF={}", "VIGIL_REC_SERVICE=sshd", "TLOG_REC_SESSION_SHELL=/bin/zsh", "TLOG_REC_SESSION_CONF_TEXT={}"}},
		{name: "not recorded", req: plain, d: decider{dec: norecordDec}, want: Ignore},
		{name: "norecord but wrapped by NSS", req: wrapped, d: decider{dec: norecordDec},
			want: Success, env: []string{"VIGIL_REC_SHELL=/bin/bash", "VIGIL_REC_CONF={}", "VIGIL_REC_SERVICE=sshd", "TLOG_REC_SESSION_SHELL=/bin/bash", "TLOG_REC_SESSION_CONF_TEXT={}"},
			log: "recorded anyway"},
		{name: "shell mismatch", req: plain, d: decider{dec: recordDec},
			want: PermDenied, errMsg: "recorder is not the login shell", log: `shell "/bin/bash", not the recorder`},
		{name: "shell mismatch, quiet still shows the error", args: []string{"quiet"}, req: plain, d: decider{dec: recordDec},
			want: PermDenied, errMsg: "recorder is not the login shell"},
		{name: "no NSS entry", req: Request{User: "alice", Service: "sshd"}, d: decider{dec: recordDec},
			want: PermDenied, errMsg: "recorder is not the login shell", log: "no passwd entry"},
		{name: "empty NSS shell vs empty recorder", req: Request{User: "alice", Service: "sshd", NSSFound: true},
			d: decider{dec: wire.Decision{Record: true, Shell: "/bin/bash"}}, want: PermDenied, errMsg: "recorder", log: "no recorder"},
		{name: "NoSuchUser", req: plain, d: decider{err: errNoSuchUser}, want: Ignore, log: "unknown to policyd"},
		{name: "down, snapshot recorded, deny", req: wrapped, d: decider{err: errDown}, open: openSnap(snapAlice, nil),
			want: PermDenied, errMsg: "recording policy service is unavailable", log: "says alice is recorded; on_unavailable=deny"},
		{name: "down, snapshot recorded, deny explicitly", args: []string{"on_unavailable=deny"}, req: wrapped, d: decider{err: errDown},
			open: openSnap(snapAlice, nil), want: PermDenied, errMsg: "unavailable"},
		{name: "down, snapshot recorded, allow", args: []string{"on_unavailable=allow"}, req: wrapped, d: decider{err: errDown},
			open: openSnap(snapAlice, nil), want: Ignore, infoMsg: true, log: "on_unavailable=allow: session allowed"},
		{name: "down, snapshot recorded, allow quiet", args: []string{"on_unavailable=allow", "quiet"}, req: wrapped, d: decider{err: errDown},
			open: openSnap(snapAlice, nil), want: Ignore, log: "on_unavailable=allow"},
		{name: "down, snapshot recorded, allow silent", args: []string{"on_unavailable=allow"},
			req: Request{User: "alice", NSSFound: true, NSSShell: recorder, Silent: true}, d: decider{err: errDown},
			open: openSnap(snapAlice, nil), want: Ignore},
		{name: "down, snapshot not recorded", req: Request{User: "bob", NSSFound: true, NSSShell: "/bin/bash"}, d: decider{err: errDown},
			open: openSnap(snapAlice, nil), want: Ignore, log: "not recorded according to the snapshot"},
		{name: "down, unknown to snapshot, deny", req: Request{User: "carol", NSSFound: true, NSSShell: "/bin/bash"}, d: decider{err: errDown},
			open: openSnap(snapAlice, nil), want: PermDenied, errMsg: "unavailable", log: "does not know carol, who may be recorded; on_unavailable=deny"},
		{name: "down, unknown to snapshot, allow", args: []string{"on_unavailable=allow"}, req: Request{User: "carol", NSSFound: true, NSSShell: "/bin/bash"},
			d: decider{err: errDown}, open: openSnap(snapAlice, nil), want: Ignore, infoMsg: true, log: "on_unavailable=allow"},
		{name: "down, snapshot records nobody", req: Request{User: "carol"}, d: decider{err: errDown},
			open: openSnap(snapshot{nobody: true}, nil), want: Ignore, log: "records nobody"},
		{name: "down, no snapshot, deny", req: plain, d: decider{err: errDown}, open: openSnap(nil, errors.New("snapshot: no such file")),
			want: PermDenied, errMsg: "unavailable", log: "snapshot is unusable (snapshot: no such file)"},
		{name: "down, no snapshot, allow", args: []string{"on_unavailable=allow"}, req: plain, d: decider{err: errDown},
			open: openSnap(nil, errors.New("snapshot: no such file")), want: Ignore, infoMsg: true, log: "snapshot is unusable"},
		{name: "policyd fails, snapshot recorded", req: wrapped, d: decider{err: &wire.Error{Name: wire.ErrFailed, Message: "nss down"}},
			open: openSnap(snapAlice, nil), want: PermDenied, errMsg: "unavailable", log: "nss down"},
		{name: "untrusted owner, snapshot recorded", req: wrapped, d: decider{err: wire.ErrUntrusted},
			open: openSnap(snapAlice, nil), want: PermDenied, errMsg: "unavailable"},
		{name: "bad argument keeps deny", args: []string{"on_unavailable=maybe"}, req: wrapped, d: decider{err: errDown},
			open: openSnap(snapAlice, nil), want: PermDenied, errMsg: "unavailable", log: `bad argument "on_unavailable=maybe"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, logs := ParseArgs(tc.args)
			open := tc.open
			if open == nil {
				open = func(string) (Snapshot, error) {
					t.Fatal("snapshot opened although policyd answered")
					return nil, nil
				}
			}
			o := Open(context.Background(), opts, tc.req, tc.d, open)
			o.Logs = append(logs, o.Logs...)
			if o.Result != tc.want {
				t.Errorf("result %v, want %v", o.Result, tc.want)
			}
			if !reflect.DeepEqual(o.Env, tc.env) {
				t.Errorf("env %q, want %q", o.Env, tc.env)
			}
			var errs, infos []string
			for _, m := range o.Messages {
				if m.Error {
					errs = append(errs, m.Text)
				} else {
					infos = append(infos, m.Text)
				}
			}
			if tc.errMsg == "" && len(errs) > 0 || tc.errMsg != "" && (len(errs) != 1 || !strings.Contains(errs[0], tc.errMsg)) {
				t.Errorf("error messages %q, want one with %q", errs, tc.errMsg)
			}
			if tc.infoMsg != (len(infos) == 1) || len(infos) > 1 {
				t.Errorf("informational messages %q, want %d", infos, map[bool]int{true: 1}[tc.infoMsg])
			}
			found := tc.log == ""
			for _, l := range o.Logs {
				found = found || strings.Contains(l.Text, tc.log)
				if l.Priority == Debug {
					t.Errorf("debug line without debug: %q", l.Text)
				}
			}
			if !found {
				t.Errorf("no syslog line with %q in %+v", tc.log, o.Logs)
			}
			if o.Result == PermDenied && !hasPriority(o.Logs, Err) {
				t.Errorf("denied without an error in syslog: %+v", o.Logs)
			}
		})
	}
}

func hasPriority(logs []Log, p Priority) bool {
	for _, l := range logs {
		if l.Priority == p {
			return true
		}
	}
	return false
}

func TestParseArgs(t *testing.T) {
	opts, logs := ParseArgs([]string{"debug", "quiet", "on_unavailable=allow", "snapshot=/tmp/x", "snapshot=", "frobnicate"})
	want := Options{Debug: true, Quiet: true, AllowUnavailable: true, Snapshot: "/tmp/x"}
	if opts != want {
		t.Errorf("options %+v, want %+v", opts, want)
	}
	if len(logs) != 2 || !strings.Contains(logs[0].Text, `"snapshot="`) || !strings.Contains(logs[1].Text, `"frobnicate"`) {
		t.Errorf("problems %+v, want the empty snapshot= and frobnicate", logs)
	}
	if opts, _ := ParseArgs(nil); opts != (Options{Snapshot: nssdb.SnapshotPath}) {
		t.Errorf("defaults %+v", opts)
	}
}

func TestOpenDebug(t *testing.T) {
	opts, _ := ParseArgs([]string{"debug"})
	o := Open(context.Background(), opts, Request{User: "alice", NSSFound: true, NSSShell: recorder}, decider{dec: recordDec}, nil)
	if !hasPriority(o.Logs, Debug) {
		t.Errorf("debug: no debug lines in %+v", o.Logs)
	}
}
