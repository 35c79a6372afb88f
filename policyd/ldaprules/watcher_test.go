package ldaprules

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/policyd/ldaprules/slapdtest"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// watch runs a Watcher with the given refresh period, logging to a buffer,
// and hands its deliveries over a channel.
func watch(t *testing.T, s *slapdtest.Server, cache string, every time.Duration) (*Watcher, <-chan *RuleSet, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	ch := make(chan *RuleSet, 10)
	c := s.Conf()
	c.Cache, c.Timeout = cache, 1
	w := &Watcher{Conf: c, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnChange: func(rs *RuleSet) { ch <- rs }, every: every}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("watcher log:\n%s", logs.String())
		}
	})
	return w, ch, logs
}

func next(t *testing.T, ch <-chan *RuleSet) *RuleSet {
	t.Helper()
	select {
	case rs := <-ch:
		return rs
	case <-time.After(5 * time.Second):
		t.Fatal("no rule set delivered within 5 s")
		return nil
	}
}

func none(t *testing.T, ch <-chan *RuleSet, d time.Duration) {
	t.Helper()
	select {
	case rs := <-ch:
		t.Fatalf("unexpected delivery: %+v", rs.Rules)
	case <-time.After(d):
	}
}

// waitLog waits until the log has n lines holding all of subs.
func waitLog(t *testing.T, logs *syncBuffer, n int, subs ...string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); logs.count(subs...) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("log has %d lines with %q, want %d", logs.count(subs...), subs, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatcher(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	addRule(t, s, "r1", "record", "vigilUser", "alice", "vigilPriority", "20")
	cache := filepath.Join(t.TempDir(), "ldap-rules.json")
	_, ch, logs := watch(t, s, cache, 100*time.Millisecond)

	rs := next(t, ch)
	if len(rs.Rules) != 1 || rs.Rules[0].Priority != 20 {
		t.Fatalf("first set %+v", rs.Rules)
	}
	// Unchanged directory, no delivery.
	none(t, ch, 350*time.Millisecond)

	// A change in the directory arrives without a restart.
	s.Modify("cn=r1,"+base, map[string][]string{"vigilPriority": {"5"}, "vigilRecSetting": {"log.window=false"}})
	rs = next(t, ch)
	if rs.Rules[0].Priority != 5 || rs.Rules[0].Rec.Keys()[0] != "log.window=false" {
		t.Fatalf("changed set %+v", rs.Rules)
	}
	changed := rs

	// An outage: one warning however many retries, nothing delivered.
	s.Stop()
	waitLog(t, logs, 3, "still cannot fetch")
	none(t, ch, 0)
	if n := logs.count("level=WARN"); n != 1 {
		t.Errorf("%d warnings during the outage, want 1", n)
	}
	s.Restart()
	waitLog(t, logs, 1, "level=INFO", "answers again")
	none(t, ch, 300*time.Millisecond)
	if n := logs.count("answers again"); n != 1 {
		t.Errorf("%d recoveries logged, want 1", n)
	}

	// A bad entry is warned about once, not at every refresh, and
	// changes nothing.
	addRule(t, s, "junk", "sometimes")
	waitLog(t, logs, 1, "level=WARN", "skipping an invalid entry", `dn="cn=junk,`+base+`"`, "attribute=vigilAction")
	time.Sleep(350 * time.Millisecond)
	none(t, ch, 0)
	if n := logs.count("skipping an invalid entry"); n != 1 {
		t.Errorf("junk entry warned about %d times, want 1", n)
	}

	// The cache holds the last set delivered, private to root.
	fi, err := os.Stat(cache)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache mode %v", fi.Mode())
	}

	// A new watcher whose directory is down starts from the cache.
	s.Stop()
	_, ch2, logs2 := watch(t, s, cache, 100*time.Millisecond)
	rs = next(t, ch2)
	if !sameRules(rs, changed) || !rs.Fetched.Equal(changed.Fetched) {
		t.Errorf("from the cache: %+v, want %+v", rs.Rules, changed.Rules)
	}
	waitLog(t, logs2, 2, "still cannot fetch")
	if n := logs2.count("level=WARN"); n != 1 || logs2.count("in_force=\"the last rule set, fetched") != 1 {
		t.Errorf("%d warnings with the directory down, want 1 saying the cached set is kept", n)
	}
	none(t, ch2, 0)
}

// TestWatcherRefresh: Refresh fetches at once, long before the period.
func TestWatcherRefresh(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	w, ch, _ := watch(t, s, "", time.Hour)
	w.Refresh() // before Run's first fetch: merged or served, never blocking
	if rs := next(t, ch); len(rs.Rules) != 0 {
		t.Fatalf("first set %+v", rs.Rules)
	}
	addRule(t, s, "r1", "norecord", "vigilService", "cron")
	w.Refresh()
	w.Refresh() // does not block while one is pending
	if rs := next(t, ch); len(rs.Rules) != 1 {
		t.Fatalf("after Refresh: %+v", rs.Rules)
	}
}

// syncBuffer is the watcher's log, which its logger and the test use at
// once.
type syncBuffer struct{ svctest.Buffer }

// count says how many lines hold every one of subs.
func (b *syncBuffer) count(subs ...string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}
