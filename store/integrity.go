package store

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

// Integrity of the records that are not customer content.
//
// Customer content is sealed (AES-GCM), so an edit shows when it is read.
// Users, tokens, queues and settings (plugin settings among them) are plain
// JSON, and the audit log's entries are hash-chained and MAC'd one by one:
// an offline editor of earshot.db could flip a role, or drop the chain's
// last entries or its first ones (moving the anchor), and each remaining
// entry would still verify. Three things close that:
//
//   - Every protected record has an HMAC-SHA-256 in bucketIntegrity, over
//     its bucket, key and value, under a record key derived from the site
//     secrets (which the KEK wraps). A changed, added or removed record
//     is named at Open and by VerifyAudit.
//   - The integrity seal in bucketMeta is MAC'd under a key derived the
//     same way and binds the audit chain's head (sequence and hash), its
//     anchor (and the time of the last entry retention removed), a digest
//     of every record MAC, and a counter. Each transaction that appends
//     audit entries or changes a protected record rewrites it. Removing
//     entries at either end, moving the anchor, or rolling records back
//     together with their MACs no longer matches it.
//   - A checkpoint in keys.db (keys.Ring.Checkpoint), apart from the
//     content database, records the counter and the head at each start
//     (the counter goes up) and the exact head and records at each clean
//     stop. A seal from an earlier run, replayed into earshot.db, has
//     another counter; after a clean stop nothing may differ at all.
//
// A consistent backup pair (content and keys taken in the same run) still
// opens: its seal and checkpoint carry the same counter, and the content
// backup is not older than the start. What the scheme cannot tell apart
// from a restore is rolling both files back together to an earlier state
// of the same run; and whoever holds the KEK can forge anything, so the
// file provider's KEK must not sit where an attacker of the data directory
// can read it (see README).

// protectedBuckets hold the records whose MACs bucketIntegrity keeps.
var protectedBuckets = [][]byte{bucketQueues, bucketUsers, bucketTokens, bucketSettings, bucketBots}

// recordNames name a protected record's kind in errors.
var recordNames = map[string]string{
	string(bucketQueues): "queue", string(bucketUsers): "user", string(bucketTokens): "token", string(bucketSettings): "setting",
	string(bucketBots): "bot",
}

// IntegrityError names a record, or a part of the audit log, that was
// changed outside Earshot. It wraps ErrTampered.
type IntegrityError struct {
	// Record names what failed: `user "sam"`, `setting "plugins"`, "audit
	// head", "audit anchor", "integrity seal", "checkpoint".
	Record string
	// Problem says how.
	Problem string
}

func (e *IntegrityError) Error() string {
	return "store: integrity: " + e.Record + ": " + e.Problem
}

// Unwrap makes errors.Is(err, ErrTampered) hold.
func (e *IntegrityError) Unwrap() error { return ErrTampered }

func broken(record, format string, a ...any) *IntegrityError {
	return &IntegrityError{Record: record, Problem: fmt.Sprintf(format, a...)}
}

// integrityKeys are the MAC keys, derived from the site audit secret.
type integrityKeys struct {
	record []byte // MACs of protected records
	seal   []byte // the integrity seal and the records digest
}

func deriveIntegrityKeys(auditKey []byte) (integrityKeys, error) {
	r, err := hkdf.Key(sha256.New, auditKey, nil, "earshot record mac v1", keys.KeySize)
	if err != nil {
		return integrityKeys{}, err
	}
	s, err := hkdf.Key(sha256.New, auditKey, nil, "earshot integrity seal v1", keys.KeySize)
	if err != nil {
		return integrityKeys{}, err
	}
	return integrityKeys{record: r, seal: s}, nil
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
		m.Write(p)
	}
	return m.Sum(nil)
}

func integrityKey(b, key []byte) []byte {
	return append(append(append(make([]byte, 0, len(b)+1+len(key)), b...), 0), key...)
}

func (k integrityKeys) recordMAC(b, key, value []byte) []byte {
	return mac(k.record, []byte("record"), b, key, value)
}

// unsafePutRecord stores v as JSON in a protected bucket, with its MAC.
// The transaction must end with unsafeReseal(tx, true).
func (s *Store) unsafePutRecord(tx *bbolt.Tx, b, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", b, err)
	}
	if err := tx.Bucket(b).Put(key, raw); err != nil {
		return err
	}
	return tx.Bucket(bucketIntegrity).Put(integrityKey(b, key), s.ikeys.recordMAC(b, key, raw))
}

// unsafeDeleteRecord removes a record of a protected bucket and its MAC.
// The transaction must end with unsafeReseal(tx, true).
func unsafeDeleteRecord(tx *bbolt.Tx, b, key []byte) error {
	if err := tx.Bucket(b).Delete(key); err != nil {
		return err
	}
	return tx.Bucket(bucketIntegrity).Delete(integrityKey(b, key))
}

// unsafeRecordsDigest MACs every record MAC, in key order.
func (s *Store) unsafeRecordsDigest(tx *bbolt.Tx) []byte {
	m := hmac.New(sha256.New, s.ikeys.seal)
	m.Write([]byte("records"))
	tx.Bucket(bucketIntegrity).ForEach(func(k, v []byte) error {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(k))))
		m.Write(k)
		m.Write(v)
		return nil
	})
	return m.Sum(nil)
}

// integritySeal is the state the seal binds. Hashes are 32 bytes.
type integritySeal struct {
	Counter    uint64
	HeadSeq    uint64
	HeadHash   []byte
	AnchorSeq  uint64
	AnchorHash []byte
	// AnchorTime is the time of the last entry retention removed (unix
	// ns); 0 for an anchor made before schema 6.
	AnchorTime int64
	Records    []byte
}

const sealVersion = 1

func (x integritySeal) payload() []byte {
	p := []byte{sealVersion}
	p = binary.BigEndian.AppendUint64(p, x.Counter)
	p = binary.BigEndian.AppendUint64(p, x.HeadSeq)
	p = append(p, pad32(x.HeadHash)...)
	p = binary.BigEndian.AppendUint64(p, x.AnchorSeq)
	p = append(p, pad32(x.AnchorHash)...)
	p = binary.BigEndian.AppendUint64(p, uint64(x.AnchorTime))
	return append(p, pad32(x.Records)...)
}

const sealPayloadLen = 1 + 8 + 8 + 32 + 8 + 32 + 8 + 32

func pad32(b []byte) []byte {
	if len(b) == sha256.Size {
		return b
	}
	return make([]byte, sha256.Size)
}

func parseSealPayload(p []byte) (integritySeal, bool) {
	if len(p) != sealPayloadLen || p[0] != sealVersion {
		return integritySeal{}, false
	}
	u := func(off int) uint64 { return binary.BigEndian.Uint64(p[off:]) }
	return integritySeal{
		Counter: u(1), HeadSeq: u(9), HeadHash: bytes.Clone(p[17:49]),
		AnchorSeq: u(49), AnchorHash: bytes.Clone(p[57:89]), AnchorTime: int64(u(89)),
		Records: bytes.Clone(p[97:129]),
	}, true
}

// unsafeReadSeal returns the seal as stored, and whether its MAC holds.
func (s *Store) unsafeReadSeal(tx *bbolt.Tx) (x integritySeal, present, valid bool) {
	raw := tx.Bucket(bucketMeta).Get(keyIntegritySeal)
	if raw == nil {
		return integritySeal{}, false, false
	}
	if len(raw) != sealPayloadLen+sha256.Size {
		return integritySeal{}, true, false
	}
	p := raw[:sealPayloadLen]
	x, ok := parseSealPayload(p)
	return x, true, ok && hmac.Equal(raw[sealPayloadLen:], mac(s.ikeys.seal, []byte("seal"), p))
}

// anchor is the retention anchor as kept in bucketMeta: sequence (8) |
// hash (32) | time (8, from schema 6).
type anchor struct {
	Seq  uint64
	Hash []byte
	Time int64
}

func unsafeAnchor(tx *bbolt.Tx) anchor {
	a := tx.Bucket(bucketMeta).Get(keyAuditAnchor)
	if len(a) < 8+sha256.Size {
		return anchor{Hash: make([]byte, sha256.Size)}
	}
	out := anchor{Seq: binary.BigEndian.Uint64(a), Hash: bytes.Clone(a[8:40])}
	if len(a) == 48 {
		out.Time = int64(binary.BigEndian.Uint64(a[40:]))
	}
	return out
}

// unsafeAuditEnds returns the first and the last audit entry (nil when
// the log is empty).
func unsafeAuditEnds(tx *bbolt.Tx) (first, last *AuditEntry, err error) {
	c := tx.Bucket(bucketAudit).Cursor()
	k, v := c.First()
	if k == nil {
		return nil, nil, nil
	}
	first, last = new(AuditEntry), new(AuditEntry)
	if err := json.Unmarshal(v, first); err != nil {
		return nil, nil, broken("audit entry "+fmt.Sprint(binary.BigEndian.Uint64(k)), "undecodable")
	}
	k, v = c.Last()
	if err := json.Unmarshal(v, last); err != nil {
		return nil, nil, broken("audit entry "+fmt.Sprint(binary.BigEndian.Uint64(k)), "undecodable")
	}
	return first, last, nil
}

// unsafeReseal rewrites the seal for the current head and anchor, with the
// store's counter; with records, it recomputes the records digest too
// (after protected records changed), else it keeps the stored one.
func (s *Store) unsafeReseal(tx *bbolt.Tx, records bool) error {
	x, _, _ := s.unsafeReadSeal(tx)
	x.Counter = s.counter
	a := unsafeAnchor(tx)
	x.AnchorSeq, x.AnchorHash, x.AnchorTime = a.Seq, a.Hash, a.Time
	_, last, err := unsafeAuditEnds(tx)
	if err != nil {
		return err
	}
	x.HeadSeq, x.HeadHash = a.Seq, a.Hash
	if last != nil {
		x.HeadSeq, x.HeadHash = last.Seq, last.Hash
	}
	if records || len(x.Records) != sha256.Size {
		x.Records = s.unsafeRecordsDigest(tx)
	}
	p := x.payload()
	return tx.Bucket(bucketMeta).Put(keyIntegritySeal, append(p, mac(s.ikeys.seal, []byte("seal"), p)...))
}

// unsafeSealAll writes the MAC of every protected record and the seal: the
// migration to schema 6, and a reseal.
func (s *Store) unsafeSealAll(tx *bbolt.Tx) error {
	ib := tx.Bucket(bucketIntegrity)
	var stale [][]byte
	ib.ForEach(func(k, _ []byte) error { stale = append(stale, bytes.Clone(k)); return nil })
	for _, k := range stale {
		if err := ib.Delete(k); err != nil {
			return err
		}
	}
	for _, b := range protectedBuckets {
		err := tx.Bucket(b).ForEach(func(k, v []byte) error {
			return ib.Put(integrityKey(b, k), s.ikeys.recordMAC(b, k, v))
		})
		if err != nil {
			return err
		}
	}
	return s.unsafeReseal(tx, true)
}

// integrityCheck is what unsafeCheckIntegrity found.
type integrityCheck struct {
	seal    integritySeal
	records int
}

// unsafeCheckIntegrity checks the seal against the content database: its
// MAC, the audit chain's two ends and anchor, the anchor's age (no entry
// younger than MinAuditDays may have been removed), and every protected
// record's MAC and the records digest. It does not walk the whole chain
// (VerifyAudit does). The error is an *IntegrityError naming what failed
// first.
func (s *Store) unsafeCheckIntegrity(tx *bbolt.Tx, now time.Time) (integrityCheck, error) {
	c, found := s.unsafeIntegrity(tx, now, true)
	if len(found) > 0 {
		return c, found[0]
	}
	return c, nil
}

// unsafeIntegrityFindings lists everything that does not match (for a
// reseal to name what it accepts).
func (s *Store) unsafeIntegrityFindings(tx *bbolt.Tx, now time.Time) []*IntegrityError {
	_, found := s.unsafeIntegrity(tx, now, false)
	return found
}

func (s *Store) unsafeIntegrity(tx *bbolt.Tx, now time.Time, first bool) (integrityCheck, []*IntegrityError) {
	var c integrityCheck
	var found []*IntegrityError
	// add records a finding and says whether to stop.
	add := func(e *IntegrityError) bool {
		found = append(found, e)
		return first
	}
	x, present, valid := s.unsafeReadSeal(tx)
	switch {
	case !present:
		if add(broken("integrity seal", "missing from %s", DBFile)) {
			return c, found
		}
	case !valid:
		if add(broken("integrity seal", "does not verify (forged, or sealed under other site keys: is this the right %s?)", KeysFile)) {
			return c, found
		}
	}
	c.seal = x
	a := unsafeAnchor(tx)
	if valid && (a.Seq != x.AnchorSeq || !bytes.Equal(a.Hash, x.AnchorHash) || a.Time != x.AnchorTime) {
		if add(broken("audit anchor", "is entry %d but the seal names entry %d (entries removed at the start of the log?)", a.Seq, x.AnchorSeq)) {
			return c, found
		}
	}
	if a.Seq > 0 && a.Time != 0 {
		if t := time.Unix(0, a.Time); t.After(now.AddDate(0, 0, -MinAuditDays)) {
			if add(broken("audit anchor", "retention removed entries up to %d of %s, younger than the %d-day minimum (clock set ahead?)",
				a.Seq, t.UTC().Format(time.RFC3339), MinAuditDays)) {
				return c, found
			}
		}
	}
	firstE, last, err := unsafeAuditEnds(tx)
	if err != nil {
		var ie *IntegrityError
		errors.As(err, &ie)
		add(ie)
		return c, found
	}
	var head *IntegrityError
	switch {
	case !valid:
	case last == nil && (x.HeadSeq != x.AnchorSeq || !bytes.Equal(x.HeadHash, x.AnchorHash)):
		head = broken("audit head", "the log is empty but its seal names entry %d (entries removed?)", x.HeadSeq)
	case last != nil && (last.Seq != x.HeadSeq || !bytes.Equal(last.Hash, x.HeadHash)):
		head = broken("audit head", "the log ends at entry %d but its seal names entry %d (entries removed or replaced at the end?)", last.Seq, x.HeadSeq)
	}
	if head != nil && add(head) {
		return c, found
	}
	if firstE != nil && (firstE.Seq != a.Seq+1 || !bytes.Equal(firstE.Prev, a.Hash)) {
		if add(broken("audit anchor", "the log starts at entry %d but its anchor is entry %d (entries removed at the start?)", firstE.Seq, a.Seq)) {
			return c, found
		}
	}
	ib := tx.Bucket(bucketIntegrity)
	stop := errors.New("stop")
	for _, b := range protectedBuckets {
		err := tx.Bucket(b).ForEach(func(k, v []byte) error {
			c.records++
			name := fmt.Sprintf("%s %q", recordNames[string(b)], k)
			m := ib.Get(integrityKey(b, k))
			switch {
			case m == nil:
				if add(broken(name, "added outside earshot (it has no MAC)")) {
					return stop
				}
			case !hmac.Equal(m, s.ikeys.recordMAC(b, k, v)):
				if add(broken(name, "changed outside earshot (its MAC does not match)")) {
					return stop
				}
			}
			return nil
		})
		if err != nil {
			return c, found
		}
	}
	err = ib.ForEach(func(k, _ []byte) error {
		b, key, _ := bytes.Cut(k, []byte{0})
		if bk := tx.Bucket(b); bk == nil || bk.Get(key) == nil {
			if add(broken(fmt.Sprintf("%s %q", recordNames[string(b)], key), "removed outside earshot (its MAC is still there)")) {
				return stop
			}
		}
		return nil
	})
	if err != nil {
		return c, found
	}
	if valid && len(found) == 0 && !hmac.Equal(s.unsafeRecordsDigest(tx), x.Records) {
		add(broken("protected records", "do not match their seal (records removed or rolled back together with their MACs)"))
	}
	return c, found
}

// integrityMark is the checkpoint the store keeps in keys.db.
type integrityMark struct {
	Counter  uint64
	Clean    bool // written at a clean stop: nothing may have changed since
	HeadSeq  uint64
	HeadHash []byte
	Records  []byte
}

func (m integrityMark) payload() []byte {
	p := []byte{1}
	p = binary.BigEndian.AppendUint64(p, m.Counter)
	if m.Clean {
		p = append(p, 1)
	} else {
		p = append(p, 0)
	}
	p = binary.BigEndian.AppendUint64(p, m.HeadSeq)
	p = append(p, pad32(m.HeadHash)...)
	return append(p, pad32(m.Records)...)
}

func parseMark(p []byte) (integrityMark, bool) {
	if len(p) != 1+8+1+8+32+32 || p[0] != 1 {
		return integrityMark{}, false
	}
	return integrityMark{Counter: binary.BigEndian.Uint64(p[1:]), Clean: p[9] == 1,
		HeadSeq: binary.BigEndian.Uint64(p[10:]), HeadHash: bytes.Clone(p[18:50]), Records: bytes.Clone(p[50:82])}, true
}

func markOf(x integritySeal, clean bool) integrityMark {
	return integrityMark{Counter: x.Counter, Clean: clean, HeadSeq: x.HeadSeq, HeadHash: x.HeadHash, Records: x.Records}
}

// readMark returns the checkpoint of keys.db; ok is false for a key store
// that never had one (before schema 6).
func (s *Store) readMark() (m integrityMark, ok bool, err error) {
	p, err := s.keys.Checkpoint()
	if errors.Is(err, keys.ErrNoCheckpoint) {
		return integrityMark{}, false, nil
	}
	if err != nil {
		return integrityMark{}, false, broken("checkpoint", "in %s: %v", KeysFile, err)
	}
	m, ok = parseMark(p)
	if !ok {
		return integrityMark{}, false, broken("checkpoint", "in %s: unknown format", KeysFile)
	}
	return m, true, nil
}

// unsafeCheckMark compares the content database's seal with the
// checkpoint of keys.db.
func unsafeCheckMark(tx *bbolt.Tx, x integritySeal, m integrityMark) error {
	same := x.HeadSeq == m.HeadSeq && bytes.Equal(x.HeadHash, m.HeadHash) && bytes.Equal(x.Records, m.Records)
	switch {
	case x.Counter == m.Counter && m.Clean:
		if !same {
			if x.HeadSeq != m.HeadSeq || !bytes.Equal(x.HeadHash, m.HeadHash) {
				return broken("audit head", "is entry %d but earshot stopped at entry %d (entries removed or replaced since, or %s restored without the key backup taken with it?)", x.HeadSeq, m.HeadSeq, DBFile)
			}
			return broken("protected records", "changed since earshot stopped (rolled back together with their MACs?)")
		}
		return nil
	case x.Counter == m.Counter:
		// A run that did not stop cleanly (or a backup pair taken while
		// it ran): the chain must still hold the head it started with.
		if x.HeadSeq < m.HeadSeq {
			return broken("audit head", "is entry %d but the log had reached entry %d when earshot last started (entries removed at the end?)", x.HeadSeq, m.HeadSeq)
		}
		if m.HeadSeq > x.AnchorSeq {
			v := tx.Bucket(bucketAudit).Get(binary.BigEndian.AppendUint64(nil, m.HeadSeq))
			var e AuditEntry
			if v == nil || json.Unmarshal(v, &e) != nil || !bytes.Equal(e.Hash, m.HeadHash) {
				return broken("audit head", "entry %d is not the one the log held when earshot last started (replaced?)", m.HeadSeq)
			}
		}
		return nil
	case x.Counter+1 == m.Counter && same:
		// Stopped between writing the checkpoint and the seal at start.
		return nil
	case x.Counter < m.Counter:
		return broken("integrity seal", "counter %d is older than the %d that %s expects: %s was rolled back, or restored without the key backup taken with it",
			x.Counter, m.Counter, KeysFile, DBFile)
	default:
		return broken("checkpoint", "counter %d is older than the %d of %s: %s was restored from an earlier key backup", m.Counter, x.Counter, DBFile, KeysFile)
	}
}
