package daemon

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// Chat message posts may carry an Idempotency-Key header: a client that
// retries a post (a timeout under load, a dropped connection) with the
// same key gets the first post's answer instead of a second message. Keys
// are scoped by engagement and token, kept in memory for idemTTL (at most
// idemMax of them, oldest dropped first); a restart forgets them.
const (
	idemHeader   = "Idempotency-Key"
	idemMaxLen   = 255
	idemTTL      = 10 * time.Minute
	idemMax      = 20000
	idemReplayed = "Idempotency-Replayed"
)

// idemEntry is one key's post: in flight until done is closed, then
// stored (the message was taken) or not (the post failed: a retry runs
// again).
type idemEntry struct {
	fingerprint [32]byte // of the body: a key reused for another message is refused
	done        chan struct{}
	stored      bool
	at          time.Time
}

// idemCache holds the keys of recent chat message posts.
type idemCache struct {
	mu      sync.Mutex
	entries map[string]*idemEntry // +checklocks:mu
	// order is the keys' insertion order, for eviction.
	order []string // +checklocks:mu
}

// begin claims key for a post whose body hashes to fp. It returns first
// when the caller must do the post (and then call finish), or the
// finished entry of an earlier post with the same key; mismatch reports a
// key reused with another body. It waits, within ctx, for a post with
// the same key still in flight.
func (c *idemCache) begin(ctx context.Context, key string, body []byte) (e *idemEntry, first, mismatch bool, err error) {
	fp := sha256.Sum256(body)
	for {
		now := time.Now()
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[string]*idemEntry{}
		}
		// Drop expired keys, and the oldest beyond idemMax, once done.
		for len(c.order) > 0 {
			k := c.order[0]
			if old := c.entries[k]; old != nil {
				if len(c.order) <= idemMax && now.Sub(old.at) < idemTTL || !old.isDone() {
					break
				}
				delete(c.entries, k)
			}
			c.order = c.order[1:]
		}
		e = c.entries[key]
		if e == nil {
			e = &idemEntry{fingerprint: fp, done: make(chan struct{}), at: now}
			c.entries[key] = e
			c.order = append(c.order, key)
			c.mu.Unlock()
			return e, true, false, nil
		}
		c.mu.Unlock()
		if e.fingerprint != fp {
			return e, false, true, nil
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, false, false, ctx.Err()
		}
		if e.stored {
			return e, false, false, nil
		}
		// The earlier post failed and let the key go: try to claim it.
	}
}

// finish ends the post of a claimed key: a stored message keeps the key,
// a failed post lets it go so that a retry runs again.
func (c *idemCache) finish(key string, e *idemEntry, stored bool) {
	c.mu.Lock()
	e.stored = stored
	if !stored && c.entries[key] == e {
		delete(c.entries, key)
	}
	c.mu.Unlock()
	close(e.done)
}

func (e *idemEntry) isDone() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}
