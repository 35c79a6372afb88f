package daemon

import (
	"os"
	"syscall"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/hostinfo"
)

// fqdnWithin bounds policyd's own look-up of its FQDN, at start: the
// recorder takes the name from policyd instead of asking DNS at each login.
const fqdnWithin = 2 * time.Second

func fqdn() string { return hostinfo.FQDN(fqdnWithin) }

func statStamp(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	s := stamp{mod: fi.ModTime(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// Status is what `vigilctl status` shows (D-Bus Status).
type Status struct {
	Source        string    `json:"source"`
	Path          string    `json:"path"`
	URI           string    `json:"uri,omitempty"`
	Generation    uint64    `json:"generation"`
	Loaded        time.Time `json:"loaded"`
	Rules         int       `json:"rules"`
	LDAPRules     int       `json:"ldap_rules"`
	LDAPFetched   time.Time `json:"ldap_fetched,omitzero"`
	Scope         string    `json:"scope"`
	Recorder      string    `json:"recorder"`
	Hosts         []string  `json:"hosts"`
	FQDN          string    `json:"fqdn"`
	Snapshot      string    `json:"snapshot"`
	Socket        string    `json:"socket"`
	Users         int       `json:"users"`
	RecordedUsers int       `json:"recorded_users"`
	LastError     string    `json:"last_error,omitempty"`
}

// Status describes the state in force.
func (d *Daemon) Status() Status {
	st := d.state.Load()
	s := Status{
		Source: st.policy.Source, Path: d.cfg.PolicyPath, Generation: st.gen, Loaded: st.loaded,
		Rules: len(st.policy.Rules), Scope: st.policy.SessionRecording.Scope, Recorder: st.policy.Recorder,
		Hosts: d.cfg.Hosts, FQDN: d.fqdn, Snapshot: d.cfg.SnapshotPath, Socket: d.cfg.SocketPath,
		Users: len(st.users), RecordedUsers: countTrue(st.recorded),
	}
	if st.policy.Source == "ldap" {
		s.URI = st.policy.LDAP.URI
	}
	if st.ldap != nil {
		s.LDAPRules, s.LDAPFetched = len(st.ldap.Rules), st.ldap.Fetched
	}
	if e := d.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// Policy returns the effective policy in force (file rules plus LDAP's).
func (d *Daemon) Policy() *conf.Policy { return d.state.Load().policy }
