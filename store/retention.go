package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"strconv"
	"time"

	"go.etcd.io/bbolt"
)

// SweepResult counts what one retention sweep removed.
type SweepResult struct {
	// TranscriptsExpired counts engagements whose segments were removed.
	TranscriptsExpired int `json:"transcripts_expired"`
	Segments           int `json:"segments"`
	// OutputsExpired counts engagements whose results were removed.
	OutputsExpired int `json:"outputs_expired"`
	Results        int `json:"results"`
	AuditEntries   int `json:"audit_entries"`
	// OriginalsExpired counts engagements whose unredacted copy was
	// destroyed; Originals its records.
	OriginalsExpired int `json:"unredacted_expired"`
	Originals        int `json:"unredacted_segments"`
	// Held counts expired engagements kept because of a legal hold.
	Held int `json:"held"`
}

func (r SweepResult) empty() bool {
	return r.Segments == 0 && r.Results == 0 && r.AuditEntries == 0 &&
		r.TranscriptsExpired == 0 && r.OutputsExpired == 0 && r.OriginalsExpired == 0
}

// sweepBatch bounds the engagements handled per transaction.
const sweepBatch = 500

// Run sweeps at start and then every Config.SweepInterval until ctx is
// done. Cancellation is not an error.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if _, err := s.SweepNow(ctx); err != nil && ctx.Err() == nil {
			s.logger.Error("retention sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SweepNow applies the retention windows once: it removes the segments of
// engagements that ended more than TranscriptDays ago, their results and
// the content of their evaluations after OutputDays (when set), and audit entries older than AuditDays. Held
// engagements are skipped. A sweep that removed anything is audited as
// actor "system".
func (s *Store) SweepNow(ctx context.Context) (SweepResult, error) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	var res SweepResult
	now := s.now()
	r := s.cfg.Retention
	if r.TranscriptDays > 0 {
		if err := s.expire(ctx, now.AddDate(0, 0, -r.TranscriptDays), bucketSegments, &res.TranscriptsExpired, &res.Segments, &res.Held); err != nil {
			return res, err
		}
	}
	if err := s.expireOriginals(ctx, now, r.TranscriptDays, &res); err != nil {
		return res, err
	}
	if r.OutputDays > 0 {
		held := 0
		if err := s.expire(ctx, now.AddDate(0, 0, -r.OutputDays), bucketResults, &res.OutputsExpired, &res.Results, &held); err != nil {
			return res, err
		}
		res.Held = max(res.Held, held)
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		n, err := s.unsafePruneAudit(tx, now.AddDate(0, 0, -r.AuditDays))
		res.AuditEntries = n
		if err != nil || res.empty() {
			return err
		}
		return s.unsafeAudit(tx, AuditEntry{Actor: "system", Action: "retention.sweep", Time: now,
			Detail: map[string]string{
				"transcripts_expired": strconv.Itoa(res.TranscriptsExpired),
				"segments":            strconv.Itoa(res.Segments),
				"outputs_expired":     strconv.Itoa(res.OutputsExpired),
				"results":             strconv.Itoa(res.Results),
				"audit_entries":       strconv.Itoa(res.AuditEntries),
				"unredacted_expired":  strconv.Itoa(res.OriginalsExpired),
				"held":                strconv.Itoa(res.Held),
			}})
	})
	if err != nil {
		return res, err
	}
	s.metrics.swept.WithLabelValues("segments").Add(float64(res.Segments))
	s.metrics.swept.WithLabelValues("results").Add(float64(res.Results))
	s.metrics.swept.WithLabelValues("audit_entries").Add(float64(res.AuditEntries))
	s.metrics.swept.WithLabelValues("unredacted_segments").Add(float64(res.Originals))
	if !res.empty() {
		s.logger.Info("retention sweep", "segments", res.Segments, "results", res.Results,
			"audit_entries", res.AuditEntries, "unredacted_segments", res.Originals, "held", res.Held)
	}
	return res, nil
}

// expire removes the records of bucket b (segments or results) of every
// engagement that ended before cutoff, in batches. Engagements are found
// through eng_by_start: an engagement that ended before cutoff started
// before it.
func (s *Store) expire(ctx context.Context, cutoff time.Time, b []byte, engs, recs, held *int) error {
	after := []byte(nil)
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		done := true
		var dropped []engID
		s.jmu.Lock()
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			dropped = dropped[:0]
			c := tx.Bucket(bucketEngByStart).Cursor()
			k, _ := c.First()
			if after != nil {
				k, _ = c.Seek(after)
				if k != nil && string(k) == string(after) {
					k, _ = c.Next()
				}
			}
			type upd struct {
				id  engID
				rec engagementRecord
			}
			var changed []upd
			n := 0
			for ; k != nil; k, _ = c.Next() {
				if int64(binary.BigEndian.Uint64(k)) >= cutoff.UnixNano() {
					break
				}
				if n == sweepBatch {
					done = false
					break
				}
				n++
				after = append(after[:0], k...)
				var id engID
				copy(id[:], k[8:])
				rec, err := unsafeGetEngagement(tx, id)
				if err != nil {
					continue
				}
				if rec.End.IsZero() || !rec.End.Before(cutoff) {
					continue
				}
				segments := string(b) == string(bucketSegments)
				if rec.LegalHold {
					k2, _ := tx.Bucket(b).Cursor().Seek(id[:])
					if (k2 != nil && bytes.HasPrefix(k2, id[:])) || (segments && len(s.journal[id]) > 0) {
						*held++
					}
					continue
				}
				var m int
				if segments {
					m, err = s.unsafeDeleteSegments(tx, id)
					dropped = append(dropped, id)
				} else {
					m, err = unsafeDeletePrefix(tx, b, id[:])
					if err == nil {
						// Evaluations' content (answers, justifications,
						// quotes) is an output too; their content-free
						// summaries stay for the reports.
						var ev int
						ev, err = unsafeDeletePrefix(tx, bucketQMEvals, id[:])
						m += ev
					}
				}
				if err != nil {
					return err
				}
				if m > 0 {
					*engs++
					*recs += m
				}
				if segments && !rec.TranscriptExpired {
					rec.TranscriptExpired = true
					changed = append(changed, upd{id, rec})
				}
			}
			for _, u := range changed {
				if err := unsafePutEngagement(tx, u.id, u.rec, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, id := range dropped {
				s.dropJournal(id)
			}
		}
		s.jmu.Unlock()
		if err != nil || done {
			return err
		}
	}
}
