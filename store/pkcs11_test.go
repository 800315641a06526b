package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/earshot/earshot/internal/testdep"
)

const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

// softHSM initialises a fresh SoftHSM2 token in a temporary directory and
// returns a PKCS#11 configuration for it. SoftHSM2 is a real PKCS#11
// module (Debian softhsm2, installed by `make deps`); in CI its absence is
// a failure, elsewhere a skip.
func softHSM(t *testing.T) PKCS11Config {
	t.Helper()
	util := testdep.Program(t, "softhsm2-util", "softhsm2")
	testdep.File(t, softhsmModule, "softhsm2")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", "earshot-test",
		"--pin", "123456", "--so-pin", "654321").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return PKCS11Config{Module: softhsmModule, TokenLabel: "earshot-test", PIN: "123456", KeyLabel: "earshot-kek"}
}

func TestPKCS11SoftHSM(t *testing.T) {
	hsm := softHSM(t)
	cfg := DefaultConfig()
	cfg.Keys.Provider = ProviderPKCS11
	cfg.Keys.PKCS11 = hsm
	dir := t.TempDir()
	ctx := context.Background()

	s, err := Open(Options{Dir: dir, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	e := fill(t, s)
	if _, err := os.Stat(filepath.Join(dir, "kek")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file KEK directory created although the HSM holds the KEK: %v", err)
	}
	s.Close()

	s, err = Open(Options{Dir: dir, Config: cfg})
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

	// Version 1 is gone from the token, version 2 is sensitive and not
	// extractable.
	p, err := NewPKCS11Provider(hsm)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	_, err1 := p.find(1)
	h2, err2 := p.find(2)
	var attrs []*pkcs11.Attribute
	if err2 == nil {
		attrs, err2 = p.p.GetAttributeValue(p.session, h2, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil)})
	}
	_, valueErr := p.p.GetAttributeValue(p.session, h2, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	p.mu.Unlock()
	p.Close()
	if !errors.Is(err1, ErrNoKEK) {
		t.Errorf("KEK version 1 after destroy: %v, want ErrNoKEK", err1)
	}
	if err2 != nil || len(attrs) != 2 || attrs[0].Value[0] != 0 || attrs[1].Value[0] != 1 {
		t.Errorf("KEK version 2 attributes = %v, %v; want not extractable, sensitive", attrs, err2)
	}
	if valueErr == nil {
		t.Error("the HSM handed out the KEK value")
	}

	s, err = Open(Options{Dir: dir, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if segs, err := s.Segments(ctx, e.ID); err != nil || len(segs) != 20 {
		t.Fatalf("Segments after rotation in the HSM = %d, %v", len(segs), err)
	}
	s.Close()

	bad := cfg
	bad.Keys.PKCS11.PIN = "000000"
	if _, err := Open(Options{Dir: dir, Config: bad}); err == nil || !strings.Contains(err.Error(), "login") {
		t.Fatalf("Open with a wrong PIN = %v, want a login error", err)
	}
	bad = cfg
	bad.Keys.PKCS11.TokenLabel = "nope"
	if _, err := Open(Options{Dir: dir, Config: bad}); err == nil || !strings.Contains(err.Error(), `no token labelled "nope"`) {
		t.Fatalf("Open with an unknown token = %v", err)
	}
}
