package screen

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"hash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/play/internal/recgen"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt")

// goldenCase is output written to a screen of cols×rows, resized to
// cols2×rows2 after split bytes.
type goldenCase struct {
	name                            string
	out                             []byte
	cols, rows, split, cols2, rows2 int
}

// goldenCases is the corpus: FuzzScreen's inputs and generated output of
// every kind the model sees.
func goldenCases(t *testing.T) []goldenCase {
	var cases []goldenCase
	files, err := filepath.Glob("testdata/fuzz/FuzzScreen/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		c := readFuzzInput(t, f)
		c.name = filepath.Base(f)
		cases = append(cases, c)
	}
	sizes := [][2]int{{80, 24}, {10, 4}, {1, 3}, {132, 50}, {7, 200}, {MaxCols, MaxRows}}
	for i, sz := range sizes {
		rnd := rand.New(rand.NewPCG(uint64(i), 99))
		out := randomOutput(rnd, 256<<10)
		cases = append(cases, goldenCase{fmt.Sprintf("random-output-%d", i), out, sz[0], sz[1], len(out) / 2, sz[1], sz[0]})
	}
	rnd := rand.New(rand.NewPCG(1, 1))
	term := recgen.Terminal(nil, rnd, 1<<20)
	cases = append(cases,
		goldenCase{"terminal", term, 80, 24, len(term) / 3, 100, 30},
		goldenCase{"terminal-narrow", term, 9, 5, len(term) / 3, 13, 4},
		goldenCase{"random-bytes", recgen.Random(1 << 20), 80, 24, 1 << 19, 40, 10},
		goldenCase{"text", recgen.Text(nil, rnd, 1<<20), 80, 24, 1 << 19, 60, 20},
	)
	// Long runs of text in every mode that changes where it goes.
	var modes []byte
	for i := range 2000 {
		modes = append(modes, []string{"\x1b[?7l", "\x1b[?7h", "\x1b[4h", "\x1b[4l", "\x1b(0", "\x1b(B", "\x0e", "\x0f",
			"\x1b)0", "\r\n", "\x1b[2;5r", "\x1b[r", "\x1b[H", "\x1b[31;44m", "\x1b[m", "\x1b[5b", "\x1b[?6h", "\x1b[?6l"}[i%18]...)
		modes = append(modes, strings.Repeat("abc_`~xyz qjklmn{|}", 11)[:rnd.IntN(200)]...)
	}
	cases = append(cases, goldenCase{"modes", modes, 23, 7, len(modes) / 2, 5, 3})
	return cases
}

// readFuzzInput reads a FuzzScreen corpus file.
func readFuzzInput(t *testing.T, path string) goldenCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vals []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := sc.Text(); l != "go test fuzz v1" {
			vals = append(vals, l)
		}
	}
	if len(vals) != 6 {
		t.Fatalf("%s: %d values", path, len(vals))
	}
	out, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(vals[0], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var n [5]int
	for i, v := range vals[1:] {
		if n[i], err = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(v, "uint16("), ")")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return goldenCase{out: []byte(out), cols: n[0], rows: n[1], split: n[2], cols2: n[3], rows2: n[4]}
}

// transcript is the digest of everything a screen tells about the
// output: every line that leaves it, what Changed sees, and after each
// write its repaint (between sequences) or its rows.
func (c goldenCase) transcript() string {
	h := sha256.New()
	s := New(c.cols, c.rows)
	s.OnScroll = func(l Line) { fmt.Fprintf(h, "scroll %q %v\n", l.Text, l.Marked) }
	s.OnClear = func(ls []Line) {
		for _, l := range ls {
			fmt.Fprintf(h, "clear %q %v\n", l.Text, l.Marked)
		}
	}
	rnd := rand.New(rand.NewPCG(uint64(len(c.out)), 7))
	write := func(out []byte) {
		for len(out) > 0 {
			n := min(len(out), 1+rnd.IntN([]int{4, 64, 4096}[rnd.IntN(3)]))
			s.Write(out[:n])
			out = out[n:]
			c.state(h, s, rnd)
		}
	}
	at := min(c.split, len(c.out))
	write(c.out[:at])
	s.Resize(c.cols2, c.rows2)
	c.state(h, s, rnd)
	write(c.out[at:])
	fmt.Fprintf(h, "text %q\n", s.Text())
	s.Flush()
	return fmt.Sprintf("%x", h.Sum(nil))
}

func (goldenCase) state(h hash.Hash, s *Screen, rnd *rand.Rand) {
	if s.Ground() {
		fmt.Fprintf(h, "repaint %q\n", s.Repaint())
	} else {
		fmt.Fprintf(h, "lines %q\n", s.Lines())
	}
	if rnd.IntN(4) == 0 {
		s.Changed(func(text string, marked bool) bool {
			fmt.Fprintf(h, "changed %q %v\n", text, marked)
			return strings.Contains(text, "e")
		})
	}
}

// TestGolden holds the model to what it did on the corpus when
// testdata/golden.txt was written (go test -run Golden -update): a change
// made for speed must not change a screen.
func TestGolden(t *testing.T) {
	const path = "testdata/golden.txt"
	cases := goldenCases(t)
	if *update {
		var b bytes.Buffer
		for _, c := range cases {
			fmt.Fprintf(&b, "%s %s\n", c.name, c.transcript())
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for l := range strings.Lines(string(b)) {
		name, sum, _ := strings.Cut(strings.TrimSpace(l), " ")
		want[name] = sum
	}
	for _, c := range cases {
		if w, ok := want[c.name]; !ok {
			t.Errorf("%s: not in %s", c.name, path)
		} else if got := c.transcript(); got != w {
			t.Errorf("%s: the screens differ from those recorded", c.name)
		}
	}
}
