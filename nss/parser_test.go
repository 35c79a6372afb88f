package nss_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/policyd/nssdb"
)

// goCorpus is the Go parser's fuzz corpus, shared with the C parser.
const goCorpus = "../policyd/nssdb/testdata/fuzz/FuzzParseSnapshot"

func readCorpus(t *testing.T) [][]byte {
	files, err := filepath.Glob(filepath.Join(goCorpus, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in %s: %v", goCorpus, err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
			!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("%s: not a []byte fuzz corpus file", f)
		}
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, []byte(v))
	}
	return out
}

// seedSnapshots are valid files of several shapes, written by nssdb.
func seedSnapshots(t *testing.T) [][]byte {
	dir := t.TempDir()
	var out [][]byte
	add := func(nobody bool, entries []nssdb.Entry) {
		p := filepath.Join(dir, "s")
		if err := nssdb.WriteSnapshot(p, uint64(len(out)), nobody, entries); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	add(true, nil)
	add(false, nil)
	var es []nssdb.Entry
	for i := range 17 {
		es = append(es, nssdb.Entry{Name: fmt.Sprintf("user%d", i), Passwd: "x", UID: uint32(1000 + i%5), GID: 100,
			Gecos: strings.Repeat("g", i), Dir: "/home/u", Shell: "/bin/sh", Recorded: i%2 == 0})
	}
	es = append(es, nssdb.Entry{Name: "\xff\x01weird name", UID: 1 << 31, Shell: strings.Repeat("s", 300), Recorded: true},
		nssdb.Entry{Name: strings.Repeat("n", 300), Recorded: true})
	add(false, es[:1])
	add(false, es[:3])
	add(true, es)
	add(false, es)
	return out
}

// mutate corrupts b in ways that reach past the first checks: aligned
// u32 fields set to boundary values, block copies (shared chains), and
// usually a correct file_size and checksum afterwards.
func mutate(rng *rand.Rand, b []byte) []byte {
	b = slices.Clone(b)
	for range 1 + rng.IntN(4) {
		if len(b) == 0 {
			break
		}
		off := rng.IntN(len(b))
		switch rng.IntN(6) {
		case 0:
			b[off] ^= byte(1 + rng.IntN(255))
		case 1, 2:
			if off &^= 3; off+4 <= len(b) {
				vals := []uint32{0, 1, 2, 4, 5, 64, 0x7fffffff, 0xffffffff, uint32(len(b)), uint32(len(b) - 1),
					binary.LittleEndian.Uint32(b[off:]) + 1, binary.LittleEndian.Uint32(b[off:]) - 1}
				binary.LittleEndian.PutUint32(b[off:], vals[rng.IntN(len(vals))])
			}
		case 3:
			b = b[:off]
		case 4:
			b = append(b, make([]byte, rng.IntN(64))...)
		case 5:
			n := rng.IntN(48)
			dst := rng.IntN(len(b))
			copy(b[dst:], b[off:min(off+n, len(b))])
		}
	}
	if len(b) >= 64 {
		if rng.IntN(4) != 0 {
			binary.LittleEndian.PutUint32(b[24:], uint32(len(b)))
		}
		if rng.IntN(4) != 0 {
			binary.LittleEndian.PutUint32(b[56:], checksum(b[64:]))
		}
	}
	return b
}

func hexStr(s string) string {
	if s == "" {
		return "-"
	}
	return hex.EncodeToString([]byte(s))
}

func goAnswer(e nssdb.Entry, ok bool) string {
	if !ok {
		return "missing"
	}
	kind := "U"
	if e.Recorded {
		kind = "R"
	}
	return fmt.Sprintf("%s %d %d %s %s %s %s %s", kind, e.UID, e.GID,
		hexStr(e.Name), hexStr(e.Passwd), hexStr(e.Gecos), hexStr(e.Dir), hexStr(e.Shell))
}

// TestCParserAgreesWithGo runs the C parser, built with AddressSanitizer
// and UBSan, over the Go fuzz corpus, valid seeds and 20,000 mutations of
// them: it must never fault, and must accept exactly what
// nssdb.ParseSnapshot accepts and answer every lookup the same way.
func TestCParserAgreesWithGo(t *testing.T) {
	prog := gcc(t, "fuzzparse", slices.Concat([]string{"-O1", "-g", "-Wall", "-Wextra", "-Werror"}, sanitize,
		[]string{"testdata/fuzzparse.c"})...)
	seeds := seedSnapshots(t)
	inputs := append(readCorpus(t), seeds...)
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		inputs = append(inputs, mutate(rng, seeds[rng.IntN(len(seeds))]))
	}

	var stdin bytes.Buffer
	for _, in := range inputs {
		stdin.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(in))))
		stdin.Write(in)
	}
	cmd := exec.Command(prog)
	cmd.Stdin = &stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("fuzzparse: %v\n%s", err, stderr.String())
	}

	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	next := func() string {
		if !sc.Scan() {
			t.Fatal("fuzzparse output ends early")
		}
		return sc.Text()
	}
	valid := 0
	for i, in := range inputs {
		s, goErr := nssdb.ParseSnapshot(in)
		head := next()
		if head == "invalid" {
			if goErr == nil {
				t.Fatalf("input %d (%x): C rejects, Go accepts", i, in)
			}
			continue
		}
		if goErr != nil {
			t.Fatalf("input %d (%x): C accepts (%s), Go rejects: %v", i, in, head, goErr)
		}
		valid++
		nobody := 0
		if s.Nobody() {
			nobody = 1
		}
		if want := fmt.Sprintf("valid %d %d %d", s.Generation(), nobody, s.Len()); head != want {
			t.Fatalf("input %d: C says %q, Go %q", i, head, want)
		}
		for range 2 * s.Len() {
			line := next()
			q, cAns, ok := strings.Cut(line, " -> ")
			kind, key, _ := strings.Cut(q, " ")
			var goAns string
			switch {
			case ok && kind == "N":
				name, _ := hex.DecodeString(strings.TrimPrefix(key, "-"))
				goAns = goAnswer(s.ByName(string(name)))
			case ok && kind == "U":
				uid, _ := strconv.ParseUint(key, 10, 32)
				goAns = goAnswer(s.ByUID(uint32(uid)))
			default:
				t.Fatalf("input %d: bad line %q", i, line)
			}
			if cAns != goAns {
				t.Fatalf("input %d: %s: C %q, Go %q", i, q, cAns, goAns)
			}
		}
	}
	if sc.Scan() {
		t.Fatalf("extra output %q", sc.Text())
	}
	t.Logf("%d inputs, %d valid", len(inputs), valid)
	if valid < len(seeds) {
		t.Errorf("only %d valid inputs: the mutations never keep a file valid", valid)
	}
}
