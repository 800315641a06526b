package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

// Where redaction removes sensitive values from a transcript, its policy
// may keep a sealed unredacted copy of the segments it changed: sealed
// under a key of the engagement's own (not its data key), kept for a
// retention window of its own, shorter than the transcript's by default,
// and destroyed with the engagement at a purge. Its records are
// bucketOriginals; bucketOriginalIndex says which engagements have one
// and for how long it is kept.

// ErrOriginalExpired is returned for an engagement whose unredacted copy
// was destroyed when its retention ended.
var ErrOriginalExpired = errors.New("store: unredacted copy expired")

// originalRecord is one redirected put of the group commit: the sealed
// original of a segment, or the copy's index entry.
type originalRecord struct {
	bucket, key, val []byte
}

// AppendRedacted stores redacted segments like AppendBatch and, in the
// same transaction, the unredacted originals of those the redaction
// changed (same engagement and Seq), sealed under each engagement's
// unredacted-copy key (made with its first original). keepDays is how
// long after the engagement ends the copy is kept (at most as long as the
// transcript, see SweepNow); it must be positive when originals are given.
func (s *Store) AppendRedacted(ctx context.Context, segs, originals []Segment, keepDays int) error {
	if len(originals) > 0 && keepDays <= 0 {
		s.metrics.rejected.WithLabelValues("segment").Inc()
		return fmt.Errorf("store: unredacted copy: keep days must be positive, got %d", keepDays)
	}
	var extra []originalRecord
	indexed := map[engID]bool{}
	for _, g := range originals {
		if err := g.Validate(); err != nil {
			s.metrics.rejected.WithLabelValues("segment").Inc()
			return err
		}
		id, err := parseID(g.Engagement)
		if err != nil {
			s.metrics.rejected.WithLabelValues("segment").Inc()
			return fmt.Errorf("store: original of segment %d: %w", g.Seq, err)
		}
		key, err := s.keys.OriginalKey(ctx, id, true)
		if err != nil {
			return originalKeyErr(id, err)
		}
		k := segmentKey(id, g.Seq)
		val, err := s.sealValue(key, bucketOriginals, k, encodeSegment(g))
		if err != nil {
			return err
		}
		extra = append(extra, originalRecord{bucketOriginals, k, val})
		if !indexed[id] {
			indexed[id] = true
			extra = append(extra, originalRecord{bucketOriginalIndex, bytes.Clone(id[:]), binary.BigEndian.AppendUint32(nil, uint32(keepDays))})
		}
	}
	return s.appendBatch(ctx, segs, extra)
}

func originalKeyErr(id engID, err error) error {
	switch {
	case errors.Is(err, keys.ErrShredded):
		return fmt.Errorf("store: unredacted copy of %s: %w", id, ErrOriginalExpired)
	case errors.Is(err, keys.ErrNoDataKey):
		return fmt.Errorf("store: unredacted copy of %s: %w", id, ErrNotFound)
	}
	return keyErr(id, err)
}

// Originals returns the engagement's unredacted copy: the original of
// every segment its redaction changed, decrypted, in time order.
// ErrNotFound when the engagement has none, ErrOriginalExpired once its
// retention ended. Pass an audit entry when the read is on behalf of a
// user.
func (s *Store) Originals(ctx context.Context, idStr string, audit ...AuditEntry) ([]Segment, error) {
	id, err := parseID(idStr)
	if err != nil {
		return nil, err
	}
	raw, err := s.engagementRecords(ctx, bucketOriginals, id)
	if err != nil {
		return nil, err
	}
	key, err := s.keys.OriginalKey(ctx, id, false)
	if err != nil {
		return nil, originalKeyErr(id, err)
	}
	out := make([]Segment, 0, len(raw))
	for _, r := range raw {
		pt, err := s.openValue(key, bucketOriginals, r.k, r.v)
		if err != nil {
			return nil, err
		}
		g, err := decodeSegment(pt, idStr)
		if err != nil {
			return nil, fmt.Errorf("store: original of %s: %w", id, err)
		}
		out = append(out, g)
	}
	if err := s.auditRead(ctx, audit, idStr); err != nil {
		return nil, err
	}
	sortByTime(out)
	return out, nil
}

// unsafeDeleteOriginals removes an engagement's unredacted copy and its
// index entry; it returns the records removed.
func unsafeDeleteOriginals(tx *bbolt.Tx, id engID) (int, error) {
	n, err := unsafeDeletePrefix(tx, bucketOriginals, id[:])
	if err != nil {
		return n, err
	}
	return n, tx.Bucket(bucketOriginalIndex).Delete(id[:])
}

// expireOriginals destroys the unredacted copies whose retention ended:
// keepDays after the engagement ended, or when its transcript expires
// (transcriptDays, when set), whichever comes first. Copies of engagements
// under legal hold are kept. The keys go first (durably, in keys.db), then
// the records; a sweep interrupted between the two deletes the records
// the next time.
func (s *Store) expireOriginals(ctx context.Context, now time.Time, transcriptDays int, res *SweepResult) error {
	var ids []engID
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOriginalIndex).ForEach(func(k, v []byte) error {
			if len(k) != 16 || len(v) < 4 {
				return nil
			}
			var id engID
			copy(id[:], k)
			rec, err := unsafeGetEngagement(tx, id)
			if err != nil {
				ids = append(ids, id) // the engagement is gone: so goes its copy
				return nil
			}
			days := int(binary.BigEndian.Uint32(v))
			if transcriptDays > 0 {
				days = min(days, transcriptDays)
			}
			if rec.End.IsZero() || now.Before(rec.End.AddDate(0, 0, days)) {
				return nil
			}
			if rec.LegalHold {
				return nil
			}
			ids = append(ids, id)
			return ctx.Err()
		})
	})
	if err != nil || len(ids) == 0 {
		return err
	}
	kids := make([]keys.ID, len(ids))
	for i, id := range ids {
		kids[i] = id
	}
	if err := s.keys.ShredOriginalKeys(ctx, kids, now); err != nil {
		return fmt.Errorf("store: expire unredacted copies: destroy keys: %w", err)
	}
	err = s.update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
		for _, id := range ids {
			n, err := unsafeDeleteOriginals(tx, id)
			if err != nil {
				return err
			}
			res.OriginalsExpired++
			res.Originals += n
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: expire unredacted copies: %w", err)
	}
	// Destroyed keys must not linger in keys.db's free pages.
	return s.keys.Compact(context.WithoutCancel(ctx))
}
