package store

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// The store keeps two bbolt files in the data directory:
//
//   - earshot.db (DBFile), the content database: every bucket below. Values
//     holding customer content are sealed with the engagement's data key.
//   - keys.db (KeysFile), the key store: the engagements' data keys wrapped
//     by the site's key-encryption key (KEK), and the site secrets. It is
//     backed up on its own (BackupKeys), so that a content backup never
//     contains a data key.
//
// Integer keys are 8-byte big-endian so that cursors iterate in order.
// Engagement IDs are 16 random bytes (rendered as 32 hex digits).

// Buckets of the content database, created at Open.
var (
	// bucketMeta holds fixed keys: keySchemaVersion, keyAuditAnchor.
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

	// bucketEngagements: engagement ID (16) -> JSON engagementRecord; the
	// customer reference inside is sealed.
	bucketEngagements = []byte("engagements")
	// bucketEngByStart: start (8, unix ns) | ID (16) -> empty.
	bucketEngByStart = []byte("eng_by_start")
	// bucketEngByQueue: queue | 0x00 | start (8) | ID (16) -> empty.
	bucketEngByQueue = []byte("eng_by_queue")
	// bucketEngByAgent: agent | 0x00 | start (8) | ID (16) -> empty.
	bucketEngByAgent = []byte("eng_by_agent")
	// bucketEngByCustomer: blind index of the customer reference
	// (HMAC-SHA-256 under the site index key, 16 bytes) | ID (16) -> empty.
	bucketEngByCustomer = []byte("eng_by_customer")
	// bucketSegments: ID (16) | sequence (4) -> sealed JSON Segment.
	bucketSegments = []byte("segments")
	// bucketJournal: journal sequence (8) -> ID (16) | seq (4) | sealed JSON
	// Segment: the append-only hot path, moved into bucketSegments in the
	// background (journal.go).
	bucketJournal = []byte("seg_journal")
	// bucketResults: ID (16) | feature -> sealed JSON Result.
	bucketResults = []byte("results")
	// bucketAudit: sequence (8) -> JSON AuditEntry (hash-chained).
	bucketAudit = []byte("audit")
	// bucketArticles: article ID -> sealed JSON Article (knowledge base),
	// under the site's article key (articles.go).
	bucketArticles = []byte("kb_articles")
	// bucketForecasts: queue | 0x00 | unix nanoseconds (8) -> JSON
	// StoredForecast (aggregate counts only, no customer content).
	bucketForecasts = []byte("forecasts")
	// bucketOutbox: sequence (8) -> JSON OutboxEntry: events awaiting
	// delivery to sink plugins (IDs only, no content).
	bucketOutbox = []byte("sink_outbox")
	// bucketOutboxIndex: plugin | 0x00 | event ID -> sequence (8): the
	// queued events, so that an event is queued once per plugin.
	bucketOutboxIndex = []byte("sink_outbox_index")

	// Quality management (qm.go): qm_scorecards: id | 0x00 | version (4)
	// -> JSON; qm_evals: ID (16) | scorecard -> sealed JSON; qm_eval_index:
	// same key -> JSON summary (no content); qm_facts: ID (16) -> JSON
	// figures (no content); qm_topics: model (8) -> JSON with the model
	// sealed under the site QM key; qm_topic_members: model (8) | ID (16)
	// -> JSON; qm_topic_by_eng: ID (16) | model (8) -> empty.
	bucketQMScorecards   = []byte("qm_scorecards")
	bucketQMEvals        = []byte("qm_evals")
	bucketQMEvalIndex    = []byte("qm_eval_index")
	bucketQMFacts        = []byte("qm_facts")
	bucketQMTopics       = []byte("qm_topics")
	bucketQMTopicMembers = []byte("qm_topic_members")
	bucketQMTopicByEng   = []byte("qm_topic_by_eng")

	allBuckets = [][]byte{
		bucketMeta, bucketQueues, bucketUsers, bucketTokens, bucketTokenHashes, bucketSettings,
		bucketEngagements, bucketEngByStart, bucketEngByQueue, bucketEngByAgent, bucketEngByCustomer,
		bucketSegments, bucketJournal, bucketResults, bucketAudit, bucketArticles, bucketForecasts, bucketOutbox,
		bucketOutboxIndex, bucketQMScorecards, bucketQMEvals, bucketQMEvalIndex, bucketQMFacts, bucketQMTopics,
		bucketQMTopicMembers, bucketQMTopicByEng,
	}
)

// Fixed keys of bucketMeta.
var (
	keySchemaVersion = []byte("schema_version")
	// keyAuditAnchor: sequence (8) | hash (32) of the last audit entry removed
	// by retention; Verify starts the chain from it.
	keyAuditAnchor = []byte("audit_anchor")
)

// Buckets of the key store (keys.db), created at Open.
var (
	// keysBucketMeta holds fixed keys: keySchemaVersion, keyKEKCurrent,
	// keyKEKTarget, keySiteSecrets.
	keysBucketMeta = []byte("meta")
	// keysBucketDEKs: engagement ID (16) -> wrapped data key
	// (KEK version (4) | provider ciphertext).
	keysBucketDEKs = []byte("deks")
	// keysBucketShredded: engagement ID (16) -> purge time (8, unix ns): the
	// data key was destroyed; the content records may still be awaiting
	// deletion if the process died between the two steps of a purge.
	keysBucketShredded = []byte("shredded")

	allKeysBuckets = [][]byte{keysBucketMeta, keysBucketDEKs, keysBucketShredded}
)

// Fixed keys of keysBucketMeta.
var (
	// keyKEKCurrent: KEK version (4) every data key is wrapped under once no
	// rotation is under way.
	keyKEKCurrent = []byte("kek_current")
	// keyKEKTarget: KEK version (4) new wraps use; differs from current while
	// a rotation is under way (and after it was interrupted).
	keyKEKTarget = []byte("kek_target")
	// keySiteSecrets: wrapped site secrets: KEK version (4) | ciphertext of
	// the blind-index key (32) and the audit MAC key (32).
	keySiteSecrets = []byte("site_secrets")
)

// schemaVersion is the version this build writes. Open migrates older files
// step by step and refuses newer ones.
const schemaVersion = 6

// keysSchemaVersion is the version of keys.db this build writes.
const keysSchemaVersion = 1

// migrations[v] upgrades a content database from version v to v+1, inside
// the transaction that Open runs (after every bucket of allBuckets exists).
var migrations = map[uint64]func(tx *bbolt.Tx) error{
	// 1 -> 2: engagements, indexes, segments, results and audit buckets;
	// created by unsafeMigrate before migrations run.
	1: func(*bbolt.Tx) error { return nil },
	// 2 -> 3: the knowledge-base articles bucket, created by unsafeMigrate.
	2: func(*bbolt.Tx) error { return nil },
	// 3 -> 4: the forecasts bucket, created by unsafeMigrate.
	3: func(*bbolt.Tx) error { return nil },
	// 4 -> 5: the sink outbox buckets, created by unsafeMigrate.
	4: func(*bbolt.Tx) error { return nil },
	// 5 -> 6: the quality-management buckets, created by unsafeMigrate.
	5: func(*bbolt.Tx) error { return nil },
}

func unsafeSchemaVersion(tx *bbolt.Tx, meta []byte) uint64 {
	v := tx.Bucket(meta).Get(keySchemaVersion)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// unsafeMigrate creates every bucket and brings the schema to schemaVersion.
func unsafeMigrate(tx *bbolt.Tx) error {
	return unsafeMigrateFile(tx, allBuckets, bucketMeta, schemaVersion, migrations)
}

// unsafeMigrateKeys does the same for keys.db.
func unsafeMigrateKeys(tx *bbolt.Tx) error {
	return unsafeMigrateFile(tx, allKeysBuckets, keysBucketMeta, keysSchemaVersion, nil)
}

func unsafeMigrateFile(tx *bbolt.Tx, buckets [][]byte, meta []byte, want uint64, steps map[uint64]func(*bbolt.Tx) error) error {
	for _, b := range buckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	v := unsafeSchemaVersion(tx, meta)
	if v == 0 { // new file
		v = want
	}
	if v > want {
		return fmt.Errorf("database schema version %d is newer than this build's %d: upgrade earshot", v, want)
	}
	for ; v < want; v++ {
		m, ok := steps[v]
		if !ok {
			return fmt.Errorf("no migration from schema version %d", v)
		}
		if err := m(tx); err != nil {
			return fmt.Errorf("migrate schema %d -> %d: %w", v, v+1, err)
		}
	}
	return tx.Bucket(meta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, want))
}
