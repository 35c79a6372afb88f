package tests

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// The layers (README "Layout"): formats and contracts at the bottom, which
// every component may use; policy evaluation; then the components, which
// never import each other's internals. conf is shared by all.
var (
	components = []string{"rec", "play", "policyd", "pam", "nss"}
	// contracts are the formats and interfaces between components.
	contracts = map[string]bool{
		"rec/tlog": true, "rec/chain": true, "rec/msg": true, "rec/keys": true, "rec/verify": true, "rec/procstat": true, "rec/store": true, "rec/fleetapi": true, "rec/auditrules": true, "rec/commands": true,
		"policyd/dbusapi": true, "policyd/dbusapi/wire": true, "policyd/nssdb": true,
	}
)

const module = "github.com/vigil-rec/vigil/"

// Every import between the project's packages (tests excluded) follows the
// layers: a new import of another component's internals, or a contract
// that imports a component, fails here.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		from, ok := strings.CutPrefix(fields[0], module)
		if !ok || strings.HasPrefix(from, "tests") {
			continue
		}
		for _, imp := range fields[1:] {
			to, ok := strings.CutPrefix(imp, module)
			if !ok || strings.HasPrefix(to, "conf") {
				continue
			}
			edge := from + " -> " + to
			if contracts[from] && !contracts[to] {
				bad = append(bad, edge+" (a contract imports a component)")
				continue
			}
			if component(from) == component(to) || contracts[to] {
				continue
			}
			bad = append(bad, edge)
		}
	}
	sort.Strings(bad)
	for _, e := range bad {
		t.Errorf("forbidden import: %s", e)
	}
}

func component(pkg string) string {
	c, _, _ := strings.Cut(pkg, "/")
	for _, k := range components {
		if c == k {
			return c
		}
	}
	return pkg
}
