// Package ttshttptest runs a stand-in for a neural speech server on
// loopback, for tests. No neural text-to-speech server can run where
// Earshot is built and tested (no model weights can be had), so this
// server answers the OpenAI-compatible POST /v1/audio/speech as Piper,
// Kokoro and Coqui servers do, speaking with CMU Flite underneath: real
// speech at 24 kHz (Kokoro's rate), as a streamed WAV (data size unknown,
// 0xFFFFFFFF) or raw PCM, sent in pieces with a flush after each. It
// checks requests as the real servers do (JSON with model, input and
// response_format) and misbehaves on demand: latency before the first
// byte, error statuses, a wrong content type, hanging before answering or
// in the middle of the audio.
package ttshttptest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/flite"
)

// Rate is the rate of the audio the server sends.
const Rate = 24000

// Fault is a way of misbehaving.
type Fault int

// Faults.
const (
	OK               Fault = iota
	Status500              // 500 with a JSON error body
	Status503              // 503, as a server still loading its model
	WrongContentType       // 200 with an HTML page
	Hang                   // never answers (until the client gives up)
	HangMidStream          // sends the header and some audio, then hangs
)

// Server is the stand-in.
type Server struct {
	*httptest.Server
	engine *flite.Engine

	mu      sync.Mutex
	latency time.Duration
	fault   Fault

	calls atomic.Int64
	bad   atomic.Int64
	// hung is closed when the server closes, releasing hanging handlers.
	hung chan struct{}
}

// New starts the stand-in on loopback; it is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	e, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("ttshttptest: flite (Debian libflite1): %v", err)
	}
	s := &Server{engine: e, hung: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.hung)
		s.Close()
	})
	return s
}

// SetLatency delays every answer by d before the first byte.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetFault makes the server misbehave from now on.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Calls returns how many speech requests arrived; Bad how many were
// refused as malformed.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Bad returns how many requests were refused as malformed.
func (s *Server) Bad() int64 { return s.bad.Load() }

type request struct {
	Model          string   `json:"model"`
	Input          string   `json:"input"`
	Voice          string   `json:"voice"`
	ResponseFormat string   `json:"response_format"`
	Speed          *float64 `json:"speed"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/audio/speech" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	s.calls.Add(1)
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model == "" || req.Input == "" ||
		(req.ResponseFormat != "wav" && req.ResponseFormat != "pcm") || r.Header.Get("Content-Type") != "application/json" {
		s.bad.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"message":"invalid request","type":"invalid_request_error"}}`))
		return
	}
	s.mu.Lock()
	latency, fault := s.latency, s.fault
	s.mu.Unlock()
	if !s.wait(r.Context(), latency) {
		return
	}
	switch fault {
	case Status500:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"message":"CUDA out of memory","type":"server_error"}}`))
		return
	case Status503:
		http.Error(w, "model loading", http.StatusServiceUnavailable)
		return
	case WrongContentType:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html><body>Proxy login required</body></html>"))
		return
	case Hang:
		s.wait(r.Context(), time.Hour)
		return
	}
	// The voice names a Flite voice when it is one; servers map unknown
	// voices to their default.
	voice := ""
	for _, v := range flite.Voices {
		if v == req.Voice {
			voice = v
		}
	}
	rs, _ := audio.NewResampler(16000, Rate)
	fl := w.(http.Flusher)
	if req.ResponseFormat == "wav" {
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(wavHeader())
	} else {
		w.Header().Set("Content-Type", "audio/pcm")
	}
	fl.Flush()
	sent := 0
	err := s.engine.Synthesize(r.Context(), tts.Request{Text: req.Input, Voice: voice, Rate: 16000}, func(pcm []int16) error {
		if fault == HangMidStream && sent > Rate/2 {
			s.wait(r.Context(), time.Hour)
			return context.Canceled
		}
		out := rs.Process(nil, pcm)
		sent += len(out)
		if _, err := w.Write(audio.Bytes(nil, out)); err != nil {
			return err
		}
		fl.Flush()
		return nil
	})
	if err == nil {
		w.Write(audio.Bytes(nil, rs.Flush(nil)))
	}
}

// wait waits for d, the request's end or the server's; it reports
// whether d passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.hung:
	}
	return false
}

// wavHeader is a streamed WAV's header: 16-bit mono at Rate, sizes
// unknown.
func wavHeader() []byte {
	b := []byte("RIFF\xff\xff\xff\xffWAVEfmt ")
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint32(b, Rate)
	b = binary.LittleEndian.AppendUint32(b, Rate*2)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data\xff\xff\xff\xff"...)
	return b
}
