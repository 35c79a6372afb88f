package main

import (
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/conf/shells"
)

// explain's shell line says what runs: for a wrapped user the recorder and
// the shell it runs, and the passwd entry's spelling when that differs.
func TestExplainShell(t *testing.T) {
	p, err := conf.ParsePolicy("policy.toml", []byte("recorder = \"/usr/bin/vigil-rec-session\"\n[session_recording]\nscope = \"some\"\nusers = [\"dave\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := decide.New(p, decide.Env{Shells: shells.New([]string{"/bin/bash"}, nil)})
	for _, c := range []struct{ user, shell, want string }{
		{"dave", "/bin/bash", "  shell:      /bin/bash (run by /usr/bin/vigil-rec-session)\n"},
		{"dave", "/bin//bash", "  shell:      /bin/bash (run by /usr/bin/vigil-rec-session; passwd: \"/bin//bash\")\n"},
		{"dave", "/usr/bin/python3", "  shell:      /usr/sbin/nologin (run by /usr/bin/vigil-rec-session; passwd: \"/usr/bin/python3\")\n"},
		{"dave", "/usr/sbin/nologin", "  shell:      /usr/sbin/nologin\n"},
		{"carol", "/usr/bin/python3", "  shell:      /usr/bin/python3\n"},
		{"carol", "", "  shell:      /bin/sh\n"},
	} {
		u := &decide.User{Name: c.user, Shell: c.shell}
		var b strings.Builder
		printExplanation(&b, decide.Explain(e.Decide(u, decide.Request{}, true), u, decide.Request{}))
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("%s with shell %q:\n%s\nwant the line %q", c.user, c.shell, b.String(), c.want)
		}
	}
}
