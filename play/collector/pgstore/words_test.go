package pgstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/play/internal/recgen"
)

func TestTextWords(t *testing.T) {
	for body, want := range map[string]string{
		"":                             "\n",
		"   ":                          "\n",
		"ls -la /etc":                  "\nls\nla\netc\n",
		"a a b a":                      "\na\nb\n",
		"__THROW int_x;":               "\nTHROW\nint\nx\n",
		"déjà-vu 日本語\x7f😀":             "\ndéjà\nvu\n日本語\n😀\n",
		"50% of (x)\n\tend\r":          "\n50\nof\nx\nend\n",
		"secret=hunter2&user=root\x1b": "\nsecret\nhunter2\nuser\nroot\n",
	} {
		if got := textWords(body); got != want {
			t.Errorf("textWords(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestWordPatterns(t *testing.T) {
	for text, want := range map[string][]string{
		"":                       nil,
		"--":                     nil,
		"secret":                 {"%secret%"},
		"rm -rf /":               {"%rm\n%", "%\nrf\n%"},
		" x ":                    {"%\nx\n%"},
		"50% _x_":                {"%50\n%", "%\nx\n%"},
		"a b a":                  {"%a\n%", "%\nb\n%", "%\na%"},
		"déjà vu":                {"%déjà\n%", "%\nvu%"},
		strings.Repeat("w ", 40): {"%w\n%", "%\nw\n%"},
	} {
		if got := wordPatterns(text); !slices.Equal(got, want) {
			t.Errorf("wordPatterns(%q) = %q, want %q", text, got, want)
		}
	}
	if n := len(wordPatterns("a b c d e f g h i j k l m n o p q r s t")); n != maxWordPatterns {
		t.Errorf("%d patterns of a long text, want %d", n, maxWordPatterns)
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

// The index on words loses no row: for random texts, Candidates lists
// exactly the recordings whose stored texts contain the text, indexed or
// recent, as a check of the bodies alone finds them.
func TestCandidatesWords(t *testing.T) {
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

// Migration 12 splits the bodies stored before it into the words Go's
// textWords finds (not deduplicated).
func TestMigrateTextWords(t *testing.T) {
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
	rows, err := conn.Query(ctx, "SELECT body, words FROM texts_recent ORDER BY off")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var body, words string
		if err := rows.Scan(&body, &words); err != nil {
			t.Fatal(err)
		}
		n++
		set := func(ws string) []string {
			f := strings.FieldsFunc(ws, func(r rune) bool { return r == '\n' })
			slices.Sort(f)
			return slices.Compact(f)
		}
		if !strings.HasPrefix(words, "\n") || !strings.HasSuffix(words, "\n") || !slices.Equal(set(words), set(textWords(body))) {
			t.Errorf("words of %q after migration 12: %q, want those of %q", body, words, textWords(body))
		}
	}
	if err := rows.Err(); err != nil || n != len(bodies) {
		t.Fatalf("%d rows, %v", n, err)
	}
}
