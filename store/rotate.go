package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"
)

// rotateBatch bounds the data keys re-wrapped per keys.db transaction.
var rotateBatch = 500

// RotateResult reports a KEK rotation.
type RotateResult struct {
	From      uint32   `json:"from"`
	To        uint32   `json:"to"`
	Rewrapped int      `json:"rewrapped"`
	Destroyed []uint32 `json:"destroyed,omitempty"`
}

// RotateKEK moves every wrapped data key (and the site secrets) to a new
// KEK version without touching content. It is resumable: the target version
// is recorded in keys.db before any key is re-wrapped, each batch commits
// on its own, and a call after an interruption (crash, cancelled ctx)
// continues with the same target. New engagements created meanwhile are
// wrapped under the target already. With destroyOld, every older KEK
// version is destroyed at the end and keys.db is compacted: from then on
// old key backups are useless, which closes the window in which they could
// revive purged engagements.
func (s *Store) RotateKEK(ctx context.Context, actor string, destroyOld bool) (RotateResult, error) {
	if actor == "" {
		return RotateResult{}, fmt.Errorf("store: rotate: actor is required")
	}
	s.rotateMu.Lock()
	defer s.rotateMu.Unlock()
	k := s.keys
	cur, target, err := k.versions()
	if err != nil {
		return RotateResult{}, err
	}
	res := RotateResult{From: cur}
	if cur == target {
		target = cur + 1
	}
	res.To = target
	if err := k.provider.CreateKEK(ctx, target); err != nil {
		return res, fmt.Errorf("store: rotate: create kek version %d: %w", target, err)
	}
	k.mu.RLock()
	err = k.db.Update(func(tx *bbolt.Tx) error { return putU32(tx.Bucket(keysBucketMeta), keyKEKTarget, target) })
	k.mu.RUnlock()
	if err != nil {
		return res, fmt.Errorf("store: rotate: %w", err)
	}
	s.logger.Info("kek rotation", "from", cur, "to", target)

	// Site secrets first, then the data keys in batches.
	if err := k.rewrap(ctx, keysBucketMeta, keySiteSecrets, siteSecretsAAD, target); err != nil {
		return res, err
	}
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("store: rotate interrupted (run it again to resume): %w", err)
		}
		type item struct{ id, rec []byte }
		var batch []item
		k.mu.RLock()
		k.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(keysBucketDEKs).Cursor()
			key, v := c.First()
			if after != nil {
				key, v = c.Seek(after)
				if key != nil && bytes.Equal(key, after) {
					key, v = c.Next()
				}
			}
			for ; key != nil && len(batch) < rotateBatch; key, v = c.Next() {
				after = append(after[:0], key...)
				if len(v) >= 4 && binary.BigEndian.Uint32(v) != target {
					batch = append(batch, item{bytes.Clone(key), bytes.Clone(v)})
				}
			}
			if key == nil {
				after = nil
			}
			return nil
		})
		k.mu.RUnlock()
		type put struct{ id, old, new []byte }
		var puts []put
		for _, it := range batch {
			var id engID
			copy(id[:], it.id)
			dek, err := k.provider.Unwrap(ctx, binary.BigEndian.Uint32(it.rec), it.rec[4:], dekAAD(id))
			if err != nil {
				return res, fmt.Errorf("store: rotate: unwrap data key of %s: %w", id, err)
			}
			w, err := k.provider.Wrap(ctx, target, dek, dekAAD(id))
			if err != nil {
				return res, fmt.Errorf("store: rotate: wrap data key of %s: %w", id, err)
			}
			puts = append(puts, put{it.id, it.rec, append(binary.BigEndian.AppendUint32(nil, target), w...)})
		}
		if len(puts) > 0 {
			k.mu.RLock()
			err := k.db.Update(func(tx *bbolt.Tx) error {
				b := tx.Bucket(keysBucketDEKs)
				for _, p := range puts {
					// Skip keys purged or changed since they were read.
					if !bytes.Equal(b.Get(p.id), p.old) {
						continue
					}
					if err := b.Put(p.id, p.new); err != nil {
						return err
					}
					res.Rewrapped++
				}
				return nil
			})
			k.mu.RUnlock()
			if err != nil {
				return res, fmt.Errorf("store: rotate: %w", err)
			}
		}
		if after == nil {
			break
		}
	}
	k.mu.RLock()
	err = k.db.Update(func(tx *bbolt.Tx) error { return putU32(tx.Bucket(keysBucketMeta), keyKEKCurrent, target) })
	k.mu.RUnlock()
	if err != nil {
		return res, fmt.Errorf("store: rotate: %w", err)
	}
	if destroyOld {
		for v := uint32(1); v < target; v++ {
			if err := k.provider.DestroyKEK(ctx, v); err != nil {
				return res, fmt.Errorf("store: rotate: destroy kek version %d: %w", v, err)
			}
			res.Destroyed = append(res.Destroyed, v)
		}
		if err := k.compact(); err != nil {
			return res, err
		}
	}
	detail := map[string]string{"from": strconv.Itoa(int(res.From)), "to": strconv.Itoa(int(res.To)),
		"rewrapped": strconv.Itoa(res.Rewrapped), "provider": k.provider.Name()}
	if destroyOld {
		detail["destroyed_below"] = strconv.Itoa(int(target))
	}
	if err := s.AppendAudit(AuditEntry{Actor: actor, Action: "key.rotate", Detail: detail}); err != nil {
		return res, err
	}
	s.logger.Info("kek rotation done", "to", target, "rewrapped", res.Rewrapped)
	return res, nil
}

// rewrap moves one wrapped record (version | ciphertext) to version target.
func (k *keyring) rewrap(ctx context.Context, b, key, aad []byte, target uint32) error {
	var rec []byte
	k.mu.RLock()
	k.db.View(func(tx *bbolt.Tx) error { rec = bytes.Clone(tx.Bucket(b).Get(key)); return nil })
	k.mu.RUnlock()
	if len(rec) < 4 || binary.BigEndian.Uint32(rec) == target {
		return nil
	}
	pt, err := k.provider.Unwrap(ctx, binary.BigEndian.Uint32(rec), rec[4:], aad)
	if err != nil {
		return fmt.Errorf("store: rotate: unwrap %s: %w", key, err)
	}
	w, err := k.provider.Wrap(ctx, target, pt, aad)
	if err != nil {
		return fmt.Errorf("store: rotate: wrap %s: %w", key, err)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(b).Put(key, append(binary.BigEndian.AppendUint32(nil, target), w...))
	})
}

// KEKVersions returns the current KEK version and the target of a rotation
// under way (equal when none is).
func (s *Store) KEKVersions() (current, target uint32, err error) { return s.keys.versions() }
