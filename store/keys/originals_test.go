package keys

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestOriginalKeys: the key of an unredacted copy is made on demand,
// differs from the data key, survives a reopen and a rotation (destroying
// the old KEK version), is destroyed alone when the copy expires, and
// with the data key at a purge.
func TestOriginalKeys(t *testing.T) {
	dir := t.TempDir()
	fp, err := NewFileProvider(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	r := openRing(t, dir, fp)
	ctx := t.Context()
	ids := newIDs(t, 3)
	deks, oks := map[ID][]byte{}, map[ID][]byte{}
	for _, id := range ids {
		if deks[id], err = r.NewDEK(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := r.OriginalKey(ctx, id, false); !errors.Is(err, ErrNoDataKey) {
			t.Fatalf("OriginalKey before any = %v, want ErrNoDataKey", err)
		}
		if oks[id], err = r.OriginalKey(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		if again, err := r.OriginalKey(ctx, id, true); err != nil || !bytes.Equal(again, oks[id]) {
			t.Fatalf("OriginalKey a second time = %x, %v; want the same key", again, err)
		}
		if bytes.Equal(oks[id], deks[id]) {
			t.Fatal("the unredacted copy's key is the data key")
		}
	}
	if v, _ := r.DEKsByVersion(ctx); v[1] != 6 {
		t.Errorf("keys by version = %v, want 3 data keys and 3 copy keys under version 1", v)
	}
	if res, err := r.Rotate(ctx, true); err != nil || res.Rewrapped != 6 {
		t.Fatalf("Rotate = %+v, %v; want 6 keys re-wrapped", res, err)
	}
	r.Close()
	r = openRing(t, dir, fp)
	defer r.Close()
	for _, id := range ids {
		if got, err := r.OriginalKey(ctx, id, false); err != nil || !bytes.Equal(got, oks[id]) {
			t.Fatalf("OriginalKey after rotation and reopen = %x, %v", got, err)
		}
	}
	// The copy of ids[0] expires: its key goes, its data key stays.
	if err := r.ShredOriginalKeys(ctx, ids[:1], time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OriginalKey(ctx, ids[0], true); !errors.Is(err, ErrShredded) {
		t.Errorf("OriginalKey of an expired copy = %v, want ErrShredded (and no new key)", err)
	}
	if got, err := r.DEK(ctx, ids[0]); err != nil || !bytes.Equal(got, deks[ids[0]]) {
		t.Errorf("DEK after the copy expired = %v", err)
	}
	// A purge destroys both keys of ids[1].
	if err := r.Shred(ctx, ids[1:2], time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OriginalKey(ctx, ids[1], false); !errors.Is(err, ErrShredded) {
		t.Errorf("OriginalKey of a purged engagement = %v, want ErrShredded", err)
	}
	if _, err := r.OriginalKey(ctx, ids[2], false); err != nil {
		t.Errorf("OriginalKey of a kept engagement: %v", err)
	}
}
