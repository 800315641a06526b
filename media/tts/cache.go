package tts

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// cacheKey identifies a prompt's audio: a hash of the bot, engine, voice,
// language, rate and the text as spoken (after the lexicon and the
// normaliser). The text itself is not kept.
type cacheKey [sha256.Size]byte

func keyOf(bot, engine, voice, lang string, rate int, text string) cacheKey {
	h := sha256.New()
	for _, s := range []string{bot, engine, voice, lang, text} {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var r [8]byte
	binary.LittleEndian.PutUint64(r[:], uint64(rate))
	h.Write(r[:])
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// cache is a bounded least-recently-used cache of synthesised prompts,
// in memory only: prompts may carry customer data, so their audio never
// goes to disk.
type cache struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int64
	bytes      int64
	ll         *list.List
	items      map[cacheKey]*list.Element
}

type cacheEntry struct {
	key cacheKey
	pcm []int16
}

func newCache(maxEntries int, maxBytes int64) *cache {
	return &cache{maxEntries: maxEntries, maxBytes: maxBytes, ll: list.New(), items: make(map[cacheKey]*list.Element)}
}

// get returns the audio (shared: the caller must not modify it).
func (c *cache) get(k cacheKey) ([]int16, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheEntry).pcm, true
}

// put stores audio (the cache keeps pcm), evicting the least recently
// used entries beyond the bounds. Audio larger than a quarter of the
// byte bound is not stored.
func (c *cache) put(k cacheKey, pcm []int16) {
	size := int64(len(pcm)) * 2
	if c.maxEntries <= 0 || size > c.maxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.bytes -= int64(len(el.Value.(*cacheEntry).pcm)) * 2
		el.Value.(*cacheEntry).pcm = pcm
		c.bytes += size
		c.ll.MoveToFront(el)
	} else {
		c.items[k] = c.ll.PushFront(&cacheEntry{key: k, pcm: pcm})
		c.bytes += size
	}
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.bytes -= int64(len(e.pcm)) * 2
	}
}

// size returns the entries and bytes held.
func (c *cache) size() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes
}
