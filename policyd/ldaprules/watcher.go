package ldaprules

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/vigil-rec/vigil/conf"
)

// maxRetry caps the first retry after a failed fetch: policyd should not
// wait a whole refresh period (5 minutes by default) for a directory that
// was only restarting.
const maxRetry = 30 * time.Second

// Watcher keeps an LDAP rule set current.
type Watcher struct {
	Conf conf.LDAP
	Log  *slog.Logger // nil: slog.Default()
	// OnChange receives each rule set that differs from the one it
	// received before, on Run's goroutine; the set must not be modified.
	OnChange func(*RuleSet)

	once  sync.Once
	kick  chan struct{}
	every time.Duration // tests: the refresh period, overriding Conf.Refresh
}

func (w *Watcher) init() {
	w.once.Do(func() { w.kick = make(chan struct{}, 1) })
}

// Refresh asks Run to fetch now, without waiting for it; requests made
// while a fetch is due already are merged into it.
func (w *Watcher) Refresh() {
	w.init()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers the cached rule set, if there is one, then fetches every
// Conf.Refresh seconds until ctx ends. When the directory cannot be
// reached the last rule set stays in force: Run logs one warning when the
// outage starts and one notice when it ends, and retries sooner than
// usual meanwhile. Call it once.
func (w *Watcher) Run(ctx context.Context) {
	w.init()
	log := w.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("uri", w.Conf.URI)
	refresh := w.every
	if refresh <= 0 {
		refresh = time.Duration(w.Conf.Refresh) * time.Second
	}
	if refresh <= 0 {
		refresh = time.Duration(conf.DefaultLDAP().Refresh) * time.Second
	}

	var last *RuleSet
	deliver := func(rs *RuleSet) {
		last = rs
		if w.OnChange != nil {
			w.OnChange(rs)
		}
	}
	if w.Conf.Cache != "" {
		rs, err := LoadCache(w.Conf.Cache)
		switch {
		case err == nil:
			log.Info("LDAP rules: using the cache until the directory answers", "cache", w.Conf.Cache, "rules", len(rs.Rules), "fetched", rs.Fetched)
			deliver(rs)
		case !errors.Is(err, fs.ErrNotExist):
			log.Warn("LDAP rules: ignoring the cache", "err", err)
		}
	}

	var (
		downSince time.Time
		retry     time.Duration
		warned    = map[string]bool{} // skipped entries already logged
	)
	for {
		rs, err := Fetch(ctx, w.Conf)
		if ctx.Err() != nil {
			return
		}
		wait := refresh
		if err != nil {
			retry = min(max(2*retry, min(refresh, maxRetry)), refresh)
			wait = retry
			if downSince.IsZero() {
				downSince = time.Now()
				in := "none"
				if last != nil {
					in = "the last rule set, fetched " + last.Fetched.Format(time.RFC3339)
				}
				log.Warn("LDAP rules: cannot fetch; keeping the rules in force until the directory answers", "err", err, "in_force", in)
			} else {
				log.Debug("LDAP rules: still cannot fetch", "err", err, "retry_in", retry)
			}
		} else {
			retry = 0
			if !downSince.IsZero() {
				log.Info("LDAP rules: the directory answers again", "down_for", time.Since(downSince).Round(time.Second))
				downSince = time.Time{}
			}
			now := map[string]bool{}
			for _, e := range rs.Skipped {
				now[e.Error()] = true
				if !warned[e.Error()] {
					log.Warn("LDAP rules: skipping an invalid entry; the other rules apply", "dn", e.DN, "attribute", e.Attr, "problem", e.Msg)
				}
			}
			warned = now
			if last == nil || !sameRules(last, rs) {
				deliver(rs)
				if w.Conf.Cache != "" {
					if err := SaveCache(w.Conf.Cache, rs); err != nil {
						log.Warn("LDAP rules: cannot save the cache", "err", err)
					}
				}
			}
		}
		// Jitter keeps many hosts from asking in step after an outage.
		t := time.NewTimer(wait + rand.N(wait/10+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-w.kick:
			t.Stop()
		}
	}
}
