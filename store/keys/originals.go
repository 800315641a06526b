package keys

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"go.etcd.io/bbolt"
)

// An engagement whose redaction policy keeps an unredacted copy has a
// second key besides its data key: the copy is sealed under it, so that
// the copy can be destroyed on its own, when its (shorter) retention ends,
// while the redacted transcript stays. A purge destroys both.

// OriginalKey returns the key of the engagement's unredacted copy:
// ErrShredded once it was destroyed (the copy expired, or the engagement
// was purged), ErrNoDataKey when it never had one, unless create is set:
// then a missing key is made.
func (r *Ring) OriginalKey(ctx context.Context, id ID, create bool) ([]byte, error) {
	k, err := r.key(ctx, originalKeys, id)
	if !create || !errors.Is(err, ErrNoDataKey) {
		return k, err
	}
	k, err = r.newKey(ctx, originalKeys, id)
	if errors.Is(err, ErrDataKeyExists) { // made meanwhile
		return r.key(ctx, originalKeys, id)
	}
	return k, err
}

// ShredOriginalKeys destroys the keys of the unredacted copies of ids and
// records tombstones, durably, before the copies' records are deleted.
// The engagements' data keys stay.
func (r *Ring) ShredOriginalKeys(ctx context.Context, ids []ID, at time.Time) error {
	for _, id := range ids {
		r.forget(originalKeys, id)
	}
	return r.update(ctx, func(tx *bbolt.Tx) error {
		o, s := tx.Bucket(bucketOriginalKeys), tx.Bucket(bucketOriginalShredded)
		for _, id := range ids {
			if err := o.Delete(id[:]); err != nil {
				return err
			}
			if err := s.Put(id[:], binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))); err != nil {
				return err
			}
		}
		return nil
	})
}
