package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// Segment is one stretch of transcript (or one chat message) of an
// engagement. Partial segments may be overwritten by the final one with the
// same Seq, and a final one by its revision: appending a segment with a
// Seq already stored replaces it, so it is stored (and read) once.
type Segment struct {
	Engagement string `json:"engagement"`
	Seq        uint32 `json:"seq"`
	Speaker    string `json:"speaker"` // e.g. "agent", "customer", "bot"
	StartMs    int64  `json:"start_ms"`
	EndMs      int64  `json:"end_ms"`
	Text       string `json:"text"`
	Words      []Word `json:"words,omitempty"`
	Final      bool   `json:"final"`
	// Revised marks a final segment that replaced an earlier final of the
	// same Seq (a second recogniser's better transcript of the utterance).
	Revised bool `json:"revised,omitempty"`
	// Lang is a chat message's language (ISO 639-1), when known.
	Lang string `json:"lang,omitempty"`
	// Translations are the message's translations, sealed with it like
	// Text, which stays the original.
	Translations []Translation `json:"translations,omitempty"`
}

// Translation is a chat message in another language.
type Translation struct {
	Lang string `json:"lang"`
	// Text is the translation, or the original when the message could not
	// be translated (Notice says why).
	Text   string `json:"text"`
	Engine string `json:"engine,omitempty"`
	// Pivot is the language the translation went through, if any.
	Pivot  string `json:"pivot,omitempty"`
	Notice string `json:"notice,omitempty"`
}

// TextIn returns the segment's text in lang: the original when lang is
// its language (or empty), else its translation into lang when there is
// one, else the original.
func (g Segment) TextIn(lang string) string {
	if lang == "" || lang == g.Lang {
		return g.Text
	}
	for _, t := range g.Translations {
		if t.Lang == lang && t.Notice == "" {
			return t.Text
		}
	}
	return g.Text
}

// Word is one recognised word with its times and confidence (0..1).
type Word struct {
	Text       string  `json:"text"`
	StartMs    int64   `json:"start_ms"`
	EndMs      int64   `json:"end_ms"`
	Confidence float32 `json:"confidence"`
}

// Validate checks a segment's fields.
func (g Segment) Validate() error {
	switch {
	case g.Speaker == "":
		return fmt.Errorf("store: segment %d: speaker is required", g.Seq)
	case g.StartMs < 0 || g.EndMs < g.StartMs:
		return fmt.Errorf("store: segment %d: start_ms %d / end_ms %d out of order", g.Seq, g.StartMs, g.EndMs)
	case len(g.Translations) > maxTranslations:
		return fmt.Errorf("store: segment %d: %d translations, at most %d", g.Seq, len(g.Translations), maxTranslations)
	}
	for i, t := range g.Translations {
		if t.Lang == "" {
			return fmt.Errorf("store: segment %d: translation %d: lang is required", g.Seq, i)
		}
	}
	for i, w := range g.Words {
		if w.EndMs < w.StartMs || w.Confidence < 0 || w.Confidence > 1 {
			return fmt.Errorf("store: segment %d: word %d: bad times or confidence", g.Seq, i)
		}
	}
	return nil
}

func segmentKey(id engID, seq uint32) []byte {
	return binary.BigEndian.AppendUint32(append(make([]byte, 0, 20), id[:]...), seq)
}

// sealedPut is one value ready for the group committer.
type sealedPut struct {
	id  engID
	seq uint32
	val []byte
}

type commitReq struct {
	puts []sealedPut
	// extra are records of other buckets written with puts (the
	// unredacted originals of redacted segments).
	extra []originalRecord
	done  chan error
}

// Append stores one segment through the group committer and returns once
// the transaction holding it is durably committed (fsync), so an
// acknowledged segment survives a crash.
func (s *Store) Append(ctx context.Context, seg Segment) error {
	return s.AppendBatch(ctx, []Segment{seg})
}

// AppendBatch stores segments (of one or several engagements) in one
// transaction: all are committed or none.
func (s *Store) AppendBatch(ctx context.Context, segs []Segment) error {
	return s.appendBatch(ctx, segs, nil)
}

// appendBatch is AppendBatch that also writes extra records (the
// unredacted originals) in the same transaction.
func (s *Store) appendBatch(ctx context.Context, segs []Segment, extra []originalRecord) error {
	req := commitReq{puts: make([]sealedPut, 0, len(segs)), extra: extra, done: make(chan error, 1)}
	for _, g := range segs {
		if err := g.Validate(); err != nil {
			s.metrics.rejected.WithLabelValues("segment").Inc()
			return err
		}
		id, err := parseID(g.Engagement)
		if err != nil {
			s.metrics.rejected.WithLabelValues("segment").Inc()
			return fmt.Errorf("store: segment %d: %w", g.Seq, err)
		}
		dek, err := s.dek(ctx, id)
		if err != nil {
			return err
		}
		key := segmentKey(id, g.Seq)
		val, err := s.sealValue(dek, bucketSegments, key, encodeSegment(g))
		if err != nil {
			return err
		}
		req.puts = append(req.puts, sealedPut{id: id, seq: g.Seq, val: val})
	}
	select {
	case s.commitCh <- req:
	case <-s.stopping:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-s.committerDone:
		// Closed: the committer drained what it was handed before exiting.
		select {
		case err := <-req.done:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		// Not acknowledged; it may still be committed.
		return ctx.Err()
	}
}

// runCommitter is the group committer: it takes the first waiting request,
// gathers those already waiting and those that arrive within MaxDelay (up
// to MaxBatch segments, and no more than the previous batch held), and
// commits them in one transaction. While one transaction syncs, the next
// batch forms, so batches grow with the load and a lone writer is not made
// to wait.
func (s *Store) runCommitter() {
	defer close(s.committerDone)
	maxDelay, maxBatch := s.cfg.GroupCommit.MaxDelay, s.cfg.GroupCommit.MaxBatch
	var batch []commitReq
	prev := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch = batch[:0]
		select {
		case r := <-s.commitCh:
			batch = append(batch, r)
		case <-s.stopping:
			// Drain what was already handed over, then stop.
			for {
				select {
				case r := <-s.commitCh:
					s.commit([]commitReq{r})
				default:
					return
				}
			}
		}
		n := len(batch[0].puts)
		// Take everything already waiting.
	drain:
		for n < maxBatch {
			select {
			case r := <-s.commitCh:
				batch = append(batch, r)
				n += len(r.puts)
			default:
				break drain
			}
		}
		// Under concurrency, linger up to maxDelay until the batch is as
		// large as the previous one: the writers released by the last
		// commit are sealing their next segments, and each one that joins
		// rides the same fsync. A lone writer (prev = 1) never waits.
		if n < prev && n < maxBatch && maxDelay > 0 {
			timer.Reset(maxDelay)
		linger:
			for n < prev && n < maxBatch {
				select {
				case r := <-s.commitCh:
					batch = append(batch, r)
					n += len(r.puts)
				case <-timer.C:
					break linger
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		prev = n
		s.commit(batch)
	}
}

// commit writes a batch to the journal in one transaction. A segment of an
// unknown or purged engagement fails only its own request. The journal
// index is updated before any request is acknowledged, so a reader sees
// every acknowledged segment.
func (s *Store) commit(batch []commitReq) {
	start := time.Now()
	errs := make([]error, len(batch))
	exists := map[engID]bool{}
	var refs []struct {
		id engID
		r  jref
	}
	n := 0
	// jmu is held across the transaction and the index update, so the
	// mover never sees journal entries that the index does not have yet.
	s.jmu.Lock()
	// Once handed a batch, the committer commits it whatever its writers' contexts.
	err := s.update(context.Background(), func(tx *bbolt.Tx) error {
		refs, n = refs[:0], 0
		eng, j := tx.Bucket(bucketEngagements), tx.Bucket(bucketJournal)
		j.FillPercent = 1.0 // append-only at the right edge
		for i, r := range batch {
			for _, p := range r.puts {
				ok, seen := exists[p.id]
				if !seen {
					ok = eng.Get(p.id[:]) != nil
					exists[p.id] = ok
				}
				if !ok {
					errs[i] = fmt.Errorf("store: append to engagement %s: %w", p.id, ErrNotFound)
				}
			}
			for _, x := range r.extra {
				if eng.Get(x.key[:16]) == nil {
					errs[i] = fmt.Errorf("store: append to engagement %x: %w", x.key[:16], ErrNotFound)
				}
			}
		}
		for i, r := range batch {
			if errs[i] != nil {
				continue
			}
			for _, p := range r.puts {
				gseq, err := j.NextSequence()
				if err != nil {
					return err
				}
				if err := j.Put(binary.BigEndian.AppendUint64(nil, gseq), journalValue(p.id, p.seq, p.val)); err != nil {
					return err
				}
				refs = append(refs, struct {
					id engID
					r  jref
				}{p.id, jref{p.seq, gseq}})
				n++
			}
			for _, x := range r.extra {
				if err := tx.Bucket(x.bucket).Put(x.key, x.val); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && len(refs) > 0 {
		for _, r := range refs {
			s.journal[r.id] = append(s.journal[r.id], r.r)
		}
		s.journalLen += len(refs)
		s.checkpoints = append(s.checkpoints, checkpoint{refs[len(refs)-1].r.gseq, time.Now()})
	}
	s.jmu.Unlock()
	s.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	s.metrics.batchSegments.Observe(float64(n))
	for i, r := range batch {
		e := errs[i]
		if err != nil {
			e = fmt.Errorf("store: commit segments: %w", err)
		}
		if e == nil {
			s.metrics.segments.Add(float64(len(r.puts)))
		}
		r.done <- e
	}
}

// Segments returns the engagement's transcript, decrypted, in time order:
// by start, then speaker, then sequence (the stored order follows which
// party's recogniser finished first). Pass an audit entry when the read
// is on behalf of a user.
func (s *Store) Segments(ctx context.Context, idStr string, audit ...AuditEntry) ([]Segment, error) {
	id, err := parseID(idStr)
	if err != nil {
		return nil, err
	}
	// Open the read transaction and copy the journal index under jmu, so
	// the mover cannot move entries between the two.
	s.jmu.RLock()
	tx, err := s.db.Begin(false)
	refs := slices.Clone(s.journal[id])
	s.jmu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("store: read segments: %w", err)
	}
	raw := map[uint32][]byte{}
	err = func() error {
		defer tx.Rollback()
		if _, err := unsafeGetEngagement(tx, id); err != nil {
			return err
		}
		c := tx.Bucket(bucketSegments).Cursor()
		for k, v := c.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, v = c.Next() {
			raw[binary.BigEndian.Uint32(k[16:])] = bytes.Clone(v)
		}
		j := tx.Bucket(bucketJournal)
		for _, r := range refs { // journal order: a later entry replaces an earlier one
			v := j.Get(binary.BigEndian.AppendUint64(nil, r.gseq))
			if v == nil {
				return fmt.Errorf("store: journal entry %d of %s missing: %w", r.gseq, id, ErrTampered)
			}
			jid, seq, sealed, err := parseJournalValue(v)
			if err != nil {
				return err
			}
			if jid != id || seq != r.seq {
				return fmt.Errorf("store: journal entry %d does not belong to %s: %w", r.gseq, id, ErrTampered)
			}
			raw[seq] = bytes.Clone(sealed)
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	seqs := slices.Sorted(maps.Keys(raw))
	out := make([]Segment, 0, len(seqs))
	if len(seqs) > 0 {
		dek, err := s.dek(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, seq := range seqs {
			pt, err := s.openValue(dek, bucketSegments, segmentKey(id, seq), raw[seq])
			if err != nil {
				return nil, fmt.Errorf("store: segment %d of %s: %w", seq, id, err)
			}
			g, err := decodeSegment(pt, idStr)
			if err != nil {
				return nil, fmt.Errorf("store: segment %d of %s: %w", seq, id, err)
			}
			out = append(out, g)
		}
	}
	if err := s.auditRead(ctx, audit, idStr); err != nil {
		return nil, err
	}
	sortByTime(out)
	return out, nil
}

// sortByTime orders a transcript in time, ties broken by party, then by
// sequence: the order every reader gets, whichever party's recogniser
// finished first.
func sortByTime(segs []Segment) {
	slices.SortStableFunc(segs, func(a, b Segment) int {
		return cmp.Or(cmp.Compare(a.StartMs, b.StartMs), strings.Compare(a.Speaker, b.Speaker), cmp.Compare(a.Seq, b.Seq))
	})
}
