package conf

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// checkMerge asserts the properties every merge must have: errors are
// *Error naming the source, a failed merge changes nothing, every key set
// carries a line inside the input, and a valid result survives JSON() ->
// MergeJSON unchanged.
func checkMerge(t *testing.T, name, input string, merge func(*Rec) error) {
	t.Helper()
	r := DefaultRec()
	err := merge(&r)
	if err != nil {
		var ce *Error
		if !errors.As(err, &ce) || ce.File != name {
			t.Fatalf("error %q (%T) does not name %s", err, err, name)
		}
		if ce.Line < 0 || ce.Line > strings.Count(input, "\n")+1 {
			t.Fatalf("error %q: line outside the input", err)
		}
		if r != DefaultRec() {
			t.Fatalf("failed merge changed the config: %+v", r)
		}
		return
	}
	for i, o := range r.origins {
		if o == (origin{}) {
			continue
		}
		if o.file != name || o.line < 1 || o.line > strings.Count(input, "\n")+1 {
			t.Fatalf("%s: origin %+v outside the input", recFields[i].key, o)
		}
	}
	if r.Validate() != nil {
		return
	}
	var back Rec
	if err := back.MergeJSON("JSON()", string(r.JSON())); err != nil {
		t.Fatalf("JSON() does not merge back: %v\n%s", err, r.JSON())
	}
	if plain(back) != plain(r) {
		t.Fatalf("round trip: got %+v\nwant %+v", plain(back), plain(r))
	}
}

func FuzzMergeTOML(f *testing.F) {
	example, err := os.ReadFile("rec.example.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, row := range keyRows {
		f.Add([]byte(tomlFor(row.key, row.lit)))
	}
	for _, s := range []string{
		"limit = { rate = 1, action = \"drop\" }\n",
		"limit.burst = 5\n\"log\".'input' = true\n",
		"notice = \"\"\"\n[x]\n\"\"\"\nshell = '/bin/sh'\n",
		"notice = '''a''''\n[[limit]]\n",
		"[sign]\nkey = [\"a\", # ]\n]\n",
		"latency = 1.5\n[latency]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkMerge(t, "fuzz.toml", string(data), func(r *Rec) error { return r.MergeTOML("fuzz.toml", data) })
	})
}

func FuzzMergeJSON(f *testing.F) {
	f.Add(string(DefaultRec().JSON()))
	for _, row := range keyRows {
		f.Add(jsonFor(row.key, row.lit))
	}
	for _, s := range []string{
		"// c\n{/* x */\"limit\": {\"rate\": 1}}",
		`{"notice": "a // b /* c"}`,
		`{"latency": 1e3, "payload": -0}`,
		"{\"log\": {\"input\": true}} /* open",
		`{"shell": "\ud800"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkMerge(t, "VIGIL_REC_CONF", text, func(r *Rec) error { return r.MergeJSON("VIGIL_REC_CONF", text) })
	})
}
