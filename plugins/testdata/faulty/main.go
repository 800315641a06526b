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
package main

import (
	"context"
	"encoding/json"
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
	mu  sync.Mutex
	cfg map[string]string
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
	return f.behave(ctx, "Deliver", ev)
}

func (f *faulty) Wrap(ctx context.Context, keyID string, pt []byte) ([]byte, string, error) {
	if err := f.behave(ctx, "Wrap", map[string]any{"key_id": keyID, "len": len(pt)}); err != nil {
		return nil, "", err
	}
	if keyID == "" {
		keyID = "kek-1"
	}
	return xor(pt), keyID, nil
}

func (f *faulty) Unwrap(ctx context.Context, keyID string, ct []byte) ([]byte, error) {
	if keyID != "kek-1" {
		return nil, fmt.Errorf("key %q: %w", keyID, sdk.ErrNotFound)
	}
	return xor(ct), nil
}

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ 0xa5
	}
	return out
}
