// Package dbfile holds the helpers the store and its key management share
// for their database files: fsync of a directory, and bbolt's consistency
// check.
package dbfile

import (
	"errors"
	"fmt"
	"os"
	"time"

	"go.etcd.io/bbolt"
)

// SyncDir fsyncs a directory, so that a file created, renamed or removed
// in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// Check opens a bbolt file read-only, runs its consistency check and looks
// for the given buckets.
func Check(path string, want ...[]byte) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%s is not a database file: %w", path, err)
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s fails its consistency check: %w", path, errors.Join(errs...))
		}
		for _, b := range want {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%s has no bucket %q: wrong kind of backup?", path, b)
			}
		}
		return nil
	})
}
