package tests

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/svctest"
	"github.com/vigil-rec/vigil/rec/verify"
)

// TestBenchCommands (VIGIL_BENCH=1; VIGIL_BENCH_EXECS, default 10,000) is
// issue 16's figure: a recorded ssh session runs N × /bin/true without and
// with vigil-cmdlog (audit rules, reader, signed log), alternating, two
// rounds each; every exec must be in the log and nothing lost.
func TestBenchCommands(t *testing.T) {
	if os.Getenv("VIGIL_BENCH") == "" {
		t.Skip("set VIGIL_BENCH=1")
	}
	if !svctest.InNamespace(t) {
		return
	}
	requireKernelAudit(t)
	h := newLoginHost(t, loginPolicy, "")
	trusted, err := keys.LoadPublic(h.pub)
	if err != nil {
		t.Fatal(err)
	}
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_EXECS")); err == nil && v > 0 {
		n = v
	}
	loop := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do /bin/true bench; i=$((i+1)); done`, n)
	run := func() (time.Duration, string) {
		before := recordings(t)
		start := time.Now()
		if out, err := ssh("alice", "HOST", loop).CombinedOutput(); err != nil {
			t.Fatalf("ssh: %v %s", err, out)
		}
		return time.Since(start), waitRecording(t, before)
	}
	for round := 1; round <= 2; round++ {
		off, _ := run()
		stop := startCmdlog(t, "")
		on, rec := run()
		var rep commands.Report
		var execs int
		waitFor(t, "the command log's end", func() bool {
			var entries []commands.Entry
			entries, rep, err = commands.ReadFile("/var/log/vigil", readHead(t, rec).Rec, trusted)
			execs = 0
			for _, e := range entries {
				if e.Kind == commands.KindExec && strings.Join(e.Cmd.Argv, " ") == "/bin/true bench" {
					execs++
				}
			}
			return err == nil && rep.Ended
		})
		cpu := stop()
		t.Logf("round %d: %d × /bin/true in a recorded ssh session: without vigil-cmdlog %.2f s (%.0f/s), with %.2f s (%.0f/s): %.2f×; logged %d, lost entries %d, state %s; vigil-cmdlog CPU %.2f s (%.0f µs per exec)",
			round, n, off.Seconds(), float64(n)/off.Seconds(), on.Seconds(), float64(n)/on.Seconds(), on.Seconds()/off.Seconds(),
			execs, len(rep.Lost), rep.State, cpu.Seconds(), float64(cpu.Microseconds())/float64(n))
		if execs != n || len(rep.Lost) != 0 || rep.State != verify.OK {
			t.Errorf("round %d: %d of %d execs logged, lost %q, %s", round, execs, n, rep.Lost, rep.String())
		}
	}
}
