package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of keys.db this build writes.
const SchemaVersion = schemaVersion

// FileSchemaVersion reads, without writing, the schema version of the key
// store at path: 0 for a missing or new file. It fails with ErrInUse when
// a running daemon holds the file.
func FileSchemaVersion(path string, timeout time.Duration) (uint64, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, bberrors.ErrTimeout) {
		return 0, fmt.Errorf("keys: open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return 0, fmt.Errorf("keys: open %s: %w", path, err)
	}
	defer db.Close()
	var v uint64
	err = db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta) != nil {
			v = unsafeSchemaVersion(tx)
		}
		return nil
	})
	return v, err
}

// Probe wraps a fresh random key under the KEK version that new wraps use
// and unwraps it again, through the provider: the key service or token
// answers and the KEK works. It returns that version. Nothing is stored.
func (r *Ring) Probe(ctx context.Context) (uint32, error) {
	_, target, err := r.Versions()
	if err != nil {
		return 0, err
	}
	k, err := NewKey()
	if err != nil {
		return target, err
	}
	aad := []byte("earshot-doctor-probe")
	w, err := r.provider.Wrap(ctx, target, k, aad)
	if err != nil {
		return target, fmt.Errorf("keys: wrap under kek version %d: %w", target, err)
	}
	back, err := r.provider.Unwrap(ctx, target, w, aad)
	if err != nil {
		return target, fmt.Errorf("keys: unwrap under kek version %d: %w", target, err)
	}
	if !bytes.Equal(back, k) {
		return target, fmt.Errorf("keys: kek version %d unwrapped a different key", target)
	}
	return target, nil
}
