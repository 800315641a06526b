package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// KeysFile is the key store's file name inside the data directory.
const KeysFile = "keys.db"

// ErrPurged is returned for an engagement whose data key was destroyed.
var ErrPurged = errors.New("store: engagement purged")

// dekCacheSize bounds the unwrapped data keys kept in memory (live
// engagements), so the hot path does not call the KEK provider per write.
const dekCacheSize = 8192

// keyring is the key store: keys.db plus the KEK provider.
type keyring struct {
	path     string
	provider KeyProvider
	timeout  time.Duration

	// mu guards db: writers of the handle itself (compaction swaps the
	// file) take it exclusively, everything else shares it.
	mu sync.RWMutex
	db *bbolt.DB

	cacheMu sync.Mutex
	cache   map[engID][]byte // +checklocks:cacheMu

	// fresh is set when init found an empty key store.
	fresh bool

	indexKey []byte // blind index of customer references
	auditKey []byte // MAC of the audit chain
}

func openKeyring(ctx context.Context, dir string, p KeyProvider, timeout time.Duration) (*keyring, error) {
	k := &keyring{path: filepath.Join(dir, KeysFile), provider: p, timeout: timeout, cache: map[engID][]byte{}}
	if err := k.openDB(); err != nil {
		return nil, err
	}
	if err := k.init(ctx); err != nil {
		k.db.Close()
		return nil, err
	}
	return k, nil
}

func (k *keyring) openDB() error {
	db, err := bbolt.Open(k.path, 0o600, &bbolt.Options{Timeout: k.timeout})
	if err != nil {
		return fmt.Errorf("store: open %s: %w", k.path, err)
	}
	if err := db.Update(unsafeMigrateKeys); err != nil {
		db.Close()
		return fmt.Errorf("store: %s: %w", k.path, err)
	}
	k.db = db
	return nil
}

func (k *keyring) close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cacheMu.Lock()
	clear(k.cache)
	k.cacheMu.Unlock()
	err := k.db.Close()
	if perr := k.provider.Close(); err == nil {
		err = perr
	}
	return err
}

func getU32(b *bbolt.Bucket, key []byte) uint32 {
	v := b.Get(key)
	if len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func putU32(b *bbolt.Bucket, key []byte, v uint32) error {
	return b.Put(key, binary.BigEndian.AppendUint32(nil, v))
}

// versions returns the current and target KEK versions.
func (k *keyring) versions() (cur, target uint32, err error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	err = k.db.View(func(tx *bbolt.Tx) error {
		m := tx.Bucket(keysBucketMeta)
		cur, target = getU32(m, keyKEKCurrent), getU32(m, keyKEKTarget)
		return nil
	})
	return
}

var siteSecretsAAD = []byte("earshot-site-secrets")

// init creates KEK version 1 on a new key store and loads (or creates) the
// site secrets.
func (k *keyring) init(ctx context.Context) error {
	cur, target, err := k.versions()
	if err != nil {
		return err
	}
	if cur == 0 {
		k.fresh = true
		if err := k.provider.CreateKEK(ctx, 1); err != nil {
			return fmt.Errorf("store: create kek version 1: %w", err)
		}
		err := k.db.Update(func(tx *bbolt.Tx) error {
			m := tx.Bucket(keysBucketMeta)
			if err := putU32(m, keyKEKCurrent, 1); err != nil {
				return err
			}
			return putU32(m, keyKEKTarget, 1)
		})
		if err != nil {
			return fmt.Errorf("store: keys meta: %w", err)
		}
		target = 1
	}
	var wrapped []byte
	k.db.View(func(tx *bbolt.Tx) error {
		wrapped = append([]byte(nil), tx.Bucket(keysBucketMeta).Get(keySiteSecrets)...)
		return nil
	})
	var secrets []byte
	if len(wrapped) == 0 {
		secrets = make([]byte, 2*keySize)
		a, err := randomKey()
		if err != nil {
			return err
		}
		b, err := randomKey()
		if err != nil {
			return err
		}
		copy(secrets, a)
		copy(secrets[keySize:], b)
		w, err := k.provider.Wrap(ctx, target, secrets, siteSecretsAAD)
		if err != nil {
			return fmt.Errorf("store: wrap site secrets: %w", err)
		}
		rec := binary.BigEndian.AppendUint32(nil, target)
		rec = append(rec, w...)
		if err := k.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(keysBucketMeta).Put(keySiteSecrets, rec)
		}); err != nil {
			return fmt.Errorf("store: keys meta: %w", err)
		}
	} else {
		if len(wrapped) < 5 {
			return fmt.Errorf("store: site secrets record: %w", ErrTampered)
		}
		secrets, err = k.provider.Unwrap(ctx, binary.BigEndian.Uint32(wrapped), wrapped[4:], siteSecretsAAD)
		if err != nil {
			return fmt.Errorf("store: unwrap site secrets (is this the right key provider?): %w", err)
		}
		if len(secrets) != 2*keySize {
			return fmt.Errorf("store: site secrets: %w", ErrTampered)
		}
	}
	k.indexKey, k.auditKey = secrets[:keySize], secrets[keySize:]
	return nil
}

func dekAAD(id engID) []byte {
	return append([]byte("earshot-dek\x00"), id[:]...)
}

// errTargetMoved makes newDEK wrap again: a rotation changed the target
// KEK version between the wrap and the write.
var errTargetMoved = errors.New("store: kek target moved")

// newDEK generates, wraps and stores the data key of a new engagement. The
// write checks, in its transaction, that the KEK version it wrapped under
// is still the target, so a rotation's scan (which starts after the target
// is set) cannot miss a key wrapped under the old version.
func (k *keyring) newDEK(ctx context.Context, id engID) ([]byte, error) {
	dek, err := randomKey()
	if err != nil {
		return nil, err
	}
	for {
		_, target, err := k.versions()
		if err != nil {
			return nil, err
		}
		w, err := k.provider.Wrap(ctx, target, dek, dekAAD(id))
		if err != nil {
			return nil, fmt.Errorf("store: wrap data key: %w", err)
		}
		rec := binary.BigEndian.AppendUint32(nil, target)
		rec = append(rec, w...)
		k.mu.RLock()
		err = k.db.Update(func(tx *bbolt.Tx) error {
			if getU32(tx.Bucket(keysBucketMeta), keyKEKTarget) != target {
				return errTargetMoved
			}
			if tx.Bucket(keysBucketShredded).Get(id[:]) != nil {
				return ErrPurged
			}
			if tx.Bucket(keysBucketDEKs).Get(id[:]) != nil {
				return ErrExists
			}
			return tx.Bucket(keysBucketDEKs).Put(id[:], rec)
		})
		k.mu.RUnlock()
		if errors.Is(err, errTargetMoved) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: data key of %s: %w", id, err)
		}
		k.remember(id, dek)
		return dek, nil
	}
}

func (k *keyring) remember(id engID, dek []byte) {
	k.cacheMu.Lock()
	defer k.cacheMu.Unlock()
	if len(k.cache) >= dekCacheSize {
		for old := range k.cache { // evict an arbitrary entry
			delete(k.cache, old)
			break
		}
	}
	k.cache[id] = dek
}

func (k *keyring) forget(id engID) {
	k.cacheMu.Lock()
	delete(k.cache, id)
	k.cacheMu.Unlock()
}

// dek returns the unwrapped data key of an engagement: ErrPurged if it was
// destroyed, ErrNotFound if it never existed.
func (k *keyring) dek(ctx context.Context, id engID) ([]byte, error) {
	k.cacheMu.Lock()
	dek, ok := k.cache[id]
	k.cacheMu.Unlock()
	if ok {
		return dek, nil
	}
	var rec []byte
	k.mu.RLock()
	err := k.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(keysBucketShredded).Get(id[:]) != nil {
			return ErrPurged
		}
		v := tx.Bucket(keysBucketDEKs).Get(id[:])
		if v == nil {
			return ErrNotFound
		}
		rec = append([]byte(nil), v...)
		return nil
	})
	k.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("store: data key of %s: %w", id, err)
	}
	if len(rec) < 5 {
		return nil, fmt.Errorf("store: data key of %s: %w", id, ErrTampered)
	}
	dek, err = k.provider.Unwrap(ctx, binary.BigEndian.Uint32(rec), rec[4:], dekAAD(id))
	if err != nil {
		return nil, fmt.Errorf("store: unwrap data key of %s: %w", id, err)
	}
	k.remember(id, dek)
	return dek, nil
}

// shred destroys the data keys of ids and records tombstones, durably,
// before any content record is deleted (crypto-shredding).
func (k *keyring) shred(ids []engID, at time.Time) error {
	for _, id := range ids {
		k.forget(id)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.db.Update(func(tx *bbolt.Tx) error {
		d, s := tx.Bucket(keysBucketDEKs), tx.Bucket(keysBucketShredded)
		for _, id := range ids {
			if err := d.Delete(id[:]); err != nil {
				return err
			}
			if err := s.Put(id[:], binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))); err != nil {
				return err
			}
		}
		return nil
	})
}

// shredded lists the engagements whose keys were destroyed.
func (k *keyring) shredded() (map[engID]bool, error) {
	out := map[engID]bool{}
	k.mu.RLock()
	defer k.mu.RUnlock()
	err := k.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(keysBucketShredded).ForEach(func(key, _ []byte) error {
			var id engID
			copy(id[:], key)
			out[id] = true
			return nil
		})
	})
	return out, err
}

// compact rewrites keys.db into a fresh file so that destroyed data keys no
// longer sit in its free pages, then swaps it in.
func (k *keyring) compact() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	tmp := k.path + ".compact"
	os.Remove(tmp)
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: k.timeout})
	if err != nil {
		return fmt.Errorf("store: compact keys: %w", err)
	}
	if err := bbolt.Compact(dst, k.db, 0); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("store: compact keys: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: compact keys: %w", err)
	}
	if err := k.db.Close(); err != nil {
		return fmt.Errorf("store: compact keys: %w", err)
	}
	if err := os.Rename(tmp, k.path); err != nil {
		return fmt.Errorf("store: compact keys: %w", err)
	}
	if err := syncDir(filepath.Dir(k.path)); err != nil {
		return err
	}
	return k.openDB()
}
