package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

func TestArticlesSealedAndReopened(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a := Article{ID: "kb-1", Title: "Blocking a stolen card", Body: "Open the card screen and press block immediately.",
		Tags: []string{"cards"}, Updated: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.PutArticle(context.Background(), a, AuditEntry{Actor: "admin", Action: "kb.article.put", Target: a.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutArticle(context.Background(), Article{ID: "kb-2", Title: "Second", Body: "two"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteArticle(context.Background(), "kb-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteArticle(context.Background(), "kb-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
	s.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, DBFile))
	if bytes.Contains(raw, []byte("press block immediately")) {
		t.Error("article body in plain text in the database file")
	}
	s, err = Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Articles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Article{a}, got); diff != "" {
		t.Errorf("articles after reopen (-want +got):\n%s", diff)
	}
	one, err := s.Article("kb-1")
	if diff := cmp.Diff(a, one); err != nil || diff != "" {
		t.Errorf("Article(kb-1) = %v (-want +got):\n%s", err, diff)
	}
	if _, err := s.Article("kb-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Article(kb-2) = %v, want ErrNotFound", err)
	}
	// A sealed article moved to another ID fails to open.
	s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketArticles)
		return b.Put([]byte("kb-9"), append([]byte(nil), b.Get([]byte("kb-1"))...))
	})
	if _, err := s.Articles(context.Background()); !errors.Is(err, ErrTampered) {
		t.Errorf("Articles with a moved value = %v, want ErrTampered", err)
	}
}
