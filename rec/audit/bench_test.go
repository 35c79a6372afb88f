package audit

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestExecBurstOverhead measures, in one run:
//
//  1. N × /bin/true exec'd by a logged-in child (one exec loop, then two in
//     parallel), without Vigil's rules and Reader, then with them: the
//     wall-clock overhead, the Reader's events/s and CPU per event, and
//     that nothing was lost;
//  2. the Reader's capacity: N failed execs (a whole audit event each, but
//     cheap for the kernel) at 5,000/s, 10,000/s and as fast as one process
//     can, which real programs cannot reach on a small machine.
//
// VIGIL_BENCH_AUDIT=1 runs it; VIGIL_BENCH_AUDIT_N (default 10000),
// VIGIL_BENCH_AUDIT_WORKERS (exec loops, default "1,2"),
// VIGIL_BENCH_AUDIT_ROUNDS (alternating without/with, default 1; the
// fastest of each is compared) and VIGIL_BENCH_AUDIT_RATES (failed execs
// a second, 0 for as fast as possible; default "5000,10000,0") tune it. Allow it time: go test -timeout 30m.
func TestExecBurstOverhead(t *testing.T) {
	if os.Getenv("VIGIL_BENCH_AUDIT") != "1" {
		t.Skip("skipping: set VIGIL_BENCH_AUDIT=1 to measure the exec overhead of the audit rules and Reader")
	}
	requireAudit(t)
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_AUDIT_N")); err == nil && v > 0 {
		n = v
	}
	workers := []int{1, 2}
	if v := os.Getenv("VIGIL_BENCH_AUDIT_WORKERS"); v != "" {
		workers = nil
		for _, w := range strings.Split(v, ",") {
			if k, err := strconv.Atoi(w); err == nil && k > 0 {
				workers = append(workers, k)
			}
		}
	}
	isTrue := func(e *CommandEvent) bool { return slices.Equal(e.Argv, []string{"/bin/true"}) }
	isFail := func(e *CommandEvent) bool { return e.Executable == "/nonexistent/vigil-bench" && !e.Success }

	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_AUDIT_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for _, w := range workers {
		var bestBase, bestAudited loopTimes
		for round := range rounds {
			_, base := burst(t, n, strconv.Itoa(w))
			res := auditedBurst(t, n, isTrue, strconv.Itoa(w))
			a := res.loop
			t.Logf("%d × /bin/true, %d exec loop(s), round %d: without audit %.3f s (%.0f execs/s, CPU %.3f s); "+
				"with rules + Reader %.3f s (%.0f execs/s, CPU %.3f s): overhead %.2f× wall, %.2f× CPU",
				n, w, round+1, base.wall, float64(n)/base.wall, base.cpu, a.wall, float64(n)/a.wall, a.cpu,
				a.wall/base.wall, a.cpu/base.cpu)
			res.log(t)
			res.check(t, n)
			if round == 0 || base.wall < bestBase.wall {
				bestBase = base
			}
			if round == 0 || a.wall < bestAudited.wall {
				bestAudited = a
			}
		}
		if rounds > 1 {
			t.Logf("%d exec loop(s), fastest of %d rounds: without %.3f s, with %.3f s: overhead %.2f× wall, %.2f× CPU",
				w, rounds, bestBase.wall, bestAudited.wall, bestAudited.wall/bestBase.wall, bestAudited.cpu/bestBase.cpu)
		}
	}
	rates := []int{5000, 10000, 0}
	if v := os.Getenv("VIGIL_BENCH_AUDIT_RATES"); v != "" {
		rates = nil
		for _, r := range strings.Split(v, ",") {
			if k, err := strconv.Atoi(r); err == nil && k >= 0 {
				rates = append(rates, k)
			}
		}
	}
	for _, rate := range rates {
		res := auditedBurst(t, n, isFail, "1", "fail", strconv.Itoa(rate))
		what := "as fast as possible"
		if rate > 0 {
			what = "paced at " + strconv.Itoa(rate) + "/s"
		}
		t.Logf("%d failed execs %s: %.3f s = %.0f execs/s", n, what, res.loop.wall, float64(n)/res.loop.wall)
		res.log(t)
		if rate > 0 && rate <= 5000 || res.got == n {
			res.check(t, n)
		}
	}
}

// loopTimes are an exec loop's own wall-clock seconds (no process
// start-up) and the CPU seconds it and its children used.
type loopTimes struct{ wall, cpu float64 }

// burst runs the exec loop helper in a new login.
func burst(t *testing.T, n int, args ...string) (loginResult, loopTimes) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l := runLogin(t, testUID, t.TempDir(), []string{thenEnv + "=execloop"}, append([]string{self, strconv.Itoa(n)}, args...)...)
	var lt loopTimes
	f := strings.Fields(l.output)
	if len(f) == 2 {
		lt.wall, err = strconv.ParseFloat(f[0], 64)
		if err == nil {
			lt.cpu, err = strconv.ParseFloat(f[1], 64)
		}
	}
	if len(f) != 2 || err != nil {
		t.Fatalf("exec loop output %q", l.output)
	}
	return l, lt
}

type burstResult struct {
	loop        loopTimes
	got         int // matching events received
	span        time.Duration
	lag         time.Duration // last event after the loop's end
	cpu         time.Duration // this process (the Reader) during the burst
	st          Status
	waited      uint32 // jiffies processes waited for room in the kernel's queue
	first, last time.Time
}

// auditedBurst runs a burst with Vigil's rules and a Reader, waits for its
// events and puts everything back.
func auditedBurst(t *testing.T, n int, match func(*CommandEvent) bool, args ...string) burstResult {
	t.Helper()
	added, err := AddRules()
	t.Cleanup(func() { _, _ = DeleteRules(added) })
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	st0, err := r.Status()
	if err != nil {
		t.Fatal(err)
	}
	cnt := countEvents(r, match)
	var ru0, ru1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	l, lt := burst(t, n, args...)
	end := time.Now()
	deadline := end.Add(time.Minute)
	for cnt.count(l.ses) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	time.Sleep(time.Second) // let the serial check judge the tail
	res := burstResult{loop: lt}
	res.got, res.first, res.last = cnt.stats(l.ses)
	res.span, res.lag = res.last.Sub(res.first), res.last.Sub(end)
	res.cpu = time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	if res.st, err = r.Status(); err != nil {
		t.Fatal(err)
	}
	res.waited = res.st.BacklogWaitTimeActual - st0.BacklogWaitTimeActual
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := DeleteRules(added); err != nil {
		t.Fatal(err)
	}
	return res
}

func (res burstResult) log(t *testing.T) {
	t.Helper()
	t.Logf("  Reader: %d events in %.3f s from first to last = %.0f events/s; last one %+.1f ms from the loop process's exit; "+
		"Reader process CPU %.3f s = %.1f µs/event",
		res.got, res.span.Seconds(), float64(res.got)/res.span.Seconds(), float64(res.lag.Microseconds())/1000,
		res.cpu.Seconds(), float64(res.cpu.Microseconds())/float64(max(res.got, 1)))
	t.Logf("  kernel: lost %d, processes waited %d jiffies for queue room; Reader: serial gaps %d, overruns %d, incomplete %d",
		res.st.LostSinceOpen, res.waited, res.st.SerialGaps, res.st.Overruns, res.st.Incomplete)
}

func (res burstResult) check(t *testing.T, n int) {
	t.Helper()
	if res.got != n || res.st.LostSinceOpen != 0 || res.st.SerialGaps != 0 || res.st.Overruns != 0 || res.st.Incomplete != 0 {
		t.Errorf("events lost: got %d of %d; %+v", res.got, n, res.st)
	}
}

// eventCounter counts the matching events of each session as they arrive.
type eventCounter struct {
	mu          sync.Mutex
	n           map[uint32]int
	first, last map[uint32]time.Time
}

func countEvents(r *Reader, match func(*CommandEvent) bool) *eventCounter {
	c := &eventCounter{n: map[uint32]int{}, first: map[uint32]time.Time{}, last: map[uint32]time.Time{}}
	go func() {
		for ev := range r.Events() {
			if !match(ev) {
				continue
			}
			now := time.Now()
			c.mu.Lock()
			if c.n[ev.Session] == 0 {
				c.first[ev.Session] = now
			}
			c.n[ev.Session]++
			c.last[ev.Session] = now
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *eventCounter) count(ses uint32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[ses]
}

func (c *eventCounter) stats(ses uint32) (int, time.Time, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[ses], c.first[ses], c.last[ses]
}
