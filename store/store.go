package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// Sentinel errors of the store.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Options configures Open.
type Options struct {
	// Dir is the data directory. It is created with mode 0700 if missing.
	Dir string
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// LockTimeout bounds the wait for another process holding the database.
	LockTimeout time.Duration
}

// Store is Earshot's database. It is safe for concurrent use.
type Store struct {
	db     *bbolt.DB
	dir    string
	logger *slog.Logger
}

// DBFile is the content database's file name inside the data directory.
const DBFile = "earshot.db"

// Open opens (creating if needed) the database in opts.Dir and migrates its
// schema.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("store: data directory not set")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 5 * time.Second
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	path := filepath.Join(opts.Dir, DBFile)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(unsafeMigrate); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return &Store{db: db, dir: opts.Dir, logger: opts.Logger.With("component", "store")}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// unsafeGetJSON decodes the value at key in bucket b into v; json.Unmarshal
// copies out of the mmap'd page.
func unsafeGetJSON(tx *bbolt.Tx, b, key []byte, v any) error {
	raw := tx.Bucket(b).Get(key)
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("store: decode %s/%s: %w", b, key, err)
	}
	return nil
}

func unsafePutJSON(tx *bbolt.Tx, b, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", b, err)
	}
	return tx.Bucket(b).Put(key, raw)
}

// listJSON decodes every value of bucket b, in key order.
func listJSON[T any](s *Store, b []byte) ([]T, error) {
	var out []T
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(b).ForEach(func(k, v []byte) error {
			var t T
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("store: decode %s/%s: %w", b, k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}
