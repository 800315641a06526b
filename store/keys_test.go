package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// cancellingProvider is the real file provider that cancels a context after
// a number of wraps, to interrupt a rotation midway.
type cancellingProvider struct {
	*FileProvider
	wraps  atomic.Int64
	after  int64
	cancel context.CancelFunc
}

func (p *cancellingProvider) Wrap(ctx context.Context, v uint32, dek, aad []byte) ([]byte, error) {
	if p.wraps.Add(1) == p.after && p.cancel != nil {
		p.cancel()
	}
	return p.FileProvider.Wrap(ctx, v, dek, aad)
}

func dekVersions(t *testing.T, s *Store) map[uint32]int {
	t.Helper()
	out := map[uint32]int{}
	s.keys.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(keysBucketDEKs).ForEach(func(_, v []byte) error {
			out[binary.BigEndian.Uint32(v)]++
			return nil
		})
	})
	return out
}

func readAll(t *testing.T, s *Store, engs []Engagement) {
	t.Helper()
	s.keys.cacheMu.Lock()
	clear(s.keys.cache) // force unwrapping through the provider
	s.keys.cacheMu.Unlock()
	for _, e := range engs {
		segs, err := s.Segments(context.Background(), e.ID)
		if err != nil || len(segs) != 2 {
			t.Fatalf("Segments(%s) = %d, %v", e.ID, len(segs), err)
		}
	}
}

func TestRotateKEKResumesAndDestroysOld(t *testing.T) {
	defer func(n int) { rotateBatch = n }(rotateBatch)
	rotateBatch = 7
	dir := t.TempDir()
	fp, err := NewFileProvider(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	p := &cancellingProvider{FileProvider: fp}
	s, err := Open(Options{Dir: dir, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	var engs []Engagement
	for i := range 30 {
		e := newEngagement(t, s, "q", fmt.Sprintf("C%d", i), t0)
		appendN(t, s, e, 2, "secret %d")
		engs = append(engs, e)
	}
	var oldKeys bytes.Buffer
	if _, err := s.BackupKeys(&oldKeys); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	p.after, p.cancel = p.wraps.Load()+12, cancel
	if _, err := s.RotateKEK(ctx, "root", true); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rotation = %v, want context.Canceled", err)
	}
	cur, target, _ := s.KEKVersions()
	v := dekVersions(t, s)
	if cur != 1 || target != 2 || v[1] == 0 || v[2] == 0 {
		t.Fatalf("after interruption: current %d target %d, keys by version %v; want a half-done rotation", cur, target, v)
	}
	readAll(t, s, engs) // mixed versions still open
	// New engagements during the rotation are wrapped under the target.
	extra := newEngagement(t, s, "q", "C-extra", t0)
	appendN(t, s, extra, 2, "x %d")
	engs = append(engs, extra)
	s.Close()

	// Resume after a restart.
	s = openTest(t, dir)
	res, err := s.RotateKEK(context.Background(), "root", true)
	if err != nil {
		t.Fatal(err)
	}
	if res.To != 2 || res.Rewrapped == 0 || len(res.Destroyed) != 1 {
		t.Fatalf("RotateKEK = %+v", res)
	}
	if v := dekVersions(t, s); v[1] != 0 || v[2] != 31 {
		t.Fatalf("keys by version after rotation = %v, want all 31 under version 2", v)
	}
	if _, err := os.Stat(filepath.Join(dir, "kek", "kek-1.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("kek-1.key still exists after destroy: %v", err)
	}
	readAll(t, s, engs)
	if a, _ := s.QueryAudit(AuditQuery{Action: "key.rotate"}); len(a) != 1 || a[0].Detail["to"] != "2" {
		t.Fatalf("rotation audit = %+v", a)
	}
	s.Close()
	s = openTest(t, dir)
	readAll(t, s, engs)
	s.Close()

	// A key backup from before the rotation is useless once version 1 is
	// destroyed.
	if err := RestoreKeys(dir, bytes.NewReader(oldKeys.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("Open with a pre-rotation key backup = %v, want ErrNoKEK", err)
	}
}

func TestOnlineBackupRestore(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	e := fill(t, s)
	// Keep writing while the backup is taken.
	live := newEngagement(t, s, "q", "", t0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := uint32(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Append(context.Background(), seg(live, i, "live")); err != nil {
				t.Error(err)
				return
			}
		}
	})
	time.Sleep(50 * time.Millisecond)
	var content, keys bytes.Buffer
	if _, err := s.Backup(&content); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BackupKeys(&keys); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if err := RestoreContent(dir, bytes.NewReader(content.Bytes())); err == nil {
		t.Fatal("RestoreContent into a directory in use succeeded")
	}
	s.Close()

	// Without the KEK the backups are useless.
	bare := t.TempDir()
	if err := RestoreContent(bare, bytes.NewReader(content.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := RestoreKeys(bare, bytes.NewReader(keys.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: bare}); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("Open of backups without the KEK = %v, want ErrNoKEK", err)
	}
	// With it, everything is back.
	os.CopyFS(filepath.Join(bare, "kek"), os.DirFS(filepath.Join(dir, "kek")))
	r := openTest(t, bare)
	defer r.Close()
	segs, err := r.Segments(context.Background(), e.ID)
	if err != nil || len(segs) != 20 || segs[0].Text != secretText {
		t.Fatalf("restored Segments = %d, %v", len(segs), err)
	}
	if err := RestoreKeys(t.TempDir(), bytes.NewReader(content.Bytes())); err == nil {
		t.Fatal("RestoreKeys accepted a content backup")
	}
	if err := RestoreContent(t.TempDir(), bytes.NewReader([]byte("not a database"))); err == nil {
		t.Fatal("RestoreContent accepted garbage")
	}
}

func TestOpenRefusesContentWithoutKeyStore(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	fill(t, s)
	s.Close()
	if err := os.Remove(filepath.Join(dir, KeysFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("restore the key backup")) {
		t.Fatalf("Open without keys.db = %v, want an error asking for the key backup", err)
	}
}
