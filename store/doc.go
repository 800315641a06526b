// Package store keeps Earshot's state in bbolt: engagements, transcripts,
// results, settings, users, tokens and the audit log, with customer content
// sealed under per-engagement data keys (AES-256-GCM) that are wrapped by
// the site's key-encryption key and kept in a separate file, keys.db.
//
// The hot path is Append/AppendBatch (group commit, acknowledged after
// fsync). Purges destroy the data key first (crypto-shredding); retention
// runs in Run/SweepNow; the audit log is hash-chained and MAC'd; Backup and
// BackupKeys take online copies of the two files. README.md in this
// directory describes the design, the key providers and the limits of the
// purge guarantee.
package store
