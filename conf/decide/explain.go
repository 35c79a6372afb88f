package decide

import (
	"encoding/json"

	"github.com/vigil-rec/vigil/conf"
)

// Explanation is a decision with the steps that led to it, as D-Bus
// Explain and `vigilctl explain --json` print it.
type Explanation struct {
	Record   bool            `json:"record"`
	Rule     string          `json:"rule"`
	Shell    string          `json:"shell"`
	Recorder string          `json:"recorder"`
	Conf     json.RawMessage `json:"conf"`
	User     *User           `json:"user"`
	Service  string          `json:"service"`
	RHost    string          `json:"rhost"`
	TTY      string          `json:"tty"`
	Steps    []Step          `json:"steps"`
}

// Explain packs d, made for u and req, into an Explanation.
func Explain(d Decision, u *User, req Request) Explanation {
	return Explanation{
		Record: d.Record, Rule: d.Rule, Shell: d.Shell, Recorder: d.Recorder,
		Conf: d.Conf.JSON(), User: u, Service: req.Service, RHost: req.RHost, TTY: req.TTY, Steps: d.Steps,
	}
}

// RuleView is one rule as `vigilctl rules` shows it.
type RuleView struct {
	conf.RuleJSON
	Here bool `json:"applies_here"` // its hosts match this host
}

// RuleSet is the effective rule set in evaluation order, then the fallback.
type RuleSet struct {
	Recorder         string              `json:"recorder"`
	Rules            []RuleView          `json:"rules"`
	HostGroups       map[string][]string `json:"host_groups,omitempty"`
	SessionRecording any                 `json:"session_recording"`
}

// Rules describes what e evaluates, in order.
func (e *Engine) Rules() RuleSet {
	sr := e.policy.SessionRecording
	rs := RuleSet{Recorder: e.policy.Recorder, HostGroups: e.policy.HostGroups, SessionRecording: map[string]any{
		"scope": sr.Scope, "users": sr.Users, "groups": sr.Groups,
		"exclude_users": sr.ExcludeUsers, "exclude_groups": sr.ExcludeGroups,
	}, Rules: []RuleView{}}
	for _, r := range e.rules {
		rs.Rules = append(rs.Rules, RuleView{RuleJSON: r.JSON(), Here: r.hostHere})
	}
	return rs
}
