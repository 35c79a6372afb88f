package pgstore

import (
	"iter"
	"slices"
	"strings"
)

// The trigram index is on the distinct words of each row of texts, not on
// its body: pg_trgm takes a text's trigrams word by word and sorts them
// all, and terminal text repeats its words (an append of 25 KB of C
// headers has a sixth of its bytes in distinct words, a fold of 1 MB a
// fourteenth). Sorting the trigrams of the bodies took a quarter of the
// machine's time under the ingest benchmark.
//
// A body that contains a text contains each word of the text, whole where
// the text has a separator on that side: the row's words hold it with the
// separator's newline. So a search asks the index for the rows whose words
// have them all (wordPatterns), then checks the body.
//
// Words are the runs of bytes that are not separators: ASCII other than
// letters and digits. Multi-byte UTF-8 holds no ASCII byte, so a run never
// splits a character. Migration 0012 splits the bodies stored before it
// the same way, in SQL.

// isSep reports whether c separates words.
func isSep(c byte) bool {
	return c < 0x80 && !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z')
}

// words yields the start and end of each word of s.
func words(s string) iter.Seq2[int, int] {
	return func(yield func(i, j int) bool) {
		for i := 0; i < len(s); {
			if isSep(s[i]) {
				i++
				continue
			}
			j := i + 1
			for j < len(s) && !isSep(s[j]) {
				j++
			}
			if !yield(i, j) {
				return
			}
			i = j
		}
	}
}

// textWords returns the distinct words of body, each after a newline, and
// a newline at the end: "\nw1\nw2\n".
func textWords(body string) string {
	seen := map[string]struct{}{}
	var b strings.Builder
	for i, j := range words(body) {
		w := body[i:j]
		if _, ok := seen[w]; !ok {
			seen[w] = struct{}{}
			b.WriteByte('\n')
			b.WriteString(w)
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// maxWordPatterns bounds the patterns of one search: fewer are still all
// true of the rows that hold the text, only less selective.
const maxWordPatterns = 16

// wordPatterns returns LIKE patterns that the words of any row whose body
// contains text match: each word of text, anchored by a newline on each
// side where text has a separator there. Words hold no LIKE special
// character (they are separators), so nothing is escaped. None when text
// has no word.
func wordPatterns(text string) []string {
	var ps []string
	for i, j := range words(text) {
		if len(ps) == maxWordPatterns {
			break
		}
		p := "%" + text[i:j] + "%"
		if i > 0 {
			p = "%\n" + p[1:]
		}
		if j < len(text) {
			p = p[:len(p)-1] + "\n%"
		}
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}
