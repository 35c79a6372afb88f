package nsslookup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vigil-rec/vigil/conf/decide"
)

func TestLookups(t *testing.T) {
	Bypass()
	if os.Getenv(BypassEnv) == "" {
		t.Fatalf("%s is not set: the vigil module would ask policyd about policyd's own lookups", BypassEnv)
	}
	root, err := User("root")
	if err != nil || root.UID != 0 || root.Dir == "" || root.Shell == "" {
		t.Fatalf("root: %+v, %v", root, err)
	}
	byID, err := UserByID(0)
	if err != nil || byID.Name != "root" {
		t.Fatalf("uid 0: %+v, %v", byID, err)
	}
	if _, err := User("no-such-user-vigil"); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("unknown user: %v", err)
	}
	groups, err := Groups("root", 0)
	if err != nil || !slices.Contains(groups, "root") {
		t.Fatalf("root's groups: %v, %v", groups, err)
	}
	all := All()
	i := slices.IndexFunc(all, func(u *decide.User) bool { return u.Name == "root" })
	if i < 0 || all[i].Groups[0] != "root" {
		t.Fatalf("All: root missing or without its primary group (%d users)", len(all))
	}
}

func TestGroupsEnumerate(t *testing.T) {
	dir := t.TempDir()
	for line, want := range map[string]bool{
		"group: files systemd":                    true,
		"group:\tcompat":                          true,
		"group: files [SUCCESS=merge] systemd":    true,
		"group: files sss":                        false,
		"group: ldap files":                       false,
		"passwd: files sss\ngroup: files systemd": true,
	} {
		p := filepath.Join(dir, "nsswitch.conf")
		if err := os.WriteFile(p, []byte("# c\n"+line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := groupsEnumerate(p); got != want {
			t.Errorf("%q: %v, want %v", line, got, want)
		}
	}
}
