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
		"__THROW int_x;": {"|th", "|in", "|x|", "hro", "ow|", "row", "thr", "int", "nt|"},
		"Ab aB AB":       {"|ab", "ab|"},
		"é\x7f😀":         {"|\xc3\xa9", "\xc3\xa9|", "|\xf0\x9f", "\x9f\x98\x80", "\x98\x80|", "\xf0\x9f\x98"},
		"50% of (x)\r":   {"|50", "|of", "|x|", "50|", "of|"},
	} {
		slices.Sort(want)
		if got := gramsOf(textGrams(body)); !slices.Equal(got, want) {
			t.Errorf("textGrams(%q) = %q, want %q", body, got, want)
		}
	}
	// The set is cleared for the next use.
	if got := gramsOf(textGrams("xyz")); !slices.Equal(got, []string{"xyz", "yz|", "|xy"}) {
		t.Errorf("textGrams(xyz) after others = %q", got)
	}
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
	words := []string{"ls", "la", "etc", "passwd", "secret", "x", "42", "déjà", "日本", "😀", "a1", "THROW", "_", "ab"}
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
		if i == 20 {
			// Some indexed, some recent.
			if _, err := s.FoldTexts(testCtx(t)); err != nil {
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

// Migrations 12 and 13 give the rows stored before them the grams Go's
// textGrams finds.
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
	if _, err := conn.Exec(ctx, `INSERT INTO texts_recent (recording_id, month, off, body)
		SELECT 1, '2026-01-01', i, b FROM unnest($1::text[]) WITH ORDINALITY AS u(b, i)`, bodies); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := conn.Query(ctx, "SELECT body, grams FROM texts_recent ORDER BY off")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var body string
		var grams []int32
		if err := rows.Scan(&body, &grams); err != nil {
			t.Fatal(err)
		}
		n++
		if want := slices.Sorted(slices.Values(textGrams(body))); !slices.Equal(grams, want) {
			t.Errorf("grams of %q after migrations 12 and 13: %q, want %q", body, gramsOf(grams), gramsOf(want))
		}
	}
	if err := rows.Err(); err != nil || n != len(bodies) {
		t.Fatalf("%d rows, %v", n, err)
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
