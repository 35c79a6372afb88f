package tlog

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vigil-rec/vigil/rec/tlog/tlogtest"
)

// FuzzDecodeMatchesParseMessage holds the Decoder to the reference
// ParseMessage (encoding/json based): same acceptance, same first failing field, same
// values and events.
func FuzzDecodeMatchesParseMessage(f *testing.F) {
	for _, s := range tlogtest.Lines {
		f.Add([]byte(s))
	}
	var d Decoder
	var m Message
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := ParseMessage(b)
		gerr := d.Decode(b, &m)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("ParseMessage error %v, decoder error %v", werr, gerr)
		}
		if werr != nil {
			var wf, gf *FieldError
			wok, gok := errors.As(werr, &wf), errors.As(gerr, &gf)
			if wok != gok || (wok && (wf.Field != gf.Field || wf.Reason != gf.Reason)) {
				t.Fatalf("ParseMessage error %v, decoder error %v", werr, gerr)
			}
			return
		}
		compareMessage(t, want, &m)
	})
}

func compareMessage(t *testing.T, want, got *Message) {
	t.Helper()
	if want.Ver != got.Ver || want.Major != got.Major || want.Minor != got.Minor || want.Host != got.Host ||
		want.Rec != got.Rec || want.User != got.User || want.Term != got.Term || want.Session != got.Session ||
		want.ID != got.ID || want.Pos != got.Pos || !want.Time.Equal(got.Time) || !bytes.Equal(want.Timing, got.Timing) ||
		!bytes.Equal(want.InTxt, got.InTxt) || !bytes.Equal(want.OutTxt, got.OutTxt) ||
		!bytes.Equal(want.InBin, got.InBin) || !bytes.Equal(want.OutBin, got.OutBin) ||
		!bytes.Equal(want.Vigil, got.Vigil) || (want.Vigil == nil) != (got.Vigil == nil) {
		t.Fatalf("fields differ\nwant %+v\ngot  %+v", want, got)
	}
	if len(want.Events) != len(got.Events) {
		t.Fatalf("events differ\nwant %+v\ngot  %+v", want.Events, got.Events)
	}
	for i, w := range want.Events {
		g := got.Events[i]
		if w.Kind != g.Kind || w.T != g.T || w.Cols != g.Cols || w.Rows != g.Rows || !bytes.Equal(w.Data, g.Data) {
			t.Fatalf("event %d differs\nwant %+v\ngot  %+v", i, w, g)
		}
	}
}

// FuzzScanMatchesJSON holds Scan to encoding/json's reading of the members
// rec/verify and the collector need: same acceptance and the same rec, id,
// host and raw vigil value, so that Scan changes no verdict of either.
func FuzzScanMatchesJSON(f *testing.F) {
	for _, s := range tlogtest.Lines {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{}`, ` {"rec":null,"id":null} `, `{"rec":"a","rec":"\u0062","id":18446744073709551615}`,
		`{"id":18446744073709551616}`, `{"id":-0}`, `{"id":1e2}`, `{"id":"1"}`, `{"rec":1}`, `{"vigil":null}`,
		`{"vigil":"x"}`, `{"vigil":{"v":2},"vigil":[1, 2]}`, `{"Rec":"a","ID":1}`, `{"re\u0063":"\ud800x\u00e9","\u0069d":3}`,
		`{"host":"h\u00e9","host":"b"}`, `{"host":1}`, `{"host":null,"rec":"r"}`, `{"ho\u0073t":"\ud800"}`} {
		f.Add([]byte(s))
	}
	var d Decoder
	var h Head
	f.Fuzz(func(t *testing.T, b []byte) {
		want, distinct, werr := scanReference(b)
		gerr := d.Scan(b, &h)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("encoding/json error %v, Scan error %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		if want.Rec != h.Rec || want.Host != h.Host || want.ID != h.ID || !bytes.Equal(want.Vigil, h.Vigil) || (want.Vigil == nil) != (h.Vigil == nil) ||
			(distinct == 0) != (h.Members == 0) || h.Members < distinct {
			t.Fatalf("want %+v (%d members), got %+v", want, distinct, h)
		}
	})
}
