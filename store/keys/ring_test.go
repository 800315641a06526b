package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// failingProvider is the real file provider that starts failing its wraps
// after a number of them, as a key service that goes away would.
type failingProvider struct {
	*FileProvider
	wraps atomic.Int64
	after int64
}

var errGone = errors.New("key service unavailable")

func (p *failingProvider) Wrap(ctx context.Context, v uint32, dek, aad []byte) ([]byte, error) {
	if n := p.wraps.Add(1); p.after > 0 && n > p.after {
		return nil, errGone
	}
	return p.FileProvider.Wrap(ctx, v, dek, aad)
}

func openRing(t *testing.T, dir string, p Provider) *Ring {
	t.Helper()
	r, err := Open(t.Context(), filepath.Join(dir, "keys.db"), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newIDs(t *testing.T, n int) []ID {
	ids := make([]ID, n)
	for i := range ids {
		rand.Read(ids[i][:])
	}
	return ids
}

// TestRotateResumesAfterFailure interrupts a rotation by a provider that
// fails midway, checks that the batches done are kept, and resumes it
// after a reopen with the same target; every data key still unwraps, and a
// key backup from before is useless once the old version is destroyed.
func TestRotateResumesAfterFailure(t *testing.T) {
	defer func(n int) { rotateBatch = n }(rotateBatch)
	rotateBatch = 7
	dir := t.TempDir()
	fp, err := NewFileProvider(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	p := &failingProvider{FileProvider: fp}
	r := openRing(t, dir, p)
	ctx := t.Context()
	ids := newIDs(t, 30)
	deks := map[ID][]byte{}
	for _, id := range ids {
		if deks[id], err = r.NewDEK(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	var before bytes.Buffer
	if _, err := r.Backup(ctx, &before); err != nil {
		t.Fatal(err)
	}
	p.after = p.wraps.Load() + 1 + 12 // the site secrets, then 12 data keys
	if _, err := r.Rotate(ctx, true); !errors.Is(err, errGone) {
		t.Fatalf("Rotate with a failing provider = %v, want its error", err)
	}
	cur, target, _ := r.Versions()
	v, _ := r.DEKsByVersion(ctx)
	if cur != 1 || target != 2 || v[1] != 18 || v[2] != 12 {
		t.Fatalf("after the failure: current %d target %d, keys by version %v; want 12 of 30 moved to version 2", cur, target, v)
	}
	p.after = 0
	// A data key created meanwhile is wrapped under the target.
	extra := newIDs(t, 1)[0]
	if deks[extra], err = r.NewDEK(ctx, extra); err != nil {
		t.Fatal(err)
	}
	r.Close()

	r = openRing(t, dir, p)
	res, err := r.Rotate(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 1 || res.To != 2 || res.Rewrapped != 18 || len(res.Destroyed) != 1 {
		t.Fatalf("resumed Rotate = %+v, want 18 re-wrapped and version 1 destroyed", res)
	}
	if v, _ := r.DEKsByVersion(ctx); v[1] != 0 || v[2] != 31 {
		t.Fatalf("keys by version = %v, want all 31 under version 2", v)
	}
	r.Close()
	r = openRing(t, dir, p)
	defer r.Close()
	for id, want := range deks {
		if got, err := r.DEK(ctx, id); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("DEK(%x) after rotation = %x, %v", id, got, err)
		}
	}
	old := filepath.Join(t.TempDir(), "keys.db")
	if err := os.WriteFile(old, before.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, old, p, Options{}); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("Open of a key backup from before the rotation = %v, want ErrNoKEK", err)
	}
}

// TestShredAndCompact destroys data keys: they are gone from the ring and,
// after compaction, from the file.
func TestShredAndCompact(t *testing.T) {
	dir := t.TempDir()
	fp, err := NewFileProvider(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	r := openRing(t, dir, fp)
	defer r.Close()
	ctx := t.Context()
	ids := newIDs(t, 3)
	for _, id := range ids {
		if _, err := r.NewDEK(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	var wrapped []byte
	r.view(func(tx *bbolt.Tx) error { wrapped = bytes.Clone(tx.Bucket(bucketDEKs).Get(ids[0][:])); return nil })
	if err := r.Shred(ctx, ids[:1], time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DEK(ctx, ids[0]); !errors.Is(err, ErrShredded) {
		t.Errorf("DEK of a shredded key = %v, want ErrShredded", err)
	}
	if _, err := r.NewDEK(ctx, ids[0]); !errors.Is(err, ErrShredded) {
		t.Errorf("NewDEK for a shredded ID = %v, want ErrShredded", err)
	}
	if _, err := r.NewDEK(ctx, ids[1]); !errors.Is(err, ErrDataKeyExists) {
		t.Errorf("NewDEK for an existing ID = %v, want ErrDataKeyExists", err)
	}
	if sh, err := r.Shredded(ctx); err != nil || len(sh) != 1 || !sh[ids[0]] {
		t.Errorf("Shredded = %v, %v", sh, err)
	}
	if err := r.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, wrapped) {
		t.Error("the shredded data key is still in keys.db after compaction")
	}
	if _, err := r.DEK(ctx, ids[2]); err != nil {
		t.Errorf("DEK of a kept key after compaction: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if _, err := r.DEK(ctx, newIDs(t, 1)[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("DEK after Close = %v, want ErrClosed", err)
	}
}

// TestOpenWithTheWrongProvider refuses a key store whose site secrets the
// provider cannot unwrap.
func TestOpenWithTheWrongProvider(t *testing.T) {
	dir := t.TempDir()
	fp, _ := NewFileProvider(filepath.Join(dir, "kek"))
	openRing(t, dir, fp).Close()
	other, _ := NewFileProvider(filepath.Join(t.TempDir(), "kek"))
	other.CreateKEK(t.Context(), 1)
	if _, err := Open(t.Context(), filepath.Join(dir, "keys.db"), other, Options{}); !errors.Is(err, ErrTampered) {
		t.Fatalf("Open with another KEK = %v, want ErrTampered", err)
	}
}
