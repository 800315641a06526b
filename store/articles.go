package store

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

// Article is a knowledge-base article as stored. The knowledge base is the
// site's own material, not one engagement's, so articles are sealed under
// one site key derived from the site secrets (which the KEK wraps), not
// under per-engagement data keys.
type Article struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Tags    []string  `json:"tags,omitempty"`
	Queue   string    `json:"queue,omitempty"` // empty: every queue
	Source  string    `json:"source,omitempty"`
	Updated time.Time `json:"updated"`
}

// articleKey derives the article sealing key from the blind-index secret,
// with its own label so that the two uses never share a key.
func (s *Store) articleKey() ([]byte, error) {
	return hkdf.Key(sha256.New, s.keys.IndexKey(), nil, "earshot kb articles v1", 32)
}

// PutArticle stores (replacing) an article, sealed, with its audit entries
// in the same transaction.
func (s *Store) PutArticle(ctx context.Context, a Article, audit ...AuditEntry) error {
	if a.ID == "" {
		return fmt.Errorf("store: article: id is required")
	}
	key, err := s.articleKey()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	sealed, err := keys.Seal(key, valueAAD(bucketArticles, []byte(a.ID)), raw)
	if err != nil {
		return err
	}
	return s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketArticles).Put([]byte(a.ID), sealed)
	})
}

// DeleteArticle removes an article; ErrNotFound if there is none.
func (s *Store) DeleteArticle(ctx context.Context, id string, audit ...AuditEntry) error {
	return s.auditedUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketArticles)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("article %q: %w", id, ErrNotFound)
		}
		return b.Delete([]byte(id))
	})
}

// Article returns one article, opened; ErrNotFound if there is none.
func (s *Store) Article(id string) (Article, error) {
	key, err := s.articleKey()
	if err != nil {
		return Article{}, err
	}
	var a Article
	err = s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketArticles).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("article %q: %w", id, ErrNotFound)
		}
		return openArticle(key, []byte(id), v, &a)
	})
	return a, err
}

func openArticle(key, id, sealed []byte, a *Article) error {
	raw, err := keys.Unseal(key, valueAAD(bucketArticles, id), sealed)
	if err != nil {
		return fmt.Errorf("store: article %q: %w", id, ErrTampered)
	}
	if err := json.Unmarshal(raw, a); err != nil {
		return fmt.Errorf("store: article %q: %w", id, err)
	}
	return nil
}

// Articles returns every article, opened, in ID order.
func (s *Store) Articles(ctx context.Context) ([]Article, error) {
	key, err := s.articleKey()
	if err != nil {
		return nil, err
	}
	var out []Article
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketArticles).ForEach(func(k, v []byte) error {
			var a Article
			if err := openArticle(key, k, v, &a); err != nil {
				return err
			}
			out = append(out, a)
			return ctx.Err()
		})
	})
	return out, err
}
