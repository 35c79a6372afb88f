package loginhooks

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vigil-rec/vigil/rec/auditrules"
)

// auditEnable is the edit that installs Vigil's audit rules for auditd
// (rec/auditrules): the exec of every logged-in process, the command
// timeline of recorded sessions. Only where auditd keeps its rules
// (/etc/audit/rules.d exists); nil when the file is there as it should be.
func auditEnable(o Options) (*fileEdit, error) {
	if fi, err := os.Stat(o.path(filepath.Dir(auditrules.Path))); err != nil || !fi.IsDir() {
		return nil, nil // no auditd: nothing loads the file
	}
	want := auditrules.File()
	e := &fileEdit{path: auditrules.Path, new: want,
		what: "audit rules for the command timeline (augenrules --load, or auditd's restart, loads them)"}
	t, err := readTarget(o, auditrules.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return e, nil
	case err != nil:
		return nil, err
	case bytes.Equal(t.data, want):
		return nil, nil
	}
	e.old, e.like = t.data, t.info
	return e, nil
}

// auditDisable is the edit that removes the rules file Enable installed;
// nil when there is none.
func auditDisable(o Options) (*fileEdit, error) {
	t, err := readTarget(o, auditrules.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	}
	what := "audit rules removed (augenrules --load, or auditd's restart, unloads them)"
	if !bytes.Equal(t.data, auditrules.File()) {
		what = fmt.Sprintf("audit rules removed, edited since vigilctl enable wrote them; %s", what)
	}
	return &fileEdit{path: auditrules.Path, old: t.data, like: t.info, what: what}, nil
}
