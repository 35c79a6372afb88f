package pgstore

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/play/internal/recgen"
)

// gramsOf writes grams as strings, a newline as "|", sorted.
func gramsOf(gs []int32) []string {
	var out []string
	for _, g := range gs {
		out = append(out, strings.ReplaceAll(string([]byte{byte(g >> 16), byte(g >> 8), byte(g)}), "\n", "|"))
	}
	slices.Sort(out)
	return out
}

func TestTextGrams(t *testing.T) {
	for body, want := range map[string][]string{
		"":               nil,
		"   ":            nil,
		"ls -la /etc":    {"|et", "|la", "|ls", "la|", "etc", "ls|", "tc|"},
		"a a b a":        {"|a|", "|b|"},
		"__THROW int_x;": {"|TH", "|in", "|x|", "HRO", "OW|", "ROW", "THR", "int", "nt|"},
		"Ab aB Ab":       {"|Ab", "Ab|", "|aB", "aB|"},
		"é\x7f😀":         {"|\xc3\xa9", "\xc3\xa9|", "|\xf0\x9f", "\x9f\x98\x80", "\x98\x80|", "\xf0\x9f\x98"},
		"50% of (x)\r":   {"|50", "|of", "|x|", "50|", "of|"},
	} {
		slices.Sort(want)
		if got := gramsOf(sortedTextGrams(body)); !slices.Equal(got, want) {
			t.Errorf("textGrams(%q) = %q, want %q", body, got, want)
		}
	}
	// The set is cleared for the next use.
	if got := gramsOf(sortedTextGrams("xyz")); !slices.Equal(got, []string{"xyz", "yz|", "|xy"}) {
		t.Errorf("textGrams(xyz) after others = %q", got)
	}
}

// sortedTextGrams is textGrams as integers, sorted.
func sortedTextGrams(body string) []int32 { return unionGrams([][]byte{textGrams(body)}) }

func TestLowerGrams(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{nil, nil},
		{[]string{"|Ab", "Ab|", "|aB", "aB|", "AB|", "ab|"}, []string{"ab|", "|ab"}},
		{[]string{"@[`", "{Z\xc3", "\xc3\x81A"}, []string{"@[`", "{z\xc3", "\xc3\x81a"}},
	} {
		if got := gramsOf(lowerGrams(grams(c.in))); !slices.Equal(got, c.want) {
			t.Errorf("lowerGrams(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSearchGrams(t *testing.T) {
	index, cased := searchGrams("rm -rf")
	if got := gramsOf(index); !slices.Equal(got, []string{"rm|", "|rf"}) || cased != nil {
		t.Errorf("searchGrams(rm -rf) = %q, %q; want the index's grams only", got, gramsOf(cased))
	}
	index, cased = searchGrams("AWS_key Id")
	if got := gramsOf(index); !slices.Equal(got, []string{"aws", "ey|", "key", "ws|", "|id", "|ke"}) {
		t.Errorf("searchGrams(AWS_key Id) index %q", got)
	}
	if got := gramsOf(cased); !slices.Equal(got, []string{"AWS", "WS|", "ey|", "key", "|Id", "|ke"}) {
		t.Errorf("searchGrams(AWS_key Id) case-sensitive %q", got)
	}
}

// A row's Bloom filter holds the mask of any of its grams, and misses
// most of others'.
func TestCaseBloom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	row := make([]int32, 30000)
	for i := range row {
		row[i] = rnd.Int32N(1 << 24)
	}
	bloom := caseBloom(row)
	holds := func(gs []int32) bool {
		mask := caseBloom(gs)
		for i, b := range mask.Bytes {
			if bloom.Bytes[i]&b != b {
				return false
			}
		}
		return true
	}
	missed := 0
	for range 1000 {
		i := rnd.IntN(len(row) - 5)
		if !holds(row[i : i+5]) {
			t.Fatalf("the filter misses grams of its row: %v", row[i:i+5])
		}
		others := []int32{rnd.Int32N(1 << 24), rnd.Int32N(1 << 24), rnd.Int32N(1 << 24)}
		if !holds(others) {
			missed++
		}
	}
	if missed < 900 { // an eighth of the bits set: 0.2% of triples
		t.Errorf("the filter of 30,000 grams holds %d of 1,000 triples of others", 1000-missed)
	}
}

// grams is the inverse of gramsOf.
func grams(ss []string) []int32 {
	var gs []int32
	for _, s := range ss {
		b := []byte(strings.ReplaceAll(s, "|", "\n"))
		gs = append(gs, int32(b[0])<<16|int32(b[1])<<8|int32(b[2]))
	}
	return gs
}

func TestQueryGrams(t *testing.T) {
	for text, want := range map[string][]string{
		"":         nil,
		"--":       nil,
		"ab":       nil,
		"secret":   {"cre", "ecr", "ret", "sec"},
		"rm -rf /": {"rm|", "|rf", "rf|"},
		" x ":      {"|x|"},
		"50% _x_":  {"50|", "|x|"},
		"a b a":    {"|b|"},
		"déjà vu":  {"d\xc3\xa9", "\xc3\xa9j", "\xa9j\xc3", "j\xc3\xa0", "\xc3\xa0|", "|vu"},
	} {
		slices.Sort(want)
		if got := gramsOf(queryGrams(text)); !slices.Equal(got, want) {
			t.Errorf("queryGrams(%q) = %q, want %q", text, got, want)
		}
	}
	long := ""
	for i := range 30 {
		long += fmt.Sprintf("w%dxyz ", i)
	}
	if n := len(queryGrams(long)); n != maxQueryGrams {
		t.Errorf("%d grams of a long text, want %d", n, maxQueryGrams)
	}
}

// randomText is terminal-like text: words of letters, digits and UTF-8,
// every kind of separator between them.
func randomText(rnd *rand.Rand, n int) string {
	words := []string{"ls", "la", "etc", "passwd", "secret", "x", "42", "déjà", "日本", "😀", "a1", "THROW", "_", "ab", "Secret", "SECRET", "Ls", "tHrow"}
	seps := []string{" ", "  ", "-", "/", "_", "%", "\\", ".", "=", "\t", "(", ")", "~", "\x7f", "'", "\""}
	var b strings.Builder
	for b.Len() < n {
		if rnd.IntN(3) == 0 {
			b.WriteString(seps[rnd.IntN(len(seps))])
		} else {
			b.WriteString(words[rnd.IntN(len(words))])
		}
	}
	return b.String()
}

// The grams' index loses no row: for random texts, Candidates lists
// exactly the recordings whose stored texts contain the text, indexed or
// recent, as a check of the bodies alone finds them.
func TestCandidatesGrams(t *testing.T) {
	s := open(t, pgtest.DB(t))
	enroll(t, s, "vm", nil)
	rnd := rand.New(rand.NewPCG(3, 4))
	var bodies []string
	for i := range 30 {
		var chunks []recgen.Chunk
		for j := range 5 {
			text := randomText(rnd, 200)
			bodies = append(bodies, text)
			chunks = append(chunks, recgen.Chunk{T: time.Duration(j) * time.Second, Data: []byte(text + "\r\n")})
		}
		appendAll(t, s, "vm", fmt.Sprintf("r%02d.jsonl", i), [][]byte{recgen.Record(fmt.Sprint("r", i), chunks)})
		if i == 10 || i == 20 {
			// Some indexed, some recent.
			if _, err := s.FoldTexts(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
		if i == 10 {
			// Some indexed before migration 14, without a Bloom filter.
			if _, err := s.pool.Exec(testCtx(t), "UPDATE texts SET case_bloom = NULL"); err != nil {
				t.Fatal(err)
			}
		}
	}
	truth := func(text string) string {
		var files string
		err := s.pool.QueryRow(testCtx(t), `SELECT coalesce(string_agg(file, ' ' ORDER BY file), '') FROM recordings r
			WHERE r.id IN (SELECT recording_id FROM texts WHERE strpos(body, $1) > 0
				UNION SELECT recording_id FROM texts_recent WHERE strpos(body, $1) > 0)`, text).Scan(&files)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	sorted := func(files string) string {
		f := strings.Fields(files)
		slices.Sort(f)
		return strings.Join(f, " ")
	}
	found := 0
	for range 400 {
		// Pieces of what was shown, cut anywhere, and random texts.
		text := randomText(rnd, 1+rnd.IntN(12))
		if body := bodies[rnd.IntN(len(bodies))]; rnd.IntN(3) > 0 {
			i := rnd.IntN(len(body))
			text = strings.ToValidUTF8(body[i:min(len(body), i+1+rnd.IntN(20))], "")
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		want := truth(text)
		if got := sorted(candidates(t, s, text)); got != want {
			t.Errorf("Candidates(%q) = %q, want %q", text, got, want)
		}
		if want != "" {
			found++
		}
	}
	if found < 200 {
		t.Errorf("only %d of the texts were found anywhere: the test checks little", found)
	}
}

// Migrations 12, 13 and 14 give the rows stored before them the grams
// Go's textGrams finds: texts_recent its case-sensitive grams, texts their
// lower case for its index (and no Bloom filter: a search checks their
// bodies).
func TestMigrateTextGrams(t *testing.T) {
	ctx := testCtx(t)
	db := pgtest.DB(t)
	conn := connect(t, db)
	migrateTo(t, conn, 11)
	rnd := rand.New(rand.NewPCG(5, 6))
	var bodies []string
	for range 50 {
		bodies = append(bodies, randomText(rnd, 100))
	}
	bodies = append(bodies, "", "--", "x", "\x01\x1f !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~\x7f\u0080é")
	for _, sql := range []string{
		"CREATE TABLE texts_2026_01 PARTITION OF texts FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
		"INSERT INTO texts_recent (recording_id, month, off, body) SELECT 1, '2026-01-01', i, b FROM unnest($1::text[]) WITH ORDINALITY AS u(b, i)",
		"INSERT INTO texts (recording_id, month, off, body) SELECT 1, '2026-01-01', i, b FROM unnest($1::text[]) WITH ORDINALITY AS u(b, i)",
	} {
		args := []any{bodies}
		if !strings.Contains(sql, "$1") {
			args = nil
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, table := range []string{"texts_recent", "texts"} {
		cols := "body, NULL, grams, case_bloom IS NOT NULL"
		if table == "texts_recent" {
			cols = "body, grams, NULL::int4[], false"
		}
		rows, err := conn.Query(ctx, "SELECT "+cols+" FROM "+table+" ORDER BY off")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var body string
			var recent []byte
			var grams []int32
			var bloom bool
			if err := rows.Scan(&body, &recent, &grams, &bloom); err != nil {
				t.Fatal(err)
			}
			n++
			want := sortedTextGrams(body)
			if table == "texts" {
				want = lowerGrams(want)
			} else {
				grams = unionGrams([][]byte{recent})
				if len(recent) != 3*len(grams) {
					t.Errorf("texts_recent: grams of %q after migrations 12 to 14: %d bytes for %d distinct grams", body, len(recent), len(grams))
				}
			}
			if !slices.Equal(grams, want) || bloom {
				t.Errorf("%s: grams of %q after migrations 12 to 14: %q, want %q; a Bloom filter: %v", table, body, gramsOf(grams), gramsOf(want), bloom)
			}
		}
		if err := rows.Err(); err != nil || n != len(bodies) {
			t.Fatalf("%s: %d rows, %v", table, n, err)
		}
		rows.Close()
	}
}

// sorted gives the grams in order, sorting few and reading many off the
// bits.
func TestSorted(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, sortByBits - 1, sortByBits, 3 * sortByBits} {
		var want []int32
		got := collectGrams(func(s *gramSet) {
			for range n {
				g := rnd.Int32N(1 << 24)
				s.put(g)
				s.put(g) // again: once in the set
				want = append(want, g)
			}
			s.put(0)
			s.put(1<<24 - 1)
		})
		want = append(want, 0, 1<<24-1)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(got, want) {
			t.Errorf("%d grams: sorted gave %d, want %d, or another order", n, len(got), len(want))
		}
	}
	if got := collectGrams(func(*gramSet) {}); len(got) != 0 {
		t.Errorf("after use, an empty set gave %d grams", len(got))
	}
}

func BenchmarkSorted(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 12, 1 << 14, 1 << 16} {
		rnd := rand.New(rand.NewPCG(7, 8))
		gs := make([]int32, n)
		for i := range gs {
			gs[i] = rnd.Int32N(1 << 24)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				collectGrams(func(s *gramSet) {
					for _, g := range gs {
						s.put(g)
					}
				})
			}
		})
	}
}

// Terminal text: C headers, in appends of 25 KB as 200 hosts at 100 KiB/s
// send them.
func BenchmarkTextGrams(b *testing.B) {
	var text []byte
	filepath.WalkDir("/usr/include", func(path string, d fs.DirEntry, err error) error {
		if err != nil || len(text) >= 8<<20 {
			return filepath.SkipDir
		}
		if data, err := os.ReadFile(path); err == nil && d.Type().IsRegular() {
			text = append(text, data...)
		}
		return nil
	})
	if len(text) < 1<<20 {
		b.Skipf("only %d bytes of text in /usr/include", len(text))
	}
	body := string(text)
	b.SetBytes(int64(len(body)))
	for range b.N {
		for i := 0; i < len(body); i += 25 << 10 {
			textGrams(body[i:min(len(body), i+25<<10)])
		}
	}
}
