package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/vigil-rec/vigil/conf/atomicfile"
)

// An index file is magic, then the gob of a cacheFile, then the CRC-32 of
// the gob. Version changes whenever the layout or the repaints change.
const (
	magic   = "vigil-play index\n"
	version = 2 // 2: repaints of play/screen's own emulator
	// Suffix names the index beside a recording.
	Suffix = ".vpidx"
)

// key identifies the recording and options an index was built for.
type key struct {
	Size      int64
	ModTime   int64    // nanoseconds
	Ends      [32]byte // SHA-256 of the first and the last KiB
	Rec       string
	Lax       bool
	Every     int64
	EveryTime time.Duration
}

type cacheFile struct {
	Version int
	Key     key
	Index   *Index
}

// Open returns the index of the recording at path: a cached one if it is
// still that of the file as it is now, else a new one (Build), cached
// beside the recording (PATH.vpidx) when its directory is writable, else
// in the user's cache directory ($XDG_CACHE_HOME/vigil-play). A failure to
// cache is passed to warn, which may be nil.
func Open(ctx context.Context, path string, o Options, warn func(error)) (*Index, error) {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.EveryTime <= 0 {
		o.EveryTime = DefaultEveryTime
	}
	k, err := keyOf(path, o)
	if err != nil {
		return nil, err
	}
	places := cachePlaces(path, k)
	for _, p := range places {
		if x, ok := load(p, k); ok {
			return x, nil
		}
	}
	x, err := Build(ctx, path, o)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, p := range places {
		err := save(p, k, x)
		if err == nil {
			return x, nil
		}
		errs = append(errs, err)
	}
	if warn != nil {
		warn(fmt.Errorf("cannot cache the index: %w", errors.Join(errs...)))
	}
	return x, nil
}

func keyOf(path string, o Options) (key, error) {
	f, err := os.Open(path)
	if err != nil {
		return key{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return key{}, err
	}
	k := key{Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Rec: o.Reader.Rec, Lax: o.Reader.Lax,
		Every: o.Every, EveryTime: o.EveryTime}
	const kib = 1024
	buf := make([]byte, 2*kib)
	head, err := f.ReadAt(buf[:min(kib, k.Size)], 0)
	if err != nil && err != io.EOF {
		return key{}, err
	}
	tailOff := max(k.Size-kib, 0)
	tail, err := f.ReadAt(buf[head:head+int(k.Size-tailOff)], tailOff)
	if err != nil && err != io.EOF {
		return key{}, err
	}
	k.Ends = sha256.Sum256(buf[:head+tail])
	return k, nil
}

// cachePlaces lists where the index may be: beside the recording, then in
// the cache directory under a name made of the path, size and time (the
// key's other parts are checked inside).
func cachePlaces(path string, k key) []string {
	places := []string{path + Suffix}
	dir, err := os.UserCacheDir()
	if err != nil {
		return places
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return places
	}
	h := sha256.Sum256([]byte(abs + "\x00" + strconv.FormatInt(k.Size, 10) + "\x00" + strconv.FormatInt(k.ModTime, 10)))
	return append(places, filepath.Join(dir, "vigil-play", hex.EncodeToString(h[:])+Suffix))
}

// load reads an index file if it is trusted and valid for k. Only files
// owned by this user and writable by nobody else are trusted: the repaints
// go to the viewer's terminal, and someone else's index could show what the
// recording does not hold.
func load(path string, k key) (*Index, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return nil, false
	}
	b, err := io.ReadAll(f)
	if err != nil || len(b) < len(magic)+4 || string(b[:len(magic)]) != magic {
		return nil, false
	}
	body, sum := b[len(magic):len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, false
	}
	var c cacheFile
	if err := gob.NewDecoder(bytes.NewReader(body)).Decode(&c); err != nil || c.Version != version || c.Key != k ||
		c.Index == nil || len(c.Index.Keyframes) == 0 {
		return nil, false
	}
	return c.Index, true
}

// save writes an index file atomically, readable by its owner only: it
// holds what the recording's screens showed.
func save(path string, k key, x *Index) error {
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(cacheFile{Version: version, Key: k, Index: x}); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc32.ChecksumIEEE(body.Bytes()))
	return atomicfile.Write(path, atomicfile.Options{Mode: 0o600}, func(w io.Writer) error {
		_, err := io.WriteString(w, magic)
		if err == nil {
			_, err = w.Write(body.Bytes())
		}
		if err == nil {
			_, err = w.Write(sum[:])
		}
		return err
	})
}
