package store

import (
	"context"

	"go.etcd.io/bbolt"
)

// Setting decodes the JSON setting stored under key into v; ErrNotFound if
// it was never set.
func (s *Store) Setting(key string, v any) error {
	return s.db.View(func(tx *bbolt.Tx) error { return unsafeGetJSON(tx, bucketSettings, []byte(key), v) })
}

// PutSetting stores v as JSON under key. Mutators of queues, users, tokens
// and settings take optional audit entries committed with the change.
func (s *Store) PutSetting(ctx context.Context, key string, v any, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error { return s.unsafePutRecord(tx, bucketSettings, []byte(key), v) })
}

// UpdateSetting reads the setting under key into v (leaving v as it is when
// the key was never set), calls fn and stores v if fn returns nil, all in one
// transaction so that concurrent updates do not lose each other's changes.
func (s *Store) UpdateSetting(ctx context.Context, key string, v any, fn func() error, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if err := unsafeGetJSON(tx, bucketSettings, []byte(key), v); err != nil && err != ErrNotFound {
			return err
		}
		if err := fn(); err != nil {
			return err
		}
		return s.unsafePutRecord(tx, bucketSettings, []byte(key), v)
	})
}
