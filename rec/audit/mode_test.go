package audit

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// A second Reader, beside a registered audit daemon (here the first
// Reader), picks multicast by itself, receives the same events, and changes
// nothing when it closes.
func TestMulticastBesideDaemon(t *testing.T) {
	requireAudit(t)
	addRules(t)
	first := openReader(t, Options{})
	if first.Mode() != ModeDaemon {
		t.Skipf("skipping: an audit daemon runs (the first reader is %v)", first.Mode())
	}
	second, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			second.Close()
		}
	})
	if second.Mode() != ModeMulticast {
		t.Fatalf("second reader beside a daemon: mode %v", second.Mode())
	}
	c1, c2 := collect(first), collect(second)
	l := runLogin(t, testUID, t.TempDir(), nil, "/bin/echo", "both readers")
	e1 := c1.waitFor(t, "the daemon's event", inSession(l.ses, "/bin/echo", "both readers"))
	e2 := c2.waitFor(t, "the multicast event", inSession(l.ses, "/bin/echo", "both readers"))
	if e1.Serial != e2.Serial || e1.PID != e2.PID || !e2.Time.Equal(e1.Time) {
		t.Errorf("daemon %v, multicast %v", e1, e2)
	}

	before, err := first.Status()
	if err != nil {
		t.Fatal(err)
	}
	closed = true
	if err := second.Close(); err != nil {
		t.Fatalf("close multicast reader: %v", err)
	}
	for range second.Events() { // closed after Close (buffered events first)
	}
	after, err := first.Status()
	if err != nil {
		t.Fatal(err)
	}
	if after.Enabled != before.Enabled || after.PID != uint32(os.Getpid()) || after.BacklogLimit != before.BacklogLimit ||
		after.BacklogWaitTime != before.BacklogWaitTime {
		t.Errorf("closing the multicast reader changed the kernel's state: %+v, then %+v", before, after)
	}
	// The daemon keeps receiving.
	l = runLogin(t, testUID, t.TempDir(), nil, "/bin/echo", "after multicast")
	c1.waitFor(t, "the daemon's event after", inSession(l.ses, "/bin/echo", "after multicast"))
}

// Multicast changes no settings, so it refuses to start with auditing off.
func TestMulticastNeedsAuditing(t *testing.T) {
	requireAudit(t)
	st := readKernelState(t).status
	if st.Enabled != 0 {
		t.Skip("skipping: auditing is on")
	}
	if r, err := Open(Options{Mode: ModeMulticast}); err == nil {
		r.Close()
		t.Fatal("multicast reader opened with auditing off")
	}
}

// Close puts back what Open changed, and a second Close is harmless.
func TestDaemonRestores(t *testing.T) {
	requireAudit(t)
	before := readKernelState(t).status
	r, err := Open(Options{Mode: ModeDaemon, BacklogLimit: before.BacklogLimit + 100})
	if err != nil {
		t.Fatal(err)
	}
	during := readKernelState(t).status
	if during.PID != uint32(os.Getpid()) || during.Enabled == 0 || during.BacklogLimit != before.BacklogLimit+100 {
		t.Errorf("while open: %+v", during)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if r.Err() != nil {
		t.Errorf("Err after Close: %v", r.Err())
	}
	// requireAudit's cleanup compares the whole state.
}

// Records a reader could not take in time are reported, not silently gone:
// a multicast reader that stalls overflows its socket (the kernel does not
// wait for multicast readers) and counts it, while the daemon beside it,
// which the kernel waits for, loses nothing.
func TestLossIsReported(t *testing.T) {
	requireAudit(t)
	addRules(t)
	daemon := openReader(t, Options{})
	if daemon.Mode() != ModeDaemon {
		t.Skipf("skipping: an audit daemon runs (the first reader is %v)", daemon.Mode())
	}
	stalled := openReader(t, Options{Mode: ModeMulticast, SocketBuffer: 4096, EventBuffer: 1})
	cd := collect(daemon)
	const n = 300
	l := runLogin(t, testUID, t.TempDir(), nil, "/bin/sh", "-c",
		fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done; /bin/echo done", n))
	cd.waitFor(t, "the daemon's last event", inSession(l.ses, "/bin/echo", "done"))
	if got := len(cd.session(l.ses)); got != n+2 {
		t.Errorf("daemon: %d events, want %d", got, n+2)
	}

	cs := collect(stalled) // now drain it
	// Serials lost at the end of a burst show as gaps once a later one
	// arrives: log in again.
	l = runLogin(t, testUID, t.TempDir(), nil, "/bin/echo", "later")
	cs.waitFor(t, "the stalled reader's later event", inSession(l.ses, "/bin/echo", "later"))
	deadline := time.Now().Add(10 * time.Second)
	var st Status
	for {
		var err error
		if st, err = stalled.Status(); err != nil {
			t.Fatal(err)
		}
		if st.Overruns > 0 && st.SerialGaps > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("stalled multicast reader: %+v", st)
	if st.Overruns == 0 || st.SerialGaps == 0 {
		t.Errorf("the stalled reader's losses went unreported: %+v", st)
	}
	ds, err := daemon.Status()
	if err != nil {
		t.Fatal(err)
	}
	if ds.LostSinceOpen != 0 || ds.SerialGaps != 0 || ds.Overruns != 0 || ds.Incomplete != 0 {
		t.Errorf("daemon reader lost records: %+v", ds)
	}
}

// A daemon-mode Reader that stalls fills its socket; the kernel retries a
// few times, then drops records (to the kernel log) without counting them
// in its lost counter. Whatever did not arrive, the Reader reports.
func TestDaemonStallIsReported(t *testing.T) {
	requireAudit(t)
	addRules(t)
	r := openReader(t, Options{Mode: ModeDaemon, SocketBuffer: 4096, EventBuffer: 1})
	const n = 300
	burst := runLogin(t, testUID, t.TempDir(), nil, "/bin/sh", "-c",
		fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done", n))
	c := collect(r)
	l := runLogin(t, testUID, t.TempDir(), nil, "/bin/echo", "later")
	c.waitFor(t, "the event after the stall", inSession(l.ses, "/bin/echo", "later"))
	// Wait until every event arrived or a loss was reported.
	var (
		st  Status
		got int
	)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		if st, err = r.Status(); err != nil {
			t.Fatal(err)
		}
		got = 0
		for _, e := range c.snapshot() { // an event that lost its SYSCALL record has no session
			if e.Session == burst.ses && len(e.Argv) == 1 && e.Argv[0] == "/bin/true" && !e.Incomplete {
				got++
			}
		}
		if got == n || st.SerialGaps > 0 || st.LostSinceOpen > 0 || st.Incomplete > 0 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("stalled daemon reader: %d of %d events whole; %+v", got, n, st)
	for _, e := range c.snapshot() {
		if e.Incomplete {
			t.Logf("incomplete: %v: %q", e, e.Problems)
		}
	}
	if got < n && st.SerialGaps == 0 && st.LostSinceOpen == 0 && st.Incomplete == 0 {
		t.Errorf("%d of %d events lost silently: %+v", n-got, n, st)
		var pids []int
		for _, e := range c.session(burst.ses) {
			pids = append(pids, e.PID)
		}
		t.Logf("pids of the burst's events: %v", pids)
	}
}
