package keys_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/earshot/earshot/store/keys"
	"github.com/earshot/earshot/store/keys/keystest"
)

// TestPKCS11KeysStayInTheHSM creates and destroys KEK versions on a real
// SoftHSM2 token: a created version is sensitive and not extractable, wraps
// and unwraps, and a destroyed one is gone.
func TestPKCS11KeysStayInTheHSM(t *testing.T) {
	hsm := keystest.SoftHSM(t)
	ctx := t.Context()
	p, err := keys.NewPKCS11Provider(hsm)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for v := uint32(1); v <= 2; v++ {
		if err := p.CreateKEK(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	dek := bytes.Repeat([]byte{7}, keys.KeySize)
	w, err := p.Wrap(ctx, 2, dek, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Unwrap(ctx, 2, w, []byte("aad")); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	if _, err := p.Unwrap(ctx, 2, w, []byte("other aad")); !errors.Is(err, keys.ErrTampered) {
		t.Fatalf("Unwrap with another aad = %v, want ErrTampered", err)
	}
	if err := p.DestroyKEK(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wrap(ctx, 1, dek, nil); !errors.Is(err, keys.ErrNoKEK) {
		t.Errorf("KEK version 1 after destroy: %v, want ErrNoKEK", err)
	}

	// Look at version 2 on the token through a session of our own.
	ctxP := pkcs11.New(hsm.Module)
	if err := ctxP.Initialize(); err != nil {
		var perr pkcs11.Error
		if !errors.As(err, &perr) || perr != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			t.Fatal(err)
		}
	}
	slots, err := ctxP.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	var sh pkcs11.SessionHandle
	found := false
	for _, s := range slots {
		if ti, err := ctxP.GetTokenInfo(s); err == nil && bytes.HasPrefix([]byte(ti.Label), []byte("earshot-test")) {
			if sh, err = ctxP.OpenSession(s, pkcs11.CKF_SERIAL_SESSION); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("test token not found")
	}
	defer ctxP.CloseSession(sh)
	if err := ctxP.Login(sh, pkcs11.CKU_USER, hsm.PIN); err != nil {
		// The provider's session already logged this application in.
		var perr pkcs11.Error
		if !errors.As(err, &perr) || perr != pkcs11.CKR_USER_ALREADY_LOGGED_IN {
			t.Fatal(err)
		}
	}
	if err := ctxP.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "earshot-kek-2")}); err != nil {
		t.Fatal(err)
	}
	objs, _, err := ctxP.FindObjects(sh, 1)
	ctxP.FindObjectsFinal(sh)
	if err != nil || len(objs) != 1 {
		t.Fatalf("KEK version 2 on the token: %v, %v", objs, err)
	}
	attrs, err := ctxP.GetAttributeValue(sh, objs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil)})
	if err != nil || len(attrs) != 2 || attrs[0].Value[0] != 0 || attrs[1].Value[0] != 1 {
		t.Errorf("KEK version 2 attributes = %v, %v; want not extractable, sensitive", attrs, err)
	}
	if _, err := ctxP.GetAttributeValue(sh, objs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err == nil {
		t.Error("the HSM handed out the KEK value")
	}
}
