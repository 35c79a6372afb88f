package export

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/cmdtimeline"
	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/verify"
)

// Commands go among the recording's events in time order (before the
// output of the same time), the verdict first, what comes after the last
// event at the end; without a log, and with other formats, nothing changes.
func TestJSONCommands(t *testing.T) {
	rec := recgen.Record("r", []recgen.Chunk{{T: 0, Data: []byte("a")}, {T: 2 * time.Second, Data: []byte("b")}})
	at := func(d time.Duration) time.Time { return recgen.Start.Add(d) }
	tl := &cmdtimeline.Timeline{Origin: recgen.Start, Report: commands.Report{Rec: "r", State: verify.Modified, Name: "MODIFIED", Line: 3}, Entries: []commands.Entry{
		{Kind: commands.KindStart, Time: at(0)},
		{Kind: commands.KindExec, Time: at(time.Second), Cmd: &commands.Command{Cwd: "/", Argv: []string{"ls", "<\x1b>"}, OK: true}},
		{Kind: commands.KindLost, Time: at(2 * time.Second), Lost: "gap"},
		// Ran before the loss was noticed and written.
		{Kind: commands.KindExec, Time: at(1800 * time.Millisecond), Cmd: &commands.Command{Argv: []string{"late"}, OK: true}},
		{Kind: commands.KindExec, Time: at(3 * time.Second), Cmd: &commands.Command{Argv: []string{"x"}, Exit: -1}},
	}}
	plain, err := export(t, rec, Options{Format: JSON})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    Options
		want string // "" for the export without commands
	}{
		{"json", Options{Format: JSON, Commands: tl}, `{"time":0.000,"kind":"commands","rec":"r","state":"MODIFIED","line":3,"commands":0,"ended":false}
{"time":0.000,"kind":"window","cols":80,"rows":24}
{"time":0.000,"kind":"out","data":"a"}
{"time":1.000,"kind":"command","n":1,"argv":["ls","\u003c\u001b\u003e"],"cwd":"/","user":"0","ok":true}
{"time":1.800,"kind":"command","n":2,"argv":["late"],"cwd":"","user":"0","ok":true}
{"time":2.000,"kind":"commands_lost","lost":"gap"}
{"time":2.000,"kind":"out","data":"b"}
{"time":3.000,"kind":"command","n":3,"argv":["x"],"cwd":"","user":"0","ok":false,"error":"EPERM"}
`},
		{"no log", Options{Format: JSON}, ""},
		{"not json", Options{Format: Raw, Commands: tl}, "ab"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := export(t, rec, c.o)
			want := c.want
			if want == "" {
				want = string(plain)
			}
			// uid 0's name is the host's.
			got := strings.ReplaceAll(string(out), `"user":"root"`, `"user":"0"`)
			if err != nil || got != want {
				t.Errorf("%v\n%s\nwant\n%s", err, got, want)
			}
		})
	}
}
