package conf

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// plain drops the origins so that settings can be compared with ==.
func plain(r Rec) Rec {
	r.origins = [numRecKeys]origin{}
	return r
}

// keyRow sets one key to a non-default value: lit is the value as TOML and
// JSON (and, unquoted, as an option argument) write it.
var keyRows = []struct {
	key, lit string
	want     func(*Rec)
}{
	{"latency", "3", func(r *Rec) { r.Latency = 3 }},
	{"payload", "32", func(r *Rec) { r.Payload = 32 }},
	{"log.input", "true", func(r *Rec) { r.Log.Input = true }},
	{"log.output", "false", func(r *Rec) { r.Log.Output = false }},
	{"log.window", "false", func(r *Rec) { r.Log.Window = false }},
	{"limit.rate", "0", func(r *Rec) { r.Limit.Rate = 0 }},
	{"limit.burst", "9000000000", func(r *Rec) { r.Limit.Burst = 9000000000 }},
	{"limit.action", `"drop"`, func(r *Rec) { r.Limit.Action = "drop" }},
	{"writer", `"journal"`, func(r *Rec) { r.Writer = "journal" }},
	{"file.path", `"/srv/rec"`, func(r *Rec) { r.File.Path = "/srv/rec" }},
	{"syslog.facility", `"local7"`, func(r *Rec) { r.Syslog.Facility = "local7" }},
	{"syslog.priority", `"notice"`, func(r *Rec) { r.Syslog.Priority = "notice" }},
	{"journal.priority", `"debug"`, func(r *Rec) { r.Journal.Priority = "debug" }},
	{"journal.augment", "false", func(r *Rec) { r.Journal.Augment = false }},
	{"notice", `"Recorded <&>"`, func(r *Rec) { r.Notice = "Recorded <&>" }},
	{"shell", `"/bin/zsh"`, func(r *Rec) { r.Shell = "/bin/zsh" }},
	{"sign.key", `"/k.pem"`, func(r *Rec) { r.Sign.Key = "/k.pem" }},
	{"sign.anchor_every", "1", func(r *Rec) { r.Sign.AnchorEvery = 1 }},
	{"transfer.record", `"full"`, func(r *Rec) { r.Transfer.Record = "full" }},
}

// tomlFor writes key = lit as TOML (a [table] section for dotted keys).
func tomlFor(key, lit string) string {
	if t, k, ok := strings.Cut(key, "."); ok {
		return "# comment\n[" + t + "]\n" + k + " = " + lit + "\n"
	}
	return "# comment\n\n" + key + " = " + lit + "\n"
}

// jsonFor writes key = lit as nested JSON over several lines.
func jsonFor(key, lit string) string {
	if t, k, ok := strings.Cut(key, "."); ok {
		return "{\n  \"" + t + "\": {\n    \"" + k + "\": " + lit + "\n  }\n}"
	}
	return "{\n\n  \"" + key + "\": " + lit + "\n}"
}

func TestFieldsCoverRec(t *testing.T) {
	// Every leaf of Rec's JSON form must be a schema key, and vice versa.
	var tree map[string]any
	if err := json.Unmarshal(DefaultRec().JSON(), &tree); err != nil {
		t.Fatal(err)
	}
	var leaves []string
	for k, v := range tree {
		if sub, ok := v.(map[string]any); ok {
			for k2 := range sub {
				leaves = append(leaves, k+"."+k2)
			}
		} else {
			leaves = append(leaves, k)
		}
	}
	var keys []string
	flags := map[string]bool{}
	for _, f := range recFields {
		keys = append(keys, f.key)
		if f.flag == "" || flags[f.flag] {
			t.Errorf("%s: missing or duplicate option name %q", f.key, f.flag)
		}
		flags[f.flag] = true
	}
	sort.Strings(leaves)
	sort.Strings(keys)
	if strings.Join(leaves, " ") != strings.Join(keys, " ") {
		t.Errorf("Rec keys %v\nschema keys %v", leaves, keys)
	}
	if len(keyRows) != numRecKeys {
		t.Errorf("keyRows has %d rows, want one per key (%d)", len(keyRows), numRecKeys)
	}
}

func TestMergeEveryKey(t *testing.T) {
	for _, row := range keyRows {
		want := DefaultRec()
		row.want(&want)
		t.Run(row.key, func(t *testing.T) {
			r := DefaultRec()
			if err := r.MergeTOML("rec.toml", []byte(tomlFor(row.key, row.lit))); err != nil {
				t.Fatalf("TOML: %v", err)
			}
			if plain(r) != want {
				t.Errorf("TOML: got %+v\nwant %+v", plain(r), want)
			}
			if o := r.origins[fieldIndex[row.key]]; o != (origin{file: "rec.toml", line: 3}) {
				t.Errorf("TOML origin = %+v, want rec.toml line 3", o)
			}

			r = DefaultRec()
			if err := r.MergeJSON("VIGIL_REC_CONF", jsonFor(row.key, row.lit)); err != nil {
				t.Fatalf("JSON: %v", err)
			}
			if plain(r) != want {
				t.Errorf("JSON: got %+v\nwant %+v", plain(r), want)
			}
			if o := r.origins[fieldIndex[row.key]]; o != (origin{file: "VIGIL_REC_CONF", line: 3}) {
				t.Errorf("JSON origin = %+v, want VIGIL_REC_CONF line 3", o)
			}

			fs := pflag.NewFlagSet("vigil-rec", pflag.ContinueOnError)
			rf := AddRecFlags(fs)
			opt := "--" + recFields[fieldIndex[row.key]].flag + "=" + strings.Trim(row.lit, `"`)
			if err := fs.Parse([]string{opt}); err != nil {
				t.Fatalf("%s: %v", opt, err)
			}
			r = DefaultRec()
			if err := rf.Apply(&r); err != nil {
				t.Fatalf("%s: %v", opt, err)
			}
			if plain(r) != want {
				t.Errorf("%s: got %+v\nwant %+v", opt, plain(r), want)
			}
		})
	}
}

func TestExampleFileIsDefault(t *testing.T) {
	// Start from nothing, so every key must be in the example.
	var r Rec
	if err := r.MergeTOMLFile("rec.example.toml"); err != nil {
		t.Fatal(err)
	}
	if plain(r) != DefaultRec() {
		t.Errorf("example gives %+v\nwant %+v", plain(r), DefaultRec())
	}
	data, err := os.ReadFile("rec.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, o := range r.origins {
		if o.file != "rec.example.toml" || o.line == 0 {
			t.Errorf("%s not set by the example (origin %+v)", recFields[i].key, o)
			continue
		}
		// The origin must be the line that sets the key.
		key := recFields[i].key
		if _, leaf, ok := strings.Cut(key, "."); ok {
			key = leaf
		}
		if !strings.HasPrefix(lines[o.line-1], key+" = ") {
			t.Errorf("%s: origin line %d is %q", recFields[i].key, o.line, lines[o.line-1])
		}
	}
	if err := r.Validate(); err != nil {
		t.Error(err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := DefaultRec()
	for _, row := range keyRows {
		row.want(&r)
	}
	out := string(r.JSON())
	if !strings.HasPrefix(out, "{\n  \"latency\": 3,\n") || !strings.HasSuffix(out, "\n}") {
		t.Errorf("JSON() is not indented tlog-style JSON without a trailing newline:\n%s", out)
	}
	for _, want := range []string{"\n  \"limit\": {\n    \"rate\": 0,", `"notice": "Recorded <&>"`} {
		if !strings.Contains(out, want) {
			t.Errorf("JSON() lacks %q:\n%s", want, out)
		}
	}
	var back Rec
	if err := back.MergeJSON("json", out); err != nil {
		t.Fatal(err)
	}
	if plain(back) != plain(r) {
		t.Errorf("round trip: got %+v\nwant %+v", plain(back), plain(r))
	}
}

func TestDeepMergeAndOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec.toml")
	file := "latency = 2\npayload = 100\nwriter = \"syslog\"\n[limit]\nburst = 7\n[log]\ninput = true\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TLOG_REC_SESSION_CONF_TEXT": `{"payload": 200, "writer": "journal", "limit": {"rate": 5}, "shell": "/bin/sh"}`,
		"VIGIL_REC_CONF":             `{"payload": 300, "shell": "/bin/zsh", "log": {"output": false}}`,
	}
	fs := pflag.NewFlagSet("vigil-rec", pflag.ContinueOnError)
	rf := AddRecFlags(fs)
	if err := fs.Parse([]string{"--payload", "400", "--log-window=off"}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRec(path, func(k string) string { return env[k] }, rf)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultRec()
	want.Latency = 2        // file
	want.Limit.Burst = 7    // file; env's limit.rate must not reset it
	want.Log.Input = true   // file
	want.Writer = "journal" // TLOG_REC_SESSION_CONF_TEXT over file
	want.Limit.Rate = 5     // TLOG_REC_SESSION_CONF_TEXT
	want.Shell = "/bin/zsh" // VIGIL_REC_CONF over TLOG_REC_SESSION_CONF_TEXT
	want.Log.Output = false // VIGIL_REC_CONF; log.input kept
	want.Payload = 400      // option over everything
	want.Log.Window = false // option
	if plain(got) != want {
		t.Errorf("got %+v\nwant %+v", plain(got), want)
	}
	wantOrigins := map[string]origin{
		"latency":    {file: path, line: 1},
		"limit.rate": {file: "TLOG_REC_SESSION_CONF_TEXT", line: 1},
		"shell":      {file: "VIGIL_REC_CONF", line: 1},
		"payload":    {option: "--payload"},
		"notice":     {},
	}
	for k, o := range wantOrigins {
		if got.origins[fieldIndex[k]] != o {
			t.Errorf("%s origin %+v, want %+v", k, got.origins[fieldIndex[k]], o)
		}
	}

	// Without flags and environment only the file applies.
	got, err = LoadRec(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Payload != 100 || got.Writer != "syslog" {
		t.Errorf("file only: payload %d writer %q", got.Payload, got.Writer)
	}
}

func TestLoadRecMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "rec.toml")
	_, err := LoadRec(missing, nil, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("explicit missing file: err = %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(DefaultRecPath); err == nil {
		t.Skipf("%s exists on this host", DefaultRecPath)
	}
	got, err := LoadRec(DefaultRecPath, nil, nil)
	if err != nil || plain(got) != DefaultRec() {
		t.Errorf("absent default file: got %+v, %v; want defaults", plain(got), err)
	}
}

func TestMergeErrorLeavesRecUnchanged(t *testing.T) {
	r := DefaultRec()
	if err := r.MergeTOML("rec.toml", []byte("latency = 5\npayload = 1\n")); err == nil {
		t.Fatal("payload = 1 accepted")
	}
	if err := r.MergeJSON("env", `{"latency": 5, "payload": 1}`); err == nil {
		t.Fatal("payload 1 accepted")
	}
	if plain(r) != DefaultRec() {
		t.Errorf("failed merges changed the config: %+v", plain(r))
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		// TOML.
		{"toml unknown key", tomlErr("latency = 1\n\nbogus = 1\n"), "rec.toml:3: bogus: unknown key"},
		{"toml unknown nested key", tomlErr("[limit]\nrat = 5\n"), "rec.toml:2: limit.rat: unknown key"},
		{"toml unknown table", tomlErr("\n[bogus.x]\ny = 1\n"), "rec.toml:2: bogus: unknown key"},
		{"toml unknown quoted key", tomlErr(`"a b" = 1`), `rec.toml:1: "a b": unknown key`},
		{"toml wrong type", tomlErr("latency = \"10\"\n"), "rec.toml:1: latency: must be an integer (got string)"},
		{"toml float for int", tomlErr("payload = 1.5\n"), "rec.toml:1: payload: must be an integer (got float)"},
		{"toml string for bool", tomlErr("[log]\n\ninput = \"yes\"\n"), "rec.toml:3: log.input: must be a boolean (got string)"},
		{"toml int for string", tomlErr("[limit]\naction = 1\n"), "rec.toml:2: limit.action: must be a string (got integer)"},
		{"toml date", tomlErr("notice = 1979-05-27\n"), "rec.toml:1: notice: must be a string (got datetime)"},
		{"toml scalar for table", tomlErr("log = 5\n"), "rec.toml:1: log: must be a table (got integer)"},
		{"toml array of tables", tomlErr("\n[[limit]]\nrate = 1\n"), "rec.toml:2: limit: must be a table (got array of tables)"},
		{"toml table for leaf", tomlErr("[latency]\nx = 1\n"), "rec.toml:1: latency: must be an integer (got table)"},
		{"toml nested table", tomlErr("[log.input]\n"), "rec.toml:1: log.input: must be a boolean (got table)"},
		{"toml range", tomlErr(strings.Repeat("\n", 10) + "[limit]\nrate = -5\n"), "rec.toml:12: limit.rate: must be >= 0 (got -5)"},
		{"toml dotted key", tomlErr("# x\nlimit.burst = -1\n"), "rec.toml:2: limit.burst: must be >= 0 (got -1)"},
		{"toml inline table", tomlErr("latency = 1\nlimit = { rate = 1, action = \"slow\" }\n"),
			`rec.toml:2: limit.action: must be one of pass, delay, drop (got "slow")`},
		{"toml multi-line inline table", tomlErr("limit = {\n  rate = 1,\n  burst = -2\n}\n"), "rec.toml:3: limit.burst: must be >= 0 (got -2)"},
		{"toml after multi-line string", tomlErr("notice = \"\"\"\n[limit]\npayload = 1\n\"\"\"\n# \"\npayload = 1\n"),
			"rec.toml:6: payload: must be >= 32 (got 1)"},
		{"toml after array", tomlErr("[log]\noutput = true\n[sign]\nkey = [\n 'a', # ]\n 'b']\n"),
			"rec.toml:4: sign.key: must be a string (got array)"},
		{"toml quoted key", tomlErr("[journal]\n'priority' = \"loud\"\n"),
			`rec.toml:2: journal.priority: must be one of emerg, alert, crit, err, warning, notice, info, debug (got "loud")`},
		{"toml escaped key", tomlErr("[syslog]\n\"facilit\\u0079\" = \"local8\"\n"),
			`rec.toml:2: syslog.facility: must be one of auth, authpriv, cron, daemon, ftp, kern, local0, local1, local2, local3, local4, local5, local6, local7, lpr, mail, news, syslog, user, uucp (got "local8")`},
		{"toml latency 0", tomlErr("latency = 0"), "rec.toml:1: latency: must be >= 1 (got 0)"},
		{"toml latency huge", tomlErr("latency = 2147483648"), "rec.toml:1: latency: must be <= 2147483647 (got 2147483648)"},
		{"toml writer", tomlErr("writer = \"tcp\""), `rec.toml:1: writer: must be one of file, journal, syslog (got "tcp")`},
		{"toml transfer", tomlErr("[transfer]\nrecord = \"some\""), `rec.toml:2: transfer.record: must be one of metadata, full (got "some")`},
		{"toml relative shell", tomlErr("shell = \"bash\""), `rec.toml:1: shell: must be an absolute path (got "bash")`},
		{"toml NUL in path", tomlErr("[file]\npath = \"/a\\u0000b\""), `rec.toml:2: file.path: must not contain NUL (got "/a\x00b")`},
		{"toml syntax", tomlErr("latency = 1\npayload =\n"), "rec.toml:2: expected value but found '\\n' instead"},
		{"toml duplicate", tomlErr("latency = 1\nlatency = 2\n"), "rec.toml:2: Key 'latency' has already been defined."},

		// JSON.
		{"json comments", jsonErr("// set by PAM\n{ /* limits */ \"limit\": {\n  \"rate\": -5 } }"),
			"VIGIL_REC_CONF:3: limit.rate: must be >= 0 (got -5)"},
		{"json unknown key", jsonErr("{\"log\": {\n\"input\": true,\n\"keys\": true}}"), "VIGIL_REC_CONF:3: log.keys: unknown key"},
		{"json unknown top key", jsonErr(`{"configuration": true}`), "VIGIL_REC_CONF:1: configuration: unknown key"},
		{"json string for int", jsonErr(`{"latency": "10"}`), "VIGIL_REC_CONF:1: latency: must be an integer (got string)"},
		{"json float", jsonErr(`{"latency": 1.5}`), "VIGIL_REC_CONF:1: latency: must be an integer (got 1.5)"},
		{"json exponent", jsonErr(`{"latency": 1e3}`), "VIGIL_REC_CONF:1: latency: must be an integer (got 1e3)"},
		{"json huge", jsonErr(`{"limit": {"rate": 99999999999999999999}}`), "VIGIL_REC_CONF:1: limit.rate: integer out of range (got 99999999999999999999)"},
		{"json null", jsonErr(`{"notice": null}`), "VIGIL_REC_CONF:1: notice: must be a string (got null)"},
		{"json number for bool", jsonErr(`{"log": {"input": 1}}`), "VIGIL_REC_CONF:1: log.input: must be a boolean (got number)"},
		{"json object for leaf", jsonErr(`{"shell": {}}`), "VIGIL_REC_CONF:1: shell: must be a string (got object)"},
		{"json array for table", jsonErr("{\n\"log\": []}"), "VIGIL_REC_CONF:2: log: must be an object (got array)"},
		{"json not an object", jsonErr(`["latency"]`), "VIGIL_REC_CONF:1: must be a JSON object (got array)"},
		{"json empty", jsonErr("  \n"), "VIGIL_REC_CONF:2: unexpected end of JSON text"},
		{"json truncated", jsonErr("{\"latency\": 5,\n"), "VIGIL_REC_CONF:2: unexpected end of JSON text"},
		{"json syntax", jsonErr("{\n\"latency\": }"), "VIGIL_REC_CONF:2: invalid character '}' looking for beginning of value"},
		{"json trailing data", jsonErr("{}\n{}"), "VIGIL_REC_CONF:2: unexpected data after the JSON object"},
		{"json unterminated comment", jsonErr("{}\n/* x"), "VIGIL_REC_CONF:2: unterminated /* comment"},
		{"json range", jsonErr(`{"payload": 31}`), "VIGIL_REC_CONF:1: payload: must be >= 32 (got 31)"},
		{"json trailing comma then range", jsonErr("{\"log\": {},\n\"payload\": 31,\n}"), "VIGIL_REC_CONF:2: payload: must be >= 32 (got 31)"},
		{"json two trailing commas", jsonErr("{\"latency\": 5,,\n}"), "VIGIL_REC_CONF:2: invalid character '}' looking for beginning of object key string"},
		{"json leading comma", jsonErr("{,\"latency\": 5}"), "VIGIL_REC_CONF:1: invalid character ','"},
		{"json empty member", jsonErr("{\"latency\": 5, ,}"), "VIGIL_REC_CONF:1: invalid character '}' looking for beginning of object key string"},

		// Command line.
		{"option range", flagErr("--payload=10"), "--payload: must be >= 32 (got 10)"},
		{"option enum", flagErr("-w", "tcp"), `--writer: must be one of file, journal, syslog (got "tcp")`},
		{"option bool", flagErr("--log-input=maybe"), `invalid argument "maybe" for "--log-input" flag: must be true/false, yes/no, on/off or 1/0 (got "maybe")`},
		{"option int", flagErr("--latency=soon"), `invalid argument "soon" for "--latency" flag: must be an integer (got "soon")`},
		{"option relative shell", flagErr("--shell=sh"), `--shell: must be an absolute path (got "sh")`},
		{"option unknown", flagErr("--semaphore=x"), "unknown flag: --semaphore"},

		// Validate after merging names where the value was set.
		{"validate empty file path", func() error {
			r := DefaultRec()
			if err := r.MergeTOML("rec.toml", []byte("writer = \"journal\"\n[file]\npath = \"\"\n")); err != nil {
				return err
			}
			if err := r.MergeJSON("VIGIL_REC_CONF", `{"writer": "file"}`); err != nil {
				return err
			}
			return r.Validate()
		}, `rec.toml:3: file.path: must not be empty when writer is "file"`},
		{"validate edited value", func() error {
			r := DefaultRec()
			if err := r.MergeJSON("VIGIL_REC_CONF", "{\n\"latency\": 5}"); err != nil {
				return err
			}
			r.Latency = 0
			return r.Validate()
		}, "VIGIL_REC_CONF:2: latency: must be >= 1 (got 0)"},
		{"validate default origin", func() error {
			r := DefaultRec()
			r.Syslog.Priority = "loud"
			return r.Validate()
		}, `syslog.priority: must be one of emerg, alert, crit, err, warning, notice, info, debug (got "loud")`},
		{"validate invalid UTF-8", func() error {
			r := DefaultRec()
			r.Notice = "\xff"
			return r.Validate()
		}, `notice: must be valid UTF-8 (got "\xff")`},
		{"load missing file", func() error {
			_, err := LoadRec(filepath.Join(os.TempDir(), "vigil-no-such-dir", "rec.toml"), nil, nil)
			return err
		}, "recorder configuration: open " + filepath.Join(os.TempDir(), "vigil-no-such-dir", "rec.toml") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err.Error(), tt.want)
			}
		})
	}
}

func tomlErr(doc string) func() error {
	return func() error {
		r := DefaultRec()
		return r.MergeTOML("rec.toml", []byte(doc))
	}
}

func jsonErr(text string) func() error {
	return func() error {
		r := DefaultRec()
		return r.MergeJSON("VIGIL_REC_CONF", text)
	}
}

func flagErr(args ...string) func() error {
	return func() error {
		fs := pflag.NewFlagSet("vigil-rec", pflag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		rf := AddRecFlags(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		r := DefaultRec()
		return rf.Apply(&r)
	}
}

func TestErrorFields(t *testing.T) {
	r := DefaultRec()
	err := r.MergeTOML("rec.toml", []byte("[limit]\n\nrate = -5\n"))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *conf.Error", err, err)
	}
	want := Error{File: "rec.toml", Line: 3, Key: "limit.rate", Msg: "must be >= 0 (got -5)"}
	if *ce != want {
		t.Errorf("got %+v, want %+v", *ce, want)
	}
}

func TestBoolOptionSpellings(t *testing.T) {
	for _, tt := range []struct {
		arg  string
		want bool
	}{
		{"--log-input", true}, {"--log-input=true", true}, {"--log-input=false", false},
		{"--log-input=yes", true}, {"--log-input=no", false}, {"--log-input=ON", true},
		{"--log-input=off", false}, {"--log-input=1", true}, {"--log-input=0", false},
	} {
		fs := pflag.NewFlagSet("vigil-rec", pflag.ContinueOnError)
		rf := AddRecFlags(fs)
		// "cmd" stays a positional argument: a bool option's value needs "=".
		if err := fs.Parse([]string{tt.arg, "cmd"}); err != nil {
			t.Fatalf("%s: %v", tt.arg, err)
		}
		r := DefaultRec()
		r.Log.Input = !tt.want
		if err := rf.Apply(&r); err != nil {
			t.Fatalf("%s: %v", tt.arg, err)
		}
		if r.Log.Input != tt.want || fs.Arg(0) != "cmd" {
			t.Errorf("%s: log.input = %v, args %v; want %v, [cmd]", tt.arg, r.Log.Input, fs.Args(), tt.want)
		}
	}
}

func TestOptionsNotGivenKeepLowerLayers(t *testing.T) {
	fs := pflag.NewFlagSet("vigil-rec", pflag.ContinueOnError)
	rf := AddRecFlags(fs)
	if err := fs.Parse([]string{"-o", "/tmp/x"}); err != nil {
		t.Fatal(err)
	}
	r := DefaultRec()
	r.Latency = 7
	if err := rf.Apply(&r); err != nil {
		t.Fatal(err)
	}
	want := DefaultRec()
	want.Latency = 7
	want.File.Path = "/tmp/x"
	if plain(r) != want {
		t.Errorf("got %+v, want %+v", plain(r), want)
	}
}

func TestHelp(t *testing.T) {
	fs := pflag.NewFlagSet("vigil-rec", pflag.ContinueOnError)
	AddRecFlags(fs)
	help := fs.FlagUsages()
	for _, want := range []string{
		"-w, --writer STRING ", "-o, --file-path FILE ", "--latency SECONDS ",
		"--limit-rate NUMBER ", "--log-input ", "--sign-key FILE ", "--transfer-record MODE ",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "(default") {
		t.Errorf("help shows flag defaults, which the config layers may override:\n%s", help)
	}
}

func TestStripCommentsKeepsOffsets(t *testing.T) {
	in := "{\"a//b\": \"/*x*/\\\"//\", // c\n/* d\ne */ \"k\": 1}"
	got, err := stripComments(in)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"a//b\": \"/*x*/\\\"//\",     \n    \n     \"k\": 1}"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Comment markers inside strings are content.
	r := DefaultRec()
	if err := r.MergeJSON("env", `{"notice": "a // b /* c */"} // end`); err != nil {
		t.Fatal(err)
	}
	if r.Notice != "a // b /* c */" {
		t.Errorf("notice = %q", r.Notice)
	}
}

// Debian's tlog package ships its configurations with comments and a
// trailing comma before "}", which tlog (json-c) reads: so do we, and a
// string holding ",}" keeps it.
func TestTlogConfigFiles(t *testing.T) {
	files, _ := filepath.Glob("/etc/tlog/tlog-rec*.conf")
	if len(files) == 0 {
		t.Skip("Debian's tlog package is not installed (make deps installs it)")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := DefaultRec()
		if err := r.MergeJSON(f, string(data)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	r := DefaultRec()
	if err := r.MergeJSON("text", "{\"notice\": \"a,}\", \"log\": {\"input\": true, }, }"); err != nil || r.Notice != "a,}" || !r.Log.Input {
		t.Errorf("notice %q input %v: %v", r.Notice, r.Log.Input, err)
	}
}
