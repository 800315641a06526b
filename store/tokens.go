package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Token is an API bearer token. The secret is never stored: only its
// SHA-256, which is enough because secrets are 256-bit random values.
type Token struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name,omitempty"`
	Hash      []byte    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Queues and Sources narrow what an ingest token may feed: the queues
	// (within its user's) and the ingest sources (api, whip, websocket,
	// upload). Empty means every queue of the user, every source.
	Queues  []string `json:"queues,omitempty"`
	Sources []string `json:"sources,omitempty"`
}

// Revoked reports whether the token was revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// HashSecret returns the stored form of a token secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateToken stores a new token for an existing user.
func (s *Store) CreateToken(ctx context.Context, t Token, audit ...AuditEntry) error {
	if len(t.Hash) != sha256.Size {
		return fmt.Errorf("store: token %q: hash must be %d bytes", t.ID, sha256.Size)
	}
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(t.UserID)) == nil {
			return fmt.Errorf("user %q: %w", t.UserID, ErrNotFound)
		}
		if tx.Bucket(bucketTokens).Get([]byte(t.ID)) != nil {
			return fmt.Errorf("token %q: %w", t.ID, ErrExists)
		}
		if err := unsafeCheckQueues(tx, t.Queues); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTokenHashes).Put(t.Hash, []byte(t.ID)); err != nil {
			return err
		}
		return s.unsafePutRecord(tx, bucketTokens, []byte(t.ID), t)
	})
}

// TokenByHash finds the token whose secret hashes to hash.
func (s *Store) TokenByHash(hash []byte) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bbolt.Tx) error {
		id := tx.Bucket(bucketTokenHashes).Get(hash)
		if id == nil {
			return ErrNotFound
		}
		if err := unsafeGetJSON(tx, bucketTokens, id, &t); err != nil {
			return err
		}
		// The index is not MAC'd: the token record (which is) must agree.
		if !bytes.Equal(t.Hash, hash) {
			return ErrNotFound
		}
		return nil
	})
	return t, err
}

// Token returns one token by ID.
func (s *Store) Token(id string) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bbolt.Tx) error { return unsafeGetJSON(tx, bucketTokens, []byte(id), &t) })
	return t, err
}

// Tokens returns every token, ordered by ID.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	return listJSON[Token](ctx, s, bucketTokens)
}

// RevokeToken marks a token revoked; revoking twice is not an error.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		var t Token
		if err := unsafeGetJSON(tx, bucketTokens, []byte(id), &t); err != nil {
			return fmt.Errorf("token %q: %w", id, err)
		}
		if t.Revoked() {
			return nil
		}
		t.RevokedAt = at
		return s.unsafePutRecord(tx, bucketTokens, []byte(id), t)
	})
}

func (s *Store) unsafeRevokeUserTokens(tx *bbolt.Tx, userID string) error {
	b := tx.Bucket(bucketTokens)
	var revoke []Token
	err := b.ForEach(func(k, v []byte) error {
		var t Token
		if err := unsafeGetJSON(tx, bucketTokens, k, &t); err != nil {
			return err
		}
		if t.UserID == userID && !t.Revoked() {
			revoke = append(revoke, t)
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, t := range revoke {
		t.RevokedAt = now
		if err := s.unsafePutRecord(tx, bucketTokens, []byte(t.ID), t); err != nil {
			return err
		}
	}
	return nil
}
