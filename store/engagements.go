package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// engID is an engagement ID: 16 random bytes. Random rather than a bbolt
// sequence because the content database and keys.db are backed up and
// restored separately: a sequence restored from an older content backup
// would hand out IDs again whose data keys or purge tombstones already
// exist in keys.db. Random IDs also reveal neither volume nor order and can
// be minted without a write transaction. Time order comes from the
// eng_by_start index.
type engID [16]byte

func (id engID) String() string { return hex.EncodeToString(id[:]) }

// ErrBadID is returned for a malformed engagement ID.
var ErrBadID = errors.New("store: malformed engagement id (want 32 hex digits)")

func parseID(s string) (engID, error) {
	var id engID
	if len(s) != 32 {
		return id, fmt.Errorf("%q: %w", s, ErrBadID)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%q: %w", s, ErrBadID)
	}
	return id, nil
}

func newID() (engID, error) {
	var id engID
	_, err := rand.Read(id[:])
	return id, err
}

// ErrLegalHold is returned when a purge or retention would touch an
// engagement under legal hold.
var ErrLegalHold = errors.New("store: engagement under legal hold")

// Engagement statuses.
const (
	StatusLive  = "live"
	StatusEnded = "ended"
)

// Engagement is one call or chat. CustomerRef (the customer identifier,
// e.g. a CRM ID or phone number) is customer content: it is sealed with the
// engagement's data key and found through a keyed blind index.
type Engagement struct {
	ID          string    `json:"id"`
	Account     string    `json:"account,omitempty"`
	Queue       string    `json:"queue"`
	Agent       string    `json:"agent,omitempty"`
	CustomerRef string    `json:"customer_ref,omitempty"`
	Channel     string    `json:"channel"`   // "voice" or "chat"
	Direction   string    `json:"direction"` // "inbound" or "outbound"
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitzero"`
	Status      string    `json:"status"`
	Flags       []string  `json:"flags,omitempty"`
	// LegalHold exempts the engagement from retention and purge.
	LegalHold bool `json:"legal_hold,omitempty"`
	// TranscriptExpired is set when retention removed the segments.
	TranscriptExpired bool `json:"transcript_expired,omitempty"`
}

// engagementRecord is the stored form: Engagement without the plain
// customer reference.
type engagementRecord struct {
	Engagement
	SealedCustomerRef []byte `json:"sealed_customer_ref,omitempty"`
	// CustomerIndex is the blind index of the customer reference, kept so
	// a purge can remove the index entry after the data key is gone.
	CustomerIndex []byte `json:"customer_index,omitempty"`
}

// Validate checks the fields a caller supplies.
func (e Engagement) Validate() error {
	switch {
	case e.Queue == "":
		return errors.New("store: engagement: queue is required")
	case e.Channel != "voice" && e.Channel != "chat":
		return fmt.Errorf("store: engagement: channel %q must be voice or chat", e.Channel)
	case e.Direction != "inbound" && e.Direction != "outbound":
		return fmt.Errorf("store: engagement: direction %q must be inbound or outbound", e.Direction)
	case e.Start.IsZero():
		return errors.New("store: engagement: start is required")
	case !e.End.IsZero() && e.End.Before(e.Start):
		return errors.New("store: engagement: end is before start")
	case bytes.IndexByte([]byte(e.Queue+e.Agent), 0) >= 0:
		return errors.New("store: engagement: queue and agent must not contain NUL")
	}
	return nil
}

func startKey(t time.Time, id engID) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 24), uint64(t.UnixNano()))
	return append(k, id[:]...)
}

func prefixedKey(prefix string, t time.Time, id engID) []byte {
	k := append([]byte(prefix), 0)
	return append(k, startKey(t, id)...)
}

// blind returns the blind index of a customer reference.
func (s *Store) blind(ref string) []byte {
	m := hmac.New(sha256.New, s.keys.IndexKey())
	m.Write([]byte(ref))
	return m.Sum(nil)[:16]
}

var aadCustomerRef = []byte("customer_ref")

// CreateEngagement stores a new engagement and its fresh data key. It fills
// ID (when empty), Status (live, or ended if End is set) and returns the
// stored engagement. The data key is written to keys.db first, so content
// never exists without its key.
func (s *Store) CreateEngagement(ctx context.Context, e Engagement, audit ...AuditEntry) (Engagement, error) {
	if err := e.Validate(); err != nil {
		s.metrics.rejected.WithLabelValues("engagement").Inc()
		return Engagement{}, err
	}
	var id engID
	var err error
	if e.ID == "" {
		if id, err = newID(); err != nil {
			return Engagement{}, fmt.Errorf("store: engagement id: %w", err)
		}
		e.ID = id.String()
	} else if id, err = parseID(e.ID); err != nil {
		return Engagement{}, err
	}
	e.Start = e.Start.UTC().Round(0)
	if !e.End.IsZero() {
		e.End = e.End.UTC().Round(0)
	}
	if e.Status == "" {
		e.Status = StatusLive
		if !e.End.IsZero() {
			e.Status = StatusEnded
		}
	}
	dek, err := s.newDEK(ctx, id)
	if err != nil {
		return Engagement{}, err
	}
	rec := engagementRecord{Engagement: e}
	rec.CustomerRef = ""
	if e.CustomerRef != "" {
		rec.CustomerIndex = s.blind(e.CustomerRef)
		if rec.SealedCustomerRef, err = s.sealValue(dek, bucketEngagements, append(id[:], aadCustomerRef...), []byte(e.CustomerRef)); err != nil {
			return Engagement{}, err
		}
	}
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketEngagements).Get(id[:]) != nil {
			return fmt.Errorf("engagement %s: %w", id, ErrExists)
		}
		if err := unsafePutEngagement(tx, id, rec, nil); err != nil {
			return err
		}
		if e.CustomerRef != "" {
			if err := tx.Bucket(bucketEngByCustomer).Put(append(bytes.Clone(rec.CustomerIndex), id[:]...), nil); err != nil {
				return err
			}
		}
		return s.unsafeAudit(tx, audit...)
	})
	if err != nil {
		return Engagement{}, fmt.Errorf("store: create engagement: %w", err)
	}
	s.metrics.engagements.Inc()
	return e, nil
}

// unsafePutEngagement writes the record and its time, queue and agent
// index entries, replacing those of old (when not nil).
func unsafePutEngagement(tx *bbolt.Tx, id engID, rec engagementRecord, old *engagementRecord) error {
	if old != nil {
		if err := unsafeDeleteIndexes(tx, id, *old); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketEngagements).Put(id[:], raw); err != nil {
		return err
	}
	if err := tx.Bucket(bucketEngByStart).Put(startKey(rec.Start, id), nil); err != nil {
		return err
	}
	if err := tx.Bucket(bucketEngByQueue).Put(prefixedKey(rec.Queue, rec.Start, id), nil); err != nil {
		return err
	}
	if rec.Agent != "" {
		return tx.Bucket(bucketEngByAgent).Put(prefixedKey(rec.Agent, rec.Start, id), nil)
	}
	return nil
}

func unsafeDeleteIndexes(tx *bbolt.Tx, id engID, rec engagementRecord) error {
	if err := tx.Bucket(bucketEngByStart).Delete(startKey(rec.Start, id)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketEngByQueue).Delete(prefixedKey(rec.Queue, rec.Start, id)); err != nil {
		return err
	}
	if rec.Agent != "" {
		return tx.Bucket(bucketEngByAgent).Delete(prefixedKey(rec.Agent, rec.Start, id))
	}
	return nil
}

func unsafeGetEngagement(tx *bbolt.Tx, id engID) (engagementRecord, error) {
	var rec engagementRecord
	raw := tx.Bucket(bucketEngagements).Get(id[:])
	if raw == nil {
		return rec, fmt.Errorf("engagement %s: %w", id, ErrNotFound)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, fmt.Errorf("store: decode engagement %s: %w", id, err)
	}
	return rec, nil
}

// reveal decrypts the customer reference of rec into its Engagement.
func (s *Store) reveal(ctx context.Context, id engID, rec engagementRecord) (Engagement, error) {
	e := rec.Engagement
	if len(rec.SealedCustomerRef) == 0 {
		return e, nil
	}
	dek, err := s.dek(ctx, id)
	if err != nil {
		return Engagement{}, err
	}
	ref, err := s.openValue(dek, bucketEngagements, append(id[:], aadCustomerRef...), rec.SealedCustomerRef)
	if err != nil {
		return Engagement{}, err
	}
	e.CustomerRef = string(ref)
	return e, nil
}

// Engagement returns one engagement, its customer reference decrypted.
// Pass an audit entry when the read is on behalf of a user (the API): it is
// appended after a successful read.
func (s *Store) Engagement(ctx context.Context, idStr string, audit ...AuditEntry) (Engagement, error) {
	id, err := parseID(idStr)
	if err != nil {
		return Engagement{}, err
	}
	var rec engagementRecord
	if err := s.view(ctx, func(tx *bbolt.Tx) error {
		rec, err = unsafeGetEngagement(tx, id)
		return err
	}); err != nil {
		return Engagement{}, err
	}
	e, err := s.reveal(ctx, id, rec)
	if err != nil {
		return Engagement{}, err
	}
	if err := s.auditRead(ctx, audit, idStr); err != nil {
		return Engagement{}, err
	}
	return e, nil
}

// EngagementFilter selects engagements for Engagements. Empty fields match
// everything; the time range applies to the start time, [From, To).
type EngagementFilter struct {
	Queue       string
	Agent       string
	CustomerRef string
	From, To    time.Time
	// Limit caps the result (0: no cap).
	Limit int
}

// Engagements lists engagements matching f, oldest start first. Customer
// references are returned decrypted only when f.CustomerRef is set (the
// caller already knows it); otherwise they are left empty, so listing does
// not count as reading customer content.
func (s *Store) Engagements(ctx context.Context, f EngagementFilter, audit ...AuditEntry) ([]Engagement, error) {
	var ids []engID
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		ids, err = s.unsafeSelect(tx, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []Engagement
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		for _, id := range ids {
			rec, err := unsafeGetEngagement(tx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !f.match(rec.Engagement) {
				continue
			}
			e := rec.Engagement
			if f.CustomerRef != "" {
				e.CustomerRef = f.CustomerRef
			}
			out = append(out, e)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if f.CustomerRef != "" {
		// The blind index could in theory collide: confirm by decrypting.
		kept := out[:0]
		for _, e := range out {
			id, _ := parseID(e.ID)
			var rec engagementRecord
			s.view(ctx, func(tx *bbolt.Tx) error { rec, err = unsafeGetEngagement(tx, id); return err })
			if err != nil {
				continue
			}
			full, err := s.reveal(ctx, id, rec)
			if err == nil && full.CustomerRef == f.CustomerRef {
				kept = append(kept, full)
			}
		}
		out = kept
	}
	if err := s.auditRead(ctx, audit, ""); err != nil {
		return nil, err
	}
	return out, nil
}

func (f EngagementFilter) match(e Engagement) bool {
	if f.Queue != "" && e.Queue != f.Queue {
		return false
	}
	if f.Agent != "" && e.Agent != f.Agent {
		return false
	}
	if !f.From.IsZero() && e.Start.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !e.Start.Before(f.To) {
		return false
	}
	return true
}

// unsafeSelect returns candidate IDs from the most selective index.
func (s *Store) unsafeSelect(tx *bbolt.Tx, f EngagementFilter) ([]engID, error) {
	var ids []engID
	collect := func(b []byte, prefix []byte, tsOff int) {
		c := tx.Bucket(b).Cursor()
		seek := prefix
		if !f.From.IsZero() && tsOff >= 0 {
			seek = append(slices.Clone(prefix), binary.BigEndian.AppendUint64(nil, uint64(f.From.UnixNano()))...)
		}
		for k, _ := c.Seek(seek); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if tsOff >= 0 && !f.To.IsZero() {
				ts := int64(binary.BigEndian.Uint64(k[tsOff:]))
				if ts >= f.To.UnixNano() {
					break
				}
			}
			var id engID
			copy(id[:], k[len(k)-16:])
			ids = append(ids, id)
		}
	}
	switch {
	case f.CustomerRef != "":
		collect(bucketEngByCustomer, s.blind(f.CustomerRef), -1)
	case f.Agent != "":
		p := append([]byte(f.Agent), 0)
		collect(bucketEngByAgent, p, len(p))
	case f.Queue != "":
		p := append([]byte(f.Queue), 0)
		collect(bucketEngByQueue, p, len(p))
	default:
		collect(bucketEngByStart, nil, 0)
	}
	return ids, nil
}

// updateEngagement applies fn to the stored record in one transaction.
func (s *Store) updateEngagement(ctx context.Context, idStr string, fn func(*engagementRecord) error, audit ...AuditEntry) error {
	id, err := parseID(idStr)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		old, err := unsafeGetEngagement(tx, id)
		if err != nil {
			return err
		}
		rec := old
		rec.Flags = slices.Clone(old.Flags)
		if err := fn(&rec); err != nil {
			return err
		}
		if err := unsafePutEngagement(tx, id, rec, &old); err != nil {
			return err
		}
		return s.unsafeAudit(tx, audit...)
	})
}

// EndEngagement records the end time and sets the status to ended.
func (s *Store) EndEngagement(ctx context.Context, idStr string, end time.Time) error {
	return s.updateEngagement(ctx, idStr, func(r *engagementRecord) error {
		if end.Before(r.Start) {
			return errors.New("store: engagement: end is before start")
		}
		r.End, r.Status = end.UTC().Round(0), StatusEnded
		return nil
	})
}

// SetFlags replaces the engagement's flags.
func (s *Store) SetFlags(ctx context.Context, idStr string, flags []string, audit ...AuditEntry) error {
	return s.updateEngagement(ctx, idStr, func(r *engagementRecord) error {
		r.Flags = slices.Clone(flags)
		return nil
	}, audit...)
}

// SetLegalHold places or lifts a legal / trust-and-safety hold. The audit
// entry (who and why) is required and committed with the change.
func (s *Store) SetLegalHold(ctx context.Context, idStr string, hold bool, audit AuditEntry) error {
	if audit.Actor == "" || audit.Reason == "" {
		return errors.New("store: legal hold: audit actor and reason are required")
	}
	if audit.Action == "" {
		audit.Action = "engagement.hold"
		if !hold {
			audit.Action = "engagement.release"
		}
	}
	audit.Engagement = idStr
	return s.updateEngagement(ctx, idStr, func(r *engagementRecord) error {
		r.LegalHold = hold
		return nil
	}, audit)
}
