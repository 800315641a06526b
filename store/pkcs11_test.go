package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/store/keys"
	"github.com/earshot/earshot/store/keys/keystest"
)

func TestPKCS11SoftHSM(t *testing.T) {
	hsm := keystest.SoftHSM(t)
	cfg := DefaultConfig()
	cfg.Keys.Provider = keys.ProviderPKCS11
	cfg.Keys.PKCS11 = hsm
	dir := t.TempDir()
	ctx := context.Background()

	s, err := Open(context.Background(), Options{Dir: dir, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	e := fill(t, s)
	if _, err := os.Stat(filepath.Join(dir, "kek")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file KEK directory created although the HSM holds the KEK: %v", err)
	}
	s.Close()

	s, err = Open(context.Background(), Options{Dir: dir, Config: cfg})
	if err != nil {
		t.Fatalf("reopen with the HSM: %v", err)
	}
	segs, err := s.Segments(ctx, e.ID)
	if err != nil || len(segs) != 20 || segs[0].Text != secretText {
		t.Fatalf("Segments through the HSM = %d, %v", len(segs), err)
	}
	got, err := s.Engagement(ctx, e.ID)
	if err != nil || got.CustomerRef != secretCustomer {
		t.Fatalf("Engagement through the HSM = %+v, %v", got, err)
	}
	res, err := s.RotateKEK(ctx, "root", true)
	if err != nil {
		t.Fatal(err)
	}
	if res.To != 2 || res.Rewrapped != 1 || len(res.Destroyed) != 1 {
		t.Fatalf("RotateKEK in the HSM = %+v", res)
	}
	s.Close()

	// Version 1 is gone from the token (keys/pkcs11_test.go checks that
	// the versions it holds are sensitive and not extractable).
	p, err := keys.NewPKCS11Provider(hsm)
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := p.Wrap(ctx, 1, make([]byte, keys.KeySize), nil)
	p.Close()
	if !errors.Is(err1, keys.ErrNoKEK) {
		t.Errorf("KEK version 1 after destroy: %v, want ErrNoKEK", err1)
	}

	s, err = Open(context.Background(), Options{Dir: dir, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if segs, err := s.Segments(ctx, e.ID); err != nil || len(segs) != 20 {
		t.Fatalf("Segments after rotation in the HSM = %d, %v", len(segs), err)
	}
	s.Close()

	bad := cfg
	bad.Keys.PKCS11.PIN = "000000"
	if _, err := Open(context.Background(), Options{Dir: dir, Config: bad}); err == nil || !strings.Contains(err.Error(), "login") {
		t.Fatalf("Open with a wrong PIN = %v, want a login error", err)
	}
	bad = cfg
	bad.Keys.PKCS11.TokenLabel = "nope"
	if _, err := Open(context.Background(), Options{Dir: dir, Config: bad}); err == nil || !strings.Contains(err.Error(), `no token labelled "nope"`) {
		t.Fatalf("Open with an unknown token = %v", err)
	}
}
