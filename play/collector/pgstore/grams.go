package pgstore

import (
	"slices"
	"sync"
)

// The search index is on the grams of each row of texts: every three
// consecutive bytes of each of its words, a newline standing for the
// word's edges ("ls" gives "\nls" and "ls\n"), as the integer
// b0<<16 | b1<<8 | b2, in a GIN index on the int4[] of a row's distinct
// grams, sorted. The collector computes them: pg_trgm did, from each
// row's words, at a quarter of the machine's time under the ingest
// benchmark (it parses, then sorts every trigram of every word with a
// comparison by function pointer); an array already sorted and distinct
// costs GIN a pass. Bytes, not characters: a text's UTF-8 is a run of
// bytes in the body's.
//
// A body that contains a text contains each word of the text, whole where
// the text has a separator on that side: the row's grams hold the word's,
// with the newline of each such edge. So a search asks the index for the
// rows that have them all (queryGrams), then checks the body.
//
// Words are the runs of bytes that are not separators: ASCII other than
// letters and digits. Multi-byte UTF-8 holds no ASCII byte, so a run never
// splits a character. Migration 0012 split the bodies stored before it the
// same way in SQL, and migration 0013 took their grams as here.

// isSep reports whether c separates words.
func isSep(c byte) bool {
	return c < 0x80 && !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z')
}

// gramByte is the byte a gram has for each byte of a word: ASCII letters
// in lower case, which as many index entries as pg_trgm had (case-
// sensitive grams had half as many again, and a fold took longer as the
// index grew); 0 for a separator. The body is checked as it is, so a
// search stays case-sensitive.
var gramByte = func() (t [256]byte) {
	for c := range t {
		switch {
		case isSep(byte(c)):
		case 'A' <= c && c <= 'Z':
			t[c] = byte(c) + 'a' - 'A'
		default:
			t[c] = byte(c)
		}
	}
	return t
}()

// gramSet collects distinct grams: a bit for each of the 2^24, and the
// list of those set, by which it is cleared for the next use.
type gramSet struct {
	bits [1 << 18]uint64
	list []int32
}

// gramSets are reused: a set is 2 MiB, cleared by its list.
var gramSets = sync.Pool{New: func() any { return new(gramSet) }}

// addWords adds the grams of the words of text. With edges every word has
// its newlines; without (a search's text, cut anywhere), the first word
// has none before it and the last none after it unless text has a
// separator there. It takes no more words once max grams are in (0: no
// bound). One pass over the bytes: the collector runs it on every byte of
// text.
func (s *gramSet) addWords(text string, edges bool, max int) {
	var g uint32
	n := 0 // bytes of the word in g, with its leading newline; 0 between words
	for i := range len(text) {
		c := gramByte[text[i]]
		if c == 0 {
			if n >= 2 {
				s.put(int32((g<<8 | '\n') & 0xffffff))
			}
			n = 0
			continue
		}
		if n == 0 {
			if max > 0 && len(s.list) >= max {
				return
			}
			if i > 0 || edges {
				g, n = '\n', 1
			}
		}
		g = (g<<8 | uint32(c)) & 0xffffff
		if n++; n >= 3 {
			s.put(int32(g))
		}
	}
	if edges && n >= 2 {
		s.put(int32((g<<8 | '\n') & 0xffffff))
	}
}

func (s *gramSet) put(g int32) {
	if s.bits[g>>6]&(1<<(g&63)) == 0 {
		s.bits[g>>6] |= 1 << (g & 63)
		s.list = append(s.list, g)
	}
}

// clear empties the set.
func (s *gramSet) clear() {
	for _, g := range s.list {
		s.bits[g>>6] = 0
	}
	s.list = s.list[:0]
}

// sorted returns the grams collected, sorted, and clears the set.
func (s *gramSet) sorted() []int32 {
	gs := slices.Clone(s.list)
	slices.Sort(gs)
	s.clear()
	return gs
}

// collectGrams returns the sorted distinct grams that fill adds.
func collectGrams(fill func(*gramSet)) []int32 {
	s := gramSets.Get().(*gramSet)
	defer gramSets.Put(s)
	fill(s)
	return s.sorted()
}

// textGrams returns the distinct grams of the words of body, in no order
// (the fold sorts a row's).
func textGrams(body string) []int32 {
	s := gramSets.Get().(*gramSet)
	defer gramSets.Put(s)
	s.addWords(body, true, 0)
	gs := slices.Clone(s.list)
	s.clear()
	return gs
}

// unionGrams returns the distinct grams of sets, sorted.
func unionGrams(sets [][]int32) []int32 {
	return collectGrams(func(s *gramSet) {
		for _, gs := range sets {
			for _, g := range gs {
				s.put(g)
			}
		}
	})
}

// maxQueryGrams bounds the grams of one search: fewer are still all in the
// rows that hold the text, only less selective, and each is a posting list
// for the index to read.
const maxQueryGrams = 48

// queryGrams returns grams that any row whose body contains text has:
// those of each word of text, with the newline of each edge where text has
// a separator. None when text has no word of three bytes with its edges.
func queryGrams(text string) []int32 {
	gs := collectGrams(func(s *gramSet) { s.addWords(text, false, maxQueryGrams) })
	return gs[:min(len(gs), maxQueryGrams)]
}
