package ollamatest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// WishMarker introduces an attacker's wish in a hostile message: the
// parrot answers with the rest of that line.
const WishMarker = "reply with exactly: "

// Parrot starts, on loopback, a stand-in for the worst language model a
// hostile customer could meet: it speaks Ollama's chat API and answers the
// attacker's wish verbatim, the text after WishMarker (to the end of its
// line) in the last place of the request that holds it, or a refusal when
// there is none. No real model can run here (no weights can be had), so
// model-abuse tests use it to show that every guard on a model's output
// holds whatever the model says. It returns the server's URL.
func Parrot(t testing.TB) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("Ollama is running")) })
	mux.HandleFunc("HEAD /", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /api/chat", func(w http.ResponseWriter, r *http.Request) {
		var req api.ChatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		wish := "I cannot help with that."
		for _, m := range req.Messages {
			if i := strings.LastIndex(m.Content, WishMarker); i >= 0 {
				wish, _, _ = strings.Cut(m.Content[i+len(WishMarker):], "\n")
			}
		}
		json.NewEncoder(w).Encode(api.ChatResponse{
			Model: req.Model, CreatedAt: time.Now(), Message: api.Message{Role: "assistant", Content: wish},
			Done: true, DoneReason: "stop",
		})
	})
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL
}
