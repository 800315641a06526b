// Package store keeps Earshot's state in bbolt: engagements, transcripts,
// results, settings, users, tokens and the audit log, with customer content
// sealed under per-engagement data keys.
package store
