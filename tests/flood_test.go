package tests

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// A recorded user floods the terminal with random bytes for a few seconds:
// with the default rate limit (delay) the session is slowed down, nothing
// is dropped from the recording, and the recording stays bounded by the
// limit instead of growing at the recorder's full speed (490 MB in 5 s
// with limit.action = pass).
func TestLoginFloodSlowed(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	const seconds = 6
	before := recordings(t)
	term := startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST", "timeout 6 cat /dev/urandom; echo; echo flood-$((20+1))"))
	term.wait(time.Minute)
	rec := waitRecording(t, before)
	fi, err := os.Stat(rec)
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(conf.DefaultLimitBurst+(seconds+2)*conf.DefaultLimitRate) + 1<<20
	t.Logf("recording of a %d s flood: %d bytes (bound %d)", seconds, fi.Size(), limit)
	if fi.Size() > limit {
		t.Errorf("a %d s flood made a %d-byte recording: the rate limit did not hold it to %d", seconds, fi.Size(), limit)
	}
	verifyFile(t, rec, h.pub)
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"drop":{"messages"`) || !strings.Contains(string(data), "flood-21") {
		t.Errorf("the flood's recording dropped output or lost its end")
	}
}
