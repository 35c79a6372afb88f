// Package daemon is vigil-policyd: it holds the policy in force, answers
// decisions over D-Bus and the NSS socket, and publishes the NSS snapshot.
//
// A reload builds a complete new state (policy, compiled engine, user table,
// snapshot) beside the old one and swaps a pointer, so requests are never
// blocked or dropped while it runs, and a broken policy leaves the old
// state in force.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/conf/hostinfo"
	"github.com/vigil-rec/vigil/conf/shells"
	"github.com/vigil-rec/vigil/policyd/accesslog"
	"github.com/vigil-rec/vigil/policyd/ldaprules"
	"github.com/vigil-rec/vigil/policyd/nssdb"
	"github.com/vigil-rec/vigil/policyd/nsslookup"
)

// Config says where the daemon's files are.
type Config struct {
	PolicyPath   string
	SnapshotPath string
	SocketPath   string
	ShellsPath   string
	Hosts        []string // this host's names; see HostNames
	Log          *slog.Logger
	// Poll is how often the policy file and the user database are checked
	// for changes.
	Poll time.Duration
	// AccessLog is the directory of the access log (RecordAccess), signed
	// with the host's key in SigningKey.
	AccessLog, SigningKey string
}

// DefaultConfig is the installed layout.
func DefaultConfig() Config {
	return Config{
		PolicyPath:   conf.DefaultPolicyPath,
		SnapshotPath: nssdb.SnapshotPath,
		SocketPath:   nssdb.SocketPath,
		ShellsPath:   shells.File,
		Poll:         2 * time.Second,
		AccessLog:    accesslog.DefaultDir,
		SigningKey:   conf.DefaultRec().Sign.Key,
	}
}

// state is everything a decision needs; never modified once published.
type state struct {
	engine   *decide.Engine
	policy   *conf.Policy // effective: the file's rules plus LDAP's
	gen      uint64
	loaded   time.Time
	users    map[string]*decide.User
	byUID    map[uint32]*decide.User
	recorded map[string]bool // NSS-level decisions, by user name
	ldap     *ldaprules.RuleSet
}

// Daemon is a running policyd.
type Daemon struct {
	cfg   Config
	log   *slog.Logger
	state atomic.Pointer[state]

	reloadMu sync.Mutex // one reload at a time
	lastErr  atomic.Pointer[string]
	filePol  *conf.Policy // last good policy file, under reloadMu
	ldapSet  atomic.Pointer[ldaprules.RuleSet]
	ldapStop context.CancelFunc
	ldapConf conf.LDAP
	watcher  *ldaprules.Watcher
	changed  func(gen uint64) // PolicyChanged signal, set by the D-Bus side
	stamps   map[string]stamp // files watched by Poll, under reloadMu
	ctx      context.Context
	fqdn     string // this host's name in recordings (Status)
	// lookups bounds the NSS calls in flight: each holds an OS thread, and
	// a flood of lookups by any local user must not exhaust policyd.
	lookups chan struct{}
	// access is the access log, opened at its first use (the signing key
	// may be made after policyd starts), under accessMu.
	accessMu sync.Mutex
	access   *accesslog.Log
}

// maxLookups is how many NSS lookups run at once; lookupWait how long a
// request waits for a turn before it is refused (the NSS client's budget
// is 250 ms, PAM's 2 s).
const (
	maxLookups = 32
	lookupWait = 200 * time.Millisecond
)

// ErrBusy refuses a request when too many lookups are in flight.
var ErrBusy = errors.New("too many lookups in flight, try again")

// lookup runs fn when a turn is free within lookupWait.
func (d *Daemon) lookup(fn func() error) error {
	t := time.NewTimer(lookupWait)
	defer t.Stop()
	select {
	case d.lookups <- struct{}{}:
	case <-t.C:
		return ErrBusy
	}
	defer func() { <-d.lookups }()
	return fn()
}

type stamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// New loads the policy and publishes the first snapshot. A broken policy
// file is an error: the daemon has nothing to fall back on at start.
func New(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	full := fqdn()
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = hostinfo.Names(full)
	}
	nsslookup.Bypass()
	d := &Daemon{cfg: cfg, log: cfg.Log, ctx: ctx, fqdn: full, lookups: make(chan struct{}, maxLookups)}
	if err := d.Reload("start"); err != nil {
		return nil, err
	}
	return d, nil
}

// HostNames returns the short host name and the FQDN, as rules match them.
func HostNames() []string { return hostinfo.Names(fqdn()) }

// Reload re-reads the policy file and the user database and publishes the
// result. On error the state in force stays and the error is kept for
// Status.
func (d *Daemon) Reload(why string) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	start := time.Now()
	// Stamped before reading: an edit made meanwhile triggers another reload.
	d.stamps = d.readStamps()
	p, err := conf.LoadPolicy(d.cfg.PolicyPath)
	if err != nil {
		msg := err.Error()
		d.lastErr.Store(&msg)
		d.log.Error("policy rejected, the previous one stays in force", "why", why, "err", err)
		return err
	}
	d.filePol = p
	d.configureLDAP(p)
	if err := d.publish(); err != nil {
		msg := err.Error()
		d.lastErr.Store(&msg)
		return err
	}
	d.lastErr.Store(nil)
	st := d.state.Load()
	d.log.Info("policy in force", "why", why, "generation", st.gen, "rules", len(st.policy.Rules),
		"scope", st.policy.SessionRecording.Scope, "users", len(st.users), "recorded", countTrue(st.recorded),
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// configureLDAP starts, restarts or stops the LDAP watcher to match p.
// Called under reloadMu, before publish. The rules in force stay until a
// new watcher delivers; with none yet, the cache is read here, so that the
// first snapshot already holds the last known LDAP rules.
func (d *Daemon) configureLDAP(p *conf.Policy) {
	if p.Source == "ldap" && d.watcher != nil && p.LDAP == d.ldapConf {
		d.watcher.Refresh()
		return
	}
	if d.ldapStop != nil {
		d.ldapStop()
		d.ldapStop, d.watcher = nil, nil
	}
	if p.Source != "ldap" {
		d.ldapSet.Store(nil)
		return
	}
	if d.ldapSet.Load() == nil {
		if rs, err := ldaprules.LoadCache(p.LDAP.Cache); err == nil {
			d.ldapSet.Store(rs)
		}
	}
	ctx, cancel := context.WithCancel(d.ctx)
	d.ldapStop, d.ldapConf = cancel, p.LDAP
	d.watcher = &ldaprules.Watcher{Conf: p.LDAP, Log: d.log, OnChange: func(rs *ldaprules.RuleSet) {
		// From the watcher's goroutine, in order: store and publish under
		// the lock (Reload holds it but never waits for the watcher), and
		// only while this watcher is the current one.
		d.reloadMu.Lock()
		defer d.reloadMu.Unlock()
		if ctx.Err() != nil {
			return
		}
		d.ldapSet.Store(rs)
		if err := d.publish(); err != nil {
			d.log.Error("publishing LDAP rules", "err", err)
			return
		}
		d.log.Info("LDAP rules in force", "server", rs.Server, "rules", len(rs.Rules), "generation", d.state.Load().gen)
	}}
	go d.watcher.Run(ctx)
}

// Effective merges the LDAP rule set into the file's policy. An LDAP rule
// named like a file rule is left out (and returned): one bad entry in the
// directory must not cost the host the rest of its rules.
func Effective(file *conf.Policy, rs *ldaprules.RuleSet) (*conf.Policy, []conf.Rule) {
	p := *file
	if rs == nil {
		return &p, nil
	}
	names := map[string]bool{}
	for _, r := range file.Rules {
		names[r.Name] = true
	}
	p.Rules = append([]conf.Rule(nil), file.Rules...)
	var clashes []conf.Rule
	for _, r := range rs.Rules {
		if names[r.Name] {
			clashes = append(clashes, r)
			continue
		}
		p.Rules = append(p.Rules, r)
	}
	p.HostGroups = maps.Clone(file.HostGroups)
	if p.HostGroups == nil {
		p.HostGroups = map[string][]string{}
	}
	for g, hosts := range rs.HostGroups {
		if _, ok := p.HostGroups[g]; !ok { // the file's definition wins
			p.HostGroups[g] = hosts
		}
	}
	return &p, clashes
}

// publish builds and swaps in a new state from the last good policy file
// and LDAP rule set, and writes the NSS snapshot. Called under reloadMu.
func (d *Daemon) publish() error {
	rs := d.ldapSet.Load()
	p, clashes := Effective(d.filePol, rs)
	for _, r := range clashes {
		d.log.Warn("LDAP rule left out: policy.toml has a rule of that name", "rule", r.Name, "origin", r.Origin)
	}
	if err := p.Check(); err != nil {
		return fmt.Errorf("policy with LDAP rules: %w", err)
	}
	allowed, err := shells.Read(d.cfg.ShellsPath)
	if err != nil {
		return err
	}
	hosts := d.cfg.Hosts
	if p.Source == "ldap" && p.LDAP.Host != "" {
		// The name this host has in the directory's rules.
		hosts = append(slices.Clone(hosts), p.LDAP.Host)
	}
	eng := decide.New(p, decide.Env{Hosts: hosts, Shells: allowed})
	st := &state{engine: eng, policy: p, loaded: time.Now(), ldap: rs,
		users: map[string]*decide.User{}, byUID: map[uint32]*decide.User{}, recorded: map[string]bool{}}
	if old := d.state.Load(); old != nil {
		st.gen = old.gen + 1
	} else {
		st.gen = uint64(time.Now().UnixNano()) // grows across restarts too
	}
	var entries []nssdb.Entry
	for _, u := range nsslookup.All() {
		if _, dup := st.users[u.Name]; dup { // first source wins, as in NSS
			continue
		}
		st.users[u.Name] = u
		if _, dup := st.byUID[u.UID]; !dup {
			st.byUID[u.UID] = u
		}
		rec := eng.Decide(u, decide.Request{}, false).Record
		st.recorded[u.Name] = rec
		entries = append(entries, entry(u, rec, p.Recorder))
	}
	if err := nssdb.WriteSnapshot(d.cfg.SnapshotPath, st.gen, !eng.CanRecord(), entries); err != nil {
		return fmt.Errorf("NSS snapshot: %w", err)
	}
	d.state.Store(st)
	if d.changed != nil {
		d.changed(st.gen)
	}
	return nil
}

func entry(u *decide.User, recorded bool, recorder string) nssdb.Entry {
	e := nssdb.Entry{Name: u.Name, Passwd: u.Passwd, UID: u.UID, GID: u.GID, Gecos: u.Gecos, Dir: u.Dir, Shell: u.Shell, Recorded: recorded}
	if recorded {
		e.Shell = recorder
	}
	return e
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// ErrNoSuchUser is returned by Decide for users NSS does not know.
var ErrNoSuchUser = nsslookup.ErrNoSuchUser

// resolve finds the user for a PAM-time decision. The passwd entry comes
// from the state's table when the user enumerates (at most one poll
// interval old; a files lookup scans all of /etc/passwd), else from NSS;
// the groups always come afresh from getgrouplist over the whole NSS chain,
// so that a group change counts at the next login.
func (d *Daemon) resolve(name string, st *state) (*decide.User, error) {
	var u *decide.User
	err := d.lookup(func() error {
		if known, ok := st.users[name]; ok {
			c := *known
			u = &c
		} else {
			var err error
			if u, err = nsslookup.User(name); err != nil {
				return err
			}
		}
		var err error
		u.Groups, err = nsslookup.Groups(u.Name, u.GID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Decide is the decision for a session (D-Bus Decide and Explain).
func (d *Daemon) Decide(user string, req decide.Request, explain bool) (decide.Decision, *decide.User, error) {
	st := d.state.Load()
	u, err := d.resolve(user, st)
	if err != nil {
		return decide.Decision{}, nil, err
	}
	return st.engine.Decide(u, req, explain), u, nil
}

// nssResolver answers the NSS socket: from the state's table, else from
// NSS (users that do not enumerate, or new ones).
type nssResolver struct{ d *Daemon }

func (r nssResolver) answer(u *decide.User, st *state) (nssdb.Entry, bool, error) {
	rec, known := st.recorded[u.Name]
	if !known {
		err := r.d.lookup(func() error {
			var err error
			u.Groups, err = nsslookup.Groups(u.Name, u.GID)
			return err
		})
		if err != nil {
			return nssdb.Entry{}, false, err
		}
		rec = st.engine.Decide(u, decide.Request{}, false).Record
	}
	return entry(u, rec, st.policy.Recorder), rec, nil
}

func (r nssResolver) ByName(name string) (nssdb.Entry, bool, error) {
	st := r.d.state.Load()
	return r.resolve(st, st.users[name], func() (*decide.User, error) { return nsslookup.User(name) })
}

func (r nssResolver) ByUID(uid uint32) (nssdb.Entry, bool, error) {
	st := r.d.state.Load()
	return r.resolve(st, st.byUID[uid], func() (*decide.User, error) { return nsslookup.UserByID(uid) })
}

// resolve answers for known, the user from the state's table, or else for
// the one find gets from NSS; no such user is "not recorded".
func (r nssResolver) resolve(st *state, known *decide.User, find func() (*decide.User, error)) (nssdb.Entry, bool, error) {
	if known != nil {
		return r.answer(known, st)
	}
	var u *decide.User
	err := r.d.lookup(func() (err error) { u, err = find(); return err })
	if errors.Is(err, nsslookup.ErrNoSuchUser) {
		return nssdb.Entry{}, false, nil
	} else if err != nil {
		return nssdb.Entry{}, false, err
	}
	return r.answer(u, st)
}

// watched are the files whose change triggers a reload.
func (d *Daemon) watched() []string {
	return []string{d.cfg.PolicyPath, d.cfg.ShellsPath, "/etc/passwd", "/etc/group", "/etc/nsswitch.conf"}
}

func (d *Daemon) readStamps() map[string]stamp {
	m := map[string]stamp{}
	for _, f := range d.watched() {
		m[f] = statStamp(f)
	}
	return m
}

// Poll reloads when a watched file changed, until ctx ends.
func (d *Daemon) Poll(ctx context.Context) {
	if d.cfg.Poll <= 0 {
		return
	}
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.reloadMu.Lock()
		var changed string
		for f, s := range d.readStamps() {
			if d.stamps[f] != s {
				changed = f
			}
		}
		d.reloadMu.Unlock()
		if changed != "" {
			// Logged by Reload; a rejected file is not retried until it
			// changes again (Reload stamped it).
			_ = d.Reload(changed + " changed")
		}
	}
}

// NSSResolver answers the NSS socket (nssdb.Server).
func (d *Daemon) NSSResolver() nssdb.Resolver { return nssResolver{d} }
