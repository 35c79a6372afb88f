package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Files expands FILE|DIR arguments: a directory stands for its *.jsonl
// files. An argument that cannot be read is in errs; the others are still
// used.
func Files(args []string) (files []string, errs []error) {
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.jsonl"))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
			continue
		}
		files = append(files, m...)
	}
	return files, errs
}

// ErrNotFound is returned by Find when dir holds no file of the recording.
var ErrNotFound = errors.New("no such recording")

// Find returns the file in dir that holds recording rec, by the name the
// file writer gives it (ending with the sanitized id, maybe with a
// numeric suffix) and its first message's id.
func Find(dir, rec string) (string, error) {
	base := filepath.Join(dir, "*-"+SanitizeName(rec))
	names, _ := filepath.Glob(base + ".jsonl")
	more, _ := filepath.Glob(base + ".*.jsonl")
	for _, n := range append(names, more...) {
		if s, err := ReadHead(n); err == nil && s.Rec == rec {
			return n, nil
		}
	}
	return "", fmt.Errorf("%s in %s: %w", rec, dir, ErrNotFound)
}

// FindID looks up a command-line argument that is not a file: it must be a
// recording id, and the file in dir that holds that recording is returned,
// or "" when dir holds none (a purged recording, one in the journal).
func FindID(dir, arg string) (string, error) {
	if err := CheckRecID(arg); err != nil {
		return "", fmt.Errorf("%s is neither a recording file nor a %w", arg, err)
	}
	file, err := Find(dir, arg)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return file, err
}
