package store

import (
	"reflect"
	"testing"
	"time"
)

// Every field of Summary survives the cache file: a field added to
// Summary but not to encodeSummary/decodeSummary fails here.
func TestCacheRoundTrip(t *testing.T) {
	var s Summary
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Interface().(type) {
		case string:
			f.SetString(v.Type().Field(i).Name + " é\x00\n")
		case int64:
			f.SetInt(-int64(i) * 1e12)
		case float64:
			f.SetFloat(float64(i) + 0.25)
		case time.Time:
			f.Set(reflect.ValueOf(time.Unix(1700000000+int64(i), 123456789)))
		default:
			t.Fatalf("Summary.%s: type %s not covered by this test or the cache file", v.Type().Field(i).Name, f.Type())
		}
	}
	in := map[string]cacheEntry{
		"/var/log/vigil/a.jsonl": {ID: fileID{Dev: 1, Ino: 2, Size: 3, MTime: -4, CTime: 5}, Keys: [32]byte{9}, Summaries: []Summary{s, {}}},
		"/b":                     {},
	}
	out, err := decodeCache(encodeCache(in))
	if err != nil {
		t.Fatal(err)
	}
	for p, e := range in {
		got := out[p]
		if len(got.Summaries) == 0 && len(e.Summaries) == 0 {
			got.Summaries, e.Summaries = nil, nil
		}
		for i := range got.Summaries {
			// Instants survive; the time zone is for printing only.
			for _, tp := range []*time.Time{&got.Summaries[i].Start, &got.Summaries[i].End, &e.Summaries[i].Start, &e.Summaries[i].End} {
				if !tp.IsZero() {
					*tp = tp.UTC()
				}
			}
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%s:\n got %+v\nwant %+v", p, got, e)
		}
	}
}

// A damaged cache file is an error, never a panic or a huge allocation.
func FuzzDecodeCache(f *testing.F) {
	f.Add(encodeCache(map[string]cacheEntry{"/x": {Summaries: []Summary{{File: "f", Start: time.Unix(1, 0)}}}}))
	f.Add([]byte(cacheMagic + "\x03\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if entries, err := decodeCache(data); err == nil {
			if again, err := decodeCache(encodeCache(entries)); err != nil || len(again) != len(entries) {
				t.Fatalf("re-encoded cache: %v, %d entries, want %d", err, len(again), len(entries))
			}
		}
	})
}
