package listing

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"sync"

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

// Files describes each file, in order: from cache when the file did not
// change, else by reading and verifying it (and putting what it found in
// cache), several files at once. progress, if not nil, is called with the
// bytes of the files read so far and in all, one call at a time.
func Files(files []string, cache *store.Cache, trusted keys.Set, progress func(done, total int64)) []Result {
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
		if ss, ok := cache.Get(path, fi); ok {
			out[i].Rows = rowsOf(path, fi.Size(), ss)
			continue
		}
		jobs = append(jobs, job{i, fi})
		total += fi.Size()
	}
	ch := make(chan job)
	var mu sync.Mutex
	var done int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for j := range ch {
				ss, err := store.Describe(files[j.i], trusted)
				mu.Lock()
				out[j.i] = Result{rowsOf(files[j.i], j.fi.Size(), ss), err}
				if err == nil {
					cache.Put(files[j.i], j.fi, ss)
				}
				done += j.fi.Size()
				if progress != nil {
					progress(done, total)
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	return out
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
