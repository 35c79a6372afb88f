// Package nssdb is policyd's side of libnss_vigil.so.2: it writes the
// snapshot file the module maps, parses it back (with the checks the C
// reader applies), and serves and queries the lookup socket. The contract
// is policyd/spec/nss.md.
package nssdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/vigil-rec/vigil/conf/atomicfile"
)

// Default paths; the C module compiles the same ones in.
const (
	SnapshotPath = "/var/lib/vigil/nss.snapshot"
	SocketPath   = "/run/vigil/nss.sock"
)

// Entry is a passwd entry. For a recorded user Shell is the recorder.
type Entry struct {
	Name, Passwd, Gecos, Dir, Shell string
	UID, GID                        uint32
	Recorded                        bool
}

const (
	headerSize   = 64
	entrySize    = 40
	fileVersion  = 1
	flagNobody   = 1
	flagRecorded = 1
)

var fileMagic = []byte("VIGILNS\x00")

// Header field offsets.
const (
	hVersion     = 8
	hFlags       = 12
	hGeneration  = 16
	hFileSize    = 24
	hNEntries    = 28
	hNBuckets    = 32
	hNameBuckets = 36
	hUIDBuckets  = 40
	hEntries     = 44
	hStrings     = 48
	hStringsLen  = 52
	hChecksum    = 56
	hReserved    = 60
)

// Entry field offsets.
const (
	eFlags    = 0
	eUID      = 4
	eGID      = 8
	eName     = 12
	ePasswd   = 16
	eGecos    = 20
	eDir      = 24
	eShell    = 28
	eNextName = 32
	eNextUID  = 36
)

var stringFields = [...]struct {
	off  int
	name string
}{{eName, "name"}, {ePasswd, "passwd"}, {eGecos, "gecos"}, {eDir, "dir"}, {eShell, "shell"}}

func fnv1a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func uidHash(uid uint32) uint32 {
	return fnv1a(binary.LittleEndian.AppendUint32(nil, uid))
}

func (e *Entry) fields() [5]string { return [5]string{e.Name, e.Passwd, e.Gecos, e.Dir, e.Shell} }

// encodeSnapshot lays out header, name buckets, uid buckets, entries and
// strings in that order. Chains keep the entries' order, so the first of
// two entries with the same name or uid wins, as in /etc/passwd.
func encodeSnapshot(generation uint64, nobody bool, entries []Entry) ([]byte, error) {
	n := len(entries)
	nb := 1
	for nb < n {
		nb <<= 1
	}
	// The empty string first: offset 0 is "" and the area ends with NUL
	// even with no entries.
	strs := []byte{0}
	offsets := map[string]uint32{"": 0}
	intern := func(s string) uint32 {
		if off, ok := offsets[s]; ok {
			return off
		}
		off := uint32(len(strs))
		strs = append(append(strs, s...), 0)
		offsets[s] = off
		return off
	}

	nameB := headerSize
	uidB := nameB + 4*nb
	ents := uidB + 4*nb
	strOff := uint64(ents) + uint64(n)*entrySize
	buf := make([]byte, ents+n*entrySize)
	nameHeads := make([]uint32, nb)
	uidHeads := make([]uint32, nb)
	for i := n - 1; i >= 0; i-- { // prepend in reverse: chains end up in file order
		e := &entries[i]
		for j, f := range e.fields() {
			if strings.IndexByte(f, 0) >= 0 {
				return nil, fmt.Errorf("entry %d (%q): %s contains NUL", i, e.Name, stringFields[j].name)
			}
		}
		p := buf[ents+i*entrySize:]
		if e.Recorded {
			binary.LittleEndian.PutUint32(p[eFlags:], flagRecorded)
		}
		binary.LittleEndian.PutUint32(p[eUID:], e.UID)
		binary.LittleEndian.PutUint32(p[eGID:], e.GID)
		for j, f := range e.fields() {
			binary.LittleEndian.PutUint32(p[stringFields[j].off:], intern(f))
		}
		nbk := fnv1a([]byte(e.Name)) & uint32(nb-1)
		binary.LittleEndian.PutUint32(p[eNextName:], nameHeads[nbk])
		nameHeads[nbk] = uint32(i + 1)
		ubk := uidHash(e.UID) & uint32(nb-1)
		binary.LittleEndian.PutUint32(p[eNextUID:], uidHeads[ubk])
		uidHeads[ubk] = uint32(i + 1)
	}
	if total := strOff + uint64(len(strs)); total > math.MaxUint32 {
		return nil, fmt.Errorf("%d entries need %d bytes, more than the format's 4 GiB", n, total)
	}
	for b := range nb {
		binary.LittleEndian.PutUint32(buf[nameB+4*b:], nameHeads[b])
		binary.LittleEndian.PutUint32(buf[uidB+4*b:], uidHeads[b])
	}
	buf = append(buf, strs...)

	h := buf[:headerSize]
	copy(h, fileMagic)
	le := binary.LittleEndian
	le.PutUint32(h[hVersion:], fileVersion)
	if nobody {
		le.PutUint32(h[hFlags:], flagNobody)
	}
	le.PutUint64(h[hGeneration:], generation)
	le.PutUint32(h[hFileSize:], uint32(len(buf)))
	le.PutUint32(h[hNEntries:], uint32(n))
	le.PutUint32(h[hNBuckets:], uint32(nb))
	le.PutUint32(h[hNameBuckets:], uint32(nameB))
	le.PutUint32(h[hUIDBuckets:], uint32(uidB))
	le.PutUint32(h[hEntries:], uint32(ents))
	le.PutUint32(h[hStrings:], uint32(strOff))
	le.PutUint32(h[hStringsLen:], uint32(len(strs)))
	le.PutUint32(h[hChecksum:], fnv1a(buf[headerSize:]))
	return buf, nil
}

// WriteSnapshot replaces the file at path atomically: a reader maps either
// the old file or the new one. The entries are every user policyd could
// enumerate, recorded or not; nobody says the policy records no one.
func WriteSnapshot(path string, generation uint64, nobody bool, entries []Entry) error {
	data, err := encodeSnapshot(generation, nobody, entries)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	if err := atomicfile.WriteData(path, atomicfile.Options{Mode: 0o644}, data); err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	return nil
}

// Snapshot is a parsed, validated snapshot file.
type Snapshot struct {
	data                                           []byte
	flags, n, nb, nameB, uidB, ents, strs, strsLen uint32
	generation                                     uint64
}

// OpenSnapshot reads and validates the file at path.
func OpenSnapshot(path string) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return s, nil
}

// ParseSnapshot validates data (which it copies) as a snapshot file.
func ParseSnapshot(data []byte) (*Snapshot, error) {
	s, err := parse(bytes.Clone(data))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return s, nil
}

// parse applies the checks of nss/src/snapshot.c in the same order; the
// nss tests feed both the same inputs and compare their verdicts.
func parse(d []byte) (*Snapshot, error) {
	if len(d) < headerSize {
		return nil, fmt.Errorf("file is %d bytes, shorter than the %d-byte header", len(d), headerSize)
	}
	if len(d) > math.MaxUint32 {
		return nil, fmt.Errorf("file is %d bytes, more than 4 GiB", len(d))
	}
	le := binary.LittleEndian
	if !bytes.Equal(d[:8], fileMagic) {
		return nil, fmt.Errorf("offset 0: bad magic %q", d[:8])
	}
	if v := le.Uint32(d[hVersion:]); v != fileVersion {
		return nil, fmt.Errorf("offset %d: unsupported version %d", hVersion, v)
	}
	s := &Snapshot{
		data:       d,
		flags:      le.Uint32(d[hFlags:]),
		generation: le.Uint64(d[hGeneration:]),
		n:          le.Uint32(d[hNEntries:]),
		nb:         le.Uint32(d[hNBuckets:]),
		nameB:      le.Uint32(d[hNameBuckets:]),
		uidB:       le.Uint32(d[hUIDBuckets:]),
		ents:       le.Uint32(d[hEntries:]),
		strs:       le.Uint32(d[hStrings:]),
		strsLen:    le.Uint32(d[hStringsLen:]),
	}
	size := uint64(len(d))
	if s.flags&^flagNobody != 0 {
		return nil, fmt.Errorf("offset %d: unknown flags %#x", hFlags, s.flags)
	}
	if r := le.Uint32(d[hReserved:]); r != 0 {
		return nil, fmt.Errorf("offset %d: reserved field is %#x, want 0", hReserved, r)
	}
	if fs := le.Uint32(d[hFileSize:]); uint64(fs) != size {
		return nil, fmt.Errorf("offset %d: file_size %d but the file is %d bytes", hFileSize, fs, size)
	}
	if s.nb == 0 || s.nb&(s.nb-1) != 0 {
		return nil, fmt.Errorf("offset %d: n_buckets %d is not a power of two", hNBuckets, s.nb)
	}
	for _, r := range []struct {
		name     string
		off      uint32
		len      uint64
		hdrField int
	}{
		{"name_buckets", s.nameB, uint64(s.nb) * 4, hNameBuckets},
		{"uid_buckets", s.uidB, uint64(s.nb) * 4, hUIDBuckets},
		{"entries", s.ents, uint64(s.n) * entrySize, hEntries},
		{"strings", s.strs, uint64(s.strsLen), hStrings},
	} {
		if r.off < headerSize || uint64(r.off)+r.len > size {
			return nil, fmt.Errorf("offset %d: %s area [%d, %d) outside [%d, %d)",
				r.hdrField, r.name, r.off, uint64(r.off)+r.len, headerSize, size)
		}
	}
	if s.strsLen == 0 || d[s.strs+s.strsLen-1] != 0 {
		return nil, fmt.Errorf("offset %d: string area does not end with NUL", s.strs)
	}
	if got, want := fnv1a(d[headerSize:]), le.Uint32(d[hChecksum:]); got != want {
		return nil, fmt.Errorf("offset %d: checksum %#08x, the content hashes to %#08x", hChecksum, want, got)
	}
	for i := range s.n {
		e := s.entry(i)
		off := s.ents + i*entrySize
		if f := le.Uint32(e[eFlags:]); f&^flagRecorded != 0 {
			return nil, fmt.Errorf("entry %d (offset %d): unknown flags %#x", i, off, f)
		}
		for _, f := range stringFields {
			if so := le.Uint32(e[f.off:]); so >= s.strsLen {
				return nil, fmt.Errorf("entry %d (offset %d): %s offset %d outside string area (length %d)",
					i, off, f.name, so, s.strsLen)
			}
		}
		for _, f := range []struct {
			off  int
			name string
		}{{eNextName, "next_name"}, {eNextUID, "next_uid"}} {
			if next := le.Uint32(e[f.off:]); next > s.n {
				return nil, fmt.Errorf("entry %d (offset %d): %s %d > n_entries %d", i, off, f.name, next, s.n)
			}
		}
	}
	if err := s.checkChains(false); err != nil {
		return nil, err
	}
	if err := s.checkChains(true); err != nil {
		return nil, err
	}
	return s, nil
}

// checkChains walks every chain of one table once: each entry must be in
// the bucket its hash names and the chains together must hold each entry
// exactly once (no loops, no shared tails).
func (s *Snapshot) checkChains(byUID bool) error {
	table, tname, next := s.nameB, "name", eNextName
	if byUID {
		table, tname, next = s.uidB, "uid", eNextUID
	}
	le := binary.LittleEndian
	var seen uint32
	for b := range s.nb {
		i := le.Uint32(s.data[table+4*b:])
		for i != 0 {
			if i > s.n {
				return fmt.Errorf("%s bucket %d: index %d > n_entries %d", tname, b, i, s.n)
			}
			if seen == s.n {
				return fmt.Errorf("%s bucket %d: chains hold more than the %d entries (a loop or a shared tail)", tname, b, s.n)
			}
			seen++
			e := s.entry(i - 1)
			var h uint32
			if byUID {
				h = uidHash(le.Uint32(e[eUID:]))
			} else {
				h = fnv1a(s.str(le.Uint32(e[eName:])))
			}
			if h&(s.nb-1) != b {
				return fmt.Errorf("entry %d is in %s bucket %d, its hash says %d", i-1, tname, b, h&(s.nb-1))
			}
			i = le.Uint32(e[next:])
		}
	}
	if seen != s.n {
		return fmt.Errorf("%s chains hold %d of the %d entries", tname, seen, s.n)
	}
	return nil
}

func (s *Snapshot) entry(i uint32) []byte {
	off := s.ents + i*entrySize
	return s.data[off : off+entrySize]
}

// str returns the string at off, which validation put inside the area.
func (s *Snapshot) str(off uint32) []byte {
	b := s.data[s.strs+off : s.strs+s.strsLen]
	return b[:bytes.IndexByte(b, 0)]
}

func (s *Snapshot) decode(e []byte) Entry {
	le := binary.LittleEndian
	str := func(f int) string { return string(s.str(le.Uint32(e[f:]))) }
	return Entry{
		Name: str(eName), Passwd: str(ePasswd), Gecos: str(eGecos), Dir: str(eDir), Shell: str(eShell),
		UID: le.Uint32(e[eUID:]), GID: le.Uint32(e[eGID:]),
		Recorded: le.Uint32(e[eFlags:])&flagRecorded != 0,
	}
}

// ByName returns the first entry named name, recorded or not.
func (s *Snapshot) ByName(name string) (Entry, bool) {
	le := binary.LittleEndian
	i := le.Uint32(s.data[s.nameB+4*(fnv1a([]byte(name))&(s.nb-1)):])
	for i != 0 {
		e := s.entry(i - 1)
		if string(s.str(le.Uint32(e[eName:]))) == name {
			return s.decode(e), true
		}
		i = le.Uint32(e[eNextName:])
	}
	return Entry{}, false
}

// ByUID returns the first entry with uid, recorded or not.
func (s *Snapshot) ByUID(uid uint32) (Entry, bool) {
	le := binary.LittleEndian
	i := le.Uint32(s.data[s.uidB+4*(uidHash(uid)&(s.nb-1)):])
	for i != 0 {
		e := s.entry(i - 1)
		if le.Uint32(e[eUID:]) == uid {
			return s.decode(e), true
		}
		i = le.Uint32(e[eNextUID:])
	}
	return Entry{}, false
}

// Nobody reports the NOBODY flag: the policy records no one.
func (s *Snapshot) Nobody() bool { return s.flags&flagNobody != 0 }

// Generation is the counter policyd bumps with every snapshot.
func (s *Snapshot) Generation() uint64 { return s.generation }

// Len is the number of entries.
func (s *Snapshot) Len() int { return int(s.n) }
