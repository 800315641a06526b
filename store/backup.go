package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the content database to w while the
// store runs (one read transaction). It holds sealed values only: without
// keys.db and the KEK it reveals no customer content.
func (s *Store) Backup(w io.Writer) (int64, error) { return writeDB(s.db, w, "backup") }

// writeDB copies db to w in one read transaction.
func writeDB(db *bbolt.DB, w io.Writer, what string) (int64, error) {
	var n int64
	err := db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: %s: %w", what, err)
	}
	return n, nil
}

// BackupKeys writes a consistent copy of keys.db (the wrapped data keys) to
// w. Keep key backups apart from content backups, and for no longer than
// the purge guarantee allows: an old key backup can still unwrap the data
// keys of engagements purged since it was taken (see README). The KEK
// itself is never in either backup.
func (s *Store) BackupKeys(w io.Writer) (int64, error) {
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	return writeDB(s.keys.db, w, "backup keys")
}

// RestoreContent replaces the content database of a stopped data directory
// with a backup read from r.
func RestoreContent(dir string, r io.Reader) error {
	return restoreFile(filepath.Join(dir, DBFile), r, bucketMeta, bucketEngagements)
}

// RestoreKeys replaces keys.db of a stopped data directory with a key
// backup read from r.
func RestoreKeys(dir string, r io.Reader) error {
	return restoreFile(filepath.Join(dir, KeysFile), r, keysBucketMeta, keysBucketDEKs)
}

// restoreFile writes r to a temporary file, checks that it is a consistent
// bbolt file with the expected buckets, and renames it over path, refusing
// if another process holds path open.
func restoreFile(path string, r io.Reader, want ...[]byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 200 * time.Millisecond})
		if err != nil {
			return fmt.Errorf("store: restore: %s is in use or unreadable (stop the daemon first): %w", path, err)
		}
		db.Close()
	}
	tmp := path + ".restore"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: restore: write %s: %w", tmp, err)
	}
	if err := checkFile(tmp, want...); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: restore: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	return syncDir(dir)
}

// checkFile opens a bbolt file read-only, runs its consistency check and
// looks for the given buckets.
func checkFile(path string, want ...[]byte) error {
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

// CheckFiles runs bbolt's consistency check on both databases of a stopped
// data directory (what `bbolt check` does).
func CheckFiles(dir string) error {
	if err := checkFile(filepath.Join(dir, DBFile), bucketMeta); err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	if err := checkFile(filepath.Join(dir, KeysFile), keysBucketMeta); err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	return nil
}
