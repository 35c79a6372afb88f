package listing

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// Result is what one file, or one recording of the journal, holds: its
// rows, or the error that kept it from being read.
type Result struct {
	Rows []Row
	Err  error
}

// Lister describes recording files for list.
type Lister struct {
	Cache   *store.Cache
	Trusted keys.Set
	// VerifyMax, if not 0, is the size above which a file the cache does
	// not know, named as the file writer names recordings (one each), is
	// peeked (store.Peek), not verified: its row is store.Unverified.
	VerifyMax int64
	// Progress, if not nil, is called with the bytes of the files
	// verified so far and in all, one call at a time.
	Progress func(done, total int64)
}

// Files describes each file, in order: from the cache when the file did
// not change, else by reading and verifying it (and putting what it found
// in the cache), several files at once; see VerifyMax.
func (l *Lister) Files(files []string) []Result {
	out := make([]Result, len(files))
	type job struct {
		i  int
		fi os.FileInfo
	}
	var jobs []job
	var total int64
	for i, path := range files {
		fi, err := os.Stat(path)
		if err != nil {
			out[i].Err = err
			continue
		}
		if ss, ok := l.Cache.Get(path, fi); ok {
			out[i].Rows = rowsOf(path, fi.Size(), ss)
			continue
		}
		if l.VerifyMax > 0 && fi.Size() > l.VerifyMax && oneRecording(path) {
			if s, ok, err := store.Peek(path); err != nil || ok {
				out[i] = Result{[]Row{{Summary: s}}, err}
				continue
			}
		}
		jobs = append(jobs, job{i, fi})
		total += fi.Size()
	}
	var mu sync.Mutex
	var done int64
	parallel(len(jobs), func(k int) {
		j := jobs[k]
		ss, err := store.Describe(files[j.i], l.Trusted)
		mu.Lock()
		defer mu.Unlock()
		out[j.i] = Result{rowsOf(files[j.i], j.fi.Size(), ss), err}
		if err == nil {
			l.Cache.Put(files[j.i], j.fi, ss)
		}
		done += j.fi.Size()
		if l.Progress != nil {
			l.Progress(done, total)
		}
	})
	return out
}

// oneRecording tells whether the file at path holds one recording by its
// name: the file writer's (store.Meta.Name) do. Others may be tlog's
// single file, which only reading it all tells apart.
func oneRecording(path string) bool { return store.IsRecordingName(filepath.Base(path)) }

// parallel calls f with each of 0 to n-1, on as many goroutines as Go may
// run at once.
func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// Journal describes the recordings in the systemd journal, read one by
// one. progress, if not nil, is called with the number of recordings
// read so far and in all.
func Journal(trusted keys.Set, progress func(done, total int64)) ([]Result, error) {
	recs, err := player.JournalRecordings()
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(recs))
	for i, rec := range recs {
		out[i].Rows, out[i].Err = journalRows(rec, trusted)
		if progress != nil {
			progress(int64(i+1), int64(len(recs)))
		}
	}
	return out, nil
}

// journalRows describes recording rec of the journal.
func journalRows(rec string, trusted keys.Set) ([]Row, error) {
	j, err := player.OpenJournal(rec)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	data, err := io.ReadAll(j)
	if err != nil {
		return nil, err
	}
	ss, err := store.Summarize(bytes.NewReader(data), j.Name(), int64(len(data)), trusted, nil)
	return rowsOf(j.Name(), int64(len(data)), ss), err
}

// rowsOf returns the rows for the summaries of a file of size bytes: one
// per recording, or an EMPTY row when it has none.
func rowsOf(path string, size int64, ss []store.Summary) []Row {
	if len(ss) == 0 {
		return []Row{{Summary: store.Summary{File: path, State: "EMPTY", Size: size, Detail: "no messages"}}}
	}
	rs := make([]Row, len(ss))
	for i := range ss {
		rs[i].Summary = ss[i]
	}
	return rs
}
