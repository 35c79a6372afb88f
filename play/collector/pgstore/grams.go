package pgstore

import (
	"math/bits"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgtype"
)

// The search index is on the grams of each row of texts: every three
// consecutive bytes of each of its words, a newline standing for the
// word's edges ("ls" gives "\nls" and "ls\n"), as the integer
// b0<<16 | b1<<8 | b2, in a GIN index on the int4[] of a row's distinct
// grams, sorted (in lower case: see lowerGram). The collector computes
// them: pg_trgm did, from each row's words, at a quarter of the machine's
// time under the ingest benchmark (it parses, then sorts every trigram of
// every word with a comparison by function pointer); an array already
// sorted and distinct costs GIN a pass. Bytes, not characters: a text's
// UTF-8 is a run of bytes in the body's.
//
// A body that contains a text contains each word of the text, whole where
// the text has a separator on that side: the row's grams hold the word's,
// with the newline of each such edge. So a search asks the index for the
// rows that have them all (queryGrams), then checks the body.
//
// Words are the runs of bytes that are not separators: ASCII other than
// letters and digits. Multi-byte UTF-8 holds no ASCII byte, so a run never
// splits a character. Migration 0012 split the bodies stored before it the
// same way in SQL, migration 0013 took their grams as here, and 0014 the
// case-sensitive grams of texts_recent (texts stored before it have no
// filter of them, and a search checks their bodies).

// The index holds grams with ASCII letters in lower case: as many index
// entries as pg_trgm had (case-sensitive grams had half as many again, and
// a fold took longer as the index grew). Beside it each row keeps a Bloom
// filter of its case-sensitive grams (caseBloom), not indexed, which a
// search with capitals checks before the body: lower-cased, the words of AWS_ACCESS_KEY_ID=AKIA are in
// most rows of prose ("laws", "access", "Slovakia"), and checking their
// bodies took seconds. texts_recent keeps the case-sensitive grams of each
// append (textGrams); the fold unions them, fills the row's filter and
// lower-cases the union for the index.

// lowerGram returns g with its ASCII letters in lower case.
func lowerGram(g int32) int32 {
	for shift := 0; shift < 24; shift += 8 {
		if c := g >> shift & 0xff; 'A' <= c && c <= 'Z' {
			g += ('a' - 'A') << shift
		}
	}
	return g
}

// separator tells the bytes that separate words, a table: the collector
// looks up every byte of text.
var separator = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x80 && !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z')
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
		c := text[i]
		if separator[c] {
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

// sorted returns the grams collected, sorted, and clears the set. Many
// are read off the bits in order: reading all 2 MiB of them takes less
// than sorting a fold's row of grams (BenchmarkSorted).
func (s *gramSet) sorted() []int32 {
	var gs []int32
	if len(s.list) < sortByBits {
		gs = slices.Clone(s.list)
		slices.Sort(gs)
	} else {
		gs = make([]int32, 0, len(s.list))
		for i := range s.bits {
			for w := s.bits[i]; w != 0; w &= w - 1 {
				gs = append(gs, int32(i<<6|bits.TrailingZeros64(w)))
			}
		}
	}
	s.clear()
	return gs
}

// sortByBits is the number of grams from which sorted reads the bits.
const sortByBits = 1 << 13

// collectGrams returns the sorted distinct grams that fill adds.
func collectGrams(fill func(*gramSet)) []int32 {
	s := gramSets.Get().(*gramSet)
	defer gramSets.Put(s)
	fill(s)
	return s.sorted()
}

// textGrams returns the distinct grams of the words of body, in no order
// (the fold sorts a row's), as texts_recent keeps them: three bytes each.
// An int4[] cost the collector more to encode (pgx, element by element)
// and PostgreSQL more to decode than the bytes it held.
func textGrams(body string) []byte {
	s := gramSets.Get().(*gramSet)
	defer gramSets.Put(s)
	s.addWords(body, true, 0)
	b := make([]byte, 0, 3*len(s.list))
	for _, g := range s.list {
		b = append(b, byte(g>>16), byte(g>>8), byte(g))
	}
	s.clear()
	return b
}

// unionGrams returns the distinct grams of sets (textGrams'), sorted.
func unionGrams(sets [][]byte) []int32 {
	return collectGrams(func(s *gramSet) {
		for _, b := range sets {
			for i := 0; i+3 <= len(b); i += 3 {
				s.put(int32(b[i])<<16 | int32(b[i+1])<<8 | int32(b[i+2]))
			}
		}
	})
}

// lowerGrams returns the distinct grams of gs in lower case, sorted: a
// row's index entries from its case-sensitive grams.
func lowerGrams(gs []int32) []int32 {
	return collectGrams(func(s *gramSet) {
		for _, g := range gs {
			s.put(lowerGram(g))
		}
	})
}

// maxQueryGrams bounds the grams of one search: fewer are still all in the
// rows that hold the text, only less selective, and each is a posting list
// for the index to read.
const maxQueryGrams = 48

// queryGrams returns grams that any row whose body contains text has:
// those of each word of text, with the newline of each edge where text has
// a separator, case-sensitive. None when text has no word of three bytes
// with its edges.
func queryGrams(text string) []int32 {
	gs := collectGrams(func(s *gramSet) { s.addWords(text, false, maxQueryGrams) })
	return gs[:min(len(gs), maxQueryGrams)]
}

// searchGrams returns what a search for text asks of a row of texts: the
// lower-case grams its index must hold, and, when text has capitals, the
// case-sensitive grams it must hold too (nil otherwise: they are the
// index's).
func searchGrams(text string) (index, cased []int32) {
	cased = queryGrams(text)
	index = lowerGrams(cased)
	if slices.Equal(index, cased) {
		return index, nil
	}
	return index, cased
}

// caseBloomBits is the size of the Bloom filter of a row's case-sensitive
// grams (texts.case_bloom, bit(262144)): a bit for each gram. A row of
// 1 MB of prose or C has some 13,000 distinct grams, a twentieth of the
// bits set, and a search's capitals miss several of a row without its
// words. With 65,536 bits the regular expression of the search benchmark
// took 0.7-1.2 s over 3,000 recordings, with these 0.26-0.33 s.
const caseBloomBits = 1 << 18

// caseBloom returns the Bloom filter of grams gs. A search's is a mask
// that the row's holds when it has them all: one AND of 32 KiB, where a
// containment check of the row's grams themselves (an int4[], compressed)
// took 0.45-0.59 s for the same search, and a tenth more bytes stored.
func caseBloom(gs []int32) pgtype.Bits {
	b := make([]byte, caseBloomBits/8)
	for _, g := range gs {
		h := uint32(g) * 0x9e3779b1 >> 14
		b[h>>3] |= 0x80 >> (h & 7)
	}
	return pgtype.Bits{Bytes: b, Len: caseBloomBits, Valid: true}
}
