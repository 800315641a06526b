package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

// RoleAdmin is the only role allowed to purge.
const RoleAdmin = "admin"

// ErrForbidden is returned when the actor of a purge is not an enabled
// administrator.
var ErrForbidden = errors.New("store: forbidden")

// PurgeRequest says who purges and why; both are required and audited.
type PurgeRequest struct {
	Actor  string
	Reason string
}

// PurgeResult counts what a purge removed.
type PurgeResult struct {
	Engagements int `json:"engagements"`
	Segments    int `json:"segments"`
	Results     int `json:"results"`
	// Held counts engagements left alone because of a legal hold.
	Held int `json:"held"`
}

func (s *Store) checkPurger(req PurgeRequest) error {
	if req.Reason == "" {
		return errors.New("store: purge: a reason is required")
	}
	u, err := s.User(req.Actor)
	if err != nil {
		return fmt.Errorf("store: purge by %q: %w", req.Actor, ErrForbidden)
	}
	if u.Role != RoleAdmin || u.Disabled {
		return fmt.Errorf("store: purge by %q (role %s): %w", req.Actor, u.Role, ErrForbidden)
	}
	return nil
}

// PurgeEngagement crypto-shreds one engagement: its data key is destroyed
// first (durably, in keys.db), then every record of it is deleted and the
// purge is audited in the same transaction. An engagement under legal hold
// is refused with ErrLegalHold.
func (s *Store) PurgeEngagement(ctx context.Context, idStr string, req PurgeRequest) (PurgeResult, error) {
	if err := s.checkPurger(req); err != nil {
		return PurgeResult{}, err
	}
	id, err := parseID(idStr)
	if err != nil {
		return PurgeResult{}, err
	}
	var rec engagementRecord
	if err := s.view(ctx, func(tx *bbolt.Tx) error { rec, err = unsafeGetEngagement(tx, id); return err }); err != nil {
		return PurgeResult{}, err
	}
	if rec.LegalHold {
		return PurgeResult{Held: 1}, fmt.Errorf("store: purge %s: %w", id, ErrLegalHold)
	}
	return s.purge(ctx, []engID{id}, AuditEntry{Actor: req.Actor, Action: "purge.engagement", Engagement: idStr, Reason: req.Reason}, 0)
}

// PurgeCustomer purges every engagement with this customer reference (an
// erasure request). Engagements under legal hold are kept and counted in
// Held. The audit entry carries the reference's blind index, never the
// reference itself.
func (s *Store) PurgeCustomer(ctx context.Context, customerRef string, req PurgeRequest) (PurgeResult, error) {
	if err := s.checkPurger(req); err != nil {
		return PurgeResult{}, err
	}
	if customerRef == "" {
		return PurgeResult{}, errors.New("store: purge: customer reference is required")
	}
	ids, held, err := s.selectForPurge(ctx, EngagementFilter{CustomerRef: customerRef})
	if err != nil {
		return PurgeResult{}, err
	}
	e := AuditEntry{Actor: req.Actor, Action: "purge.customer", Reason: req.Reason,
		Detail: map[string]string{"customer_index": hex.EncodeToString(s.blind(customerRef))}}
	return s.purge(ctx, ids, e, held)
}

// PurgeQueue purges the engagements of a queue that started in [from, to).
func (s *Store) PurgeQueue(ctx context.Context, queue string, from, to time.Time, req PurgeRequest) (PurgeResult, error) {
	if err := s.checkPurger(req); err != nil {
		return PurgeResult{}, err
	}
	if queue == "" || from.IsZero() || to.IsZero() || !from.Before(to) {
		return PurgeResult{}, errors.New("store: purge: queue and a non-empty [from, to) range are required")
	}
	ids, held, err := s.selectForPurge(ctx, EngagementFilter{Queue: queue, From: from, To: to})
	if err != nil {
		return PurgeResult{}, err
	}
	e := AuditEntry{Actor: req.Actor, Action: "purge.queue", Target: queue, Reason: req.Reason,
		Detail: map[string]string{"from": from.UTC().Format(time.RFC3339), "to": to.UTC().Format(time.RFC3339)}}
	return s.purge(ctx, ids, e, held)
}

func (s *Store) selectForPurge(ctx context.Context, f EngagementFilter) (ids []engID, held int, err error) {
	es, err := s.Engagements(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range es {
		if e.LegalHold {
			held++
			continue
		}
		id, _ := parseID(e.ID)
		ids = append(ids, id)
	}
	return ids, held, nil
}

// purge destroys the data keys of ids, then deletes their records and
// appends the audit entry in one transaction, then compacts keys.db so the
// destroyed keys do not linger in its free pages.
func (s *Store) purge(ctx context.Context, ids []engID, audit AuditEntry, held int) (PurgeResult, error) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	res := PurgeResult{Held: held}
	kids := make([]keys.ID, len(ids))
	for i, id := range ids {
		kids[i] = id
	}
	if err := s.keys.Shred(ctx, kids, s.now()); err != nil {
		return res, fmt.Errorf("store: purge: destroy data keys: %w", err)
	}
	if s.crashPoint != nil {
		s.crashPoint("purge.shredded")
	}
	s.jmu.Lock()
	defer s.jmu.Unlock()
	// The keys are gone: delete the records whatever ctx says, so that the
	// purge does not wait for the next Open to finish.
	err := s.update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
		res.Engagements, res.Segments, res.Results = 0, 0, 0
		for _, id := range ids {
			segs, results, found, err := s.unsafeDeleteEngagement(tx, id)
			if err != nil {
				return err
			}
			if found {
				res.Engagements++
			}
			res.Segments += segs
			res.Results += results
		}
		if audit.Detail == nil {
			audit.Detail = map[string]string{}
		}
		audit.Detail["engagements"] = strconv.Itoa(res.Engagements)
		audit.Detail["segments"] = strconv.Itoa(res.Segments)
		audit.Detail["results"] = strconv.Itoa(res.Results)
		audit.Detail["held"] = strconv.Itoa(res.Held)
		return s.unsafeAudit(tx, audit)
	})
	if err != nil {
		// The keys are gone; Open (finishPurges) deletes the records later.
		return res, fmt.Errorf("store: purge: delete records: %w", err)
	}
	for _, id := range ids {
		s.dropJournal(id)
	}
	s.metrics.purged.WithLabelValues("engagements").Add(float64(res.Engagements))
	s.metrics.purged.WithLabelValues("segments").Add(float64(res.Segments))
	s.metrics.purged.WithLabelValues("results").Add(float64(res.Results))
	if len(ids) > 0 {
		if s.crashPoint != nil {
			s.crashPoint("purge.deleted")
		}
		if err := s.keys.Compact(context.WithoutCancel(ctx)); err != nil {
			return res, fmt.Errorf("store: purge: %w", err)
		}
	}
	s.logger.Info("purged", "action", audit.Action, "actor", audit.Actor,
		"engagements", res.Engagements, "segments", res.Segments, "results", res.Results, "held", res.Held)
	return res, nil
}

// unsafeDeleteEngagement removes an engagement's record, index entries,
// segments and results. The caller holds jmu (see unsafeDeleteSegments).
func (s *Store) unsafeDeleteEngagement(tx *bbolt.Tx, id engID) (segs, results int, found bool, err error) {
	rec, err := unsafeGetEngagement(tx, id)
	if err == nil {
		found = true
		if err := unsafeDeleteIndexes(tx, id, rec); err != nil {
			return 0, 0, false, err
		}
		if len(rec.CustomerIndex) > 0 {
			if err := tx.Bucket(bucketEngByCustomer).Delete(append(bytes.Clone(rec.CustomerIndex), id[:]...)); err != nil {
				return 0, 0, false, err
			}
		}
		if err := tx.Bucket(bucketEngagements).Delete(id[:]); err != nil {
			return 0, 0, false, err
		}
	} else if !errors.Is(err, ErrNotFound) {
		return 0, 0, false, err
	}
	if segs, err = s.unsafeDeleteSegments(tx, id); err != nil {
		return 0, 0, false, err
	}
	if results, err = unsafeDeletePrefix(tx, bucketResults, id[:]); err != nil {
		return 0, 0, false, err
	}
	qm, err := unsafeDeleteQM(tx, id)
	if err != nil {
		return 0, 0, false, err
	}
	if _, err := unsafeDeleteOriginals(tx, id); err != nil {
		return 0, 0, false, err
	}
	return segs, results + qm, found, nil
}

func unsafeDeletePrefix(tx *bbolt.Tx, b, prefix []byte) (int, error) {
	c := tx.Bucket(b).Cursor()
	n := 0
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// finishPurges deletes the records of engagements whose data keys were
// destroyed by a purge that the process did not live to complete.
func (s *Store) finishPurges(ctx context.Context) (int, error) {
	shredded, err := s.keys.Shredded(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: read purge tombstones: %w", err)
	}
	var pending []engID
	s.jmu.Lock()
	defer s.jmu.Unlock()
	s.db.View(func(tx *bbolt.Tx) error {
		for kid := range shredded {
			id := engID(kid)
			if tx.Bucket(bucketEngagements).Get(id[:]) != nil || len(s.journal[id]) > 0 {
				pending = append(pending, id)
				continue
			}
			for _, b := range [][]byte{bucketSegments, bucketOriginals} {
				if k, _ := tx.Bucket(b).Cursor().Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]) {
					pending = append(pending, id)
					break
				}
			}
		}
		return nil
	})
	if len(pending) == 0 {
		return 0, nil
	}
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		for _, id := range pending {
			if _, _, _, err := s.unsafeDeleteEngagement(tx, id); err != nil {
				return err
			}
			if err := s.unsafeAudit(tx, AuditEntry{Actor: "system", Action: "purge.complete", Engagement: id.String(),
				Reason: "records of a purged engagement left by an interrupted purge"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: complete interrupted purges: %w", err)
	}
	for _, id := range pending {
		s.dropJournal(id)
	}
	return len(pending), nil
}
