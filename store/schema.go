package store

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// Every bucket of the content database (earshot.db), listed once and created
// at Open. Keys inside each bucket are documented beside it.
var (
	// bucketMeta holds fixed keys: keySchemaVersion.
	bucketMeta = []byte("meta")
	// bucketQueues: queue ID -> JSON Queue.
	bucketQueues = []byte("queues")
	// bucketUsers: user ID -> JSON User.
	bucketUsers = []byte("users")
	// bucketTokens: token ID -> JSON Token (hash only, never the secret).
	bucketTokens = []byte("tokens")
	// bucketTokenHashes: SHA-256 of the secret -> token ID.
	bucketTokenHashes = []byte("token_hashes")
	// bucketSettings: setting key -> JSON value.
	bucketSettings = []byte("settings")

	allBuckets = [][]byte{
		bucketMeta, bucketQueues, bucketUsers, bucketTokens, bucketTokenHashes, bucketSettings,
	}
)

var keySchemaVersion = []byte("schema_version")

// schemaVersion is the version this build writes. Open migrates older files
// step by step and refuses newer ones.
const schemaVersion = 1

// migrations[v] upgrades a database from version v to v+1, inside the
// transaction that Open runs.
var migrations = map[uint64]func(tx *bbolt.Tx) error{}

func unsafeSchemaVersion(tx *bbolt.Tx) uint64 {
	v := tx.Bucket(bucketMeta).Get(keySchemaVersion)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// unsafeMigrate creates every bucket and brings the schema to schemaVersion.
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
		return fmt.Errorf("database schema version %d is newer than this build's %d: upgrade earshot", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		m, ok := migrations[v]
		if !ok {
			return fmt.Errorf("no migration from schema version %d", v)
		}
		if err := m(tx); err != nil {
			return fmt.Errorf("migrate schema %d -> %d: %w", v, v+1, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, schemaVersion))
}
