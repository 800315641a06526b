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
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/earshot/earshot/store/internal/dbfile"
	"github.com/earshot/earshot/store/keys"
)

// Sentinel errors of the store.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	// ErrReadOnly is returned for a write to a store opened to verify it.
	ErrReadOnly = errors.New("store: opened read-only")
	// ErrInUse is returned when another process (a running daemon) holds
	// the data directory that OpenReadOnly or Reseal was asked to open.
	ErrInUse = errors.New("store: data directory in use by another process (a running daemon?)")
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
	ikeys   integrityKeys
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
	writer dbfile.Gate
	closed bool // +checklocks:writer (held as the writer slot)

	// counter is the integrity counter of this run (integrity.go); 0
	// until Open checked the files.
	counter uint64
	// running: the committer and the mover run (Open). readOnly: opened
	// to verify (OpenReadOnly), every write is refused.
	running, readOnly bool

	sweepMu sync.Mutex // one sweep or purge at a time
	now     func() time.Time

	// crashPoint, when set (by crash tests only), is called between the
	// steps of a purge ("purge.shredded", "purge.deleted"), so that a
	// test process can be killed exactly there.
	crashPoint func(point string)

	// plaintextForBench disables sealing; set only by benchmarks that
	// measure what encryption costs.
	plaintextForBench bool
}

// DBFile is the content database's file name inside the data directory.
const DBFile = "earshot.db"

// Open opens (creating if needed) the content database and the key store in
// opts.Dir, migrates their schemas, connects the KEK provider (creating KEK
// version 1 on first start), checks the integrity of the records and the
// audit log (integrity.go) and refuses to open on a change made outside
// Earshot, naming the record; then it completes any purge a crash
// interrupted and starts the group committer. ctx bounds the calls to the
// key provider (a key service or an HSM) made while opening.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := openFiles(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := s.checkAndAdvance(ctx); err != nil {
		s.closeFiles()
		var ie *IntegrityError
		if errors.As(err, &ie) {
			s.metrics.tampered.Inc()
			return nil, fmt.Errorf("%w (a deliberate offline change is accepted with `earshot audit reseal`)", err)
		}
		return nil, err
	}
	if err := s.loadJournal(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("store: load segment journal: %w", err)
	}
	if n, err := s.finishPurges(ctx); err != nil {
		s.closeFiles()
		return nil, err
	} else if n > 0 {
		s.logger.Warn("completed purges interrupted by a crash", "engagements", n)
	}
	s.running = true
	go s.runCommitter()
	go s.runMover()
	return s, nil
}

func (o *Options) setDefaults() error {
	if o.Dir == "" {
		return errors.New("store: data directory not set")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 5 * time.Second
	}
	if reflect.ValueOf(o.Config).IsZero() {
		o.Config = DefaultConfig()
	}
	if err := o.Config.Validate(); err != nil {
		return err
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return nil
}

// newStore builds a Store around open files; nothing runs yet.
func newStore(db *bbolt.DB, ring *keys.Ring, opts Options, m *metrics) (*Store, error) {
	ik, err := deriveIntegrityKeys(ring.AuditKey())
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Store{
		db: db, keys: ring, ikeys: ik, dir: opts.Dir, cfg: opts.Config,
		logger:        opts.Logger.With("component", "store"),
		metrics:       m,
		writer:        dbfile.NewGate(),
		commitCh:      make(chan commitReq, 4*opts.Config.GroupCommit.MaxBatch),
		stopping:      make(chan struct{}),
		committerDone: make(chan struct{}),
		moverDone:     make(chan struct{}),
		moveEvery:     moveInterval,
		now:           time.Now,
	}, nil
}

// openFiles opens keys.db and earshot.db for writing and migrates both; it
// checks nothing of their integrity.
func openFiles(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer, opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	if err := prepareUpgrade(opts.Dir, opts.Logger, time.Now()); err != nil {
		return nil, err
	}
	p := opts.Provider
	if p == nil {
		if p, err = keys.NewProvider(opts.Config.Keys, opts.Dir); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	p = countedProvider{Provider: p, failures: m.keyFailures}
	ring, err := keys.Open(ctx, filepath.Join(opts.Dir, KeysFile), p, keys.Options{LockTimeout: opts.LockTimeout, Logger: opts.Logger.With("component", "keys")})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(opts.Dir, DBFile)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.LockTimeout, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if errors.Is(err, bberrors.ErrTimeout) {
		err = ErrInUse
	}
	if err != nil {
		ring.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s, err := newStore(db, ring, opts, m)
	if err != nil {
		db.Close()
		ring.Close()
		return nil, err
	}
	var existing, sealed bool
	var engagements int
	db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			existing = unsafeSchemaVersion(tx) != 0
			sealed = b.Get(keyIntegritySeal) != nil
		}
		if b := tx.Bucket(bucketEngagements); b != nil {
			engagements = b.Stats().KeyN
		}
		return nil
	})
	if ring.Fresh() && existing && (engagements > 0 || sealed) {
		s.closeFiles()
		os.Remove(filepath.Join(opts.Dir, KeysFile))
		if engagements > 0 {
			return nil, fmt.Errorf("store: %s is missing or empty but %s holds %d engagements: restore the key backup (RestoreKeys) before starting", KeysFile, DBFile, engagements)
		}
		return nil, fmt.Errorf("store: %s is missing or empty but %s was sealed under the site keys it held: restore the key backup (RestoreKeys) before starting", KeysFile, DBFile)
	}
	if err := db.Update(s.unsafeMigrate); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

// checkAndAdvance checks the integrity of the content database and its
// seal against the checkpoint of keys.db, then starts a new run: the
// checkpoint takes the next counter first, then the seal. (Stopping
// between the two leaves a seal one behind an identical checkpoint, which
// the next check accepts.)
func (s *Store) checkAndAdvance(ctx context.Context) error {
	var x integritySeal
	var m integrityMark
	err := s.db.View(func(tx *bbolt.Tx) error {
		c, err := s.unsafeCheckIntegrity(tx, s.now())
		if err != nil {
			return err
		}
		x = c.seal
		m, _, err = s.readMark()
		if err != nil {
			return err
		}
		if m.Counter == 0 {
			s.logger.Info("no integrity checkpoint in the key store yet: writing the first one")
			return nil
		}
		return unsafeCheckMark(tx, x, m)
	})
	if err != nil {
		return err
	}
	return s.advance(ctx, max(x.Counter, m.Counter)+1, x)
}

// advance moves the counter to next: checkpoint first (not clean: the run
// starts), then the seal.
func (s *Store) advance(ctx context.Context, next uint64, x integritySeal) error {
	s.counter = next
	x.Counter = next
	if err := s.keys.PutCheckpoint(ctx, markOf(x, false).payload()); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := s.update(ctx, func(tx *bbolt.Tx) error { return s.unsafeReseal(tx, false) }); err != nil {
		return fmt.Errorf("store: seal: %w", err)
	}
	return nil
}

// Close stops the group committer (committing what it was handed), refuses
// later writes, records a clean checkpoint of the final state in keys.db,
// then closes both databases and the key provider.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.running {
			close(s.stopping)
			<-s.committerDone
			<-s.moverDone
		}
		// Wait for a write under way; every later one gets ErrClosed.
		s.writer.Enter(context.Background())
		s.closed = true
		s.writer.Leave()
		if s.counter > 0 && !s.readOnly {
			err = s.markClean()
		}
		if cerr := s.closeFiles(); err == nil {
			err = cerr
		}
	})
	return err
}

// markClean records the final state in keys.db: the next Open requires
// exactly it.
func (s *Store) markClean() error {
	var x integritySeal
	var valid bool
	s.db.View(func(tx *bbolt.Tx) error { x, _, valid = s.unsafeReadSeal(tx); return nil })
	if !valid || x.Counter != s.counter {
		return fmt.Errorf("store: close: the integrity seal changed under the store")
	}
	if err := s.keys.PutCheckpoint(context.Background(), markOf(x, true).payload()); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// closeFiles closes both databases and the key provider.
func (s *Store) closeFiles() error {
	err := s.db.Close()
	if kerr := s.keys.Close(); err == nil {
		err = kerr
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Config returns the configuration the store runs with.
func (s *Store) Config() Config { return s.cfg }

// update runs fn in a write transaction, waiting for its turn no longer
// than ctx allows. Every write of the content database goes through it.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := s.writer.Enter(ctx); err != nil {
		return err
	}
	defer s.writer.Leave()
	if s.closed {
		return ErrClosed
	}
	if s.readOnly {
		return ErrReadOnly
	}
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
