package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/internal/dbfile"
	"github.com/earshot/earshot/store/keys"
)

// Backup writes a consistent copy of the content database to w while the
// store runs (one read transaction). It holds sealed values only: without
// keys.db and the KEK it reveals no customer content.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = dbfile.WriteTo(ctx, tx, w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// BackupKeys writes a consistent copy of keys.db (the wrapped data keys) to
// w. Keep key backups apart from content backups, and for no longer than
// the purge guarantee allows: an old key backup can still unwrap the data
// keys of engagements purged since it was taken (see README). The KEK
// itself is never in either backup.
func (s *Store) BackupKeys(ctx context.Context, w io.Writer) (int64, error) {
	n, err := s.keys.Backup(ctx, w)
	if err != nil {
		return n, fmt.Errorf("store: %w", err)
	}
	return n, nil
}

// RestoreContent replaces the content database of a stopped data directory
// with a backup read from r.
func RestoreContent(dir string, r io.Reader) error {
	return restoreFile(filepath.Join(dir, DBFile), r, checkContentFile)
}

// RestoreKeys replaces keys.db of a stopped data directory with a key
// backup read from r.
func RestoreKeys(dir string, r io.Reader) error {
	return restoreFile(filepath.Join(dir, KeysFile), r, keys.CheckFile)
}

// checkContentFile runs bbolt's consistency check on a content database
// (or a content backup) and checks that it is one: the queues bucket is in
// every schema version (a pre-upgrade backup may be of schema 1) and never
// in keys.db.
func checkContentFile(path string) error { return dbfile.Check(path, bucketMeta, bucketQueues) }

// restoreFile writes r to a temporary file, checks it with check (a
// consistent bbolt file of the expected kind), and renames it over path,
// refusing if another process holds path open.
func restoreFile(path string, r io.Reader, check func(string) error) error {
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
	if err := check(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: restore: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	return dbfile.SyncDir(dir)
}

// CheckFiles runs bbolt's consistency check on both databases of a stopped
// data directory (what `bbolt check` does).
func CheckFiles(dir string) error {
	if err := dbfile.Check(filepath.Join(dir, DBFile), bucketMeta); err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	if err := keys.CheckFile(filepath.Join(dir, KeysFile)); err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	return nil
}
