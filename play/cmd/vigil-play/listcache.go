package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
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

// The list cache keeps what list found in each file, so that listing
// thousands of recordings again reads only their directory entries and
// inodes. It lives in the user's cache directory ($XDG_CACHE_HOME, or
// ~/.cache), root's too rather than /var/cache: one place and one rule for
// all, since the integrity states in it are trusted only in a file of the
// user's own.
//
// Only what a file's content says is cached (listFile's listings): a
// column that depends on anything else is to be filled in after the cache.
const (
	listCacheName = "vigil-play/list.cache"
	// listCacheVersion changes with the listing type's fields or meaning.
	listCacheVersion = 1
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

type listCacheEntry struct {
	ID       fileID
	Keys     [32]byte // the trusted keys the states were found with
	Listings []listing
}

type listCacheFile struct {
	Version int
	Entries map[string]listCacheEntry // by absolute path
}

// listCache is the cache of one run of list.
type listCache struct {
	path    string // "" when there is no cache directory
	keys    [32]byte
	entries map[string]listCacheEntry
	changed bool
	reread  bool // get finds nothing: every file is read again
}

// keysDigest identifies a set of trusted keys.
func keysDigest(trusted keys.Set) [32]byte {
	return sha256.Sum256([]byte(strings.Join(trusted.IDs(), "\n")))
}

// openListCache reads the cache; a missing, foreign or broken one is an
// empty cache.
func openListCache(trusted keys.Set) *listCache {
	c := &listCache{keys: keysDigest(trusted), entries: map[string]listCacheEntry{}}
	dir, err := os.UserCacheDir()
	if err != nil {
		return c
	}
	c.path = filepath.Join(dir, listCacheName)
	f, err := os.Open(c.path)
	if err != nil {
		return c
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !ownFile(fi) {
		return c
	}
	var cf listCacheFile
	if err := gob.NewDecoder(f).Decode(&cf); err == nil && cf.Version == listCacheVersion && cf.Entries != nil {
		c.entries = cf.Entries
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

// get returns what the file at path held when it was as fi is now.
func (c *listCache) get(path string, fi fs.FileInfo) ([]listing, bool) {
	id, ok := fileIDOf(fi)
	if !ok || c.reread {
		return nil, false
	}
	e, ok := c.entries[absPath(path)]
	if !ok || e.ID != id || e.Keys != c.keys {
		return nil, false
	}
	return e.Listings, true
}

// put records what the file at path, as fi, holds.
func (c *listCache) put(path string, fi fs.FileInfo, ls []listing) {
	if id, ok := fileIDOf(fi); ok {
		c.entries[absPath(path)] = listCacheEntry{ID: id, Keys: c.keys, Listings: ls}
		c.changed = true
	}
}

// save writes the cache back if it changed, without the files that are
// gone.
func (c *listCache) save() error {
	if c.path == "" || !c.changed {
		return nil
	}
	for p := range c.entries {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			delete(c.entries, p)
		}
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(listCacheFile{Version: listCacheVersion, Entries: c.entries}); err != nil {
		return err
	}
	return writeFileAtomic(c.path, &b)
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
