package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// The hot path writes segments to an append-only journal (seg_journal,
// keyed by a store-wide sequence), so one group commit of segments from
// hundreds of live engagements dirties a few contiguous pages at the end of
// the tree instead of one leaf per engagement. A background mover then
// copies the oldest journal entries into the per-engagement layout
// (segments, keyed by engagement | seq) in larger transactions, where each
// engagement's run is extended once per batch, and deletes them from the
// journal. A sealed value's AAD names its logical key (segments bucket,
// engagement, seq), so moving it needs no re-encryption.
//
// The in-memory index (journal) maps each engagement to its journal
// entries, in journal order; it is rebuilt from the journal at Open.

// jref is one journal entry of an engagement.
type jref struct {
	seq  uint32
	gseq uint64
}

// moveBatch bounds the journal entries moved per transaction.
const moveBatch = 4096

// moveInterval is how often the mover runs (a variable for tests).
var moveInterval = 500 * time.Millisecond

// moveAge is how long entries stay in the journal before the mover takes
// them. Live engagements then gain many segments per move, so extending
// each one's run in the per-engagement layout is amortised over them, and
// the mover does not compete with the hot path segment by segment.
var moveAge = time.Minute

// checkpoint records the last journal sequence of a commit and its time.
type checkpoint struct {
	gseq uint64
	at   time.Time
}

func journalValue(id engID, seq uint32, sealed []byte) []byte {
	v := make([]byte, 0, 20+len(sealed))
	v = append(v, id[:]...)
	v = binary.BigEndian.AppendUint32(v, seq)
	return append(v, sealed...)
}

func parseJournalValue(v []byte) (id engID, seq uint32, sealed []byte, err error) {
	if len(v) < 20 {
		return id, 0, nil, fmt.Errorf("store: journal entry of %d bytes: %w", len(v), ErrTampered)
	}
	copy(id[:], v[:16])
	return id, binary.BigEndian.Uint32(v[16:20]), v[20:], nil
}

// loadJournal rebuilds the in-memory index from the journal bucket.
func (s *Store) loadJournal() error {
	s.journal = map[engID][]jref{}
	var last uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
			id, seq, _, err := parseJournalValue(v)
			if err != nil {
				return err
			}
			last = binary.BigEndian.Uint64(k)
			s.journal[id] = append(s.journal[id], jref{seq, last})
			s.journalLen++
			return nil
		})
	})
	if last > 0 { // entries from before the restart are old enough
		s.checkpoints = []checkpoint{{gseq: last}}
	}
	return err
}

// runMover moves journal entries into the per-engagement layout every
// moveInterval until Close.
func (s *Store) runMover() {
	defer close(s.moverDone)
	t := time.NewTicker(s.moveEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case <-t.C:
		}
		for {
			n, err := s.moveJournal(false)
			if err != nil {
				s.logger.Error("moving journal entries failed", "err", err)
				break
			}
			if n < moveBatch {
				break
			}
			select {
			case <-s.stopping:
				return
			default:
			}
		}
	}
}

// moveJournal moves up to moveBatch of the oldest journal entries that are
// older than moveAge (all of them if all is set); entries of engagements
// that no longer exist (purged) are dropped.
func (s *Store) moveJournal(all bool) (int, error) {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	if s.journalLen == 0 {
		return 0, nil
	}
	limit := uint64(math.MaxUint64)
	if !all {
		limit = 0
		cutoff := time.Now().Add(-moveAge)
		for _, c := range s.checkpoints {
			if c.at.After(cutoff) {
				break
			}
			limit = c.gseq
		}
		if limit == 0 {
			return 0, nil
		}
	}
	var upTo uint64
	moved := map[engID]int{}
	n := 0
	// The mover finishes what it started: its batches are bounded.
	err := s.update(context.Background(), func(tx *bbolt.Tx) error {
		clear(moved)
		n, upTo = 0, 0
		eng, segs := tx.Bucket(bucketEngagements), tx.Bucket(bucketSegments)
		// Each engagement's run grows at its end: pack split pages fuller.
		segs.FillPercent = 0.9
		exists := map[engID]bool{}
		c := tx.Bucket(bucketJournal).Cursor()
		for k, v := c.First(); k != nil && n < moveBatch; k, v = c.First() {
			gseq := binary.BigEndian.Uint64(k)
			if gseq > limit {
				break
			}
			upTo = gseq
			id, seq, sealed, err := parseJournalValue(v)
			if err != nil {
				return err
			}
			ok, seen := exists[id]
			if !seen {
				ok = eng.Get(id[:]) != nil
				exists[id] = ok
			}
			if ok {
				if err := segs.Put(segmentKey(id, seq), bytes.Clone(sealed)); err != nil {
					return err
				}
			}
			if err := c.Delete(); err != nil {
				return err
			}
			moved[id]++
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: move journal: %w", err)
	}
	// The moved entries are the oldest, so each engagement loses a prefix.
	for id, m := range moved {
		refs := s.journal[id]
		if m >= len(refs) {
			delete(s.journal, id)
		} else {
			s.journal[id] = slices.Clone(refs[m:])
		}
		s.journalLen -= min(m, len(refs))
	}
	i := 0
	for i < len(s.checkpoints) && s.checkpoints[i].gseq <= upTo {
		i++
	}
	s.checkpoints = slices.Delete(s.checkpoints, 0, i)
	return n, nil
}

// flushJournal moves every journal entry (tests, and before checks that
// read the segments bucket directly).
func (s *Store) flushJournal() error {
	for {
		n, err := s.moveJournal(true)
		if err != nil || n == 0 {
			return err
		}
	}
}

// unsafeDeleteSegments deletes every segment of id, in both layouts, and
// returns the number of distinct sequence numbers removed. The caller holds
// jmu and, once the transaction committed, calls dropJournal(id).
func (s *Store) unsafeDeleteSegments(tx *bbolt.Tx, id engID) (int, error) {
	seqs := map[uint32]bool{}
	c := tx.Bucket(bucketSegments).Cursor()
	for k, _ := c.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, _ = c.Seek(id[:]) {
		seqs[binary.BigEndian.Uint32(k[16:])] = true
		if err := c.Delete(); err != nil {
			return 0, err
		}
	}
	j := tx.Bucket(bucketJournal)
	for _, r := range s.journal[id] {
		seqs[r.seq] = true
		if err := j.Delete(binary.BigEndian.AppendUint64(nil, r.gseq)); err != nil {
			return 0, err
		}
	}
	return len(seqs), nil
}

// dropJournal forgets the journal entries of id; the caller holds jmu.
func (s *Store) dropJournal(id engID) {
	s.journalLen -= len(s.journal[id])
	delete(s.journal, id)
}
