package store

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

// Quality-management records. The store keeps them as opaque JSON made by
// the quality-management package; it knows only their keys:
//
//   - scorecards: site definitions, one record per version (not content);
//   - evaluations: the scorecard answers of one engagement, with
//     justifications and quoted evidence, sealed under the engagement's data
//     key; beside each, a content-free summary (scores, answer values,
//     status) that listings, roll-ups and calibration read without opening
//     anything;
//   - facts: one content-free record of figures per ended engagement that
//     reports aggregate (times, counts, scores), in the caller's compact
//     encoding;
//   - topic models: discovered topics of a set of queues and period, sealed
//     under the site's quality-management key (their keywords come from
//     customers' words), and the engagements' memberships in them.
//
// Purging an engagement deletes its evaluations, summaries, fact and topic
// memberships with the rest of its records.

// ErrVersion is returned when a scorecard write names a version other
// than the next one.
var ErrVersion = errors.New("store: version conflict")

func qmKey(id engID, name string) []byte {
	return append(append(make([]byte, 0, 16+len(name)), id[:]...), name...)
}

// qmSiteKey derives the sealing key of topic models from the blind-index
// secret, with its own label.
func (s *Store) qmSiteKey() ([]byte, error) {
	return hkdf.Key(sha256.New, s.keys.IndexKey(), nil, "earshot qm topics v1", 32)
}

// PutScorecardVersion stores a new version of scorecard id: build gets the
// version number (one more than the last stored, 1 for a new scorecard)
// and returns the record. When expect is not 0 it must equal that number
// (optimistic concurrency for edits), else ErrVersion.
func (s *Store) PutScorecardVersion(ctx context.Context, id string, expect int, build func(version int) ([]byte, error), audit ...AuditEntry) (int, error) {
	if id == "" || bytes.IndexByte([]byte(id), 0) >= 0 {
		return 0, errors.New("store: scorecard: bad id")
	}
	var version int
	err := s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketQMScorecards)
		prefix := append([]byte(id), 0)
		version = 1
		if k, _ := lastWithPrefix(b.Cursor(), prefix); k != nil {
			version = int(binary.BigEndian.Uint32(k[len(prefix):])) + 1
		}
		if expect != 0 && expect != version {
			return fmt.Errorf("scorecard %s: next version is %d, not %d: %w", id, version, expect, ErrVersion)
		}
		raw, err := build(version)
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint32(prefix, uint32(version)), raw)
	})
	if err != nil {
		return 0, err
	}
	return version, nil
}

func lastWithPrefix(c *bbolt.Cursor, prefix []byte) ([]byte, []byte) {
	var lk, lv []byte
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		lk, lv = k, v
	}
	return lk, lv
}

// Scorecard returns a version of a scorecard (0: the latest).
func (s *Store) Scorecard(ctx context.Context, id string, version int) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketQMScorecards)
		prefix := append([]byte(id), 0)
		var v []byte
		if version == 0 {
			_, v = lastWithPrefix(b.Cursor(), prefix)
		} else {
			v = b.Get(binary.BigEndian.AppendUint32(prefix, uint32(version)))
		}
		if v == nil {
			return fmt.Errorf("scorecard %s: %w", id, ErrNotFound)
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// Scorecards returns the latest version of every scorecard, by ID.
func (s *Store) Scorecards(ctx context.Context) ([][]byte, error) {
	var out [][]byte
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketQMScorecards).Cursor()
		var prevID []byte
		var prev []byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			id := k[:len(k)-4]
			if prevID != nil && !bytes.Equal(id, prevID) {
				out = append(out, prev)
			}
			prevID, prev = id, bytes.Clone(v)
		}
		if prev != nil {
			out = append(out, prev)
		}
		return nil
	})
	return out, err
}

// PutEvaluation stores (replacing) the evaluation of an engagement by a
// scorecard: content sealed under the engagement's data key, summary in
// the clear. Both are JSON.
func (s *Store) PutEvaluation(ctx context.Context, engagement, scorecard string, content, summary []byte, audit ...AuditEntry) error {
	if scorecard == "" || !json.Valid(content) || !json.Valid(summary) {
		s.metrics.rejected.WithLabelValues("evaluation").Inc()
		return errors.New("store: evaluation: scorecard and JSON content and summary are required")
	}
	id, err := parseID(engagement)
	if err != nil {
		return err
	}
	dek, err := s.dek(ctx, id)
	if err != nil {
		return err
	}
	key := qmKey(id, scorecard)
	sealed, err := s.sealValue(dek, bucketQMEvals, key, content)
	if err != nil {
		return err
	}
	return s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if _, err := unsafeGetEngagement(tx, id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketQMEvals).Put(key, sealed); err != nil {
			return err
		}
		return tx.Bucket(bucketQMEvalIndex).Put(key, summary)
	})
}

// Evaluation returns the decrypted content of an evaluation; the audit
// entries (a content read) are appended after a successful read.
func (s *Store) Evaluation(ctx context.Context, engagement, scorecard string, audit ...AuditEntry) ([]byte, error) {
	id, err := parseID(engagement)
	if err != nil {
		return nil, err
	}
	key := qmKey(id, scorecard)
	var sealed []byte
	if err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketQMEvals).Get(key)
		if v == nil {
			return fmt.Errorf("evaluation %s/%s: %w", id, scorecard, ErrNotFound)
		}
		sealed = bytes.Clone(v)
		return nil
	}); err != nil {
		return nil, err
	}
	dek, err := s.dek(ctx, id)
	if err != nil {
		return nil, err
	}
	pt, err := s.openValue(dek, bucketQMEvals, key, sealed)
	if err != nil {
		return nil, err
	}
	if err := s.auditRead(ctx, audit, engagement); err != nil {
		return nil, err
	}
	return pt, nil
}

// EvaluationSummaries calls fn with every evaluation summary (of one
// engagement when engagement is not empty). fn must not keep raw.
func (s *Store) EvaluationSummaries(ctx context.Context, engagement string, fn func(engagement, scorecard string, raw []byte) error) error {
	var prefix []byte
	if engagement != "" {
		id, err := parseID(engagement)
		if err != nil {
			return err
		}
		prefix = id[:]
	}
	return s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketQMEvalIndex).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var id engID
			copy(id[:], k[:16])
			if err := fn(id.String(), string(k[16:]), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutFact stores (replacing) the content-free report record of an
// engagement, in the caller's encoding.
func (s *Store) PutFact(ctx context.Context, engagement string, raw []byte) error {
	if len(raw) == 0 {
		s.metrics.rejected.WithLabelValues("fact").Inc()
		return errors.New("store: fact: empty record")
	}
	id, err := parseID(engagement)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if _, err := unsafeGetEngagement(tx, id); err != nil {
			return err
		}
		return tx.Bucket(bucketQMFacts).Put(id[:], raw)
	})
}

// PutFacts stores many report records in one transaction (bulk loads and
// benchmarks); each engagement must exist.
func (s *Store) PutFacts(ctx context.Context, facts map[string][]byte) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		for eng, raw := range facts {
			id, err := parseID(eng)
			if err != nil {
				return err
			}
			if tx.Bucket(bucketEngagements).Get(id[:]) == nil {
				return fmt.Errorf("engagement %s: %w", id, ErrNotFound)
			}
			if err := tx.Bucket(bucketQMFacts).Put(id[:], raw); err != nil {
				return err
			}
		}
		return nil
	})
}

// Facts calls fn with every report record; fn must not keep raw.
func (s *Store) Facts(ctx context.Context, fn func(engagement string, raw []byte) error) error {
	return s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketQMFacts).ForEach(func(k, v []byte) error {
			var id engID
			copy(id[:], k)
			return fn(id.String(), v)
		})
	})
}

// TopicModel is a stored topic discovery.
type TopicModel struct {
	ID        uint64    `json:"id"`
	Scope     string    `json:"scope"` // the queues it covers, as the caller names them
	CreatedAt time.Time `json:"created_at"`
	// Content is the model (topics, keywords, model bytes): sealed.
	Content []byte `json:"-"`
}

type topicModelRecord struct {
	TopicModel
	Sealed []byte `json:"sealed"`
}

// PutTopicModel stores a new topic model and the engagements' memberships
// in it (engagement -> JSON), and returns its ID.
func (s *Store) PutTopicModel(ctx context.Context, m TopicModel, members map[string][]byte, audit ...AuditEntry) (uint64, error) {
	key, err := s.qmSiteKey()
	if err != nil {
		return 0, err
	}
	var id uint64
	err = s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketQMTopics)
		var err error
		if id, err = b.NextSequence(); err != nil {
			return err
		}
		m.ID = id
		k := binary.BigEndian.AppendUint64(nil, id)
		rec := topicModelRecord{TopicModel: m}
		if rec.Sealed, err = keys.Seal(key, valueAAD(bucketQMTopics, k), m.Content); err != nil {
			return err
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := b.Put(k, raw); err != nil {
			return err
		}
		return unsafePutMembers(tx, id, members)
	})
	return id, err
}

func unsafePutMembers(tx *bbolt.Tx, model uint64, members map[string][]byte) error {
	mb, ib := tx.Bucket(bucketQMTopicMembers), tx.Bucket(bucketQMTopicByEng)
	for eng, raw := range members {
		id, err := parseID(eng)
		if err != nil {
			return err
		}
		if tx.Bucket(bucketEngagements).Get(id[:]) == nil {
			continue // purged meanwhile
		}
		mk := binary.BigEndian.AppendUint64(make([]byte, 0, 24), model)
		mk = append(mk, id[:]...)
		if err := mb.Put(mk, raw); err != nil {
			return err
		}
		if err := ib.Put(append(bytes.Clone(id[:]), mk[:8]...), nil); err != nil {
			return err
		}
	}
	return nil
}

// PutTopicMembers adds or replaces memberships in an existing model (new
// engagements assigned as they end).
func (s *Store) PutTopicMembers(ctx context.Context, model uint64, members map[string][]byte) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketQMTopics).Get(binary.BigEndian.AppendUint64(nil, model)) == nil {
			return fmt.Errorf("topic model %d: %w", model, ErrNotFound)
		}
		return unsafePutMembers(tx, model, members)
	})
}

// TopicModels lists the stored models without their content, oldest first.
func (s *Store) TopicModels(ctx context.Context) ([]TopicModel, error) {
	var out []TopicModel
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketQMTopics).ForEach(func(k, v []byte) error {
			var rec topicModelRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("store: decode topic model: %w", err)
			}
			out = append(out, rec.TopicModel)
			return nil
		})
	})
	return out, err
}

// LoadTopicModel returns a model with its content decrypted.
func (s *Store) LoadTopicModel(ctx context.Context, id uint64) (TopicModel, error) {
	key, err := s.qmSiteKey()
	if err != nil {
		return TopicModel{}, err
	}
	k := binary.BigEndian.AppendUint64(nil, id)
	var rec topicModelRecord
	if err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketQMTopics).Get(k)
		if v == nil {
			return fmt.Errorf("topic model %d: %w", id, ErrNotFound)
		}
		return json.Unmarshal(v, &rec)
	}); err != nil {
		return TopicModel{}, err
	}
	pt, err := keys.Unseal(key, valueAAD(bucketQMTopics, k), rec.Sealed)
	if err != nil {
		s.metrics.tampered.Inc()
		return TopicModel{}, fmt.Errorf("store: open topic model %d: %w", id, err)
	}
	m := rec.TopicModel
	m.Content = pt
	return m, nil
}

// DeleteTopicModel removes a model and its memberships.
func (s *Store) DeleteTopicModel(ctx context.Context, id uint64, audit ...AuditEntry) error {
	return s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		k := binary.BigEndian.AppendUint64(nil, id)
		if tx.Bucket(bucketQMTopics).Get(k) == nil {
			return fmt.Errorf("topic model %d: %w", id, ErrNotFound)
		}
		c := tx.Bucket(bucketQMTopicMembers).Cursor()
		for mk, _ := c.Seek(k); mk != nil && bytes.HasPrefix(mk, k); mk, _ = c.Seek(k) {
			if err := tx.Bucket(bucketQMTopicByEng).Delete(append(bytes.Clone(mk[8:]), k...)); err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketQMTopics).Delete(k)
	})
}

// TopicMembers calls fn with every membership of a model; fn must not
// keep raw.
func (s *Store) TopicMembers(ctx context.Context, model uint64, fn func(engagement string, raw []byte) error) error {
	prefix := binary.BigEndian.AppendUint64(nil, model)
	return s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketQMTopicMembers).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var id engID
			copy(id[:], k[8:])
			if err := fn(id.String(), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// unsafeDeleteQM removes an engagement's quality-management records:
// evaluations and their summaries, its fact and its topic memberships.
func unsafeDeleteQM(tx *bbolt.Tx, id engID) (int, error) {
	n := 0
	for _, b := range [][]byte{bucketQMEvals, bucketQMEvalIndex} {
		k, err := unsafeDeletePrefix(tx, b, id[:])
		if err != nil {
			return n, err
		}
		n += k
	}
	if tx.Bucket(bucketQMFacts).Get(id[:]) != nil {
		if err := tx.Bucket(bucketQMFacts).Delete(id[:]); err != nil {
			return n, err
		}
		n++
	}
	c := tx.Bucket(bucketQMTopicByEng).Cursor()
	for k, _ := c.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, _ = c.Seek(id[:]) {
		mk := append(bytes.Clone(k[16:]), id[:]...)
		if err := tx.Bucket(bucketQMTopicMembers).Delete(mk); err != nil {
			return n, err
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
