package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vigil-rec/vigil/conf/atomicfile"
	"github.com/vigil-rec/vigil/rec/keys"
)

// The Cache keeps the summaries of each file, so that listing thousands of
// recordings again reads only their directory entries and inodes. It
// lives in the user's cache directory ($XDG_CACHE_HOME, or ~/.cache),
// root's too rather than /var/cache: one place and one rule for all, since
// the integrity states in it are trusted only in a file of the user's own.
//
// Only what a file's content says is cached (Describe's summaries, never
// Peek's): anything that depends on something else (holds) is to be added
// after.
const (
	cacheName = "vigil-play/list.cache"
	// cacheVersion changes with Summary's fields or meaning, or the
	// file's layout (cachefile.go).
	cacheVersion = 4 // 4: durations exact to the millisecond (tlog.Seconds)
)

// fileID tells whether a file is still the one summarized. The change
// time (ctime) is part of it: whoever edits a recording in place can put
// its size and modification time back, but not its ctime.
type fileID struct {
	Dev, Ino     uint64
	Size         int64
	MTime, CTime int64 // nanoseconds
}

func fileIDOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{Dev: st.Dev, Ino: st.Ino, Size: fi.Size(), MTime: fi.ModTime().UnixNano(),
		CTime: st.Ctim.Nano()}, true
}

type cacheEntry struct {
	ID        fileID
	Keys      [32]byte // the trusted keys the states were found with
	Summaries []Summary
}

// Cache is the cache of one listing. Its methods are not safe for
// concurrent use.
type Cache struct {
	path    string // "" when there is no cache directory
	keys    [32]byte
	entries map[string]cacheEntry
	changed bool
	// Reread makes Get find nothing: every file is read again (and the
	// cache renewed).
	Reread bool
}

// keysDigest identifies a set of trusted keys.
func keysDigest(trusted keys.Set) [32]byte {
	return sha256.Sum256([]byte(strings.Join(trusted.IDs(), "\n")))
}

// OpenCache reads the user's cache of summaries found with the trusted
// keys; a missing, foreign or broken one is an empty cache.
func OpenCache(trusted keys.Set) *Cache {
	c := &Cache{keys: keysDigest(trusted), entries: map[string]cacheEntry{}}
	dir, err := os.UserCacheDir()
	if err != nil {
		return c
	}
	c.path = filepath.Join(dir, cacheName)
	f, err := os.Open(c.path)
	if err != nil {
		return c
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !ownFile(fi) {
		return c
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return c
	}
	if entries, err := decodeCache(data); err == nil {
		c.entries = entries
	}
	return c
}

// ownFile tells whether a file is this user's and writable by no one else.
func ownFile(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid() && fi.Mode().Perm()&0o022 == 0
}

func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// Get returns the summaries of the file at path when it was as fi is now.
func (c *Cache) Get(path string, fi fs.FileInfo) ([]Summary, bool) {
	id, ok := fileIDOf(fi)
	if !ok || c.Reread {
		return nil, false
	}
	e, ok := c.entries[absPath(path)]
	if !ok || e.ID != id || e.Keys != c.keys {
		return nil, false
	}
	return e.Summaries, true
}

// Has tells whether Get can find anything for the file at path, whatever
// the file is now: where it cannot, there is no need to stat the file.
func (c *Cache) Has(path string) bool {
	_, ok := c.entries[absPath(path)]
	return ok && !c.Reread
}

// Put records the summaries of the file at path, as fi. fi must be from
// before the file was read: if it changed meanwhile, the next Get misses.
// A Peek's summary is not recorded: Get's are trusted as verified.
func (c *Cache) Put(path string, fi fs.FileInfo, ss []Summary) {
	for i := range ss {
		if ss[i].State == Unverified {
			return
		}
	}
	if id, ok := fileIDOf(fi); ok {
		c.entries[absPath(path)] = cacheEntry{ID: id, Keys: c.keys, Summaries: ss}
		c.changed = true
	}
}

// Save writes the cache back if it changed, without the files that are
// gone.
func (c *Cache) Save() error {
	if c.path == "" || !c.changed {
		return nil
	}
	for p := range c.entries {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			delete(c.entries, p)
		}
	}
	return writeFileAtomic(c.path, bytes.NewReader(encodeCache(c.entries)))
}

// writeFileAtomic replaces path with r's content, readable by its owner
// only: the cache tells who was recorded when.
func writeFileAtomic(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, atomicfile.Options{Mode: 0o600}, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}
