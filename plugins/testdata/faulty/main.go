// Command faulty is a test plugin for the host's tests. It serves the info,
// skill, model, keys and sink kinds and misbehaves on request. Its key
// "encryption" is a XOR for tests only.
//
// Configuration:
//
//	record     file to append one JSON line per call, holding exactly what
//	           the plugin received (the test checks data minimisation)
//	pidfile    file to write the process ID to at Configure
//	mode_file  file whose content is the behaviour of each call, re-read
//	           per call: "ok" (default), "panic" (crash the process),
//	           "hang" (block until the caller gives up), "exit" (exit 3)
//	delivered  file to append each event Deliver accepted to (one JSON line)
//	keys_file  file holding the named AES-256 keys of the keys kind (see Wrap)
//	keys_manage "no" to refuse CreateKey and DestroyKey as unsupported
package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/earshot/earshot/plugins/sdk"
)

func main() {
	f := &faulty{}
	// The plugin is named after its executable, so that tests can install
	// it several times under different names.
	sdk.Serve(&sdk.Plugin{Name: filepath.Base(os.Args[0]), Version: "0.0.1", Configure: f.configure,
		Info: f, Skills: f, Model: f, Sink: f, Keys: f})
}

type faulty struct {
	mu     sync.Mutex
	cfg    map[string]string
	keysMu sync.Mutex // serialises keys_file updates
}

func (f *faulty) configure(_ context.Context, cfg map[string]string) error {
	f.mu.Lock()
	f.cfg = cfg
	f.mu.Unlock()
	if p := cfg["pidfile"]; p != "" {
		return os.WriteFile(p, []byte(fmt.Sprint(os.Getpid())), 0o600)
	}
	return nil
}

func (f *faulty) behave(ctx context.Context, method string, got any) error {
	f.mu.Lock()
	cfg := f.cfg
	f.mu.Unlock()
	if p := cfg["record"]; p != "" {
		line, err := json.Marshal(map[string]any{"method": method, "got": got})
		if err != nil {
			return err
		}
		fh, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = fh.Write(append(line, '\n'))
		fh.Close()
		if err != nil {
			return err
		}
	}
	mode := "ok"
	if p := cfg["mode_file"]; p != "" {
		if b, err := os.ReadFile(p); err == nil {
			mode = strings.TrimSpace(string(b))
		}
	}
	switch mode {
	case "panic":
		panic("faulty: asked to panic")
	case "hang":
		<-ctx.Done()
		select {} // never answer, even after the caller gave up
	case "exit":
		os.Exit(3)
	}
	return nil
}

func (f *faulty) Cards(ctx context.Context, e sdk.Engagement) ([]sdk.Card, error) {
	if err := f.behave(ctx, "Cards", e); err != nil {
		return nil, err
	}
	return []sdk.Card{{Title: "Faulty", Fields: []sdk.Field{{Key: "ref_len", Label: "Ref length", Value: fmt.Sprint(len(e.CustomerRef))}}}}, nil
}

func (f *faulty) Skills(ctx context.Context) ([]sdk.Skill, error) {
	return []sdk.Skill{{Name: "echo", Description: "Echoes its input", InputSchema: `{"type":"object"}`}}, nil
}

func (f *faulty) Invoke(ctx context.Context, req sdk.InvokeRequest) (sdk.InvokeResult, error) {
	if err := f.behave(ctx, "Invoke", req); err != nil {
		return sdk.InvokeResult{}, err
	}
	return sdk.InvokeResult{ResultJSON: req.InputJSON, Message: "echoed"}, nil
}

func (f *faulty) Capabilities(context.Context) ([]string, error) { return []string{"summarise"}, nil }

func (f *faulty) Infer(ctx context.Context, req sdk.InferRequest) (sdk.InferResult, error) {
	if err := f.behave(ctx, "Infer", req); err != nil {
		return sdk.InferResult{}, err
	}
	return sdk.InferResult{Text: fmt.Sprintf("%d segments", len(req.Engagement.Transcript))}, nil
}

func (f *faulty) Deliver(ctx context.Context, ev sdk.Event) error {
	if err := f.behave(ctx, "Deliver", ev); err != nil {
		return err
	}
	p := f.conf("delivered")
	if p == "" {
		return nil
	}
	line, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = fh.Write(append(line, '\n'))
	return err
}

// Keys: with keys_file configured, AES-256-GCM under named keys kept in
// that file (hex, created by CreateKey); keys_manage "no" makes CreateKey
// and DestroyKey unsupported, as in a plugin built against SDK API 1.0.
// Without keys_file, a XOR under the one key "kek-1".
func (f *faulty) Wrap(ctx context.Context, keyID string, pt []byte) ([]byte, string, error) {
	if err := f.behave(ctx, "Wrap", map[string]any{"key_id": keyID, "len": len(pt)}); err != nil {
		return nil, "", err
	}
	if f.conf("keys_file") == "" {
		if keyID == "" {
			keyID = "kek-1"
		}
		return xor(pt), keyID, nil
	}
	aead, err := f.aead(keyID)
	if err != nil {
		return nil, "", err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, pt, []byte(keyID)), keyID, nil
}

func (f *faulty) Unwrap(ctx context.Context, keyID string, ct []byte) ([]byte, error) {
	if err := f.behave(ctx, "Unwrap", map[string]any{"key_id": keyID, "len": len(ct)}); err != nil {
		return nil, err
	}
	if f.conf("keys_file") == "" {
		if keyID != "kek-1" {
			return nil, fmt.Errorf("key %q: %w", keyID, sdk.ErrNotFound)
		}
		return xor(ct), nil
	}
	aead, err := f.aead(keyID)
	if err != nil {
		return nil, err
	}
	if len(ct) < aead.NonceSize() {
		return nil, fmt.Errorf("ciphertext too short: %w", sdk.ErrInvalidInput)
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(keyID))
	if err != nil {
		return nil, fmt.Errorf("key %q: %w: %w", keyID, err, sdk.ErrInvalidInput)
	}
	return pt, nil
}

func (f *faulty) CreateKey(ctx context.Context, keyID string) error {
	if err := f.behave(ctx, "CreateKey", map[string]any{"key_id": keyID}); err != nil {
		return err
	}
	if f.conf("keys_file") == "" || f.conf("keys_manage") == "no" {
		return sdk.ErrUnsupported
	}
	return f.updateKeys(func(keys map[string]string) {
		if _, ok := keys[keyID]; !ok {
			k := make([]byte, 32)
			rand.Read(k)
			keys[keyID] = hex.EncodeToString(k)
		}
	})
}

func (f *faulty) DestroyKey(ctx context.Context, keyID string) error {
	if err := f.behave(ctx, "DestroyKey", map[string]any{"key_id": keyID}); err != nil {
		return err
	}
	if f.conf("keys_file") == "" || f.conf("keys_manage") == "no" {
		return sdk.ErrUnsupported
	}
	return f.updateKeys(func(keys map[string]string) { delete(keys, keyID) })
}

func (f *faulty) conf(k string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg[k]
}

func (f *faulty) readKeys() (map[string]string, error) {
	keys := map[string]string{}
	b, err := os.ReadFile(f.conf("keys_file"))
	if errors.Is(err, os.ErrNotExist) {
		return keys, nil
	}
	if err != nil {
		return nil, err
	}
	return keys, json.Unmarshal(b, &keys)
}

func (f *faulty) updateKeys(change func(map[string]string)) error {
	f.keysMu.Lock()
	defer f.keysMu.Unlock()
	keys, err := f.readKeys()
	if err != nil {
		return err
	}
	change(keys)
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	p := f.conf("keys_file")
	if err := os.WriteFile(p+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

func (f *faulty) aead(keyID string) (cipher.AEAD, error) {
	f.keysMu.Lock()
	keys, err := f.readKeys()
	f.keysMu.Unlock()
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(keys[keyID])
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("key %q: %w", keyID, sdk.ErrNotFound)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ 0xa5
	}
	return out
}
