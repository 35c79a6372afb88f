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

// cachedVerifier is the verifier of recording id (at, as its host ships
// it) after its first bytes bytes, against the keys host hostID had then,
// and the texts search checks in them (play/search.Texts): texts holds
// those of the append under way, unless muted while catching up on bytes
// whose texts are stored.
type cachedVerifier struct {
	id     int64
	hostID int64
	at     fileKey
	v      *verify.Verifier
	t      *search.Texts
	texts  []string
	muted  bool
	bytes  int64
	keys   keys.Set
}

// fileKey names a recording as its host ships it.
type fileKey struct{ host, file string }

func newCachedVerifier(id, hostID int64, at fileKey, ks keys.Set) *cachedVerifier {
	cv := &cachedVerifier{id: id, hostID: hostID, at: at, v: verify.NewVerifier(ks), keys: ks}
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
	mu     sync.Mutex
	max    int
	order  *list.List // of *cachedVerifier, most recently put first
	byID   map[int64]*list.Element
	byFile map[fileKey]*list.Element
}

func newVerifierCache(max int) *verifierCache {
	return &verifierCache{max: max, order: list.New(), byID: map[int64]*list.Element{}, byFile: map[fileKey]*list.Element{}}
}

// take removes and returns the verifier of recording id, nil if none.
func (c *verifierCache) take(id int64) *cachedVerifier {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remove(c.byID[id])
}

// takeFile removes and returns the verifier of a host's file, nil if none.
func (c *verifierCache) takeFile(at fileKey) *cachedVerifier {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remove(c.byFile[at])
}

func (c *verifierCache) remove(e *list.Element) *cachedVerifier {
	if e == nil {
		return nil
	}
	v := c.order.Remove(e).(*cachedVerifier)
	delete(c.byID, v.id)
	delete(c.byFile, v.at)
	return v
}

// put keeps v, dropping the least recently put verifier when full.
func (c *verifierCache) put(v *cachedVerifier) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(c.byID[v.id])
	c.remove(c.byFile[v.at])
	e := c.order.PushFront(v)
	c.byID[v.id], c.byFile[v.at] = e, e
	if c.order.Len() > c.max {
		c.remove(c.order.Back())
	}
}
