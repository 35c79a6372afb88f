// Package store is the recording directory: how recording files are named
// and found, where they are by default, what each holds (its summary),
// the legal holds beside them, the signed line of purge records, and the
// cache that keeps listing thousands of them fast. The file writer (rec/sink), retention, vigil-play and
// vigilctl all go through it, so that they agree on what a recording is.
package store

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vigil-rec/vigil/conf"
)

// DefaultDir is where vigil-rec writes its per-recording files unless
// configured otherwise (writer "file", file.path), and where the tools
// look when given no directory.
const DefaultDir = conf.DefaultRecDir

// Meta names a recording for its file name.
type Meta struct {
	Start time.Time // recording start; the name uses it in UTC
	Host  string
	User  string
	Rec   string // recording ID
}

// Name returns the per-recording file name
// <UTC start as 20060102T150405Z>-<host>-<user>-<rec>.jsonl, with host, user
// and rec passed through SanitizeName; n > 0 is a taken name's numeric
// suffix: <...>.<n>.jsonl.
func (m Meta) Name(n int) string {
	base := m.Start.UTC().Format(nameTime) + "-" + SanitizeName(m.Host) +
		"-" + SanitizeName(m.User) + "-" + SanitizeName(m.Rec)
	if n > 0 {
		base += "." + strconv.Itoa(n)
	}
	return base + ".jsonl"
}

// recordingName matches the names Meta.Name gives: purge touches nothing
// else.
var recordingName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-.+\.jsonl$`)

// nameTime is the layout of the start time that begins a file's name.
const nameTime = "20060102T150405Z"

// IsRecordingName tells whether a file name is one the file writer gives.
func IsRecordingName(name string) bool { return recordingName.MatchString(name) }

// NameStart returns the start time in a file name the file writer gave
// (Meta.Name), to the second; false for any other name.
func NameStart(name string) (time.Time, bool) {
	if !IsRecordingName(name) {
		return time.Time{}, false
	}
	t, err := time.Parse(nameTime, name[:len(nameTime)])
	return t, err == nil
}

// SanitizeName makes s safe as one component of a file name: '/', '\\',
// whitespace and every non-printable rune become '_', a leading '.' becomes
// '_' (no hidden files, no "." or ".."), and an empty s becomes "_".
// Printable non-ASCII letters (UTF-8 user names) are kept.
func SanitizeName(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i, r := range s {
		if r == '/' || r == '\\' || r == unicode.ReplacementChar ||
			!unicode.IsPrint(r) || unicode.IsSpace(r) || (i == 0 && r == '.') {
			r = '_'
		}
		b.WriteRune(r)
	}
	return b.String()
}
