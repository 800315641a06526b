package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
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
	// Config holds retention, key provider and group commit settings; the
	// zero value means DefaultConfig().
	Config Config
	// Registerer receives the store's metrics; nil means none.
	Registerer prometheus.Registerer
	// Provider, when set, replaces the provider named in Config.Keys (for
	// the plugin provider). The store closes it at Close.
	Provider keys.Provider
}

// Store is Earshot's database. It is safe for concurrent use.
type Store struct {
	db      *bbolt.DB
	keys    *keys.Ring
	dir     string
	cfg     Config
	logger  *slog.Logger
	metrics *metrics

	// jmu guards the journal index against the mover, purges and
	// readers; see journal.go.
	jmu        sync.RWMutex
	journal    map[engID][]jref // +checklocks:jmu
	journalLen int              // +checklocks:jmu
	// checkpoints: per commit, its last journal sequence and time, oldest
	// first; the mover takes entries older than moveAge.
	checkpoints []checkpoint // +checklocks:jmu
	moverDone   chan struct{}
	moveEvery   time.Duration

	commitCh      chan commitReq
	stopping      chan struct{}
	committerDone chan struct{}
	closeOnce     sync.Once

	// writer admits one write transaction at a time, so that a writer
	// waiting its turn can give up when its context ends (bbolt's own lock
	// cannot be left); see update.
	writer chan struct{}

	sweepMu sync.Mutex // one sweep or purge at a time
	now     func() time.Time

	// plaintextForBench disables sealing; set only by benchmarks that
	// measure what encryption costs.
	plaintextForBench bool
}

// DBFile is the content database's file name inside the data directory.
const DBFile = "earshot.db"

// Open opens (creating if needed) the content database and the key store in
// opts.Dir, migrates their schemas, connects the KEK provider (creating KEK
// version 1 on first start), completes any purge a crash interrupted, and
// starts the group committer. ctx bounds the calls to the key provider
// (a key service or an HSM) made while opening.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("store: data directory not set")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 5 * time.Second
	}
	if reflect.ValueOf(opts.Config).IsZero() {
		opts.Config = DefaultConfig()
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	p := opts.Provider
	if p == nil {
		if p, err = keys.NewProvider(opts.Config.Keys, opts.Dir); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	logger := opts.Logger.With("component", "store")
	ring, err := keys.Open(ctx, filepath.Join(opts.Dir, KeysFile), p, keys.Options{LockTimeout: opts.LockTimeout, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(opts.Dir, DBFile)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.LockTimeout, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		ring.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(unsafeMigrate); err != nil {
		db.Close()
		ring.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	if ring.Fresh() {
		var n int
		db.View(func(tx *bbolt.Tx) error { n = tx.Bucket(bucketEngagements).Stats().KeyN; return nil })
		if n > 0 {
			db.Close()
			ring.Close()
			os.Remove(filepath.Join(opts.Dir, KeysFile))
			return nil, fmt.Errorf("store: %s is missing or empty but %s holds %d engagements: restore the key backup (RestoreKeys) before starting", KeysFile, DBFile, n)
		}
	}
	s := &Store{
		db: db, keys: ring, dir: opts.Dir, cfg: opts.Config,
		logger:        logger,
		metrics:       m,
		writer:        make(chan struct{}, 1),
		commitCh:      make(chan commitReq, 4*opts.Config.GroupCommit.MaxBatch),
		stopping:      make(chan struct{}),
		committerDone: make(chan struct{}),
		moverDone:     make(chan struct{}),
		moveEvery:     moveInterval,
		now:           time.Now,
	}
	if err := s.loadJournal(); err != nil {
		s.db.Close()
		ring.Close()
		return nil, fmt.Errorf("store: load segment journal: %w", err)
	}
	if n, err := s.finishPurges(ctx); err != nil {
		s.db.Close()
		ring.Close()
		return nil, err
	} else if n > 0 {
		s.logger.Warn("completed purges interrupted by a crash", "engagements", n)
	}
	go s.runCommitter()
	go s.runMover()
	return s, nil
}

// Close stops the group committer (committing what it was handed), then
// closes both databases and the key provider.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stopping)
		<-s.committerDone
		<-s.moverDone
		err = s.db.Close()
		if kerr := s.keys.Close(); err == nil {
			err = kerr
		}
		if err != nil {
			err = fmt.Errorf("store: close: %w", err)
		}
	})
	return err
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Config returns the configuration the store runs with.
func (s *Store) Config() Config { return s.cfg }

// update runs fn in a write transaction, waiting for its turn no longer
// than ctx allows. Every write of the content database goes through it.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writer }()
	return s.db.Update(fn)
}

// view runs fn in a read transaction once ctx allows it.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

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
func listJSON[T any](ctx context.Context, s *Store, b []byte) ([]T, error) {
	var out []T
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(b).ForEach(func(k, v []byte) error {
			var t T
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("store: decode %s/%s: %w", b, k, err)
			}
			out = append(out, t)
			return ctx.Err()
		})
	})
	return out, err
}

var _ io.Closer = (*Store)(nil)
