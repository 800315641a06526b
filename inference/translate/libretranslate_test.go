package translate

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// standInLibreTranslate is a stand-in for a LibreTranslate server, whose
// neural models cannot run here. It follows LibreTranslate's API as
// documented (POST /translate with q, source, target, format, api_key;
// {"translatedText": ...} on success; {"error": ...} with status 400 for a
// bad request or an unsupported language, 403 for a wrong API key, 500 for
// a failure) and "translates" word by word from a small table, copying
// unknown words, as a real engine copies names.
func standInLibreTranslate(t *testing.T, key string, fail *atomic.Bool) *httptest.Server {
	words := map[string]string{"gracias": "thank you", "por": "for", "su": "your", "ayuda": "help", "mi": "my", "de": "of", "cuenta": "account"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /translate", func(w http.ResponseWriter, r *http.Request) {
		reply := func(code int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(v)
		}
		var req struct{ Q, Source, Target, Format, APIKey string }
		if err := json.NewDecoder(r.Body).Decode(&struct {
			Q      *string `json:"q"`
			Source *string `json:"source"`
			Target *string `json:"target"`
			Format *string `json:"format"`
			APIKey *string `json:"api_key"`
		}{&req.Q, &req.Source, &req.Target, &req.Format, &req.APIKey}); err != nil {
			reply(400, map[string]string{"error": "Invalid request"})
			return
		}
		switch {
		case req.Q == "":
			reply(400, map[string]string{"error": "Invalid request: missing q parameter"})
		case key != "" && req.APIKey != key:
			reply(403, map[string]string{"error": "Invalid API key"})
		case req.Source != "es" || req.Target != "en":
			reply(400, map[string]string{"error": req.Source + " is not supported"})
		case fail != nil && fail.Load():
			reply(500, map[string]string{"error": "Cannot translate text: model failed"})
		default:
			var out []string
			for _, w := range strings.Fields(req.Q) {
				core := strings.TrimRight(w, ".,!?")
				if tr, ok := words[strings.ToLower(core)]; ok {
					w = tr + w[len(core):]
				}
				out = append(out, w)
			}
			reply(200, map[string]string{"translatedText": strings.Join(out, " ")})
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestLibreTranslate(t *testing.T) {
	var fail atomic.Bool
	srv := standInLibreTranslate(t, "s3cret", &fail)
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultLibreTranslateConfig()
	cfg.URL, cfg.APIKeyFile = srv.URL, keyFile
	lt, err := NewLibreTranslate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Close()
	if !lt.Local() {
		t.Error("a server on loopback is not local")
	}
	ctx := context.Background()
	out, err := lt.Translate(ctx, Pair{Spanish, English}, "Gracias por su ayuda.")
	if err != nil || out != "thank you for your help." {
		t.Errorf("Translate = %q, %v", out, err)
	}
	if _, err := lt.Translate(ctx, Pair{Galician, English}, "Grazas."); err == nil || !strings.Contains(err.Error(), "gl is not supported") {
		t.Errorf("unsupported pair: %v", err)
	}

	// Through the Translator, with Apertium as the fallback; the glossary
	// applies to this engine too.
	a := newTestApertium(t, DefaultApertiumConfig())
	tcfg := DefaultConfig()
	tcfg.Glossary = []Term{{Text: "Banco Norte"}}
	tr, err := New(tcfg, nil, prometheus.NewRegistry(), lt, a)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Translate(ctx, Request{Text: "Gracias por su ayuda, Banco Norte.", From: Spanish, To: English})
	if err != nil || res.Engine != "libretranslate" || res.Text != "thank you for your help, Banco Norte." {
		t.Errorf("through the translator: %+v, %v", res, err)
	}
	fail.Store(true)
	res, err = tr.Translate(ctx, Request{Text: "Gracias por su ayuda.", From: Spanish, To: English})
	if err != nil || res.Engine != "apertium" || !res.Fallback || res.Text != "Thank you By his help." {
		t.Errorf("server failing: %+v, %v; want Apertium's translation", res, err)
	}

	// A wrong key is an error, not a translation.
	bad := cfg
	bad.APIKeyFile = ""
	lt2, _ := NewLibreTranslate(bad)
	if _, err := lt2.Translate(ctx, Pair{Spanish, English}, "Gracias."); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("without the key: %v", err)
	}
}

func TestLibreTranslateConfig(t *testing.T) {
	tests := []struct {
		url   string
		site  bool
		local bool
		err   string
	}{
		{"http://127.0.0.1:5000", false, true, ""},
		{"http://[::1]:5000/", false, true, ""},
		{"https://translate.example.org", false, false, ""},
		{"https://translate.example.org", true, true, ""},
		{"ftp://x", false, false, "scheme must be http or https"},
		{"http://u:p@127.0.0.1", false, false, "must not carry credentials"},
	}
	for _, tt := range tests {
		cfg := DefaultLibreTranslateConfig()
		cfg.URL, cfg.SiteHosted = tt.url, tt.site
		lt, err := NewLibreTranslate(cfg)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil || lt.Local() != tt.local {
			t.Errorf("%s (site hosted %v): local %v, %v; want %v", tt.url, tt.site, lt != nil && lt.Local(), err, tt.local)
		}
	}
}
