package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/flite"
)

func init() {
	policy["GET /api/v1/bots/{id}/voice/twilio"] = []Role{RoleAdmin, RoleIngest}
	for _, k := range []string{"POST /chat/{bot}/voice", "PATCH /chat/{bot}/voice/{id}", "DELETE /chat/{bot}/voice/{id}"} {
		policy[k] = nil
		// Public, but refused without the bot's key, an allowed origin
		// or an open call: not an authorisation outcome.
		publicRefusals[k] = true
		mediaInputRoutes[k] = true
	}
	mediaInputRoutes["GET /api/v1/bots/{id}/voice/twilio"] = true
	namingSkip["GET /api/v1/bots/{id}/voice/twilio"] = "a WebSocket (voice_web_test.go)"
	namingSkip["POST /chat/{bot}/voice"] = "SDP; needs a WebRTC peer (voice_web_test.go)"
	namingSkip["PATCH /chat/{bot}/voice/{id}"] = "trickle ICE; needs a WebRTC peer"
}

// twilioCaller plays Twilio's side of a bidirectional stream against the
// daemon: it sends the caller's audio as 20 ms media messages in real
// time (silence unless an utterance is queued), echoes each mark the way
// Twilio does once playback reaches it, and keeps what the bot sent.
type twilioCaller struct {
	t  *testing.T
	ws *websocket.Conn

	mu      sync.Mutex
	say     []byte    // mu-law still to send
	saidAt  time.Time // when the last utterance started
	frames  [][]byte  // the bot's media, in order
	marks   int       // marks received (and echoed)
	clears  []int     // len(frames) at each clear
	closed  bool
	mediaAt []time.Time
}

func dialTwilioBot(t *testing.T, td *testDaemon, bot, token string) *twilioCaller {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/bots/"+bot+"/voice/twilio",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	ws.SetReadLimit(1 << 20)
	c := &twilioCaller{t: t, ws: ws}
	c.send(map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	c.send(map[string]any{"event": "start", "sequenceNumber": "1", "streamSid": "MZbot", "start": map[string]any{
		"streamSid": "MZbot", "callSid": "CAbot", "tracks": []string{"inbound"},
		"customParameters": map[string]string{"from": "+15550100"},
		"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.read() }()
	go func() { defer wg.Done(); c.speak(stop) }()
	t.Cleanup(func() {
		close(stop)
		_ = ws.CloseNow()
		wg.Wait()
	})
	return c
}

func (c *twilioCaller) send(m map[string]any) {
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, b)
}

// speak sends 20 ms of the caller every 20 ms.
func (c *twilioCaller) speak(stop <-chan struct{}) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	silence := make([]byte, 160)
	for i := range silence {
		silence[i] = 0xff
	}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		c.mu.Lock()
		p := silence
		if len(c.say) > 0 {
			k := min(160, len(c.say))
			p = append(append([]byte(nil), c.say[:k]...), silence[k:]...)
			c.say = c.say[k:]
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return
		}
		c.send(map[string]any{"event": "media", "sequenceNumber": "2", "streamSid": "MZbot", "media": map[string]any{
			"track": "inbound", "chunk": "1", "timestamp": "0", "payload": base64.StdEncoding.EncodeToString(p)}})
	}
}

func (c *twilioCaller) read() {
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.t.Logf("stream read: %v", err)
			c.mu.Lock()
			c.closed = true
			c.mu.Unlock()
			return
		}
		var m struct {
			Event, StreamSid string
			Media            struct{ Payload string }
			Mark             struct{ Name string }
		}
		if json.Unmarshal(b, &m) != nil || m.StreamSid != "MZbot" {
			c.t.Errorf("bot sent %q", b)
			continue
		}
		c.mu.Lock()
		switch m.Event {
		case "media":
			p, err := base64.StdEncoding.DecodeString(m.Media.Payload)
			if err != nil || len(p) != 160 {
				c.t.Errorf("media payload of %d bytes (%v), want 160", len(p), err)
			}
			c.frames = append(c.frames, p)
			c.mediaAt = append(c.mediaAt, time.Now())
		case "mark":
			c.marks++
		case "clear":
			c.clears = append(c.clears, len(c.frames))
		}
		c.mu.Unlock()
		if m.Event == "mark" { // played: Twilio echoes it
			c.send(map[string]any{"event": "mark", "sequenceNumber": "3", "streamSid": "MZbot", "mark": map[string]string{"name": m.Mark.Name}})
		}
	}
}

func (c *twilioCaller) state() (frames [][]byte, marks int, clears []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.frames...), c.marks, append([]int(nil), c.clears...)
}

// say queues an utterance (mu-law) behind what the caller is saying.
func (c *twilioCaller) utter(ulaw []byte) {
	c.mu.Lock()
	c.say = append(c.say, ulaw...)
	c.saidAt = time.Now()
	c.mu.Unlock()
}

// withFlite gives the daemon's bot calls the Flite engine (the daemon
// makes its synthesisers on first use).
func withFlite(t *testing.T, td *testDaemon) {
	t.Helper()
	e, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("flite: %v (Debian packages flite1-dev)", err)
	}
	td.media.ttsOnce.Do(func() {})
	if td.media.tts["flite"] == nil {
		td.media.tts = map[string]tts.Engine{"flite": e}
	}
}

// synth8k synthesises text with Flite as 8 kHz mu-law, as a caller's
// phone would carry it.
func synth8k(t *testing.T, text string) []byte {
	t.Helper()
	e, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("flite: %v (Debian packages flite1-dev)", err)
	}
	var pcm []int16
	if err := e.Synthesize(context.Background(), tts.Request{Text: text, Rate: 8000}, func(p []int16) error {
		pcm = append(pcm, p...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return codec.EncodeMulaw(nil, pcm)
}

// hear transcribes the bot's mu-law frames with Earshot's PocketSphinx
// engine.
func hear(t *testing.T, frames [][]byte) string {
	t.Helper()
	eng, err := ingesttest.NewEngine()
	if err != nil {
		t.Fatalf("pocketsphinx: %v", err)
	}
	defer eng.Close()
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, nil, eng)
	if err != nil {
		t.Fatal(err)
	}
	pe, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "bot-audio", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rec := ingesttest.Record(pe)
	sink, err := rec.AddParty(ingest.PartyAgent, codec.Format{Codec: codec.PCMU, SampleRate: 8000, Channels: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		_ = sink.WriteRTP(uint16(i+1), uint32(i*160), f)
	}
	rec.Close(nil)
	return rec.Transcript(t, ingest.PartyAgent)
}

// TestTwilioBotCall calls the card-services bot over a Twilio
// bidirectional stream with a Go WebSocket client: the bot's greeting
// comes back as paced mu-law media followed by a mark, and PocketSphinx
// finds in it at least as many of the greeting's words, less a margin, as
// in the same text synthesised by Flite here (the peer in the same run:
// Flite speech at 8 kHz is hard for PocketSphinx), and a fifth of them. The caller (Flite
// speech) then talks; when the bot speaks again, the caller speaking over
// it gets the prompt cleared (barge-in).
func TestTwilioBotCall(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td
	withFlite(t, td)
	const greetingText = "Hi, I'm the card services assistant. I can block a lost card, tell you a card's balance or answer questions about fees."
	lost := synth8k(t, "I lost my card.")
	c := dialTwilioBot(t, td, "card-services", env.ingest)

	waitUntil(t, "the greeting and its mark", func() bool {
		f, m, _ := c.state()
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			t.Fatalf("the stream closed after %d frames and %d marks", len(f), m)
		}
		return m >= 1
	})
	greeting, _, _ := c.state()
	text := hear(t, greeting)
	said := strings.ToLower(strings.NewReplacer(",", "", ".", "").Replace(greetingText))
	found, total := ingesttest.WordsFound(said, text)
	ref := hear(t, framesOf(synth8k(t, greetingText)))
	refFound, _ := ingesttest.WordsFound(said, ref)
	t.Logf("greeting: %d frames (%.1f s); heard %q: %d/%d words; Flite's own synthesis heard %q: %d/%d words",
		len(greeting), float64(len(greeting))/50, text, found, total, ref, refFound, total)
	if want := max(refFound-3, total/5); len(greeting) < 100 || found < want {
		t.Errorf("heard %d of the greeting's %d words in %d frames, want >= %d (Flite's own synthesis less 3, and a fifth)", found, total, len(greeting), want)
	}

	c.utter(lost)
	before := len(greeting)
	waitUntil(t, "the bot's next prompt", func() bool { f, _, _ := c.state(); return len(f) >= before+25 })
	c.utter(synth8k(t, "Four three two one."))
	c.mu.Lock()
	spoke := c.saidAt
	c.mu.Unlock()
	waitUntil(t, "the clear of the barge-in", func() bool { _, _, cl := c.state(); return len(cl) >= 1 })
	cleared := time.Now()
	frames, _, clears := c.state()
	next := hear(t, frames[before:clears[0]])
	t.Logf("the bot's next prompt: %d frames before the barge-in, heard %q; clear %v after the caller started", clears[0]-before, next, cleared.Sub(spoke).Round(10*time.Millisecond))
	if got := metricValue(t, td, `earshot_wsstream_sent_total{kind="clear"}`); got == "" || got == "0" {
		t.Errorf("clears sent metric = %q, want >= 1", got)
	}
}

// framesOf cuts mu-law into 20 ms frames.
func framesOf(ulaw []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(ulaw); i += 160 {
		f := make([]byte, 160)
		for j := range f {
			f[j] = 0xff
		}
		copy(f, ulaw[i:])
		out = append(out, f)
	}
	return out
}
