package main

import (
	"io"

	"github.com/vigil-rec/vigil/rec/store"
)

// recordingFiles expands the FILE|DIR arguments of list, search and
// verify (store.Files); arguments that cannot be read are reported on
// stderr and make missing true.
func recordingFiles(args []string, stderr io.Writer) (files []string, missing bool) {
	files, errs := store.Files(args)
	for _, err := range errs {
		warn(stderr, "%v", err)
	}
	return files, len(errs) > 0
}
