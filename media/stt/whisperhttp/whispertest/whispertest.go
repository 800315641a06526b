// Package whispertest runs a stand-in for a Whisper-class server on
// loopback, for tests. No Whisper server can run where Earshot is built
// and tested (no model weights can be had), so this server answers the
// whisper.cpp server's POST /inference and the OpenAI-compatible POST
// /v1/audio/transcriptions (faster-whisper, speaches) the way they do,
// without recognising anything: the transcript is whatever the test says
// the utterance contains. It checks requests as the real servers do
// (multipart "file" holding a 16 kHz mono WAV, verbose_json, "model" for
// the OpenAI API), answers GET /health, and can misbehave on demand:
// latency, error statuses, a server that hangs, a wrong content type, a
// malformed body, or going down.
package whispertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/media/wav"
)

// API flavours (the same strings as whisperhttp's).
const (
	WhisperCpp = "whisper.cpp"
	OpenAI     = "openai"
)

// Fault is a way of misbehaving.
type Fault int

// Faults.
const (
	OK               Fault = iota
	Status500              // 500 with a plain-text body
	Status503              // 503, as a server still loading its model
	WrongContentType       // 200 with an HTML page
	Malformed              // 200, application/json, not JSON
	Hang                   // never answers (until the client gives up)
)

// Server is the stand-in.
type Server struct {
	*httptest.Server
	api string

	mu         sync.Mutex
	transcript func(pcm []int16) string
	latency    time.Duration
	fault      Fault
	down       bool

	inFlight atomic.Int64
	maxIn    atomic.Int64
	calls    atomic.Int64
	bad      atomic.Int64
}

// New starts a stand-in of the given API on loopback; it is closed when
// the test ends. By default every utterance is transcribed as "hello".
func New(t testing.TB, api string) *Server {
	t.Helper()
	s := &Server{api: api, transcript: func([]int16) string { return "hello" }}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// SetTranscript sets what the server "hears" in an utterance.
func (s *Server) SetTranscript(f func(pcm []int16) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transcript = f
}

// SetLatency makes every transcription take d (a real server takes a
// fraction of the audio's length, more under load).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetFault makes transcriptions misbehave.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetDown makes the server refuse everything (503, health included), as
// a server restarting or loading its model.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Calls is the number of transcription requests received.
func (s *Server) Calls() int { return int(s.calls.Load()) }

// MaxInFlight is the most transcription requests seen at once.
func (s *Server) MaxInFlight() int { return int(s.maxIn.Load()) }

// InFlight is the number of transcription requests being served now.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// BadRequests counts requests the server refused as malformed (400).
func (s *Server) BadRequests() int { return int(s.bad.Load()) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down, fault, latency, transcript := s.down, s.fault, s.latency, s.transcript
	s.mu.Unlock()
	path := "/inference"
	if s.api == OpenAI {
		path = "/v1/audio/transcriptions"
	}
	switch {
	case r.URL.Path == "/health" && r.Method == http.MethodGet:
		if down {
			http.Error(w, `{"status":"loading model"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
		return
	case r.URL.Path != path || r.Method != http.MethodPost:
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxIn.Load()
		if n <= m || s.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	s.calls.Add(1)
	if down {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	pcm, err := s.parse(r)
	if err != nil {
		s.bad.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	wait := latency
	if fault == Hang {
		wait = time.Hour
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	switch fault {
	case Status500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case Status503:
		http.Error(w, "model loading", http.StatusServiceUnavailable)
		return
	case WrongContentType:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
		return
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"text": "unterminated`)
		return
	}
	text := transcript(pcm)
	dur := float64(len(pcm)) / 16000
	words := strings.Fields(text)
	ws := make([]map[string]any, len(words))
	for i, word := range words {
		// Words spread evenly over the utterance, as a server's timestamps.
		ws[i] = map[string]any{"word": " " + word, "start": dur * float64(i) / float64(len(words)),
			"end": dur * float64(i+1) / float64(len(words)), "probability": 0.9}
	}
	resp := map[string]any{"text": " " + text, "language": "en", "duration": dur}
	if s.api == OpenAI {
		resp["task"] = "transcribe"
		resp["words"] = ws
		resp["segments"] = []map[string]any{{"id": 0, "start": 0, "end": dur, "text": " " + text}}
	} else {
		resp["segments"] = []map[string]any{{"id": 0, "start": 0, "end": dur, "text": " " + text, "words": ws}}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// parse checks the request as the servers do and returns the audio.
func (s *Server) parse(r *http.Request) ([]int16, error) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		return nil, fmt.Errorf("multipart form: %w", err)
	}
	if s.api == OpenAI && r.FormValue("model") == "" {
		return nil, fmt.Errorf("model is required")
	}
	if f := r.FormValue("response_format"); f != "verbose_json" {
		return nil, fmt.Errorf("response_format %q: this stand-in answers verbose_json only", f)
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	wf, err := wav.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if wf.SampleRate != 16000 || wf.Channels != 1 || wf.Encoding != wav.PCM || wf.BitsPerSample != 16 {
		return nil, fmt.Errorf("file: want 16 kHz mono 16-bit PCM")
	}
	return wf.Samples(), nil
}
