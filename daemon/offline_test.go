package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store"
)

// TestOfflineAuditVerifyAndTamperedStart drives `earshot audit verify` on a
// stopped data directory and on a backup pair, then flips a role in the
// stopped database: the daemon refuses to start naming the user, offline
// verification names it too, and `earshot audit reseal` accepts it.
func TestOfflineAuditVerifyAndTamperedStart(t *testing.T) {
	cfg := DefaultConfig(false)
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Analytics.DefaultIntents = "none"
	cfgPath := filepath.Join(t.TempDir(), "earshot.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, "data_dir: %s\nlisten: 127.0.0.1:0\n", cfg.DataDir), 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(extra ...string) error {
		o := store.OfflineOptions{}
		for i := 0; i+1 < len(extra); i += 2 {
			switch extra[i] {
			case "--data-dir":
				o.Dir = extra[i+1]
			case "--content":
				o.ContentFile = extra[i+1]
			case "--keys":
				o.KeysFile = extra[i+1]
			}
		}
		_, err := Offline{}.VerifyAudit(context.Background(), cfgPath, o)
		return err
	}
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := d.store.CreateUser(ctx, store.User{ID: "ana", Role: "agent"}, store.AuditEntry{Actor: "admin", Action: "user.create", Target: "user:ana"}); err != nil {
		t.Fatal(err)
	}
	// While the daemon holds the directory, offline verification is
	// refused; a backup pair taken from it verifies.
	if err := verify("--data-dir", cfg.DataDir); !errors.Is(err, store.ErrInUse) {
		t.Errorf("verify --data-dir of a running daemon's directory = %v, want ErrInUse", err)
	}
	backups := t.TempDir()
	content, keys := filepath.Join(backups, "content.db"), filepath.Join(backups, "keys.db")
	for path, fn := range map[string]func(*os.File) error{
		content: func(f *os.File) error { _, err := d.store.Backup(ctx, f); return err },
		keys:    func(f *os.File) error { _, err := d.store.BackupKeys(ctx, f); return err },
	} {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := verify("--content", content, "--keys", keys); err != nil {
		t.Errorf("verify --content --keys: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := verify("--data-dir", cfg.DataDir); err != nil {
		t.Fatalf("verify of the stopped data directory: %v", err)
	}

	db, err := bbolt.Open(filepath.Join(cfg.DataDir, store.DBFile), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("users"))
		return b.Put([]byte("ana"), bytes.Replace(b.Get([]byte("ana")), []byte(`"role":"agent"`), []byte(`"role":"admin"`), 1))
	})
	db.Close()
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), `user "ana"`) || !strings.Contains(err.Error(), "reseal") {
		t.Fatalf("New on a tampered data directory = %v, want a refusal naming the user and the way to reseal", err)
	}
	if err := verify("--data-dir", cfg.DataDir); !errors.Is(err, store.ErrTampered) || !strings.Contains(err.Error(), `user "ana"`) {
		t.Fatalf("verify of the tampered directory = %v, want the user named", err)
	}
	if _, err := (Offline{}).Reseal(context.Background(), cfgPath, "", "cli:test", "promoted ana while the API was down"); err != nil {
		t.Fatal(err)
	}
	d, err = New(cfg, nil)
	if err != nil {
		t.Fatalf("New after the reseal: %v", err)
	}
	defer d.Close()
	if u, _ := d.store.User("ana"); u.Role != "admin" {
		t.Errorf("ana after the reseal = %+v, want the accepted role", u)
	}
	if a, _ := d.store.QueryAudit(ctx, store.AuditQuery{Action: "integrity.reseal"}); len(a) != 1 || !strings.HasPrefix(a[0].Actor, "cli") {
		t.Errorf("reseal audit = %+v", a)
	}
}
