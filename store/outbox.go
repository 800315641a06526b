package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// OutboxEntry is one event awaiting delivery to a sink plugin. It holds
// names and IDs only, never content: the daemon reads the engagement's
// content when it delivers, so a purge or retention sweep in between
// leaves nothing behind here.
type OutboxEntry struct {
	// Seq orders the outbox; Enqueue assigns it.
	Seq uint64 `json:"-"`
	// Plugin is the sink plugin's name; EventID is unique per plugin (the
	// sink deduplicates on it).
	Plugin  string `json:"plugin"`
	EventID string `json:"event_id"`
	// Type is the event type, e.g. "engagement.ended".
	Type       string    `json:"type"`
	Engagement string    `json:"engagement"`
	Created    time.Time `json:"created"`
	// Attempts made so far; NextAt is when the next one is due.
	Attempts int       `json:"attempts"`
	NextAt   time.Time `json:"next_at"`
	// LastError is the class of the last failure (timeout, unavailable,
	// rejected, ...), never the plugin's message.
	LastError string `json:"last_error,omitempty"`
	// Dead marks an entry that used up its attempts; it waits for an
	// administrator to retry it.
	Dead bool `json:"dead,omitempty"`
}

func outboxKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func outboxIndexKey(plugin, eventID string) []byte {
	return append(append(append(make([]byte, 0, len(plugin)+1+len(eventID)), plugin...), 0), eventID...)
}

// Enqueue adds entries to the outbox, skipping any whose plugin and event
// ID are already queued (an index makes that check one lookup), and
// returns how many it added. A delivered event may be queued again.
func (s *Store) Enqueue(ctx context.Context, entries ...OutboxEntry) (int, error) {
	added := 0
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, idx := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxIndex)
		for _, e := range entries {
			if e.Plugin == "" || e.EventID == "" || e.Type == "" {
				return errors.New("store: outbox entry needs plugin, event_id and type")
			}
			ik := outboxIndexKey(e.Plugin, e.EventID)
			if idx.Get(ik) != nil {
				continue
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if e.Created.IsZero() {
				e.Created = time.Now().UTC()
			}
			if err := unsafePutJSON(tx, bucketOutbox, outboxKey(seq), e); err != nil {
				return err
			}
			if err := idx.Put(ik, outboxKey(seq)); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: enqueue: %w", err)
	}
	return added, nil
}

// Outbox returns the entries in order; with due set, only the live ones
// whose NextAt is not after now, at most limit (0: no limit).
func (s *Store) Outbox(ctx context.Context, due bool, now time.Time, limit int) ([]OutboxEntry, error) {
	return s.outbox(ctx, due, now, limit, nil)
}

// DueOutbox returns, in order, at most limit live entries due at now whose
// plugin skip does not name (the plugins busy with earlier entries).
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int, skip func(plugin string) bool) ([]OutboxEntry, error) {
	return s.outbox(ctx, true, now, limit, skip)
}

func (s *Store) outbox(ctx context.Context, due bool, now time.Time, limit int, skip func(string) bool) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var e OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if due && (e.Dead || e.NextAt.After(now)) || skip != nil && skip(e.Plugin) {
				continue
			}
			e.Seq = binary.BigEndian.Uint64(k)
			out = append(out, e)
			if limit > 0 && len(out) == limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: outbox: %w", err)
	}
	return out, nil
}

// UpdateOutbox stores a changed entry (attempts, next time, dead). An
// entry removed meanwhile stays removed.
func (s *Store) UpdateOutbox(ctx context.Context, e OutboxEntry) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketOutbox).Get(outboxKey(e.Seq)) == nil {
			return nil
		}
		return unsafePutJSON(tx, bucketOutbox, outboxKey(e.Seq), e)
	})
}

// DeleteOutbox removes delivered or dropped entries.
func (s *Store) DeleteOutbox(ctx context.Context, seqs ...uint64) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, idx := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxIndex)
		for _, seq := range seqs {
			k := outboxKey(seq)
			if v := b.Get(k); v != nil {
				var e OutboxEntry
				if err := json.Unmarshal(v, &e); err != nil {
					return err
				}
				if err := idx.Delete(outboxIndexKey(e.Plugin, e.EventID)); err != nil {
					return err
				}
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// RetryDead makes the dead entries (of plugin, or all when plugin is "")
// due now with fresh attempts, and returns how many.
func (s *Store) RetryDead(ctx context.Context, plugin string, now time.Time, audit ...AuditEntry) (int, error) {
	n := 0
	err := s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		type kv struct {
			k []byte
			e OutboxEntry
		}
		var revive []kv
		if err := b.ForEach(func(k, v []byte) error {
			var e OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if e.Dead && (plugin == "" || e.Plugin == plugin) {
				e.Dead, e.Attempts, e.NextAt = false, 0, now
				revive = append(revive, kv{append([]byte(nil), k...), e})
			}
			return nil
		}); err != nil {
			return err
		}
		for _, r := range revive {
			if err := unsafePutJSON(tx, bucketOutbox, r.k, r.e); err != nil {
				return err
			}
		}
		n = len(revive)
		return nil
	})
	return n, err
}
