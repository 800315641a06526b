package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/stt/pool"
	"github.com/earshot/earshot/media/stt/whisperhttp/whispertest"
	"github.com/earshot/earshot/media/wav"
	"github.com/earshot/earshot/store"
)

// TestTwoPassThroughAPI streams real speech over the raw-PCM WebSocket
// into a queue whose engine is two-pass: PocketSphinx's finals are
// published at once, then each is replaced by the Whisper-class server's
// transcript (a stand-in: no Whisper weights can be had here). Readers of
// the event stream see the revision under the same seq (also when they
// resume with Last-Event-ID after the first final), the stored transcript
// holds each utterance once with the revised text, and the revisions are
// counted. A queue without the override keeps PocketSphinx alone.
func TestTwoPassThroughAPI(t *testing.T) {
	srv := whispertest.New(t, whispertest.WhisperCpp)
	var mu sync.Mutex
	n := 0
	srv.SetTranscript(func([]int16) string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("revised utterance number %d", n)
	})
	td := startDaemon(t, func(c *Config) {
		c.Media.Whisper.Servers = []pool.ServerConfig{{Name: "w", URL: srv.URL, API: whispertest.WhisperCpp, MaxInFlight: 2}}
		c.Media.Queues = map[string]QueueMediaConfig{"bank": {Engine: "two-pass"}}
	})
	for _, q := range []string{"bank", "plain"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	tok := td.tokenFor(t, "pbx", RoleIngest, "bank", "plain")

	pcm := speechPCM(t, "0880", "0890")
	stream := func(queue string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		url := "ws" + strings.TrimPrefix(td.URL, "http") + "/api/v1/ingest/stream?format=pcm&rate=16000&channels=1&queue=" + queue + "&access_token=" + tok
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.CloseNow()
		for off := 0; off < len(pcm); off += 320 {
			if err := c.Write(ctx, websocket.MessageBinary, audio.Bytes(nil, pcm[off:min(off+320, len(pcm))])); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
		var list []store.Engagement
		deadline := time.Now().Add(30 * time.Second)
		for len(list) == 0 && time.Now().Before(deadline) {
			json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue="+queue, nil, 200), &list)
			time.Sleep(50 * time.Millisecond)
		}
		if len(list) != 1 {
			t.Fatalf("engagements of %s = %+v, want one", queue, list)
		}
		waitEnded(t, td, list[0].ID)
		return list[0].ID
	}

	id := stream("bank")
	events := td.URL + "/api/v1/engagements/" + id + "/events"
	type final struct {
		Seq     uint32 `json:"seq"`
		Text    string `json:"text"`
		Revised bool   `json:"revised"`
	}
	finals := func(evs []sseEvent) (first map[uint32]final, revised map[uint32]final, firstID uint64) {
		first, revised = map[uint32]final{}, map[uint32]final{}
		for _, ev := range evs {
			if ev.Type != "transcript.final" {
				continue
			}
			var f final
			if err := json.Unmarshal([]byte(ev.Data), &f); err != nil {
				t.Fatal(err)
			}
			if f.Revised {
				revised[f.Seq] = f
			} else {
				first[f.Seq] = f
				if firstID == 0 {
					firstID = ev.ID
				}
			}
		}
		return first, revised, firstID
	}
	first, revised, firstID := finals(readSSE(t, events, td.Admin, "", 0, 30*time.Second))
	if len(first) < 2 || len(revised) != len(first) {
		t.Fatalf("%d finals and %d revisions on the event stream; want each final revised: %v %v", len(first), len(revised), first, revised)
	}
	for seq, f := range first {
		r, ok := revised[seq]
		if !ok || !strings.HasPrefix(r.Text, "revised utterance") || f.Text == r.Text {
			t.Errorf("final %d %q: revision %+v", seq, f.Text, r)
		}
	}
	// Resuming after the first final still brings every revision.
	_, resumed, _ := finals(readSSE(t, events, td.Admin, strconv.FormatUint(firstID, 10), 0, 30*time.Second))
	if len(resumed) != len(revised) {
		t.Errorf("resumed after event %d: %d revisions, want %d", firstID, len(resumed), len(revised))
	}
	_, segs := transcriptText(t, td, td.Admin, id)
	if len(segs) != len(first) {
		t.Errorf("%d stored segments for %d utterances: a revision must replace, not add", len(segs), len(first))
	}
	for _, s := range segs {
		if !s.Revised || !strings.HasPrefix(s.Text, "revised utterance") {
			t.Errorf("stored segment %d = %q (revised %v), want the server's transcript", s.Seq, s.Text, s.Revised)
		}
	}
	if v := metricValue(t, td, "earshot_engagements_segments_revised_total"); v != strconv.Itoa(len(first)) {
		t.Errorf("segments_revised_total = %q, want %d", v, len(first))
	}

	// The other queue keeps the default engine: no request, no revision.
	calls := srv.Calls()
	_, segs = transcriptText(t, td, td.Admin, stream("plain"))
	if srv.Calls() != calls || len(segs) == 0 {
		t.Errorf("queue without an override: %d server calls, %d segments; want none and a transcript", srv.Calls()-calls, len(segs))
	}
	for _, s := range segs {
		if s.Revised {
			t.Errorf("segment %+v revised on a pocketsphinx queue", s)
		}
	}
}

func TestMediaEngineConfig(t *testing.T) {
	server := []pool.ServerConfig{{URL: "http://127.0.0.1:9", API: "whisper.cpp"}}
	for _, tt := range []struct {
		name string
		mod  func(*MediaConfig)
		ok   bool
	}{
		{"default", func(*MediaConfig) {}, true},
		{"two-pass with a server", func(c *MediaConfig) { c.Engine = "two-pass"; c.Whisper.Servers = server }, true},
		{"whisper-http without servers", func(c *MediaConfig) { c.Engine = "whisper-http" }, false},
		{"unknown engine", func(c *MediaConfig) { c.Engine = "kaldi" }, false},
		{"queue override", func(c *MediaConfig) {
			c.Whisper.Servers = server
			c.Queues = map[string]QueueMediaConfig{"cards": {Engine: "two-pass"}}
		}, true},
		{"queue override without servers", func(c *MediaConfig) { c.Queues = map[string]QueueMediaConfig{"cards": {Engine: "two-pass"}} }, false},
		{"bad server", func(c *MediaConfig) {
			c.Engine = "two-pass"
			c.Whisper.Servers = []pool.ServerConfig{{URL: "ftp://x", API: "whisper.cpp"}}
		}, false},
	} {
		c := DefaultMediaConfig()
		tt.mod(&c)
		if err := c.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestMediaYAML: the speech-to-text settings read from the configuration
// file, durations as strings.
func TestMediaYAML(t *testing.T) {
	path := t.TempDir() + "/earshot.yaml"
	os.WriteFile(path, []byte(`
media:
  engine: pocketsphinx
  queues:
    cards: {engine: two-pass}
  whisper:
    timeout: 8s
    servers:
      - {name: gpu1, url: "http://127.0.0.1:8080", api: whisper.cpp, max_in_flight: 2}
      - {url: "http://127.0.0.1:8000", api: openai, model: Systran/faster-whisper-small.en}
  domain_lm:
    enabled: true
    weight: 0.4
    build: {interval: 5m}
`), 0o600)
	cfg, err := LoadConfig(path, false)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Media
	if m.Queues["cards"].Engine != "two-pass" || len(m.Whisper.Servers) != 2 || m.Whisper.Servers[0].MaxInFlight != 2 ||
		m.Whisper.Timeout != 8*time.Second || m.Whisper.Servers[1].Model != "Systran/faster-whisper-small.en" ||
		!m.DomainLM.Enabled || m.DomainLM.Weight != 0.4 || m.DomainLM.Build.Interval != 5*time.Minute || m.DomainLM.Build.Keep != 2 {
		t.Errorf("media config read as %+v", m)
	}
}

// speechPCM is the 16 kHz speech of the LibriVox utterances ids, each
// followed by a second of silence.
func speechPCM(t *testing.T, ids ...string) []int16 {
	t.Helper()
	var pcm []int16
	for _, id := range ids {
		path, _ := speechFile(t, id)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := wav.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(append(pcm, f.Samples()...), make([]int16, 16000)...)
	}
	return pcm
}
