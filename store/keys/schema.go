package keys

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// keys.db holds the engagements' data keys wrapped by the site's KEK and
// the site secrets, and is backed up on its own (Ring.Backup), so that a
// content backup never contains a data key. Engagement IDs are 16 bytes.

// Buckets of keys.db, created at Open.
var (
	// bucketMeta holds fixed keys: keySchemaVersion, keyKEKCurrent,
	// keyKEKTarget, keySiteSecrets.
	bucketMeta = []byte("meta")
	// bucketDEKs: engagement ID (16) -> wrapped data key
	// (KEK version (4) | provider ciphertext).
	bucketDEKs = []byte("deks")
	// bucketShredded: engagement ID (16) -> purge time (8, unix ns): the
	// data key was destroyed; the content records may still be awaiting
	// deletion if the process died between the two steps of a purge.
	bucketShredded = []byte("shredded")
	// bucketOriginalKeys (from schema 3): engagement ID (16) -> wrapped
	// key of the engagement's sealed unredacted copy (KEK version (4) |
	// provider ciphertext): a key of its own, destroyed when the copy's
	// retention ends, and with the data key at a purge.
	bucketOriginalKeys = []byte("original_keys")
	// bucketOriginalShredded (from schema 3): engagement ID (16) -> time
	// (8, unix ns) the unredacted copy's key was destroyed.
	bucketOriginalShredded = []byte("original_shredded")

	// baseBuckets are those of every schema; allBuckets those of this one.
	baseBuckets = [][]byte{bucketMeta, bucketDEKs, bucketShredded}
	allBuckets  = [][]byte{bucketMeta, bucketDEKs, bucketShredded, bucketOriginalKeys, bucketOriginalShredded}
)

// Fixed keys of bucketMeta.
var (
	keySchemaVersion = []byte("schema_version")
	// keyKEKCurrent: KEK version (4) every data key is wrapped under once no
	// rotation is under way.
	keyKEKCurrent = []byte("kek_current")
	// keyKEKTarget: KEK version (4) new wraps use; differs from current while
	// a rotation is under way (and after it was interrupted).
	keyKEKTarget = []byte("kek_target")
	// keySiteSecrets: wrapped site secrets: KEK version (4) | ciphertext of
	// the blind-index key (32), the audit MAC key (32) and, from schema 2,
	// a flags byte (flagCheckpointed).
	keySiteSecrets = []byte("site_secrets")
	// keyCheckpoint: the store's integrity checkpoint (checkpoint.go):
	// payload | HMAC-SHA-256 (32).
	keyCheckpoint = []byte("checkpoint")
)

// flagCheckpointed, in the site secrets' flags byte: a checkpoint exists,
// so its absence is tampering. The KEK authenticates the flag.
const flagCheckpointed = 1

// schemaVersion is the version of keys.db this build writes. Open refuses
// newer files.
const schemaVersion = 3

// migrations[v] upgrades keys.db from version v to v+1, inside the
// transaction Open runs (after every bucket of allBuckets exists).
var migrations = map[uint64]func(tx *bbolt.Tx) error{
	// 1 -> 2: the checkpoint and the site secrets' flags byte, both
	// written when the store first records a checkpoint.
	1: func(*bbolt.Tx) error { return nil },
	// 2 -> 3: the buckets of the unredacted copies' keys, created by
	// unsafeMigrate.
	2: func(*bbolt.Tx) error { return nil },
}

func unsafeSchemaVersion(tx *bbolt.Tx) uint64 {
	v := tx.Bucket(bucketMeta).Get(keySchemaVersion)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// unsafeMigrate creates every bucket and brings the schema to
// schemaVersion.
func unsafeMigrate(tx *bbolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	v := unsafeSchemaVersion(tx)
	if v == 0 { // new file
		v = schemaVersion
	}
	if v > schemaVersion {
		return fmt.Errorf("key store schema version %d is newer than this build's %d: upgrade earshot", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		m, ok := migrations[v]
		if !ok {
			return fmt.Errorf("no migration from key store schema version %d", v)
		}
		if err := m(tx); err != nil {
			return fmt.Errorf("migrate key store schema %d -> %d: %w", v, v+1, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, schemaVersion))
}

// unsafeCheckSchema checks, without writing, that a key store opened
// read-only has every bucket and a schema this build reads.
func unsafeCheckSchema(tx *bbolt.Tx) error {
	for _, b := range baseBuckets {
		if tx.Bucket(b) == nil {
			return fmt.Errorf("no bucket %q: not a key store", b)
		}
	}
	if v := unsafeSchemaVersion(tx); v == 0 || v > schemaVersion {
		return fmt.Errorf("key store schema version %d: this build reads 1 to %d", v, schemaVersion)
	}
	return nil
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
