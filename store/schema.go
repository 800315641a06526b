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
//     by the site's key-encryption key (KEK), and the site secrets. Package
//     keys owns it and its layout (keys/schema.go). It is backed up on its
//     own (BackupKeys), so that a content backup never contains a data key.
//
// Integer keys are 8-byte big-endian so that cursors iterate in order.
// Engagement IDs are 16 random bytes (rendered as 32 hex digits).

// Buckets of the content database, created at Open.
var (
	// bucketMeta holds fixed keys: keySchemaVersion, keyAuditAnchor,
	// keyIntegritySeal.
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
	// bucketIntegrity: bucket | 0x00 | key -> HMAC-SHA-256 (32) of a
	// record of a protected bucket (queues, users, tokens, settings; see
	// integrity.go).
	bucketIntegrity = []byte("integrity")

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
	// bucketWFM: kind | 0x00 | ID -> sealed JSON WFMRecord (rosters, rules,
	// schedules) under the site's workforce key (wfm.go). A new bucket
	// that older builds ignore: created by unsafeMigrate, no version step.
	bucketWFM = []byte("wfm")

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

	// bucketBots: bot ID -> JSON Bot; bot ID | 0x00 | version (8) -> JSON
	// BotVersion. Protected records (integrity.go); no customer content.
	bucketBots = []byte("bots")

	// bucketOriginals: ID (16) | sequence (4) -> the unredacted original
	// of a segment redaction changed (segcodec), sealed under the
	// engagement's unredacted-copy key (originals.go), not its data key.
	bucketOriginals = []byte("originals")
	// bucketOriginalIndex: ID (16) -> days (4) the unredacted copy is kept
	// after the engagement ends.
	bucketOriginalIndex = []byte("original_index")

	allBuckets = [][]byte{
		bucketMeta, bucketQueues, bucketUsers, bucketTokens, bucketTokenHashes, bucketSettings,
		bucketEngagements, bucketEngByStart, bucketEngByQueue, bucketEngByAgent, bucketEngByCustomer,
		bucketSegments, bucketJournal, bucketResults, bucketAudit, bucketArticles, bucketForecasts, bucketOutbox,
		bucketOutboxIndex, bucketIntegrity, bucketWFM, bucketQMScorecards, bucketQMEvals, bucketQMEvalIndex, bucketQMFacts,
		bucketQMTopics, bucketQMTopicMembers, bucketQMTopicByEng, bucketBots, bucketOriginals, bucketOriginalIndex,
	}
)

// Fixed keys of bucketMeta.
var (
	keySchemaVersion = []byte("schema_version")
	// keyAuditAnchor: sequence (8) | hash (32) | time (8, unix ns; from
	// schema 6) of the last audit entry removed by retention; Verify starts
	// the chain from it.
	keyAuditAnchor = []byte("audit_anchor")
	// keyIntegritySeal: the integrity seal (integrity.go): counter, audit
	// head and anchor, records digest | HMAC-SHA-256 (32).
	keyIntegritySeal = []byte("integrity_seal")
)

// schemaVersion is the version this build writes. Open migrates older files
// step by step and refuses newer ones.
const schemaVersion = 7

// migrations[v] upgrades a content database from version v to v+1, inside
// the transaction that Open runs (after every bucket of allBuckets exists).
var migrations = map[uint64]func(s *Store, tx *bbolt.Tx) error{
	// 1 -> 2: engagements, indexes, segments, results and audit buckets;
	// created by unsafeMigrate before migrations run.
	1: func(*Store, *bbolt.Tx) error { return nil },
	// 2 -> 3: the knowledge-base articles bucket, created by unsafeMigrate.
	2: func(*Store, *bbolt.Tx) error { return nil },
	// 3 -> 4: the forecasts bucket, created by unsafeMigrate.
	3: func(*Store, *bbolt.Tx) error { return nil },
	// 4 -> 5: the sink outbox buckets, created by unsafeMigrate.
	4: func(*Store, *bbolt.Tx) error { return nil },
	// 5 -> 6: the MAC of every protected record and the integrity seal,
	// trusting the records and the audit log as they are (Open then
	// writes the first checkpoint to keys.db).
	5: (*Store).unsafeSealAll,
	// 6 -> 7: the quality-management, bots and unredacted-copy buckets
	// (originals.go), created by unsafeMigrate (empty, so the integrity
	// seal's records digest does not change).
	6: func(*Store, *bbolt.Tx) error { return nil },
}

func unsafeSchemaVersion(tx *bbolt.Tx) uint64 {
	v := tx.Bucket(bucketMeta).Get(keySchemaVersion)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// unsafeMigrate creates every bucket and brings the schema to
// schemaVersion; a new file is sealed.
func (s *Store) unsafeMigrate(tx *bbolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	v := unsafeSchemaVersion(tx)
	if v == 0 { // new file
		if err := s.unsafeSealAll(tx); err != nil {
			return err
		}
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
		if err := m(s, tx); err != nil {
			return fmt.Errorf("migrate schema %d -> %d: %w", v, v+1, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, schemaVersion))
}
