package wsstream

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBadStreams sends what a broken or hostile client sends. Each stream
// is closed with a status that says why, the reason is counted, the
// engagement keeps the audio it had, and a good stream is served meanwhile.
func TestBadStreams(t *testing.T) {
	t.Parallel()
	mu := func(n int) []byte { return []byte(strings.Repeat("\xff", n)) }
	for _, tc := range []struct {
		name    string
		send    func(tw *twilioClient)
		status  websocket.StatusCode
		reason  string // streams_ended_total
		audioMs int    // audio the engagement keeps; -1: no engagement
	}{
		{"nonsense after start", func(tw *twilioClient) {
			tw.start("inbound")
			tw.media("inbound", 1, 0, mu(160))
			for range 5 {
				tw.c.Write(context.Background(), websocket.MessageText, []byte("}{ not json"))
			}
		}, websocket.StatusInvalidFramePayloadData, "bad_messages", 20},
		{"nonsense from the start", func(tw *twilioClient) {
			for range 5 {
				tw.c.Write(context.Background(), websocket.MessageText, []byte("hello?"))
			}
		}, websocket.StatusInvalidFramePayloadData, "bad_messages", -1},
		{"bad base64, unknown events and tracks", func(tw *twilioClient) {
			tw.start("inbound")
			tw.media("inbound", 1, 0, mu(160))
			for range 3 {
				tw.send(map[string]any{"event": "media", "media": map[string]any{"track": "inbound", "payload": "!!!"}})
			}
			tw.send(map[string]any{"event": "party"})
			tw.send(map[string]any{"event": "media", "media": map[string]any{"track": "sideways", "payload": "AAAA"}})
		}, websocket.StatusInvalidFramePayloadData, "bad_messages", 20},
		{"stalls after start", func(tw *twilioClient) {
			tw.start("inbound")
			tw.media("inbound", 1, 0, mu(320))
		}, websocket.StatusPolicyViolation, "idle_timeout", 40},
		{"oversized message", func(tw *twilioClient) {
			tw.start("inbound")
			tw.media("inbound", 1, 0, mu(160))
			tw.media("inbound", 2, 20, mu(8000))
		}, websocket.StatusMessageTooBig, "oversized", 20},
		{"unsupported media format", func(tw *twilioClient) {
			tw.send(map[string]any{"event": "start", "start": map[string]any{"tracks": []string{"inbound"},
				"mediaFormat": map[string]any{"encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1}}})
		}, websocket.StatusUnsupportedData, "refused", -1},
		{"bad PCM rate", func(tw *twilioClient) {
			tw.c.Write(context.Background(), websocket.MessageText, []byte(`{"sampleRate": 3}`))
		}, websocket.StatusUnsupportedData, "refused", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testServer(t, func(c *Config) {
				c.IdleTimeout = 2 * time.Second
				c.MaxBadMessages = 5
				c.MaxMessageBytes = 4096
			})
			// A good stream runs alongside the bad one and outlives it:
			// 100 ms of audio every 300 ms.
			good := e.dial(t, "?engagement=good&format=pcm&rate=8000")
			frames := make(chan int)
			stop := make(chan struct{})
			go func() {
				n := 0
				defer func() { frames <- n }()
				for {
					if err := good.Write(context.Background(), websocket.MessageBinary, make([]byte, 1600)); err != nil {
						return
					}
					n++
					select {
					case <-stop:
						return
					case <-time.After(300 * time.Millisecond):
					}
				}
			}()
			c := e.dial(t, "?engagement=bad")
			tc.send(&twilioClient{t: t, c: c})
			if st := closeStatus(t, c); st != tc.status {
				t.Errorf("close status %v, want %v", st, tc.status)
			}
			waitFor(t, "ended counter", func() bool {
				return testutil.ToFloat64(e.srv.m.ended.WithLabelValues(tc.reason)) == 1
			})
			close(stop)
			sent := <-frames
			good.Close(websocket.StatusNormalClosure, "")
			goodEng := e.col.get(t, "good")
			if err := goodEng.WaitClosed(t); err != nil {
				t.Errorf("good stream ended with %v", err)
			}
			if got := goodEng.PE.Stats()["mixed"].AudioMs; got != int64(sent*100) || sent < 1 {
				t.Errorf("good stream: %d ms of audio, want %d", got, sent*100)
			}
			if tc.audioMs < 0 {
				if n := e.col.count(); n != 1 {
					t.Errorf("%d engagements opened, want only the good one", n)
				}
				return
			}
			bad := e.col.get(t, "bad")
			if err := bad.WaitClosed(t); err == nil {
				t.Errorf("engagement closed with nil, want the reason")
			}
			if got := bad.PE.Stats()["customer"].AudioMs; got != int64(tc.audioMs) {
				t.Errorf("engagement kept %d ms of audio, want %d", got, tc.audioMs)
			}
		})
	}
}

// TestRefusals: over max_streams the upgrade is refused with 503 and a
// problem detail.
func TestRefusals(t *testing.T) {
	e := testServer(t, func(c *Config) { c.MaxStreams = 1 })
	e.dial(t, "?format=pcm")
	req, _ := http.NewRequest("GET", e.hs.URL+"/ws", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("second stream: %d %s, want 503 application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := testutil.ToFloat64(e.srv.m.refused.WithLabelValues("too_many_streams")); got != 1 {
		t.Errorf("refusals_total{too_many_streams} = %v, want 1", got)
	}
}

// TestShutdown: Close ends live streams with status 1001 and closes their
// engagements without error, keeping their audio.
func TestShutdown(t *testing.T) {
	e := testServer(t, nil)
	c := e.dial(t, "?engagement=s1&format=pcm&rate=16000")
	if err := c.Write(context.Background(), websocket.MessageBinary, make([]byte, 3200)); err != nil {
		t.Fatal(err)
	}
	eng := e.col.get(t, "s1")
	waitFor(t, "audio", func() bool { return eng.PE.Stats()["mixed"].AudioMs == 100 })
	status := make(chan websocket.StatusCode, 1)
	go func() { status <- closeStatus(t, c) }() // the client answers the close
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if st := <-status; st != websocket.StatusGoingAway {
		t.Errorf("close status %v, want going away", st)
	}
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("engagement closed with %v at shutdown, want nil", err)
	}
	if got := testutil.ToFloat64(e.srv.m.ended.WithLabelValues("shutdown")); got != 1 {
		t.Errorf("streams_ended_total{shutdown} = %v, want 1", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
