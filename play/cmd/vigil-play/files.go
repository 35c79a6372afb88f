package main

import (
	"io"
	"os"
	"path/filepath"
)

// recordingFiles expands the FILE|DIR arguments of list and search: a
// directory stands for its *.jsonl files. Arguments that cannot be read
// are reported on stderr and make missing true; the others are still used.
func recordingFiles(args []string, stderr io.Writer) (files []string, missing bool, err error) {
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			warn(stderr, "%v", err)
			missing = true
			continue
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.jsonl"))
		if err != nil {
			return nil, missing, err
		}
		files = append(files, m...)
	}
	return files, missing, nil
}
