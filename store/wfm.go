package store

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

// WFMRecord is a workforce-management document: a roster, the site's
// scheduling rules or a schedule (kinds WFMRoster, WFMRules, WFMSchedule).
// Payload is the document's own JSON (package inference/wfm). Rosters hold
// agents' names, availability and preferences and schedules their working
// hours: personal data of the site's staff, so every record is sealed
// under a site key derived from the site secrets (which the KEK wraps),
// as knowledge-base articles are. Queues are the queues the document
// covers, for the API's scope checks.
type WFMRecord struct {
	Kind      string            `json:"kind"`
	ID        string            `json:"id"`
	Queues    []string          `json:"queues,omitempty"`
	UpdatedAt time.Time         `json:"updated_at"`
	UpdatedBy string            `json:"updated_by"`
	Summary   map[string]string `json:"summary,omitempty"` // counts and dates, shown in lists
	Payload   json.RawMessage   `json:"payload,omitempty"`
}

// Kinds of WFMRecord.
const (
	WFMRoster   = "roster"
	WFMRules    = "rules"
	WFMSchedule = "schedule"
)

func wfmKey(kind, id string) []byte { return append(append([]byte(kind), 0), id...) }

// wfmSealKey derives the workforce sealing key from the blind-index
// secret, with its own label so that no two uses share a key.
func (s *Store) wfmSealKey() ([]byte, error) {
	return hkdf.Key(sha256.New, s.keys.IndexKey(), nil, "earshot wfm records v1", 32)
}

func checkWFM(kind, id string) error {
	switch kind {
	case WFMRoster, WFMRules, WFMSchedule:
	default:
		return fmt.Errorf("store: wfm: unknown kind %q", kind)
	}
	if id == "" || len(id) > 128 || bytes.IndexByte([]byte(id), 0) >= 0 {
		return fmt.Errorf("store: wfm: bad id %q", id)
	}
	return nil
}

// PutWFM stores (replacing) a record, sealed, with its audit entries in the
// same transaction.
func (s *Store) PutWFM(ctx context.Context, rec WFMRecord, audit ...AuditEntry) error {
	if err := checkWFM(rec.Kind, rec.ID); err != nil {
		return err
	}
	key, err := s.wfmSealKey()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	k := wfmKey(rec.Kind, rec.ID)
	sealed, err := keys.Seal(key, valueAAD(bucketWFM, k), raw)
	if err != nil {
		return err
	}
	return s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketWFM).Put(k, sealed)
	})
}

// WFM returns one record, opened, after appending its audit entries (a
// read of staff's personal data); ErrNotFound if there is none.
func (s *Store) WFM(ctx context.Context, kind, id string, audit ...AuditEntry) (WFMRecord, error) {
	var rec WFMRecord
	if err := checkWFM(kind, id); err != nil {
		return rec, err
	}
	key, err := s.wfmSealKey()
	if err != nil {
		return rec, err
	}
	k := wfmKey(kind, id)
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketWFM).Get(k)
		if v == nil {
			return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
		}
		return openWFM(key, k, v, &rec)
	})
	if err != nil {
		return rec, err
	}
	if len(audit) > 0 {
		if err := s.AppendAudit(ctx, audit...); err != nil {
			return WFMRecord{}, err
		}
	}
	return rec, nil
}

func openWFM(key, k, sealed []byte, rec *WFMRecord) error {
	raw, err := keys.Unseal(key, valueAAD(bucketWFM, k), sealed)
	if err != nil {
		return fmt.Errorf("store: wfm %q: %w", k, ErrTampered)
	}
	if err := json.Unmarshal(raw, rec); err != nil {
		return fmt.Errorf("store: wfm %q: %w", k, err)
	}
	return nil
}

// WFMList returns the records of a kind in ID order, without their
// payloads.
func (s *Store) WFMList(ctx context.Context, kind string) ([]WFMRecord, error) {
	if err := checkWFM(kind, "x"); err != nil {
		return nil, err
	}
	key, err := s.wfmSealKey()
	if err != nil {
		return nil, err
	}
	prefix := wfmKey(kind, "")
	var out []WFMRecord
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketWFM).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rec WFMRecord
			if err := openWFM(key, k, v, &rec); err != nil {
				return err
			}
			rec.Payload = nil
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// DeleteWFM removes a record; ErrNotFound if there is none.
func (s *Store) DeleteWFM(ctx context.Context, kind, id string, audit ...AuditEntry) error {
	if err := checkWFM(kind, id); err != nil {
		return err
	}
	k := wfmKey(kind, id)
	return s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketWFM)
		if b.Get(k) == nil {
			return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
		}
		return b.Delete(k)
	})
}
