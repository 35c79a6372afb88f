package store

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The cache file is written by hand rather than with encoding/gob: at ten
// thousand recordings gob's reflection took a tenth of a second of each
// first listing, and as long again to read it back on every later one.
// A change of Summary's fields changes cacheVersion (TestCacheRoundTrip
// fails until encodeSummary and decodeSummary follow).

const cacheMagic = "vigil-play list cache\n"

func encodeCache(entries map[string]cacheEntry) []byte {
	b := append([]byte(cacheMagic), cacheVersion)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for path, e := range entries {
		b = appendString(b, path)
		b = binary.AppendUvarint(b, e.ID.Dev)
		b = binary.AppendUvarint(b, e.ID.Ino)
		b = binary.AppendVarint(b, e.ID.Size)
		b = binary.AppendVarint(b, e.ID.MTime)
		b = binary.AppendVarint(b, e.ID.CTime)
		b = append(b, e.Keys[:]...)
		b = binary.AppendUvarint(b, uint64(len(e.Summaries)))
		for i := range e.Summaries {
			b = encodeSummary(b, &e.Summaries[i])
		}
	}
	return b
}

func encodeSummary(b []byte, s *Summary) []byte {
	for _, f := range []string{s.File, s.Rec, s.User, s.Host, s.Term, s.State, s.Detail, s.LastHash} {
		b = appendString(b, f)
	}
	b = appendTime(b, s.Start)
	b = appendTime(b, s.End)
	b = binary.AppendUvarint(b, math.Float64bits(s.Duration))
	return binary.AppendVarint(b, s.Size)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendTime writes t's instant (the zero time as a flag): summaries hold
// UTC or local times only for printing, which converts them anyway.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

var errCache = errors.New("cache file damaged")

// cacheReader reads what encodeCache wrote; the first error sticks.
type cacheReader struct {
	b   []byte
	err error
}

func decodeCache(data []byte) (map[string]cacheEntry, error) {
	if len(data) < len(cacheMagic)+1 || string(data[:len(cacheMagic)]) != cacheMagic || data[len(cacheMagic)] != cacheVersion {
		return nil, errCache
	}
	r := &cacheReader{b: data[len(cacheMagic)+1:]}
	n := r.count()
	entries := make(map[string]cacheEntry, n)
	for range n {
		path := r.string()
		var e cacheEntry
		e.ID.Dev, e.ID.Ino = r.uvarint(), r.uvarint()
		e.ID.Size, e.ID.MTime, e.ID.CTime = r.varint(), r.varint(), r.varint()
		copy(e.Keys[:], r.bytes(len(e.Keys)))
		e.Summaries = make([]Summary, r.count())
		for i := range e.Summaries {
			s := &e.Summaries[i]
			for _, f := range []*string{&s.File, &s.Rec, &s.User, &s.Host, &s.Term, &s.State, &s.Detail, &s.LastHash} {
				*f = r.string()
			}
			s.Start, s.End = r.time(), r.time()
			s.Duration = math.Float64frombits(r.uvarint())
			s.Size = r.varint()
		}
		if r.err != nil {
			return nil, r.err
		}
		entries[path] = e
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errCache
	}
	return entries, r.err
}

func (r *cacheReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errCache, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *cacheReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errCache, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a number of things that each take at least a byte: more
// than there are bytes left is damage, not a reason to allocate.
func (r *cacheReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errCache, nil
		return 0
	}
	return int(n)
}

func (r *cacheReader) bytes(n int) []byte {
	if n > len(r.b) {
		r.err, r.b = errCache, nil
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *cacheReader) string() string { return string(r.bytes(r.count())) }

func (r *cacheReader) time() time.Time {
	switch flag := r.bytes(1); {
	case len(flag) == 0 || flag[0] == 0:
		return time.Time{}
	default:
		return time.Unix(0, r.varint())
	}
}
