package pgstore

import (
	"container/list"
	"sync"

	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

// verifierCacheSize bounds the verifiers kept between appends. A verifier
// holds a few KiB, plus some bytes per message (the ids it has seen); one
// not kept is rebuilt from the stored bytes at the next append.
const verifierCacheSize = 256

// cachedVerifier is recording id's verifier after its first bytes bytes,
// against the keys with ids keyIDs, and the texts search checks in them
// (play/search.Texts): texts holds those of the append under way, unless
// muted while catching up on bytes whose texts are stored.
type cachedVerifier struct {
	id     int64
	v      *verify.Verifier
	t      *search.Texts
	texts  []string
	muted  bool
	bytes  int64
	keyIDs string
}

func newCachedVerifier(id int64, ks keys.Set, keyIDs string) *cachedVerifier {
	cv := &cachedVerifier{id: id, v: verify.NewVerifier(ks), keyIDs: keyIDs}
	cv.t = search.NewTexts(func(s string) {
		if !cv.muted {
			cv.texts = append(cv.texts, s)
		}
	})
	return cv
}

// line reads one line of the recording.
func (cv *cachedVerifier) line(line []byte) error {
	cv.t.Line(line)
	return cv.v.Line(line)
}

// verifierCache keeps the verifiers of the recordings appended to last.
// An append takes its recording's verifier out and puts it back once
// committed: a failed append, whose lines the verifier has seen but the
// database has not, just loses it.
type verifierCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cachedVerifier, most recently put first
	byID  map[int64]*list.Element
}

func newVerifierCache(max int) *verifierCache {
	return &verifierCache{max: max, order: list.New(), byID: map[int64]*list.Element{}}
}

// take removes and returns the verifier of recording id, nil if none.
func (c *verifierCache) take(id int64) *cachedVerifier {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return nil
	}
	delete(c.byID, id)
	return c.order.Remove(e).(*cachedVerifier)
}

// put keeps v, dropping the least recently put verifier when full.
func (c *verifierCache) put(v *cachedVerifier) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[v.id]; ok {
		c.order.Remove(e)
	}
	c.byID[v.id] = c.order.PushFront(v)
	if c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*cachedVerifier)
		delete(c.byID, old.id)
	}
}
