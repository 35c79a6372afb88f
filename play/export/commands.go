package export

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-rec/vigil/play/cmdtimeline"
)

// A JSON export of a recording with a command log (Options.Commands)
// holds, first, the log's verdict: {"time":0,"kind":"commands"} with the
// members of its report (commands.Report: "state", "detail", "commands",
// "lost", ...); then, among the recording's events at their times, each
// command, {"time":T,"kind":"command","n":N,"argv":[...],"cwd":DIR,
// "user":NAME,"ok":BOOL} with "error" (the errno's name) when the call
// failed and "incomplete" when audit records of it were lost, and each
// loss, {"time":T,"kind":"commands_lost","lost":WHY}. A viewer that knows
// only the recording's kinds passes over them.

// jsonCommand is a "command" event's members after time and kind.
type jsonCommand struct {
	N          int      `json:"n"`
	Argv       []string `json:"argv"`
	Cwd        string   `json:"cwd"`
	User       string   `json:"user"`
	OK         bool     `json:"ok"`
	Error      string   `json:"error,omitempty"`
	Incomplete bool     `json:"incomplete,omitempty"`
}

// commands writes the items of tl at or before t, and returns the rest.
func (j *jsonWriter) commands(tl *cmdtimeline.Timeline, items []cmdtimeline.Item, t time.Duration) ([]cmdtimeline.Item, error) {
	for len(items) > 0 && items[0].Offset <= t {
		it := items[0]
		items = items[1:]
		var err error
		if c := it.Cmd; c != nil {
			jc := jsonCommand{N: it.N, Argv: c.Argv, Cwd: c.Cwd, User: tl.UserName(c.UID), OK: c.OK, Incomplete: c.Incomplete}
			if !c.OK {
				jc.Error = cmdtimeline.Failure(c)
			}
			err = j.members(it.Offset, "command", jc)
		} else {
			err = j.members(it.Offset, "commands_lost", struct {
				Lost string `json:"lost"`
			}{it.Lost})
		}
		if err != nil {
			return nil, err
		}
	}
	return items, nil
}

// members writes an event of kind at t with the members of v, a struct.
func (j *jsonWriter) members(t time.Duration, kind string, v any) error {
	m, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s event: %w", kind, err)
	}
	b := appendSeconds(append(j.b[:0], `{"time":`...), t)
	b = append(append(append(b, `,"kind":"`...), kind...), '"')
	if len(m) > 2 { // {} has no members to add
		b = append(append(b, ','), m[1:len(m)-1]...)
	}
	return j.write(b)
}
