package whisperhttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wav"
	"github.com/google/go-cmp/cmp"
)

// standIn is a small stand-in for a Whisper server: no Whisper server can
// run on the build machine (no model weights), so this loopback HTTP
// server checks the request the engine sends (multipart, a 16 kHz mono WAV
// the media/wav parser accepts) and answers in the server's verbose_json
// shape, echoing the utterance length so the test can check the timeline.
func standIn(t *testing.T, path string, topLevelWords bool) (*httptest.Server, *int) {
	calls := new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path || r.Method != http.MethodPost {
			http.Error(w, "wrong endpoint", http.StatusNotFound)
			return
		}
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		buf := make([]byte, 1<<20)
		n, _ := f.Read(buf)
		wf, err := wav.Parse(buf[:n])
		if err != nil || wf.SampleRate != 16000 || wf.Channels != 1 {
			http.Error(w, "bad wav", http.StatusBadRequest)
			return
		}
		if r.FormValue("response_format") != "verbose_json" {
			http.Error(w, "want verbose_json", http.StatusBadRequest)
			return
		}
		*calls++
		dur := float64(wf.Frames()) / 16000
		words := []map[string]any{
			{"word": " check", "start": 0.1, "end": 0.4, "probability": 0.9},
			{"word": " balance", "start": 0.5, "end": dur, "probability": 0.8},
		}
		resp := map[string]any{"text": " check balance"}
		if topLevelWords {
			resp["words"] = words
		} else {
			resp["segments"] = []map[string]any{{"start": 0, "end": dur, "text": " check balance", "words": words}}
		}
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

func TestEngine(t *testing.T) {
	for _, tt := range []struct {
		api, path string
		top       bool
	}{{APIWhisperCpp, "/inference", false}, {APIOpenAI, "/v1/audio/transcriptions", true}} {
		t.Run(tt.api, func(t *testing.T) {
			srv, calls := standIn(t, tt.path, tt.top)
			e, err := New(Config{URL: srv.URL, API: tt.api, MaxStreams: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := e.NewStream(context.Background(), stt.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.NewStream(context.Background(), stt.StreamOptions{}); !errors.Is(err, stt.ErrBusy) {
				t.Fatalf("second stream: err = %v, want ErrBusy", err)
			}
			// Two utterances: 1 s, then 2 s.
			for _, secs := range []int{1, 2} {
				if res, err := s.Write(make([]int16, secs*16000)); err != nil || len(res) != 0 {
					t.Fatalf("Write = %v, %v; want no results before the utterance ends", res, err)
				}
				if _, err := s.EndUtterance(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Write(make([]int16, 16000)); err != nil {
				t.Fatal(err)
			}
			res, err := s.EndUtterance()
			if err != nil {
				t.Fatal(err)
			}
			want := []stt.Result{{Text: "check balance", Final: true, StartMs: 3000, EndMs: 4000, Words: []stt.Word{
				{Text: "check", StartMs: 3100, EndMs: 3400, Confidence: 0.9},
				{Text: "balance", StartMs: 3500, EndMs: 4000, Confidence: 0.8},
			}}}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("third utterance (-want +got):\n%s", diff)
			}
			if *calls != 3 {
				t.Errorf("server saw %d requests, want 3", *calls)
			}
			s.Close()
			if _, err := e.NewStream(context.Background(), stt.StreamOptions{}); err != nil {
				t.Errorf("stream slot not released: %v", err)
			}
		})
	}
}

func TestServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "model not loaded", http.StatusInternalServerError)
	}))
	defer srv.Close()
	e, _ := New(Config{URL: srv.URL, API: APIWhisperCpp}, nil)
	s, _ := e.NewStream(context.Background(), stt.StreamOptions{})
	s.Write(make([]int16, 1600))
	if _, err := s.EndUtterance(); err == nil {
		t.Fatal("EndUtterance with a failing server: nil error")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{URL: "ftp://x", API: APIOpenAI}, {URL: "http://127.0.0.1:1", API: "grpc"}} {
		if _, err := New(c, nil); err == nil {
			t.Errorf("New(%+v) = nil error", c)
		}
	}
}
