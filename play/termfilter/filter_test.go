package termfilter

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/play/internal/recgen"
)

func filter(t testing.TB, in []byte, cuts ...int) []byte {
	t.Helper()
	var out bytes.Buffer
	f := New(&out)
	prev := 0
	for _, c := range append(cuts, len(in)) {
		if n, err := f.Write(in[prev:c]); err != nil || n != c-prev {
			t.Fatalf("Write: %d, %v", n, err)
		}
		prev = c
	}
	return out.Bytes()
}

var cases = []struct{ name, in, want string }{
	{"text, colours, moves", "a\x1b[1;31mb\x1b[0m\x1b[2;3H\x1b[Kc\r\n\t\b", ""},
	{"modes and alternate screen", "\x1b[?1049h\x1b[?25l\x1b[4h\x1b[?1000h\x1b[?1049l\x1b[!p\x1b[2 q", ""},
	{"title", "\x1b]0;a title\x07\x1b]2;t\x1b\\\x1b]1;i\u009c", ""},
	{"line drawing, keypad, reset", "\x1b(0q\x1b(B\x1b=\x1b>\x1b7\x1b8\x1bc\x1bM\x1bD", ""},
	{"UTF-8", "héllo ✓ \u00a0", ""},
	{"DA", "a\x1b[cb\x1b[0c\x1b[>c\x1b[=c\x1b[?1;2c", "ab"},
	{"DSR and CPR", "a\x1b[5n\x1b[6nb\x1b[?6n\x1b[?996n", "ab"},
	{"window and title reports", "a\x1b[21t\x1b[18t\x1b[14;2tb\x1b[8;100;100t", "ab"},
	{"DECRQM, XTVERSION, DECREQTPARM", "a\x1b[?25$p\x1b[4$p\x1b[>0q\x1b[x\x1b[1xb", "ab"},
	{"DECRQSS, XTGETTCAP, tmux passthrough", "a\x1bP$qm\x1b\\\x1bP+q544e\x1b\\\x1bPtmux;\x1b\x1b[6n\x1b\\b", "ab"},
	{"OSC 52 clipboard, set and query", "a\x1b]52;c;c2VjcmV0\x07\x1b]52;c;?\x1b\\b", "ab"},
	{"colour queries and other OSC", "a\x1b]11;?\x07\x1b]4;1;?\x07\x1b]10;rgb:0/0/0\x07\x1b]8;;http://x\x07\x1b]1337;File=x\x07b", "ab"},
	{"APC, PM, SOS", "a\x1b_Gi=1;AAAA\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\b", "ab"},
	{"ENQ, DECID", "a\x05\x1bZb", "ab"},
	{"C1 controls", "a\u009b6n\x9b6n\u009d52;x\u009c\x90$qm\x9cb", "ab"},
	{"keyboard lock, VT52, margins", "a\x1b[2h\x1b[4;2h\x1b[?2l\x1b[?69h\x1b[?3;1h\x1bY!!b", "a\x1bY!!b"},
	{"kitty keyboard, modifyOtherKeys, mode save", "a\x1b[>1u\x1b[=1;1u\x1b[<u\x1b[?u\x1b[>4;2m\x1b[?1049r\x1b[?4mb", "ab"},
	{"rectangles, columns, alignment test", "a\x1b[1;1;5;5$z\x1b[65;1;1;5;5$x\x1b['}\x1b[ @\x1b#8b", "ab"},
	{"media copy, tests", "a\x1b[5i\x1b[4;1yb", "ab"},
	{"aborted and malformed", "a\x1b[6\x18b\x1b[1?2nc\x1b[6\x1b[md", "abc\x1b[md"},
	{"title cut short by a query", "a\x1b]2;t\x1b[6nb", "a\x1b]2;t\x1b\\b"},
	{"overlong", "a\x1b[" + string(bytes.Repeat([]byte("1;"), 200)) + "mb", "ab"},
}

func TestFilter(t *testing.T) {
	for _, c := range cases {
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := filter(t, []byte(c.in)); string(got) != want {
			t.Errorf("%s: %q, want %q", c.name, got, want)
		}
		// Split anywhere, in two or three writes: the same.
		for i := range len(c.in) + 1 {
			j := min(i+3, len(c.in))
			if got := filter(t, []byte(c.in), i, j); string(got) != want {
				t.Fatalf("%s split at %d and %d: %q, want %q", c.name, i, j, got, want)
			}
		}
	}
}

// After Reset, a sequence in progress is forgotten.
func TestReset(t *testing.T) {
	var out bytes.Buffer
	f := New(&out)
	f.Write([]byte("a\x1b]52;c;"))
	f.Reset()
	f.Write([]byte("b\x07c"))
	if out.String() != "ab\x07c" {
		t.Errorf("%q", out.String())
	}
}

// FuzzFilter: splitting the output anywhere changes nothing, and what
// passes passes again unchanged (but for a character cut off at the end,
// which waits for its last bytes): it holds no sequence the filter drops.
func FuzzFilter(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c.in), uint16(3))
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	const alphabet = "\x1b[]P?$>;0126cnqtm\x07\\\x9b\x9c\xc2\x18abc"
	for range 10 {
		b := make([]byte, 200)
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		f.Add(b, uint16(rnd.IntN(200)))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		whole := filter(t, in)
		c := min(int(cut), len(in))
		if split := filter(t, in, c); !bytes.Equal(split, whole) {
			t.Fatalf("split at %d: %q, whole %q", c, split, whole)
		}
		again := filter(t, whole)
		if rest, ok := bytes.CutPrefix(whole, again); !ok || (len(rest) > 0 && (len(rest) > 3 || utf8.FullRune(rest))) {
			t.Fatalf("filtered again: %q, was %q", again, whole)
		}
	})
}

// BenchmarkFilter passes escape-heavy terminal output.
func BenchmarkFilter(b *testing.B) {
	out := recgen.Terminal(nil, rand.New(rand.NewPCG(1, 1)), 4<<20)
	f := New(io.Discard)
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		for p := out; len(p) > 0; p = p[min(len(p), 4096):] {
			f.Write(p[:min(len(p), 4096)])
		}
	}
}
