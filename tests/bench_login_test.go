package tests

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// TestBenchLogin measures issue 5's login figures on a real host set up as
// in the login tests; it runs only from `make bench` (VIGIL_BENCH=1):
// pam_open_session with and without pam_vigil (pamtester, whole process),
// and ssh login-to-prompt time of a recorded and an unrecorded user.
func TestBenchLogin(t *testing.T) {
	if os.Getenv("VIGIL_BENCH") == "" {
		t.Skip("a benchmark: run by make bench (VIGIL_BENCH=1)")
	}
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	needCmd(t, "pamtester")
	// Two stacks that differ only in pam_vigil.
	writeFile(t, "/etc/pam.d/bench-without", "auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_permit.so\n")
	writeFile(t, "/etc/pam.d/bench-with", "auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_permit.so\n"+pamLine(h.w, ""))
	// Enough runs for a p99 that is not just the slowest run.
	const runs = 300
	timeRun := func(args ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	var with, without []time.Duration
	for range runs {
		without = append(without, timeRun("pamtester", "bench-without", "alice", "open_session"))
		with = append(with, timeRun("pamtester", "bench-with", "alice", "open_session"))
	}
	w50, w99 := percentile(with, 50), percentile(with, 99)
	o50, o99 := percentile(without, 50), percentile(without, 99)
	fmt.Printf("PAM open_session (pamtester, %d runs each, recorded user): without pam_vigil p50 %.2f ms, p99 %.2f ms; "+
		"with p50 %.2f ms, p99 %.2f ms: +%.2f ms at p50 (target <= 5 ms), +%.2f ms at p99\n",
		runs, ms(o50), ms(o99), ms(w50), ms(w99), ms(w50-o50), ms(w99-o99))

	// Login to prompt over ssh -tt: from starting ssh to the shell's prompt.
	prompt := func(user string) time.Duration {
		start := time.Now()
		term := startTerminalCmd(t, 100, 30, ssh(user, "-tt", "HOST"))
		term.waitFor(user+"@", 30*time.Second)
		d := time.Since(start)
		term.typeText("exit\r")
		term.wait(20 * time.Second)
		return d
	}
	var rec, unrec []time.Duration
	for range 10 {
		rec = append(rec, prompt("alice"))
		unrec = append(unrec, prompt("carol"))
	}
	mr, mu := percentile(rec, 50), percentile(unrec, 50)
	fmt.Printf("ssh login to prompt (10 runs each): unrecorded %.1f ms, recorded %.1f ms: %.2fx (target <= 1.2x)\n",
		ms(mu), ms(mr), float64(mr)/float64(mu))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile is the nearest-rank p-th percentile of d (sorted in place).
func percentile(d []time.Duration, p int) time.Duration {
	slices.Sort(d)
	return d[max(0, (len(d)*p+99)/100-1)]
}
