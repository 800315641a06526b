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

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestDirectoryReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	q := Queue{ID: "billing", Name: "Billing", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateQueue(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateQueue(context.Background(), q); !errors.Is(err, ErrExists) {
		t.Fatalf("CreateQueue twice = %v, want ErrExists", err)
	}
	u := User{ID: "ana", Role: "agent", Queues: []string{"billing"}, Licensed: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(context.Background(), User{ID: "bob", Role: "agent", Queues: []string{"nope"}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CreateUser with unknown queue = %v, want ErrNotFound", err)
	}
	s.Close()

	s = openTest(t, dir)
	defer s.Close()
	gotU, err := s.User("ana")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, gotU); diff != "" {
		t.Errorf("User after reopen (-want +got):\n%s", diff)
	}
	if err := s.DeleteQueue(context.Background(), "billing"); err != nil {
		t.Fatal(err)
	}
	gotU, _ = s.User("ana")
	if len(gotU.Queues) != 0 {
		t.Errorf("queues after DeleteQueue = %v, want none", gotU.Queues)
	}
}

func TestTokensStoreOnlyHashes(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if err := s.CreateUser(context.Background(), User{ID: "admin", Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	secret := "es_secret_value_that_must_never_be_on_disk_0123456789"
	tok := Token{ID: "tok1", UserID: "admin", Hash: HashSecret(secret), CreatedAt: time.Now().UTC()}
	if err := s.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByHash(HashSecret(secret))
	if err != nil || got.ID != "tok1" {
		t.Fatalf("TokenByHash = %+v, %v; want tok1", got, err)
	}
	if _, err := s.TokenByHash(HashSecret("other")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TokenByHash(other) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(context.Background(), "admin"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Token("tok1")
	if !got.Revoked() {
		t.Error("token of a deleted user is not revoked")
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Fatal("token secret found in plain text in the database file")
	}
	if !bytes.Contains(raw, []byte("tok1")) {
		t.Fatal("token record not found in the database file: the check above proves nothing")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte{0, 0, 0, 0, 0, 0, 0, 99})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), Options{Dir: dir}); err == nil {
		t.Fatal("Open of a newer schema succeeded, want error")
	}
}
