package keys

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/earshot/earshot/store/internal/dbfile"
)

// Sentinel errors of the key store.
var (
	// ErrShredded is returned for an engagement whose data key a purge
	// destroyed.
	ErrShredded = errors.New("keys: data key destroyed")
	// ErrNoDataKey is returned for an engagement that never had a data key.
	ErrNoDataKey = errors.New("keys: no data key")
	// ErrDataKeyExists is returned by NewDEK for an ID that already has one.
	ErrDataKeyExists = errors.New("keys: data key exists")
	// ErrClosed is returned once the ring is closed.
	ErrClosed = errors.New("keys: closed")
	// ErrReadOnly is returned for a write to a ring opened read-only.
	ErrReadOnly = errors.New("keys: opened read-only")
	// ErrInUse is returned when another process (a running daemon) holds
	// the key store.
	ErrInUse = errors.New("keys: key store in use by another process")
)

// ID identifies an engagement: 16 random bytes.
type ID = [16]byte

// dekCacheSize bounds the unwrapped data keys kept in memory (live
// engagements), so the hot path does not call the KEK provider per write.
const dekCacheSize = 8192

// Options configures Open.
type Options struct {
	// LockTimeout bounds the wait for another process holding keys.db
	// (default 5s).
	LockTimeout time.Duration
	// Logger receives the ring's logs; nil discards them.
	Logger *slog.Logger
	// ReadOnly opens an existing key store to verify it (offline, or a key
	// backup): nothing is created, migrated or written, and the file lock
	// is shared, so a daemon holding the store makes Open fail with
	// ErrInUse.
	ReadOnly bool
}

// Ring is the open key store: keys.db plus the KEK provider. It is safe for
// concurrent use.
type Ring struct {
	path     string
	provider Provider
	timeout  time.Duration
	logger   *slog.Logger
	readOnly bool

	// writer admits one keys.db write transaction at a time, so that a
	// writer waiting its turn can give up when its context ends (bbolt's own
	// lock cannot be left).
	writer dbfile.Gate

	// mu guards db: compaction (which swaps the file) takes it exclusively,
	// everything else shares it.
	mu sync.RWMutex
	db *bbolt.DB // +checklocks:mu

	cacheMu sync.Mutex
	cache   map[cacheKey][]byte // +checklocks:cacheMu

	rotateMu sync.Mutex // one rotation at a time

	closed bool // +checklocks:mu

	fresh    bool
	indexKey []byte
	auditKey []byte
	// checkpointed is set in the wrapped site secrets once a checkpoint
	// was written: from then on a missing checkpoint is tampering.
	checkpointed atomic.Bool
}

// Open opens (creating if needed) the key store at path, migrates it,
// creates KEK version 1 through p on a new store, and unwraps (or creates)
// the site secrets. The ring owns p from then on and closes it at Close,
// or at once if Open fails.
func Open(ctx context.Context, path string, p Provider, opts Options) (*Ring, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Ring{path: path, provider: p, timeout: opts.LockTimeout, logger: opts.Logger, readOnly: opts.ReadOnly,
		writer: dbfile.NewGate(), cache: map[cacheKey][]byte{}}
	db, err := r.openDB()
	if err != nil {
		p.Close()
		return nil, err
	}
	r.db = db
	if err := r.init(ctx); err != nil {
		db.Close()
		p.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) openDB() (*bbolt.DB, error) {
	db, err := bbolt.Open(r.path, 0o600, &bbolt.Options{Timeout: r.timeout, ReadOnly: r.readOnly})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("keys: open %s: %w", r.path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: open %s: %w", r.path, err)
	}
	if r.readOnly {
		if err := db.View(unsafeCheckSchema); err != nil {
			db.Close()
			return nil, fmt.Errorf("keys: %s: %w", r.path, err)
		}
		return db, nil
	}
	if err := db.Update(unsafeMigrate); err != nil {
		db.Close()
		return nil, fmt.Errorf("keys: %s: %w", r.path, err)
	}
	return db, nil
}

// Close closes keys.db and the provider, and forgets every cached key.
func (r *Ring) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cacheMu.Lock()
	clear(r.cache)
	r.cacheMu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var err error
	if r.db != nil {
		err = r.db.Close()
		r.db = nil
	}
	if perr := r.provider.Close(); err == nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("keys: close: %w", err)
	}
	return nil
}

// Fresh reports whether Open found an empty key store (and created KEK
// version 1 and the site secrets).
func (r *Ring) Fresh() bool { return r.fresh }

// IndexKey is the site secret keying the blind index of customer
// references (and, derived, the knowledge-base sealing key).
func (r *Ring) IndexKey() []byte { return r.indexKey }

// AuditKey is the site secret keying the audit chain's MACs.
func (r *Ring) AuditKey() []byte { return r.auditKey }

// ProviderName names the KEK provider.
func (r *Ring) ProviderName() string { return r.provider.Name() }

// view runs fn in a read transaction on keys.db.
func (r *Ring) view(fn func(tx *bbolt.Tx) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.db == nil {
		return ErrClosed
	}
	return r.db.View(fn)
}

// update runs fn in a write transaction on keys.db, waiting for its turn
// no longer than ctx allows.
func (r *Ring) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if r.readOnly {
		return ErrReadOnly
	}
	if err := r.writer.Enter(ctx); err != nil {
		return err
	}
	defer r.writer.Leave()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.db == nil {
		return ErrClosed
	}
	return r.db.Update(fn)
}

// Versions returns the current KEK version and the target of a rotation
// under way (equal when none is).
func (r *Ring) Versions() (current, target uint32, err error) {
	err = r.view(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		current, target = getU32(m, keyKEKCurrent), getU32(m, keyKEKTarget)
		return nil
	})
	return
}

var siteSecretsAAD = []byte("earshot-site-secrets")

// init creates KEK version 1 on a new key store and loads (or creates) the
// site secrets.
func (r *Ring) init(ctx context.Context) error {
	cur, target, err := r.Versions()
	if err != nil {
		return err
	}
	if cur == 0 && r.readOnly {
		return errors.New("keys: not an initialised key store (no KEK version recorded)")
	}
	if cur == 0 {
		r.fresh = true
		if err := r.provider.CreateKEK(ctx, 1); err != nil {
			return fmt.Errorf("keys: create kek version 1: %w", err)
		}
		err := r.update(ctx, func(tx *bbolt.Tx) error {
			m := tx.Bucket(bucketMeta)
			if err := putU32(m, keyKEKCurrent, 1); err != nil {
				return err
			}
			return putU32(m, keyKEKTarget, 1)
		})
		if err != nil {
			return fmt.Errorf("keys: meta: %w", err)
		}
		target = 1
	}
	var wrapped []byte
	r.view(func(tx *bbolt.Tx) error {
		wrapped = append([]byte(nil), tx.Bucket(bucketMeta).Get(keySiteSecrets)...)
		return nil
	})
	var secrets []byte
	if len(wrapped) == 0 && r.readOnly {
		return fmt.Errorf("keys: site secrets missing: %w", ErrTampered)
	}
	if len(wrapped) == 0 {
		a, err := NewKey()
		if err != nil {
			return err
		}
		b, err := NewKey()
		if err != nil {
			return err
		}
		secrets = append(a, b...)
		w, err := r.provider.Wrap(ctx, target, secrets, siteSecretsAAD)
		if err != nil {
			return fmt.Errorf("keys: wrap site secrets: %w", err)
		}
		rec := append(binary.BigEndian.AppendUint32(nil, target), w...)
		if err := r.update(ctx, func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySiteSecrets, rec)
		}); err != nil {
			return fmt.Errorf("keys: meta: %w", err)
		}
	} else {
		if len(wrapped) < 5 {
			return fmt.Errorf("keys: site secrets record: %w", ErrTampered)
		}
		secrets, err = r.provider.Unwrap(ctx, binary.BigEndian.Uint32(wrapped), wrapped[4:], siteSecretsAAD)
		if err != nil {
			return fmt.Errorf("keys: unwrap site secrets (is this the right key provider?): %w", err)
		}
		switch {
		case len(secrets) == 2*KeySize:
		case len(secrets) == 2*KeySize+1 && secrets[2*KeySize]&flagCheckpointed != 0:
			r.checkpointed.Store(true)
		default:
			return fmt.Errorf("keys: site secrets: %w", ErrTampered)
		}
	}
	r.indexKey, r.auditKey = secrets[:KeySize], secrets[KeySize:2*KeySize]
	return nil
}

// keyClass is a kind of per-engagement key: the data key that seals an
// engagement's content, or the key of its sealed unredacted copy.
type keyClass struct {
	id     byte   // in the cache's keys
	bucket []byte // of the wrapped keys
	// shredded are the tombstone buckets that say the key was destroyed.
	shredded [][]byte
	aad      string
}

var (
	dataKeys     = &keyClass{id: 0, bucket: bucketDEKs, shredded: [][]byte{bucketShredded}, aad: "earshot-dek\x00"}
	originalKeys = &keyClass{id: 1, bucket: bucketOriginalKeys, shredded: [][]byte{bucketShredded, bucketOriginalShredded},
		aad: "earshot-original-key\x00"}
	keyClasses = []*keyClass{dataKeys, originalKeys}
)

func (c *keyClass) wrapAAD(id ID) []byte { return append([]byte(c.aad), id[:]...) }

// isShredded reports whether a tombstone says the key of id was destroyed.
// A bucket missing from an older read-only key store holds none.
func (c *keyClass) isShredded(tx *bbolt.Tx, id ID) bool {
	for _, b := range c.shredded {
		if bk := tx.Bucket(b); bk != nil && bk.Get(id[:]) != nil {
			return true
		}
	}
	return false
}

type cacheKey struct {
	class byte
	id    ID
}

// errTargetMoved makes NewDEK wrap again: a rotation changed the target
// KEK version between the wrap and the write.
var errTargetMoved = errors.New("keys: kek target moved")

// NewDEK generates, wraps and stores the data key of a new engagement. The
// write checks, in its transaction, that the KEK version it wrapped under
// is still the target, so a rotation's scan (which starts after the target
// is set) cannot miss a key wrapped under the old version.
func (r *Ring) NewDEK(ctx context.Context, id ID) ([]byte, error) {
	return r.newKey(ctx, dataKeys, id)
}

func (r *Ring) newKey(ctx context.Context, c *keyClass, id ID) ([]byte, error) {
	dek, err := NewKey()
	if err != nil {
		return nil, err
	}
	for {
		_, target, err := r.Versions()
		if err != nil {
			return nil, err
		}
		w, err := r.provider.Wrap(ctx, target, dek, c.wrapAAD(id))
		if err != nil {
			return nil, fmt.Errorf("keys: wrap data key: %w", err)
		}
		rec := append(binary.BigEndian.AppendUint32(nil, target), w...)
		err = r.update(ctx, func(tx *bbolt.Tx) error {
			if getU32(tx.Bucket(bucketMeta), keyKEKTarget) != target {
				return errTargetMoved
			}
			if c.isShredded(tx, id) {
				return ErrShredded
			}
			if tx.Bucket(c.bucket).Get(id[:]) != nil {
				return ErrDataKeyExists
			}
			return tx.Bucket(c.bucket).Put(id[:], rec)
		})
		if errors.Is(err, errTargetMoved) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("keys: %s of %x: %w", c.name(), id, err)
		}
		r.remember(c, id, dek)
		return dek, nil
	}
}

func (c *keyClass) name() string {
	if c == originalKeys {
		return "unredacted copy's key"
	}
	return "data key"
}

func (r *Ring) remember(c *keyClass, id ID, dek []byte) {
	r.cacheMu.Lock()
	defer r.cacheMu.Unlock()
	if len(r.cache) >= dekCacheSize {
		for old := range r.cache { // evict an arbitrary entry
			delete(r.cache, old)
			break
		}
	}
	r.cache[cacheKey{c.id, id}] = dek
}

func (r *Ring) forget(c *keyClass, id ID) {
	r.cacheMu.Lock()
	delete(r.cache, cacheKey{c.id, id})
	r.cacheMu.Unlock()
}

// DEK returns the unwrapped data key of an engagement: ErrShredded if a
// purge destroyed it, ErrNoDataKey if it never existed.
func (r *Ring) DEK(ctx context.Context, id ID) ([]byte, error) {
	return r.key(ctx, dataKeys, id)
}

func (r *Ring) key(ctx context.Context, c *keyClass, id ID) ([]byte, error) {
	r.cacheMu.Lock()
	dek, ok := r.cache[cacheKey{c.id, id}]
	r.cacheMu.Unlock()
	if ok {
		return dek, nil
	}
	var rec []byte
	err := r.view(func(tx *bbolt.Tx) error {
		if c.isShredded(tx, id) {
			return ErrShredded
		}
		var v []byte
		if b := tx.Bucket(c.bucket); b != nil {
			v = b.Get(id[:])
		}
		if v == nil {
			return ErrNoDataKey
		}
		rec = append([]byte(nil), v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("keys: %s of %s: %w", c.name(), hex.EncodeToString(id[:]), err)
	}
	if len(rec) < 5 {
		return nil, fmt.Errorf("keys: %s of %s: %w", c.name(), hex.EncodeToString(id[:]), ErrTampered)
	}
	dek, err = r.provider.Unwrap(ctx, binary.BigEndian.Uint32(rec), rec[4:], c.wrapAAD(id))
	if err != nil {
		return nil, fmt.Errorf("keys: unwrap %s of %s: %w", c.name(), hex.EncodeToString(id[:]), err)
	}
	r.remember(c, id, dek)
	return dek, nil
}

// Shred destroys the data keys of ids and records tombstones, durably,
// before any content record is deleted (crypto-shredding).
func (r *Ring) Shred(ctx context.Context, ids []ID, at time.Time) error {
	for _, id := range ids {
		for _, c := range keyClasses {
			r.forget(c, id)
		}
	}
	return r.update(ctx, func(tx *bbolt.Tx) error {
		d, o, s := tx.Bucket(bucketDEKs), tx.Bucket(bucketOriginalKeys), tx.Bucket(bucketShredded)
		for _, id := range ids {
			if err := d.Delete(id[:]); err != nil {
				return err
			}
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

// Shredded lists the engagements whose data keys were destroyed.
func (r *Ring) Shredded(ctx context.Context) (map[ID]bool, error) {
	out := map[ID]bool{}
	err := r.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketShredded).ForEach(func(key, _ []byte) error {
			var id ID
			copy(id[:], key)
			out[id] = true
			return ctx.Err()
		})
	})
	return out, err
}

// DEKsByVersion counts the wrapped per-engagement keys (data keys and
// the unredacted copies' keys) by the KEK version they are wrapped
// under: during a rotation, its progress.
func (r *Ring) DEKsByVersion(ctx context.Context) (map[uint32]int, error) {
	out := map[uint32]int{}
	err := r.view(func(tx *bbolt.Tx) error {
		for _, c := range keyClasses {
			b := tx.Bucket(c.bucket)
			if b == nil {
				continue
			}
			if err := b.ForEach(func(_, v []byte) error {
				if len(v) >= 4 {
					out[binary.BigEndian.Uint32(v)]++
				}
				return ctx.Err()
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Backup writes a consistent copy of keys.db (the wrapped data keys) to w.
// The KEK itself is never in it.
func (r *Ring) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := r.view(func(tx *bbolt.Tx) error {
		var err error
		n, err = dbfile.WriteTo(ctx, tx, w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("keys: backup: %w", err)
	}
	return n, nil
}

// Compact rewrites keys.db into a fresh file so that destroyed data keys no
// longer sit in its free pages, then swaps it in.
func (r *Ring) Compact(ctx context.Context) error {
	if r.readOnly {
		return ErrReadOnly
	}
	if err := r.writer.Enter(ctx); err != nil {
		return err
	}
	defer r.writer.Leave()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db == nil {
		return ErrClosed
	}
	tmp := r.path + ".compact"
	os.Remove(tmp)
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: r.timeout})
	if err != nil {
		return fmt.Errorf("keys: compact: %w", err)
	}
	if err := bbolt.Compact(dst, r.db, 0); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("keys: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keys: compact: %w", err)
	}
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("keys: compact: %w", err)
	}
	r.db = nil
	renameErr := os.Rename(tmp, r.path)
	if renameErr != nil {
		os.Remove(tmp)
	} else if err := dbfile.SyncDir(filepath.Dir(r.path)); err != nil {
		renameErr = err
	}
	// Reopen whichever file is in place: the compacted one, or the
	// original if the swap failed.
	db, err := r.openDB()
	if err != nil {
		return err
	}
	r.db = db
	if renameErr != nil {
		return fmt.Errorf("keys: compact: %w", renameErr)
	}
	return nil
}

// CheckFile runs bbolt's consistency check on a key store file (or a key
// backup) and checks that it is one.
func CheckFile(path string) error { return dbfile.Check(path, bucketMeta, bucketDEKs) }
