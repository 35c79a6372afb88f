package vtparse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// events describes what the parser makes of in, one word per action.
func events(in string, raw bool) []string {
	p := Parser{RawC1: raw}
	var out []string
	for i := 0; i < len(in); i++ {
		switch p.Next(in[i]) {
		case Print:
			out = append(out, string(p.Rune))
		case Execute:
			out = append(out, fmt.Sprintf("x%02x", p.Rune))
		case Esc:
			out = append(out, fmt.Sprintf("esc%s%c", p.Inter(), p.Final))
		case CSI:
			var priv string
			if p.Priv != 0 {
				priv = string(p.Priv)
			}
			out = append(out, fmt.Sprintf("csi%s%v%s%c", priv, p.Params(), p.Inter(), p.Final))
		case String:
			out = append(out, fmt.Sprintf("str%c:%s", p.Kind, p.Str()))
		}
	}
	return out
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		raw  bool
		want string
	}{
		{"aé✓\r\n", false, "a é ✓ x0d x0a"},
		{"\x1b[1;31m\x1b[m\x1b[;5H\x1b[?1049h\x1b[>c", false, "csi[1 31]m csi[]m csi[0 5]H csi?[1049]h csi>[]c"},
		{"\x1b[38:2:1:2:3m\x1b[99999999;7S", false, "csi[38 2 1 2 3]m csi[65535 7]S"},
		{"\x1b[1\r2A", false, "x0d csi[12]A"},
		{"\x1b[?1$p\x1b[2 q\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18m", false,
			"csi?[1]$p csi[2] q csi[1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16]m"},
		{"\x1b[1?2m\x1b[1$2m\x1b[1 !\"m ok", false, "  o k"},
		{"\x1b(0\x1b#8\x1bc\x1b\\", false, "esc(0 esc#8 escc esc\\"},
		{"\x1b]2;tït\x01le\x07\x1b]0;x\x1b\\", false, "str]:2;tïtle str]:0;x esc\\"},
		{"\x1bPq#0\x07x\x1b\\\x1b_a\x1b\\\x1b^b\x1b\\\x1bXc\x1b\\", false, "strP:q#0x esc\\ str_:a esc\\ str^:b esc\\ strX:c esc\\"},
		{"\x1b]2;a\x18b\x1b[3\x1ac", false, "x18 b x1a c"},
		{"\xc2\x9b6n\xc2\x9d0;t\xc2\x9c\xc2\x84", false, "csi[6]n str]:0;t escD"},
		{"\x9b6n\x9d0;t\x9c", false, "6 n 0 ; t"},
		{"\x9b6n\x9d0;t\x9c", true, "csi[6]n str]:0;t"},
		{"a\xffb\xe2\x9cc\xed\xa0\x80d\xf4\x90e", false, "a b c d e"},
		{"\x1b]0;x\xc2\x9b1A", false, "csi[1]A"},
	} {
		if got := strings.Join(events(c.in, c.raw), " "); got != c.want {
			t.Errorf("%q: %s, want %s", c.in, got, c.want)
		}
	}
}

// A control string is kept up to MaxStr bytes, and the parser's state does
// not grow with the input.
func TestLimits(t *testing.T) {
	long := "\x1b]2;" + strings.Repeat("é", MaxStr) + "\x07"
	got := events(long, false)
	if len(got) != 1 || len(got[0]) > len("str]:")+MaxStr || !strings.HasPrefix(got[0], "str]:2;éé") {
		t.Errorf("long title: %d events, %d bytes", len(got), len(got[0]))
	}
	p := Parser{}
	for range 1 << 16 {
		p.Next(';')
	}
	if p.Next('m') != None && len(p.Params()) > MaxParams {
		t.Errorf("%d params", len(p.Params()))
	}
}

func TestStates(t *testing.T) {
	var p Parser
	for _, c := range []struct {
		b                  byte
		ground, seq, begun bool
		str                byte
	}{{'a', true, false, false, 0}, {0x1b, false, true, true, 0}, {']', false, true, false, ']'}, {'x', false, true, false, ']'},
		{0x1b, false, true, true, 0}, {'\\', true, false, false, 0}, {0xe2, false, false, false, 0}, {0x9c, false, false, false, 0},
		{0x93, true, false, false, 0}} {
		p.Next(c.b)
		if p.Ground() != c.ground || p.InSequence() != c.seq || p.Begun() != c.begun || p.InString() != c.str {
			t.Errorf("after %q: ground %v, sequence %v, begun %v, string %q", c.b, p.Ground(), p.InSequence(), p.Begun(), p.InString())
		}
	}
	p.Next(0x1b)
	p.Reset()
	if !p.Ground() || !slices.Equal(events("a", false), []string{"a"}) {
		t.Error("Reset")
	}
}

// FuzzParser: any input, nothing panics and nothing kept exceeds its bound.
func FuzzParser(f *testing.F) {
	f.Add([]byte("\x1b[1;2m\x1b]0;t\x07\x9b\xc2\x9b\x1bP$q\x1b\\"), true)
	f.Fuzz(func(t *testing.T, in []byte, raw bool) {
		p := Parser{RawC1: raw}
		for _, b := range in {
			p.Next(b)
			if len(p.Params()) > MaxParams || len(p.Str()) > MaxStr || len(p.Inter()) > MaxInter {
				t.Fatalf("unbounded: %d params, %d string bytes", len(p.Params()), len(p.Str()))
			}
		}
	})
}
