package keys

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// PKCS11Provider keeps the KEK versions in an HSM reached through PKCS#11:
// AES-256 secret keys labelled "<key_label>-<version>", sensitive and not
// extractable, so KEK material never leaves the HSM. Data keys are wrapped
// with CKM_AES_GCM (12-byte IV chosen here, 128-bit tag, the caller's AAD)
// through C_Encrypt/C_Decrypt. One session is shared under a mutex: PKCS#11
// sessions are not safe for concurrent operations.
type PKCS11Provider struct {
	mu      sync.Mutex
	p       *pkcs11.Ctx
	session pkcs11.SessionHandle
	label   string
}

var _ Provider = (*PKCS11Provider)(nil)

// NewPKCS11Provider loads the module, finds the token by label and logs in.
func NewPKCS11Provider(c PKCS11Config) (*PKCS11Provider, error) {
	pin, err := c.pin()
	if err != nil {
		return nil, err
	}
	label := c.KeyLabel
	if label == "" {
		label = "earshot-kek"
	}
	p := pkcs11.New(c.Module)
	if p == nil {
		return nil, fmt.Errorf("keys: pkcs11: cannot load module %s", c.Module)
	}
	fail := func(format string, err error) (*PKCS11Provider, error) {
		p.Finalize()
		p.Destroy()
		return nil, fmt.Errorf("keys: pkcs11: "+format+": %w", err)
	}
	if err := p.Initialize(); err != nil {
		// Another user of the module in this process (a plugin host
		// helper, a previous provider) may have initialised it already.
		var perr pkcs11.Error
		if !errors.As(err, &perr) || perr != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			p.Destroy()
			return nil, fmt.Errorf("keys: pkcs11: initialize %s: %w", c.Module, err)
		}
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		return fail("list slots", err)
	}
	var slot uint
	found := false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && strings.TrimRight(ti.Label, " \x00") == c.TokenLabel {
			slot, found = s, true
			break
		}
	}
	if !found {
		return fail("token", fmt.Errorf("no token labelled %q", c.TokenLabel))
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fail("open session", err)
	}
	if err := p.Login(sh, pkcs11.CKU_USER, pin); err != nil {
		p.CloseSession(sh)
		return fail("login", err)
	}
	return &PKCS11Provider{p: p, session: sh, label: label}, nil
}

func (c PKCS11Config) pin() (string, error) {
	switch {
	case c.PIN != "":
		return c.PIN, nil
	case c.PINFile != "":
		b, err := os.ReadFile(c.PINFile)
		if err != nil {
			return "", fmt.Errorf("keys: pkcs11: pin_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case c.PINEnv != "":
		v := os.Getenv(c.PINEnv)
		if v == "" {
			return "", fmt.Errorf("keys: pkcs11: environment variable %s (pin_env) is empty", c.PINEnv)
		}
		return v, nil
	}
	return "", errors.New("keys: pkcs11: no pin configured")
}

// Name implements Provider.
func (h *PKCS11Provider) Name() string { return ProviderPKCS11 }

func (h *PKCS11Provider) objectLabel(v uint32) string {
	return h.label + "-" + strconv.FormatUint(uint64(v), 10)
}

// find returns the handle of KEK version v; the caller holds mu.
func (h *PKCS11Provider) find(v uint32) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, h.objectLabel(v)),
	}
	if err := h.p.FindObjectsInit(h.session, tmpl); err != nil {
		return 0, fmt.Errorf("keys: pkcs11: find: %w", err)
	}
	objs, _, err := h.p.FindObjects(h.session, 1)
	if ferr := h.p.FindObjectsFinal(h.session); err == nil {
		err = ferr
	}
	if err != nil {
		return 0, fmt.Errorf("keys: pkcs11: find: %w", err)
	}
	if len(objs) == 0 {
		return 0, fmt.Errorf("kek %s: %w", h.objectLabel(v), ErrNoKEK)
	}
	return objs[0], nil
}

// CreateKEK implements Provider: an existing key with the version's
// label (for instance one the customer generated) is kept.
func (h *PKCS11Provider) CreateKEK(_ context.Context, v uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.find(v); err == nil {
		return nil
	} else if !errors.Is(err, ErrNoKEK) {
		return err
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, KeySize),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, h.objectLabel(v)),
	}
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}
	if _, err := h.p.GenerateKey(h.session, mech, tmpl); err != nil {
		return fmt.Errorf("keys: pkcs11: generate %s: %w", h.objectLabel(v), err)
	}
	return nil
}

// Wrap implements Provider: IV (12) | AES-GCM ciphertext and tag.
func (h *PKCS11Provider) Wrap(_ context.Context, v uint32, dek, aad []byte) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	obj, err := h.find(v)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, nonceSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("keys: pkcs11: iv: %w", err)
	}
	params := pkcs11.NewGCMParams(iv, aad, 128)
	defer params.Free()
	if err := h.p.EncryptInit(h.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, obj); err != nil {
		return nil, fmt.Errorf("keys: pkcs11: encrypt init: %w", err)
	}
	ct, err := h.p.Encrypt(h.session, dek)
	if err != nil {
		return nil, fmt.Errorf("keys: pkcs11: encrypt: %w", err)
	}
	if got := params.IV(); len(got) == nonceSize {
		iv = got // some HSMs choose the IV themselves
	}
	return append(iv, ct...), nil
}

// Unwrap implements Provider.
func (h *PKCS11Provider) Unwrap(_ context.Context, v uint32, wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < nonceSize+16 {
		return nil, ErrTampered
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	obj, err := h.find(v)
	if err != nil {
		return nil, err
	}
	params := pkcs11.NewGCMParams(wrapped[:nonceSize], aad, 128)
	defer params.Free()
	if err := h.p.DecryptInit(h.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, obj); err != nil {
		return nil, fmt.Errorf("keys: pkcs11: decrypt init: %w", err)
	}
	pt, err := h.p.Decrypt(h.session, wrapped[nonceSize:])
	if err != nil {
		return nil, fmt.Errorf("keys: pkcs11: decrypt (%v): %w", err, ErrTampered)
	}
	return pt, nil
}

// DestroyKEK implements Provider.
func (h *PKCS11Provider) DestroyKEK(_ context.Context, v uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	obj, err := h.find(v)
	if errors.Is(err, ErrNoKEK) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.p.DestroyObject(h.session, obj); err != nil {
		return fmt.Errorf("keys: pkcs11: destroy %s: %w", h.objectLabel(v), err)
	}
	return nil
}

// Close implements Provider.
func (h *PKCS11Provider) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p == nil {
		return nil
	}
	h.p.Logout(h.session)
	h.p.CloseSession(h.session)
	err := h.p.Finalize()
	h.p.Destroy()
	h.p = nil
	if err != nil {
		return fmt.Errorf("keys: pkcs11: finalize: %w", err)
	}
	return nil
}
