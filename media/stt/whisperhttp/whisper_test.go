package whisperhttp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/whisperhttp"
	"github.com/earshot/earshot/media/stt/whisperhttp/whispertest"
)

// The servers are stand-ins (whispertest): no Whisper model weights can be
// had where this is tested.

func TestEngine(t *testing.T) {
	for _, api := range []string{whisperhttp.APIWhisperCpp, whisperhttp.APIOpenAI} {
		t.Run(api, func(t *testing.T) {
			srv := whispertest.New(t, api)
			srv.SetTranscript(func([]int16) string { return "check balance" })
			e, err := whisperhttp.New(whisperhttp.Config{URL: srv.URL, API: api, Model: "small.en", MaxStreams: 1}, nil)
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
				{Text: "check", StartMs: 3000, EndMs: 3500, Confidence: 0.9},
				{Text: "balance", StartMs: 3500, EndMs: 4000, Confidence: 0.9},
			}}}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("third utterance (-want +got):\n%s", diff)
			}
			if srv.Calls() != 3 || srv.BadRequests() != 0 {
				t.Errorf("server saw %d requests (%d bad), want 3 good", srv.Calls(), srv.BadRequests())
			}
			s.Close()
			if _, err := e.NewStream(context.Background(), stt.StreamOptions{}); err != nil {
				t.Errorf("stream slot not released: %v", err)
			}
		})
	}
}

// TestClientFaults: every way a server can fail is an error of the right
// kind, and a hanging server is given up at the timeout.
func TestClientFaults(t *testing.T) {
	srv := whispertest.New(t, whisperhttp.APIWhisperCpp)
	c, err := whisperhttp.NewClient(whisperhttp.Config{URL: srv.URL, API: whisperhttp.APIWhisperCpp, Timeout: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		fault whispertest.Fault
		want  error
	}{
		{"500", whispertest.Status500, whisperhttp.ErrStatus},
		{"503", whispertest.Status503, whisperhttp.ErrStatus},
		{"html", whispertest.WrongContentType, whisperhttp.ErrBadResponse},
		{"malformed", whispertest.Malformed, whisperhttp.ErrBadResponse},
		{"hang", whispertest.Hang, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetFault(tt.fault)
			_, _, err := c.Transcribe(context.Background(), make([]int16, 8000))
			if tt.fault == whispertest.Hang {
				// net/http reports its own timeout; either form is a timeout.
				var te interface{ Timeout() bool }
				if !errors.As(err, &te) || !te.Timeout() {
					t.Fatalf("hanging server: err = %v, want a timeout", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	srv.SetFault(whispertest.OK)
	if err := c.Health(context.Background(), "/health"); err != nil {
		t.Errorf("health of a healthy server: %v", err)
	}
	srv.SetDown(true)
	if err := c.Health(context.Background(), "/health"); !errors.Is(err, whisperhttp.ErrStatus) {
		t.Errorf("health of a server that is down: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []whisperhttp.Config{{URL: "ftp://x", API: whisperhttp.APIOpenAI}, {URL: "http://127.0.0.1:1", API: "grpc"}} {
		if _, err := whisperhttp.New(c, nil); err == nil {
			t.Errorf("New(%+v) = nil error", c)
		}
	}
}
