package ldaprules

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/atomicfile"
)

// cacheVersion changes when the cache format does; an older or newer
// cache is not read.
const cacheVersion = 1

type cacheFile struct {
	Version int       `json:"version"`
	Server  string    `json:"server"`
	Fetched time.Time `json:"fetched"`
	content
}

// content is what makes two rule sets differ: not when or where they were
// fetched, nor what was skipped.
type content struct {
	HostGroups map[string][]string `json:"host_groups"`
	Rules      []conf.RuleJSON     `json:"rules"`
}

func contentOf(rs *RuleSet) content {
	// Empty, not null, so that a set without groups or rules compares
	// equal however it was made.
	c := content{HostGroups: rs.HostGroups, Rules: []conf.RuleJSON{}}
	if c.HostGroups == nil {
		c.HostGroups = map[string][]string{}
	}
	for _, r := range rs.Rules {
		c.Rules = append(c.Rules, r.JSON())
	}
	return c
}

// attrs turns a cached rule back into the attributes it was parsed from,
// so that the cache is checked by the parser that checks the directory.
func attrsOf(cr conf.RuleJSON) attrs {
	return attrs{attrCN: {cr.Name}, attrAction: {cr.Action}, attrPriority: {strconv.Itoa(cr.Priority)},
		attrUser: cr.Users, attrGroup: cr.Groups, attrService: cr.Services, attrHost: cr.Hosts, attrRecSetting: cr.Rec}
}

// sameRules says whether a and b hold the same rules and host groups.
func sameRules(a, b *RuleSet) bool {
	// json.Marshal sorts map keys, so equal content encodes equally.
	ja, errA := json.Marshal(contentOf(a))
	jb, errB := json.Marshal(contentOf(b))
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// SaveCache writes rs to path, replacing it atomically: a crash leaves the
// old cache or the new one, never half of one.
func SaveCache(path string, rs *RuleSet) error {
	data, err := json.MarshalIndent(cacheFile{Version: cacheVersion, Server: rs.Server, Fetched: rs.Fetched, content: contentOf(rs)}, "", "\t")
	if err != nil {
		return fmt.Errorf("ldap cache %s: %w", path, err)
	}
	// 0600: the rules tell who is watched.
	if err := atomicfile.WriteData(path, atomicfile.Options{Mode: 0o600}, append(data, '\n')); err != nil {
		return fmt.Errorf("ldap cache %s: %w", path, err)
	}
	return nil
}

// LoadCache reads a rule set that SaveCache wrote. Its rules are checked
// as the directory's are, but strictly: the cache is only a stand-in until
// the next fetch, so any invalid entry discards all of it.
func LoadCache(path string) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ldap cache: %w", err)
	}
	var cf cacheFile
	if err := json.Unmarshal(data, &cf); err != nil {
		return nil, fmt.Errorf("ldap cache %s: %w", path, err)
	}
	if cf.Version != cacheVersion {
		return nil, fmt.Errorf("ldap cache %s: format version %d, want %d", path, cf.Version, cacheVersion)
	}
	rs := &RuleSet{Server: cf.Server, Fetched: cf.Fetched, HostGroups: map[string][]string{}}
	groups := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(cf.HostGroups)) {
		hosts := cf.HostGroups[name]
		dn := "host group " + strconv.Quote(name)
		got, _, err := parseHostGroup(dn, attrs{attrCN: {name}, attrHost: hosts})
		if err != nil {
			return nil, fmt.Errorf("ldap cache %s: %w", path, err)
		}
		if _, dup := groups[strings.ToLower(name)]; dup || got != name {
			return nil, fmt.Errorf("ldap cache %s: %s: not a valid name or used twice", path, dn)
		}
		groups[strings.ToLower(name)] = name
		rs.HostGroups[name] = hosts
	}
	names := map[string]bool{}
	for _, cr := range cf.Rules {
		dn, ok := strings.CutPrefix(cr.Origin, "ldap: ")
		if !ok {
			return nil, fmt.Errorf("ldap cache %s: rule %q: origin %q is not an LDAP DN", path, cr.Name, cr.Origin)
		}
		r, _, err := parseRule(dn, attrsOf(cr), groups)
		if err != nil {
			return nil, fmt.Errorf("ldap cache %s: %w", path, err)
		}
		// build guarantees both; a cache that breaks them was not ours.
		if r.Name != cr.Name || names[r.Name] {
			return nil, fmt.Errorf("ldap cache %s: %s: rule %q: name differs from the DN's or is used twice", path, dn, cr.Name)
		}
		names[r.Name] = true
		rs.Rules = append(rs.Rules, r)
	}
	return rs, nil
}
