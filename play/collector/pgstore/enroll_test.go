package pgstore

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/keys"
)

// A token enrolls one key, once, for its host only, before it expires;
// the host is then known by that key until either is revoked.
func TestEnroll(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	k1, k2 := pubOf(newKey(t)), pubOf(newKey(t))
	if _, _, err := s.HostByKey(ctx, k1); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("HostByKey before enrollment: %v, want ErrUnknownKey", err)
	}
	token, err := s.NewEnrollToken(ctx, host, time.Hour)
	if err != nil || len(token) != 2*tokenBytes {
		t.Fatalf("NewEnrollToken: %q, %v", token, err)
	}
	if _, err := s.Enroll(ctx, "h9.example.com", token, k1); !errors.Is(err, ErrBadToken) {
		t.Errorf("Enroll with another host's token: %v, want ErrBadToken", err)
	}
	if _, err := s.Enroll(ctx, host, token[1:]+"0", k1); !errors.Is(err, ErrBadToken) {
		t.Errorf("Enroll with a wrong token: %v, want ErrBadToken", err)
	}
	// Of concurrent uses of one token, one enrolls.
	ids := make([]string, 4)
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { ids[i], errs[i] = s.Enroll(ctx, host, token, k1) })
	}
	wg.Wait()
	ok := 0
	for i := range ids {
		switch {
		case errs[i] == nil && ids[i] == keys.ID(k1):
			ok++
		case !errors.Is(errs[i], ErrBadToken):
			t.Errorf("concurrent Enroll: %q, %v", ids[i], errs[i])
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent uses of one token enrolled, want 1", ok)
	}
	if h, id, err := s.HostByKey(ctx, k1); err != nil || h != host || id != keys.ID(k1) {
		t.Errorf("HostByKey: %s, %s, %v", h, id, err)
	}

	expired, err := s.NewEnrollToken(ctx, host, time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := s.Enroll(ctx, host, expired, k2); !errors.Is(err, ErrBadToken) {
		t.Errorf("Enroll with an expired token: %v, want ErrBadToken", err)
	}
	// A key is one host's only.
	other, err := s.NewEnrollToken(ctx, "h2.example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enroll(ctx, "h2.example.com", other, k1); !errors.Is(err, ErrKeyInUse) {
		t.Errorf("Enroll of another host's key: %v, want ErrKeyInUse", err)
	}
	// The failure left the token unused.
	if _, err := s.Enroll(ctx, "h2.example.com", other, k2); err != nil {
		t.Errorf("Enroll after a refused use: %v", err)
	}

	if err := s.RevokeHostKey(ctx, host, keys.ID(k1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.HostByKey(ctx, k1); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("HostByKey of a revoked key: %v, want ErrKeyRevoked", err)
	}
	again, err := s.NewEnrollToken(ctx, host, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enroll(ctx, host, again, k1); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("Enroll of a revoked key: %v, want ErrKeyRevoked", err)
	}
	if err := s.RevokeHost(ctx, "h2.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.HostByKey(ctx, k2); !errors.Is(err, ErrHostRevoked) {
		t.Errorf("HostByKey of a revoked host: %v, want ErrHostRevoked", err)
	}
	if _, err := s.NewEnrollToken(ctx, "h2.example.com", time.Hour); !errors.Is(err, ErrHostRevoked) {
		t.Errorf("NewEnrollToken for a revoked host: %v, want ErrHostRevoked", err)
	}

	hosts, err := s.Hosts(ctx)
	if err != nil || len(hosts) != 2 || hosts[0].Name != host || hosts[1].Name != "h2.example.com" ||
		len(hosts[0].Keys) != 1 || hosts[0].Keys[0].RevokedAt == nil || hosts[0].RevokedAt != nil ||
		len(hosts[1].Keys) != 1 || hosts[1].Keys[0].ID != keys.ID(k2) || hosts[1].RevokedAt == nil {
		t.Errorf("Hosts: %+v, %v", hosts, err)
	}
}
