package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/conf/pamenv"
)

// Error is a configuration error, located at the source and line that set
// the offending key.
type Error struct {
	File string // source: a file path, an environment variable name, or ""
	Line int    // 1-based line in File, 0 if unknown
	Key  string // dotted tlog key, e.g. "limit.rate"; "" for syntax errors
	// Option is the command-line option that set Key, if one did; Error()
	// names it instead of the key, as users typed the option.
	Option string
	Msg    string
}

// Error reads like "rec.toml:12: limit.rate: must be >= 0 (got -5)" or
// "--payload: must be >= 32 (got 10)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	switch {
	case e.Option != "":
		b.WriteString(e.Option + ": ")
	case e.Key != "":
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// origin says where a key's current value was set.
type origin struct {
	file   string
	line   int
	option string
}

func (o origin) errorf(key, format string, args ...any) *Error {
	return &Error{File: o.file, Line: o.line, Key: key, Option: o.option, Msg: fmt.Sprintf(format, args...)}
}

type kind int

const (
	kindInt kind = iota
	kindBool
	kindString
)

func (k kind) String() string {
	return [...]string{"an integer", "a boolean", "a string"}[k]
}

// field describes one leaf key of the recorder schema. The table below drives
// the TOML, JSON and command-line layers and Validate alike, so that a key's
// rules live in one place.
type field struct {
	key   string
	kind  kind
	ptr   func(*Rec) any // *int, *int64, *bool or *string inside the Rec
	min   int64          // integers
	max   int64          // integers
	oneOf []string       // strings: allowed values, nil for any
	path  bool           // strings: a file name (no NUL)
	abs   bool           // strings: an absolute path
	vigil bool           // Vigil's own: tlog refuses a configuration with it

	// Command line.
	flag  string
	short string
	usage string
}

// numRecKeys sizes Rec's origin array; recFields must fill it exactly
// (TestFieldsComplete checks).
const numRecKeys = 19

var (
	// Names tlog accepts (spec 2.2).
	syslogFacilities = []string{"auth", "authpriv", "cron", "daemon", "ftp", "kern",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
		"lpr", "mail", "news", "syslog", "user", "uucp"}
	priorities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
)

// tlog keeps latency and payload in C ints; the bound also keeps
// latency*time.Second and payload-sized buffers sane.
const maxCInt = math.MaxInt32

var recFields = [numRecKeys]field{
	{key: "latency", kind: kindInt, min: 1, max: maxCInt, ptr: func(r *Rec) any { return &r.Latency },
		flag: "latency", usage: "Cache captured data `SECONDS` seconds before logging"},
	{key: "payload", kind: kindInt, min: 32, max: maxCInt, ptr: func(r *Rec) any { return &r.Payload },
		flag: "payload", usage: "Limit encoded payload to `BYTES` bytes"},
	{key: "log.input", kind: kindBool, ptr: func(r *Rec) any { return &r.Log.Input },
		flag: "log-input", usage: "Enable/disable logging input (=BOOL: true/false, yes/no, on/off, 1/0)"},
	{key: "log.output", kind: kindBool, ptr: func(r *Rec) any { return &r.Log.Output },
		flag: "log-output", usage: "Enable/disable logging output (=BOOL)"},
	{key: "log.window", kind: kindBool, ptr: func(r *Rec) any { return &r.Log.Window },
		flag: "log-window", usage: "Enable/disable logging window size changes (=BOOL)"},
	{key: "limit.rate", kind: kindInt, min: 0, max: math.MaxInt64, ptr: func(r *Rec) any { return &r.Limit.Rate },
		flag: "limit-rate", usage: "Set maximum logging rate to `NUMBER` bytes per second"},
	{key: "limit.burst", kind: kindInt, min: 0, max: math.MaxInt64, ptr: func(r *Rec) any { return &r.Limit.Burst },
		flag: "limit-burst", usage: "Allow logging bursts of up to `NUMBER` bytes"},
	{key: "limit.action", kind: kindString, oneOf: []string{"pass", "delay", "drop"}, ptr: func(r *Rec) any { return &r.Limit.Action },
		flag: "limit-action", usage: "Set the logging limit action to `STRING`: pass/delay/drop"},
	{key: "writer", kind: kindString, oneOf: []string{"file", "journal", "syslog"}, ptr: func(r *Rec) any { return &r.Writer },
		flag: "writer", short: "w", usage: "Use `STRING` log writer (journal/syslog/file, default file)"},
	{key: "file.path", kind: kindString, path: true, ptr: func(r *Rec) any { return &r.File.Path },
		flag: "file-path", short: "o", usage: "Log to `FILE` (a directory: one file per recording)"},
	{key: "syslog.facility", kind: kindString, oneOf: syslogFacilities, ptr: func(r *Rec) any { return &r.Syslog.Facility },
		flag: "syslog-facility", usage: "Log with syslog facility `STRING`"},
	{key: "syslog.priority", kind: kindString, oneOf: priorities, ptr: func(r *Rec) any { return &r.Syslog.Priority },
		flag: "syslog-priority", usage: "Log with syslog priority `STRING`"},
	{key: "journal.priority", kind: kindString, oneOf: priorities, ptr: func(r *Rec) any { return &r.Journal.Priority },
		flag: "journal-priority", usage: "Log with journal priority `STRING`"},
	{key: "journal.augment", kind: kindBool, ptr: func(r *Rec) any { return &r.Journal.Augment },
		flag: "journal-augment", usage: "Enable/disable augmenting journal messages with TLOG_* fields (=BOOL)"},
	{key: "notice", kind: kindString, ptr: func(r *Rec) any { return &r.Notice },
		flag: "notice", usage: "Print `TEXT` to stderr before recording starts"},
	{key: "shell", kind: kindString, path: true, abs: true, ptr: func(r *Rec) any { return &r.Shell },
		flag: "shell", usage: "Spawn `SHELL` (absolute path) when no command is given"},
	{key: "sign.key", kind: kindString, path: true, vigil: true, ptr: func(r *Rec) any { return &r.Sign.Key },
		flag: "sign-key", usage: "Sign recordings with the ed25519 PEM private key in `FILE`"},
	{key: "sign.anchor_every", kind: kindInt, vigil: true, min: 1, max: 1 << 20, ptr: func(r *Rec) any { return &r.Sign.AnchorEvery },
		flag: "anchor-every", usage: "Put the chain's fields on at least every `N`th message (1: on every message)"},
	{key: "transfer.record", kind: kindString, vigil: true, oneOf: []string{"metadata", "full"}, ptr: func(r *Rec) any { return &r.Transfer.Record },
		flag: "transfer-record", usage: "Record bulk transfers as `MODE`: metadata (sizes and SHA-256) or full"},
}

// fieldIndex maps dotted keys to recFields indexes; recTables holds the
// tables (the part before the dot of two-level keys).
var fieldIndex, recTables = func() (map[string]int, map[string]bool) {
	idx, tables := make(map[string]int), make(map[string]bool)
	for i, f := range recFields {
		idx[f.key] = i
		if t, _, ok := strings.Cut(f.key, "."); ok {
			tables[t] = true
		}
	}
	return idx, tables
}()

// get returns the field's value in r as int64, bool or string.
func (f *field) get(r *Rec) any {
	switch p := f.ptr(r).(type) {
	case *int:
		return int64(*p)
	case *int64:
		return *p
	case *bool:
		return *p
	default:
		return *p.(*string)
	}
}

// check returns why v (int64, bool or string, as f.kind says) is not
// acceptable for f, or "".
func (f *field) check(v any) string {
	switch v := v.(type) {
	case int64:
		if v < f.min {
			return fmt.Sprintf("must be >= %d (got %d)", f.min, v)
		}
		if v > f.max {
			return fmt.Sprintf("must be <= %d (got %d)", f.max, v)
		}
	case string:
		if !utf8.ValidString(v) {
			return fmt.Sprintf("must be valid UTF-8 (got %q)", v)
		}
		if f.oneOf != nil && !contains(f.oneOf, v) {
			return fmt.Sprintf("must be one of %s (got %q)", strings.Join(f.oneOf, ", "), v)
		}
		if f.path && strings.ContainsRune(v, 0) {
			return fmt.Sprintf("must not contain NUL (got %q)", v)
		}
		if f.abs && !filepath.IsAbs(v) {
			return fmt.Sprintf("must be an absolute path (got %q)", v)
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// set checks v and stores it in r with its origin.
func (r *Rec) set(i int, v any, at origin) error {
	f := &recFields[i]
	if msg := f.check(v); msg != "" {
		return at.errorf(f.key, "%s", msg)
	}
	switch p := f.ptr(r).(type) {
	case *int:
		*p = int(v.(int64))
	case *int64:
		*p = v.(int64)
	case *bool:
		*p = v.(bool)
	case *string:
		*p = v.(string)
	}
	r.origins[i] = at
	return nil
}

// Validate checks every key's range and the keys' consistency. Errors name
// where the bad value was set.
func (r *Rec) Validate() error {
	for i := range recFields {
		f := &recFields[i]
		if msg := f.check(f.get(r)); msg != "" {
			return r.origins[i].errorf(f.key, "%s", msg)
		}
	}
	if r.Writer == "file" && r.File.Path == "" {
		at := r.origins[fieldIndex["file.path"]]
		return at.errorf("file.path", "must not be empty when writer is \"file\"")
	}
	return nil
}

// JSON returns the configuration as indented JSON with tlog's key names, as
// --configuration prints it, without a trailing newline. It is valid input
// for MergeJSON.
func (r Rec) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<" and "&" readable in notices
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		// Rec holds only ints, bools and strings: encoding cannot fail.
		panic(fmt.Sprintf("conf: encoding Rec: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")) // as json.MarshalIndent
}

// MergeTOMLFile overlays the keys set in the TOML file at path. A missing
// file yields an error satisfying errors.Is(err, fs.ErrNotExist).
func (r *Rec) MergeTOMLFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("recorder configuration: %w", err)
	}
	return r.MergeTOML(path, data)
}

// The environment variables whose JSON texts overlay the configuration, in
// order (the last wins): as tlog-rec-session reads them, and as tlog-rec
// does; VIGIL_REC_CONF is Vigil's own, for both.
var (
	SessionConfVars = []string{pamenv.TlogSessionConf, pamenv.RecConf}
	RecConfVars     = []string{pamenv.TlogRecConf, pamenv.RecConf}
)

// LoadRec builds the session recorder's configuration (SessionConfVars);
// see LoadRecVars.
func LoadRec(path string, env func(string) string, flags *RecFlags) (Rec, error) {
	return LoadRecVars(path, SessionConfVars, env, flags)
}

// LoadRecVars builds the recorder configuration: defaults, then the TOML
// file at path (absent is fine only for DefaultRecPath), then the JSON texts
// in the environment variables vars, then the command-line options in flags
// (nil: none), and validates the result. env looks up environment variables
// (os.Getenv); nil means no environment.
func LoadRecVars(path string, vars []string, env func(string) string, flags *RecFlags) (Rec, error) {
	r := DefaultRec()
	if err := r.MergeTOMLFile(path); err != nil && !(path == DefaultRecPath && errors.Is(err, fs.ErrNotExist)) {
		return Rec{}, err
	}
	if env != nil {
		for _, name := range vars {
			// Unset and empty look alike through env; both mean "no layer".
			if text := env(name); text != "" {
				if err := r.MergeJSON(name, text); err != nil {
					return Rec{}, err
				}
			}
		}
	}
	if flags != nil {
		if err := flags.Apply(&r); err != nil {
			return Rec{}, err
		}
	}
	if err := r.Validate(); err != nil {
		return Rec{}, err
	}
	return r, nil
}
