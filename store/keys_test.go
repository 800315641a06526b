package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/store/keys"
)

// cancellingProvider is the real file provider that cancels a context after
// a number of wraps, to interrupt a rotation midway.
type cancellingProvider struct {
	*keys.FileProvider
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
	out, err := s.keys.DEKsByVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readAll reads every engagement's segments through a store opened anew on
// dir, so that every data key is unwrapped through the provider.
func readAll(t *testing.T, dir string, p keys.Provider, engs []Engagement) {
	t.Helper()
	s, err := Open(t.Context(), Options{Dir: dir, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, e := range engs {
		segs, err := s.Segments(context.Background(), e.ID)
		if err != nil || len(segs) != 2 {
			t.Fatalf("Segments(%s) = %d, %v", e.ID, len(segs), err)
		}
	}
}

func TestRotateKEKResumesAndDestroysOld(t *testing.T) {
	dir := t.TempDir()
	fp, err := keys.NewFileProvider(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	p := &cancellingProvider{FileProvider: fp}
	s, err := Open(context.Background(), Options{Dir: dir, Provider: p})
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
	if _, err := s.BackupKeys(context.Background(), &oldKeys); err != nil {
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
	s.Close()
	readAll(t, dir, p, engs) // mixed versions still open
	// New engagements during the rotation are wrapped under the target.
	s = openTest(t, dir)
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
	if a, _ := s.QueryAudit(context.Background(), AuditQuery{Action: "key.rotate"}); len(a) != 1 || a[0].Detail["to"] != "2" {
		t.Fatalf("rotation audit = %+v", a)
	}
	s.Close()
	readAll(t, dir, p, engs)

	// A key backup from before the rotation is useless once version 1 is
	// destroyed.
	if err := RestoreKeys(dir, bytes.NewReader(oldKeys.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Options{Dir: dir}); !errors.Is(err, keys.ErrNoKEK) {
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
	var content, keyBackup bytes.Buffer
	if _, err := s.Backup(context.Background(), &content); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BackupKeys(context.Background(), &keyBackup); err != nil {
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
	if err := RestoreKeys(bare, bytes.NewReader(keyBackup.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Options{Dir: bare}); !errors.Is(err, keys.ErrNoKEK) {
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
	if err := RestoreContent(t.TempDir(), bytes.NewReader(keyBackup.Bytes())); err == nil {
		t.Fatal("RestoreContent accepted a keys backup")
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
	if _, err := Open(context.Background(), Options{Dir: dir}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("restore the key backup")) {
		t.Fatalf("Open without keys.db = %v, want an error asking for the key backup", err)
	}
}
