package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.etcd.io/bbolt"
)

// AuditEntry is one record of the append-only audit log. Callers fill Actor,
// Action and whichever of the other descriptive fields apply; the store
// sets Seq, Time (if zero), Prev, Hash and MAC. Never put customer content
// (transcript text, customer identifiers) in any field: the audit log is
// kept longer than content and is not sealed per engagement.
type AuditEntry struct {
	Seq        uint64            `json:"seq"`
	Time       time.Time         `json:"time"`
	Actor      string            `json:"actor"`            // user ID, or "system"
	Action     string            `json:"action"`           // e.g. "content.read", "user.update", "purge.engagement"
	Target     string            `json:"target,omitempty"` // what was changed (user ID, setting key, ...)
	Engagement string            `json:"engagement,omitempty"`
	Feature    string            `json:"feature,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Detail     map[string]string `json:"detail,omitempty"`
	// Prev is the Hash of the previous entry (or of the retention anchor).
	Prev []byte `json:"prev"`
	// Hash is SHA-256 over the entry's JSON with Hash and MAC empty.
	Hash []byte `json:"hash"`
	// MAC is HMAC-SHA-256 of Hash under the site audit key (wrapped by the
	// KEK in keys.db): without the KEK, no one can rewrite the chain's tail.
	MAC []byte `json:"mac"`
}

func (e AuditEntry) digest() []byte {
	e.Hash, e.MAC = nil, nil
	raw, _ := json.Marshal(e) // plain types only: cannot fail
	h := sha256.Sum256(raw)
	return h[:]
}

func (s *Store) auditMAC(hash []byte) []byte {
	m := hmac.New(sha256.New, s.keys.AuditKey())
	m.Write(hash)
	return m.Sum(nil)
}

// unsafeAuditHead returns the hash the next entry chains to.
func unsafeAuditHead(tx *bbolt.Tx) ([]byte, error) {
	_, v := tx.Bucket(bucketAudit).Cursor().Last()
	if v == nil {
		return unsafeAnchor(tx).Hash, nil
	}
	var last AuditEntry
	if err := json.Unmarshal(v, &last); err != nil {
		return nil, fmt.Errorf("store: decode last audit entry: %w", err)
	}
	return last.Hash, nil
}

// unsafeAudit appends entries in the caller's transaction, so a change and
// its audit record commit together.
func (s *Store) unsafeAudit(tx *bbolt.Tx, entries ...AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	b := tx.Bucket(bucketAudit)
	prev, err := unsafeAuditHead(tx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Actor == "" || e.Action == "" {
			return errors.New("store: audit entry: actor and action are required")
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = seq
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		e.Time = e.Time.UTC().Round(0)
		e.Prev = prev
		e.Hash = e.digest()
		e.MAC = s.auditMAC(e.Hash)
		raw, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("store: encode audit entry: %w", err)
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), raw); err != nil {
			return err
		}
		prev = e.Hash
		s.metrics.audit.Inc()
	}
	return s.unsafeReseal(tx, false)
}

// AppendAudit appends entries in their own transaction.
func (s *Store) AppendAudit(ctx context.Context, entries ...AuditEntry) error {
	return s.update(ctx, func(tx *bbolt.Tx) error { return s.unsafeAudit(tx, entries...) })
}

// auditRead records a read of customer content, when the caller asked.
func (s *Store) auditRead(ctx context.Context, audit []AuditEntry, eng string) error {
	if len(audit) == 0 {
		return nil
	}
	for i := range audit {
		if audit[i].Engagement == "" {
			audit[i].Engagement = eng
		}
		if audit[i].Action == "" {
			audit[i].Action = "content.read"
		}
	}
	if err := s.AppendAudit(ctx, audit...); err != nil {
		// The content must not be handed out unaudited.
		return fmt.Errorf("store: audit read: %w", err)
	}
	return nil
}

// VerifyReport summarises a check of the audit log and the protected
// records.
type VerifyReport struct {
	// Entries is the number of entries checked.
	Entries int `json:"entries"`
	// FirstSeq and LastSeq bound the chain (0 if empty).
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// AnchorSeq is the last entry removed by retention (0: none).
	AnchorSeq uint64 `json:"anchor_seq"`
	// Sealed reports whether the content database carries an integrity
	// seal (schema 6 on); in an older backup only the chain is checked.
	Sealed bool `json:"sealed"`
	// Records counts the protected records (users, tokens, queues,
	// settings) whose MACs were checked.
	Records int `json:"records"`
	// Counter is the seal's integrity counter.
	Counter uint64 `json:"counter"`
	// Checkpoint says what the checkpoint of keys.db held it against:
	// "clean stop" (exactly this state), "run" (a run that has not
	// stopped cleanly, or a backup pair: at least the head it started
	// with), or "none" (a key store from before checkpoints).
	Checkpoint string `json:"checkpoint,omitempty"`
}

// VerifyAudit checks the whole chain (every entry's hash, MAC, link to its
// predecessor, no gap in sequence numbers), then the integrity seal: the
// chain's two ends and anchor, every protected record's MAC, and the
// checkpoint kept in keys.db. The error names the first broken entry or
// record and wraps ErrTampered.
func (s *Store) VerifyAudit(ctx context.Context) (VerifyReport, error) {
	var r VerifyReport
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if err := s.unsafeVerifyChain(ctx, tx, &r); err != nil {
			return err
		}
		return s.unsafeVerifySeal(tx, &r)
	})
	if errors.Is(err, ErrTampered) {
		s.metrics.tampered.Inc()
	}
	return r, err
}

// unsafeVerifySeal checks the integrity seal and the checkpoint into r.
func (s *Store) unsafeVerifySeal(tx *bbolt.Tx, r *VerifyReport) error {
	if tx.Bucket(bucketMeta).Get(keyIntegritySeal) == nil && unsafeSchemaVersion(tx) < 6 {
		// A content database from before seals: the chain is all there
		// is, unless keys.db says it had been sealed (a downgrade).
		if _, ok, err := s.readMark(); err != nil || ok {
			return broken("integrity seal", "missing from a content database at schema %d, but %s holds a checkpoint (schema downgraded?)", unsafeSchemaVersion(tx), KeysFile)
		}
		return nil
	}
	c, err := s.unsafeCheckIntegrity(tx, s.now())
	if err != nil {
		return err
	}
	r.Sealed, r.Records, r.Counter = true, c.records, c.seal.Counter
	m, ok, err := s.readMark()
	switch {
	case err != nil:
		return err
	case !ok:
		r.Checkpoint = "none"
		return nil
	case m.Clean && m.Counter == c.seal.Counter:
		r.Checkpoint = "clean stop"
	default:
		r.Checkpoint = "run"
	}
	return unsafeCheckMark(tx, c.seal, m)
}

// unsafeVerifyChain walks the chain from the anchor.
func (s *Store) unsafeVerifyChain(ctx context.Context, tx *bbolt.Tx, r *VerifyReport) error {
	a := unsafeAnchor(tx)
	r.AnchorSeq = a.Seq
	prev, next := a.Hash, a.Seq+1
	return tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
		seq := binary.BigEndian.Uint64(k)
		bad := func(why string) error {
			return fmt.Errorf("store: audit entry %d: %s: %w", seq, why, ErrTampered)
		}
		var e AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return bad("undecodable")
		}
		switch {
		case seq != next:
			return bad(fmt.Sprintf("expected entry %d (entries removed?)", next))
		case e.Seq != seq:
			return bad("sequence field does not match its key")
		case !bytes.Equal(e.Prev, prev):
			return bad("does not chain to the previous entry")
		case !bytes.Equal(e.digest(), e.Hash):
			return bad("content does not match its hash")
		case !hmac.Equal(s.auditMAC(e.Hash), e.MAC):
			return bad("MAC does not match (rewritten without the site key?)")
		}
		if r.Entries == 0 {
			r.FirstSeq = seq
		}
		r.Entries++
		r.LastSeq = seq
		prev, next = e.Hash, seq+1
		return ctx.Err()
	})
}

// AuditQuery selects audit entries; empty fields match everything. Time
// range is [From, To).
type AuditQuery struct {
	From, To   time.Time
	Actor      string
	Action     string
	Engagement string
	// AfterSeq resumes a paged query after this sequence number.
	AfterSeq uint64
	// Limit caps the result (0: no cap).
	Limit int
}

func (q AuditQuery) match(e AuditEntry) bool {
	return (q.From.IsZero() || !e.Time.Before(q.From)) &&
		(q.To.IsZero() || e.Time.Before(q.To)) &&
		(q.Actor == "" || e.Actor == q.Actor) &&
		(q.Action == "" || e.Action == q.Action) &&
		(q.Engagement == "" || e.Engagement == q.Engagement)
}

func (s *Store) scanAudit(ctx context.Context, q AuditQuery, fn func(AuditEntry) error) error {
	return s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		n := 0
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, q.AfterSeq+1)); k != nil; k, v = c.Next() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("store: decode audit entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if !q.match(e) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
			if n++; q.Limit > 0 && n == q.Limit {
				return nil
			}
		}
		return nil
	})
}

// QueryAudit returns matching entries in sequence order.
func (s *Store) QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.scanAudit(ctx, q, func(e AuditEntry) error { out = append(out, e); return nil })
	return out, err
}

// ExportAudit writes matching entries to w as JSON lines, with their hashes,
// so an auditor can re-check the chain offline.
func (s *Store) ExportAudit(ctx context.Context, w io.Writer, q AuditQuery) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	err := s.scanAudit(ctx, q, func(e AuditEntry) error { n++; return enc.Encode(e) })
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// unsafePruneAudit removes entries older than cutoff and moves the anchor
// to the last removed one, so the chain still verifies.
func (s *Store) unsafePruneAudit(tx *bbolt.Tx, cutoff time.Time) (int, error) {
	c := tx.Bucket(bucketAudit).Cursor()
	var lastSeq uint64
	var lastHash []byte
	var lastTime time.Time
	n := 0
	for k, v := c.First(); k != nil; k, v = c.First() {
		var e AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return n, fmt.Errorf("store: decode audit entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if !e.Time.Before(cutoff) {
			break
		}
		lastSeq, lastHash, lastTime = e.Seq, e.Hash, e.Time
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	anchor := binary.BigEndian.AppendUint64(nil, lastSeq)
	anchor = append(anchor, lastHash...)
	anchor = binary.BigEndian.AppendUint64(anchor, uint64(lastTime.UnixNano()))
	if err := tx.Bucket(bucketMeta).Put(keyAuditAnchor, anchor); err != nil {
		return n, err
	}
	return n, s.unsafeReseal(tx, false)
}

// recordsUpdate is auditedUpdate for changes of protected records (users,
// tokens, queues, settings): the seal is rewritten with their new digest.
func (s *Store) recordsUpdate(ctx context.Context, audit []AuditEntry, fn func(tx *bbolt.Tx) error) error {
	return s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.unsafeReseal(tx, true)
	})
}

// auditedUpdate runs fn in a write transaction and appends the audit
// entries in the same transaction, so a change and its record commit (or
// roll back) together.
func (s *Store) auditedUpdate(ctx context.Context, audit []AuditEntry, fn func(tx *bbolt.Tx) error) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.unsafeAudit(tx, audit...)
	})
}
