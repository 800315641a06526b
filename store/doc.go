// Package store keeps Earshot's state in bbolt: engagements, transcripts,
// results, settings, users, tokens and the audit log, with customer content
// sealed under per-engagement data keys (AES-256-GCM) that are wrapped by
// the site's key-encryption key and kept in a separate file, keys.db. Key
// management (the KEK providers, keys.db, rotation) is package store/keys;
// this package owns the content database and its bucket layout
// (schema.go).
//
// The hot path is Append/AppendBatch (group commit, acknowledged after
// fsync). Purges destroy the data key first (crypto-shredding); retention
// runs in Run/SweepNow; the audit log is hash-chained and MAC'd; Backup and
// BackupKeys take online copies of the two files. README.md in this
// directory describes the design, the key providers and the limits of the
// purge guarantee.
//
// Methods that can wait take a context first: every write (it waits for
// the single writer and its fsync), every read that unwraps a data key
// (the key provider may be a remote key service or an HSM), and every scan
// or copy without a bound. Reads of one record by key (User, Token, Queue,
// Setting, ...) do neither and take none. A write waiting its turn gives up
// when its context ends; once it runs, it commits.
package store
