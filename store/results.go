package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Result is the output of one feature (summary, notes, tasks, disposition,
// scorecard, ...) for one engagement. Payload is the feature's own JSON; it
// is customer content and is sealed.
type Result struct {
	Engagement string          `json:"engagement"`
	Feature    string          `json:"feature"`
	Version    string          `json:"version,omitempty"`
	Payload    json.RawMessage `json:"payload"`
	CreatedAt  time.Time       `json:"created_at"`
}

func resultKey(id engID, feature string) []byte {
	return append(append(make([]byte, 0, 16+len(feature)), id[:]...), feature...)
}

// PutResult stores (replacing) the result of one feature.
func (s *Store) PutResult(ctx context.Context, r Result, audit ...AuditEntry) error {
	if r.Feature == "" {
		s.metrics.rejected.WithLabelValues("result").Inc()
		return errors.New("store: result: feature is required")
	}
	if !json.Valid(r.Payload) {
		s.metrics.rejected.WithLabelValues("result").Inc()
		return fmt.Errorf("store: result %s: payload is not valid JSON", r.Feature)
	}
	id, err := parseID(r.Engagement)
	if err != nil {
		return err
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now()
	}
	r.CreatedAt = r.CreatedAt.UTC().Round(0)
	dek, err := s.dek(ctx, id)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: encode result: %w", err)
	}
	key := resultKey(id, r.Feature)
	val, err := s.sealValue(dek, bucketResults, key, raw)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if _, err := unsafeGetEngagement(tx, id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketResults).Put(key, val); err != nil {
			return err
		}
		return s.unsafeAudit(tx, audit...)
	})
}

// Result returns one feature's result for an engagement, decrypted.
func (s *Store) Result(ctx context.Context, idStr, feature string, audit ...AuditEntry) (Result, error) {
	id, err := parseID(idStr)
	if err != nil {
		return Result{}, err
	}
	key := resultKey(id, feature)
	var sealed []byte
	if err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketResults).Get(key)
		if v == nil {
			return fmt.Errorf("result %s of %s: %w", feature, id, ErrNotFound)
		}
		sealed = bytes.Clone(v)
		return nil
	}); err != nil {
		return Result{}, err
	}
	r, err := s.openResult(ctx, id, key, sealed)
	if err != nil {
		return Result{}, err
	}
	if err := s.auditRead(ctx, audit, idStr); err != nil {
		return Result{}, err
	}
	return r, nil
}

func (s *Store) openResult(ctx context.Context, id engID, key, sealed []byte) (Result, error) {
	dek, err := s.dek(ctx, id)
	if err != nil {
		return Result{}, err
	}
	pt, err := s.openValue(dek, bucketResults, key, sealed)
	if err != nil {
		return Result{}, err
	}
	var r Result
	if err := json.Unmarshal(pt, &r); err != nil {
		return Result{}, fmt.Errorf("store: decode result of %s: %w", id, err)
	}
	return r, nil
}

// Results returns every feature result of an engagement, by feature name.
func (s *Store) Results(ctx context.Context, idStr string, audit ...AuditEntry) ([]Result, error) {
	id, err := parseID(idStr)
	if err != nil {
		return nil, err
	}
	raw, err := s.engagementRecords(ctx, bucketResults, id)
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(raw))
	for _, r := range raw {
		res, err := s.openResult(ctx, id, r.k, r.v)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	if err := s.auditRead(ctx, audit, idStr); err != nil {
		return nil, err
	}
	return out, nil
}

// record is a key and value read from a bucket.
type record struct{ k, v []byte }

// engagementRecords returns copies of the records of bucket whose keys
// begin with the engagement's ID, in key order; ErrNotFound when there is
// no such engagement.
func (s *Store) engagementRecords(ctx context.Context, bucket []byte, id engID) ([]record, error) {
	var raw []record
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if _, err := unsafeGetEngagement(tx, id); err != nil {
			return err
		}
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, v = c.Next() {
			raw = append(raw, record{bytes.Clone(k), bytes.Clone(v)})
		}
		return nil
	})
	return raw, err
}
