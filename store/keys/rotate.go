package keys

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

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

// Rotate moves every wrapped data key (and the site secrets) to a new KEK
// version. It is resumable: the target version is recorded in keys.db
// before any key is re-wrapped, each batch commits on its own, and a call
// after an interruption (crash, cancelled ctx) continues with the same
// target. New data keys created meanwhile are wrapped under the target
// already. With destroyOld, every older KEK version is destroyed at the end
// and keys.db is compacted: from then on old key backups are useless.
func (r *Ring) Rotate(ctx context.Context, destroyOld bool) (RotateResult, error) {
	r.rotateMu.Lock()
	defer r.rotateMu.Unlock()
	cur, target, err := r.Versions()
	if err != nil {
		return RotateResult{}, err
	}
	res := RotateResult{From: cur}
	if cur == target {
		target = cur + 1
	}
	res.To = target
	if err := r.provider.CreateKEK(ctx, target); err != nil {
		return res, fmt.Errorf("keys: rotate: create kek version %d: %w", target, err)
	}
	if err := r.update(ctx, func(tx *bbolt.Tx) error { return putU32(tx.Bucket(bucketMeta), keyKEKTarget, target) }); err != nil {
		return res, fmt.Errorf("keys: rotate: %w", err)
	}
	r.logger.Info("kek rotation", "from", cur, "to", target)

	// Site secrets first, then the data keys in batches.
	if err := r.rewrap(ctx, bucketMeta, keySiteSecrets, siteSecretsAAD, target); err != nil {
		return res, err
	}
	for _, c := range keyClasses {
		if err := r.rotateClass(ctx, c, target, &res); err != nil {
			return res, err
		}
	}
	if err := r.update(ctx, func(tx *bbolt.Tx) error { return putU32(tx.Bucket(bucketMeta), keyKEKCurrent, target) }); err != nil {
		return res, fmt.Errorf("keys: rotate: %w", err)
	}
	if destroyOld {
		for v := uint32(1); v < target; v++ {
			if err := r.provider.DestroyKEK(ctx, v); err != nil {
				return res, fmt.Errorf("keys: rotate: destroy kek version %d: %w", v, err)
			}
			res.Destroyed = append(res.Destroyed, v)
		}
		if err := r.Compact(ctx); err != nil {
			return res, err
		}
	}
	r.logger.Info("kek rotation done", "to", target, "rewrapped", res.Rewrapped)
	return res, nil
}

// rewrap moves one wrapped record (version | ciphertext) to version target.
func (r *Ring) rewrap(ctx context.Context, b, key, aad []byte, target uint32) error {
	var rec []byte
	r.view(func(tx *bbolt.Tx) error { rec = bytes.Clone(tx.Bucket(b).Get(key)); return nil })
	if len(rec) < 4 || binary.BigEndian.Uint32(rec) == target {
		return nil
	}
	pt, err := r.provider.Unwrap(ctx, binary.BigEndian.Uint32(rec), rec[4:], aad)
	if err != nil {
		return fmt.Errorf("keys: rotate: unwrap %s: %w", key, err)
	}
	w, err := r.provider.Wrap(ctx, target, pt, aad)
	if err != nil {
		return fmt.Errorf("keys: rotate: wrap %s: %w", key, err)
	}
	return r.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(b).Put(key, append(binary.BigEndian.AppendUint32(nil, target), w...))
	})
}

// rotateClass re-wraps every key of class c not under target, in batches.
func (r *Ring) rotateClass(ctx context.Context, c *keyClass, target uint32, res *RotateResult) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("keys: rotate interrupted (run it again to resume): %w", err)
		}
		type item struct{ id, rec []byte }
		var batch []item
		r.view(func(tx *bbolt.Tx) error {
			c := tx.Bucket(c.bucket).Cursor()
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
		type put struct{ id, old, new []byte }
		var puts []put
		// An interruption inside the batch (ctx, a provider error) keeps
		// the keys re-wrapped so far: they are committed below first.
		var stop error
		for _, it := range batch {
			if err := ctx.Err(); err != nil {
				stop = fmt.Errorf("keys: rotate interrupted (run it again to resume): %w", err)
				break
			}
			var id ID
			copy(id[:], it.id)
			dek, err := r.provider.Unwrap(ctx, binary.BigEndian.Uint32(it.rec), it.rec[4:], c.wrapAAD(id))
			if err != nil {
				stop = fmt.Errorf("keys: rotate: unwrap %s of %x: %w", c.name(), id, err)
				break
			}
			w, err := r.provider.Wrap(ctx, target, dek, c.wrapAAD(id))
			if err != nil {
				stop = fmt.Errorf("keys: rotate: wrap %s of %x: %w", c.name(), id, err)
				break
			}
			puts = append(puts, put{it.id, it.rec, append(binary.BigEndian.AppendUint32(nil, target), w...)})
		}
		if len(puts) > 0 {
			err := r.update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
				b := tx.Bucket(c.bucket)
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
			if err != nil {
				return fmt.Errorf("keys: rotate: %w", err)
			}
		}
		if stop != nil {
			return stop
		}
		if after == nil {
			break
		}
	}
	return nil
}
