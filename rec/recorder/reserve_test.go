package recorder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// fullSink is a sink on a disk that fills up after its third line: every
// line it is given is kept (the reserve holds it), but the reserve is never
// renewed.
type fullSink struct {
	lineSink
}

func (s *fullSink) Low() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines) >= 3
}

func (s *fullSink) Reserve() error { return fmt.Errorf("test disk: %w", msg.ErrNoSpace) }

// When the disk fills up the session is held, then ended: everything the
// user saw is in the recording, and the recording still ends with its
// signed final message, which says why.
func TestDiskFullEndsWithFinal(t *testing.T) {
	devnull, out := testStdio(t)
	s := &fullSink{}
	c := conf.DefaultRec()
	c.Limit.Action = "pass"
	cmd := exec.Command("/bin/sh", "-c", "i=0; while [ $i -lt 200000 ]; do echo line $i; i=$((i+1)); done")
	o := Options{
		Conf: c, Meta: tlog.Meta{Host: "h", Rec: "r", User: "u"}, Sink: s,
		Stdin: devnull, Stdout: out, Stderr: out, RetryFor: time.Second,
	}
	start := time.Now()
	res, err := Run(cmd, o)
	if !errors.Is(err, msg.ErrNoSpace) {
		t.Fatalf("Run: %v, want msg.ErrNoSpace", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the session took %v to end (retrying for 1 s)", took)
	}
	if res.Status != 1 {
		t.Errorf("status %d, want 1", res.Status)
	}
	var recorded strings.Builder
	var last struct {
		Out   string `json:"out_txt"`
		Vigil struct {
			End  bool    `json:"end"`
			Meta endMeta `json:"meta"`
		} `json:"vigil"`
	}
	for _, l := range s.lines {
		last.Out, last.Vigil.End = "", false
		if err := json.Unmarshal(l, &last); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		recorded.WriteString(last.Out)
	}
	if !last.Vigil.End || !strings.Contains(last.Vigil.Meta.Failed, "test disk") {
		t.Errorf("the last line is not the final message saying why: %s", s.lines[len(s.lines)-1])
	}
	data, _ := os.ReadFile(out.Name())
	// The recorder's own warnings are not the session's output.
	seen, _, warned := strings.Cut(string(data), "\r\nvigil-rec: cannot write the recording: test disk")
	if !warned {
		t.Errorf("the user was not told: %q", data)
	}
	// What the user saw was recorded. The user may have seen nothing: the
	// failing message can be part of the first chunk read from the
	// terminal (a slow machine reads many lines at once), which is then
	// recorded in part and shown not at all.
	if recorded.Len() == 0 || !strings.HasPrefix(recorded.String(), seen) {
		t.Errorf("the user saw %d bytes, the recording holds %d that do not start with them:\n%.200q\n%.200q", len(seen), recorded.Len(), seen, recorded.String())
	}
	if strings.Contains(recorded.String(), "line 199999") {
		t.Error("the command ran to its end: the session was not held")
	}
}
