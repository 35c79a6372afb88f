package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/store"
)

// cacheOverlap is how much of a cached copy's end is fetched again and
// compared before the rest is appended: a copy whose end no longer matches
// the collector's (a database restored from another backup) is fetched
// anew. The collector only ever appends to a recording, so the rest of the
// copy is checked by nothing else; vigil-play verify --server reads the
// collector itself.
const cacheOverlap = 4096

// CacheMaxAge is how long a cached copy that was not used is kept: a
// recording the collector purged must not stay in readers' caches.
const CacheMaxAge = 24 * time.Hour

// CacheDir is where Fetch keeps its copies: the user's cache directory
// ($XDG_CACHE_HOME/vigil/remote, private to them).
func CacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "vigil", "remote"), nil
}

// Fetch brings the collector's recording file of host into the cache
// directory dir and returns the path of the copy, complete to what the
// collector stores now. A copy from an earlier Fetch is only completed:
// the player asks for one span of a recording at a time, and fetching a
// recording of hundreds of megabytes for each would make seeking slow. The
// copy is the user's (0600, in 0700 directories); copies unused for
// CacheMaxAge are removed, and so is a copy of a recording the collector
// no longer has.
func (c *Client) Fetch(ctx context.Context, dir, host, file string) (string, error) {
	if !store.IsRecordingName(file) || host == "" || host != filepath.Base(host) || host[0] == '.' {
		return "", fmt.Errorf("%s/%s: not a collector's recording name", host, file)
	}
	sum := sha256.Sum256([]byte(c.base))
	hostDir := filepath.Join(dir, hex.EncodeToString(sum[:8]), host)
	if err := os.MkdirAll(hostDir, 0o700); err != nil {
		return "", err
	}
	evict(dir, time.Now().Add(-CacheMaxAge))
	path := filepath.Join(hostDir, file)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// Several players (the page's spans) may fetch one recording at once.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return "", err
	}
	if err := c.complete(ctx, f, host, file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			os.Remove(path)
		}
		return "", fmt.Errorf("%s/%s: %w", host, file, err)
	}
	// Used now: the access time says so (eviction), the modification time
	// stays what it was, so the seeking index built for the copy stays
	// good while the copy does not grow.
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return path, os.Chtimes(path, time.Now(), fi.ModTime())
}

// complete appends to f what the collector stores past f's end, after
// checking that f's last bytes are the collector's; if they are not, f is
// fetched anew.
func (c *Client) complete(ctx context.Context, f *os.File, host, file string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	from := max(0, size-cacheOverlap)
	body, err := c.Open(ctx, host, file, from)
	if err != nil {
		return err
	}
	defer body.Close()
	if size > 0 {
		mine := make([]byte, size-from)
		theirs := make([]byte, size-from)
		_, err := f.ReadAt(mine, from)
		if err == nil {
			_, err = io.ReadFull(body, theirs)
		}
		if err != nil || !bytes.Equal(mine, theirs) {
			body.Close()
			if body, err = c.Open(ctx, host, file, 0); err != nil {
				return err
			}
			defer body.Close()
			size = 0
		}
	}
	if size == 0 && fi.Size() > 0 {
		if err := f.Truncate(0); err != nil {
			return err
		}
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		// A part copied is a part the next fetch need not repeat.
		return err
	}
	return nil
}

// evict removes the cached copies under dir last used (their access time)
// before cutoff.
func evict(dir string, cutoff time.Time) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		var st unix.Stat_t
		if err != nil || d.IsDir() || unix.Lstat(path, &st) != nil {
			return nil
		}
		if time.Unix(st.Atim.Unix()).Before(cutoff) {
			os.Remove(path)
		}
		return nil
	})
}
