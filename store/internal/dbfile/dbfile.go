// Package dbfile holds the helpers the store and its key management share
// for their database files: fsync of a directory, and bbolt's consistency
// check.
package dbfile

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// Gate admits one writer at a time, in front of bbolt's own writer lock,
// so that a writer waiting its turn can give up when its context ends
// (bbolt's lock cannot be left).
type Gate chan struct{}

// NewGate returns an open gate.
func NewGate() Gate { return make(Gate, 1) }

// Enter waits for the gate, or returns ctx's error; a context already done
// is refused at once. Leave after a nil return.
func (g Gate) Enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Leave lets the next writer in.
func (g Gate) Leave() { <-g }

// WriteTo copies tx's database to w (bbolt's consistent online copy),
// stopping once ctx ends.
func WriteTo(ctx context.Context, tx *bbolt.Tx, w io.Writer) (int64, error) {
	return tx.WriteTo(ctxWriter{ctx, w})
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
