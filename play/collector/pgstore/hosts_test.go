package pgstore

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store/storetest"
)

func TestHosts(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	k1, k2 := pubOf(newKey(t)), pubOf(newKey(t))
	enroll(t, s, host, k1)
	if err := s.AddHost(ctx, host); !errors.Is(err, ErrHostExists) {
		t.Errorf("AddHost again: %v, want ErrHostExists", err)
	}
	if err := s.AddHost(ctx, "bad\xffname"); err == nil {
		t.Error("AddHost of invalid UTF-8: no error")
	}
	if _, err := s.AddHostKey(ctx, "h9.example.com", k1); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("AddHostKey to an unknown host: %v, want ErrUnknownHost", err)
	}
	if _, err := s.AddHostKey(ctx, host, k1[:31]); err == nil {
		t.Error("AddHostKey of a short key: no error")
	}
	// Adding a key again changes nothing.
	for _, k := range [][]byte{k2, k2, k1} {
		if id, err := s.AddHostKey(ctx, host, k); err != nil || id != keys.ID(k) {
			t.Errorf("AddHostKey: %s, %v; want %s", id, err, keys.ID(k))
		}
	}
	set, err := s.HostKeys(ctx, host)
	if want := []string{keys.ID(k1), keys.ID(k2)}; err != nil || !slices.Equal(set.IDs(), slices.Sorted(slices.Values(want))) ||
		!set[keys.ID(k2)].Equal(k2) {
		t.Errorf("HostKeys: %v, %v; want %v", set.IDs(), err, want)
	}
	for range 2 {
		if err := s.RevokeHostKey(ctx, host, keys.ID(k1)); err != nil {
			t.Errorf("RevokeHostKey: %v", err)
		}
	}
	if err := s.RevokeHostKey(ctx, host, "0000000000000000"); err == nil {
		t.Error("RevokeHostKey of an unknown key: no error")
	}
	if set, err := s.HostKeys(ctx, host); err != nil || !slices.Equal(set.IDs(), []string{keys.ID(k2)}) {
		t.Errorf("HostKeys after revoking %s: %v, %v", keys.ID(k1), set.IDs(), err)
	}
	if _, err := s.AddHostKey(ctx, host, k1); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("AddHostKey of a revoked key: %v, want ErrKeyRevoked", err)
	}
	if _, err := s.HostKeys(ctx, "h9.example.com"); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("HostKeys of an unknown host: %v, want ErrUnknownHost", err)
	}
	for range 2 {
		if err := s.RevokeHost(ctx, host); err != nil {
			t.Errorf("RevokeHost: %v", err)
		}
	}
	if err := s.RevokeHost(ctx, "h9.example.com"); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("RevokeHost of an unknown host: %v, want ErrUnknownHost", err)
	}
}

func TestRecordings(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	hosts := []string{"a.example.com", "b.example.com"}
	for _, h := range hosts {
		enroll(t, s, h, nil)
	}
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var files []string
	for i, c := range []struct{ host, user string }{{hosts[0], "alice"}, {hosts[1], "bob"}, {hosts[0], "bob"}} {
		path, data := writeFile(t, storetest.Spec{Rec: "rec-" + string(rune('a'+i)), User: c.user, Host: c.host,
			Start: t0.Add(time.Duration(i) * time.Minute), Duration: time.Second})
		files = append(files, filepath.Base(path))
		appendAll(t, s, c.host, files[i], [][]byte{data})
	}
	for _, c := range []struct {
		name   string
		filter Filter
		want   []int
	}{
		{"all", Filter{}, []int{0, 1, 2}},
		{"host", Filter{Host: hosts[0]}, []int{0, 2}},
		{"user", Filter{User: "bob"}, []int{1, 2}},
		{"rec", Filter{Rec: "rec-b"}, []int{1}},
		{"since", Filter{Since: t0.Add(time.Minute)}, []int{1, 2}},
		{"until", Filter{Until: t0.Add(time.Minute)}, []int{0}},
		{"limit", Filter{Limit: 2}, []int{0, 1}},
		{"none", Filter{Host: hosts[1], User: "alice"}, nil},
	} {
		recs, err := s.Recordings(ctx, c.filter)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, r := range recs {
			got = append(got, slices.Index(files, r.File))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: recordings %v, want %v", c.name, got, c.want)
		}
	}
	r := getRecording(t, s, hosts[1], files[1])
	if r.Host != hosts[1] || r.User != "bob" || !r.Start.Equal(t0.Add(time.Minute)) || r.State != "UNSIGNED" ||
		time.Since(r.UpdatedAt) > time.Minute || !strings.HasPrefix(string(r.Report), `[{"rec":"rec-b","state":"UNSIGNED"`) {
		t.Errorf("recording: %+v", r)
	}
	if _, err := s.Recording(ctx, hosts[0], files[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("another host's file: %v, want ErrNotFound", err)
	}
}
