package wsstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/voice"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// farEnd plays Twilio's part of a bidirectional stream: it reads what the
// server sends, keeps the media payloads with their arrival times, and
// echoes each mark once the media before it has "played" (Twilio echoes a
// mark when its playback reaches it).
type farEnd struct {
	t    *testing.T
	tw   *twilioClient
	mu   sync.Mutex
	msgs []outMsg
	echo bool // echo marks back
	done chan struct{}
}

type outMsg struct {
	Event     string `json:"event"`
	StreamSid string `json:"streamSid"`
	Media     *struct {
		Payload string `json:"payload"`
	} `json:"media"`
	Mark *struct {
		Name string `json:"name"`
	} `json:"mark"`
	at      time.Time
	payload []byte
}

func newFarEnd(t *testing.T, tw *twilioClient, echo bool) *farEnd {
	f := &farEnd{t: t, tw: tw, echo: echo, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for {
			typ, b, err := tw.c.Read(context.Background())
			if err != nil {
				return
			}
			var m outMsg
			if typ != websocket.MessageText || json.Unmarshal(b, &m) != nil {
				t.Errorf("server sent a message that is not Twilio JSON: %q", b)
				continue
			}
			m.at = time.Now()
			if m.Media != nil {
				m.payload, err = base64.StdEncoding.DecodeString(m.Media.Payload)
				if err != nil {
					t.Errorf("media payload: %v", err)
				}
			}
			f.mu.Lock()
			f.msgs = append(f.msgs, m)
			f.mu.Unlock()
			if m.Event == "mark" && f.echo {
				b, _ := json.Marshal(map[string]any{"event": "mark", "streamSid": m.StreamSid, "sequenceNumber": "99",
					"mark": map[string]string{"name": m.Mark.Name}})
				_ = tw.c.Write(context.Background(), websocket.MessageText, b)
			}
		}
	}()
	return f
}

func (f *farEnd) received() []outMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]outMsg(nil), f.msgs...)
}

func (f *farEnd) count(event string) int {
	n := 0
	for _, m := range f.received() {
		if m.Event == event {
			n++
		}
	}
	return n
}

// transcribe runs mu-law frames through the real pipeline (PocketSphinx)
// and returns the text.
func transcribe(t *testing.T, frames [][]byte) string {
	t.Helper()
	return ingesttest.TranscribeMulaw(t, engine, "far-end", frames)
}

// startBot opens a Twilio stream and returns the bot's leg from the
// engagement's metadata.
func startBot(t *testing.T, e *env, id string, echo bool) (*twilioClient, *farEnd, voice.Leg, *recEngagement) {
	t.Helper()
	c := e.dial(t, "?engagement="+id)
	tw := &twilioClient{t: t, c: c}
	far := newFarEnd(t, tw, echo)
	tw.start("inbound")
	eng := e.col.get(t, id)
	if eng.meta.Leg == nil {
		t.Fatal("a Twilio stream's Meta has no Leg")
	}
	return tw, far, eng.meta.Leg, eng
}

// TestTwilioLegPlaysPrompt: the bot plays a recorded prompt; the far end
// receives it as 20 ms base64 mu-law media messages with the streamSid,
// paced in real time, then the mark, whose echo closes Mark's channel;
// PocketSphinx finds the prompt's words in what the far end received.
func TestTwilioLegPlaysPrompt(t *testing.T) {
	t.Parallel()
	// The far end sends no media: the idle timeout must outlast the
	// prompt and its transcription on a loaded machine.
	e := testServer(t, func(c *Config) { c.IdleTimeout = time.Minute })
	tw, far, leg, eng := startBot(t, e, "bot1", true)
	if leg.Rate() != 8000 {
		t.Fatalf("Rate() = %d, want 8000", leg.Rate())
	}
	raw, said := ingesttest.SpeechRaw(t, "0930", "signed-integer", 8000)
	pcm := ingesttest.LE16(raw)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// In pieces that are not whole frames: the leg keeps the remainder.
	for off := 0; off < len(pcm); off += 1000 {
		if err := leg.Play(ctx, pcm[off:min(len(pcm), off+1000)]); err != nil {
			t.Fatalf("Play: %v", err)
		}
	}
	played := leg.Mark()
	select {
	case <-played:
	case <-time.After(60 * time.Second):
		t.Fatal("Mark's channel not closed after the far end echoed the mark")
	}
	msgs := far.received()
	var frames [][]byte
	var first, last time.Time
	marks := 0
	for _, m := range msgs {
		if m.StreamSid != "MZ0123456789abcdef" {
			t.Errorf("%s message with streamSid %q", m.Event, m.StreamSid)
		}
		switch m.Event {
		case "media":
			if marks > 0 {
				t.Error("media after the mark")
			}
			if len(m.payload) != 160 {
				t.Errorf("media payload of %d bytes, want 160 (20 ms)", len(m.payload))
			}
			if first.IsZero() {
				first = m.at
			}
			last = m.at
			frames = append(frames, m.payload)
		case "mark":
			marks++
		default:
			t.Errorf("unexpected %s message", m.Event)
		}
	}
	wantFrames := (len(pcm) + 159) / 160
	if len(frames) != wantFrames || marks != 1 {
		t.Fatalf("received %d frames and %d marks, want %d and 1", len(frames), marks, wantFrames)
	}
	// Paced: never faster than real time, save the three frames of slack
	// the sender allows to catch up after a late wake-up.
	if span, min := last.Sub(first), time.Duration(len(frames)-4)*20*time.Millisecond; span < min {
		t.Errorf("%d frames sent over %v, want at least %v (20 ms pacing)", len(frames), span, min)
	}
	text := transcribe(t, frames)
	found, total := ingesttest.WordsFound(said, text)
	t.Logf("far end heard %q (%d/%d words of %q)", text, found, total, said)
	if found < total/2 {
		t.Errorf("far end transcript has %d of the %d words played, want >= %d", found, total, total/2)
	}
	if got := testutil.ToFloat64(e.srv.m.out.WithLabelValues("media")); got != float64(wantFrames) {
		t.Errorf("media sent metric = %v, want %d", got, wantFrames)
	}
	if got := testutil.ToFloat64(e.srv.m.marksEchoed); got != 1 {
		t.Errorf("marks echoed metric = %v, want 1", got)
	}
	if err := leg.Transfer(ctx, "sip:agent@example.invalid"); !errors.Is(err, voice.ErrUnsupported) {
		t.Errorf("Transfer = %v, want ErrUnsupported", err)
	}
	// Hangup closes the stream normally and closes the engagement.
	if err := leg.Hangup(ctx, "goodbye"); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	<-far.done
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("engagement closed with %v after hangup, want nil", err)
	}
	if err := leg.Play(ctx, pcm[:160]); !errors.Is(err, voice.ErrHungUp) {
		t.Errorf("Play after hangup = %v, want ErrHungUp", err)
	}
	ingesttest.WaitFor(t, "the stream counted as ended by hangup", func() bool {
		return testutil.ToFloat64(e.srv.m.ended.WithLabelValues("hangup")) == 1
	})
	_ = tw
}

// TestTwilioLegClear: barge-in. Clear while a long prompt plays sends
// "clear", stops the media at once and releases the pending mark without
// an echo.
func TestTwilioLegClear(t *testing.T) {
	t.Parallel()
	e := testServer(t, func(c *Config) { c.IdleTimeout = time.Minute }) // the caller sends no media
	_, far, leg, _ := startBot(t, e, "bot2", false)                     // the far end never echoes
	tone := make([]int16, 8000*10)                                      // 10 s of a 440 Hz tone
	for i := range tone {
		tone[i] = int16(8000 * sinApprox(float64(i)*440/8000))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A short prompt and its mark, never echoed: Clear releases the mark.
	if err := leg.Play(ctx, tone[:8000*2/5]); err != nil {
		t.Fatal(err)
	}
	mark := leg.Mark()
	ingesttest.WaitFor(t, "the first media frames", func() bool { return far.count("media") >= 3 })
	leg.Clear()
	select {
	case <-mark:
	case <-time.After(10 * time.Second):
		t.Fatal("mark not released by Clear")
	}
	// A long prompt, cleared while it plays: what was queued before the
	// clear is never sent, and Play (blocked on the full queue) returns.
	playErr := make(chan error, 1)
	go func() { playErr <- leg.Play(ctx, tone) }()
	ingesttest.WaitFor(t, "the long prompt's frames", func() bool { return far.count("media") >= 40 })
	leg.Clear()
	if err := <-playErr; err != nil {
		t.Fatalf("Play: %v", err)
	}
	// The first mark was dropped from the queue by the first clear; this
	// one is sent after whatever is still queued.
	leg.Mark()
	ingesttest.WaitFor(t, "the mark after the clear", func() bool { return far.count("mark") == 1 })
	clears, media, after := 0, 0, 0
	for _, m := range far.received() {
		switch m.Event {
		case "clear":
			clears++
		case "media":
			media++
			if clears == 2 {
				after++
			}
		}
	}
	if clears != 2 || after != 0 {
		t.Errorf("%d clear messages and %d media frames after the last, want 2 and 0", clears, after)
	}
	if media >= len(tone)/160 {
		t.Errorf("%d frames sent: the whole prompt played despite the clear", media)
	}
	if got := testutil.ToFloat64(e.srv.m.out.WithLabelValues("clear")); got != 2 {
		t.Errorf("clears metric = %v, want 2", got)
	}
}

// sinApprox is sin(2*pi*x) by a parabola: enough for a test tone.
func sinApprox(x float64) float64 {
	x -= float64(int(x))
	if x < 0.5 {
		return 16 * x * (0.5 - x)
	}
	x -= 0.5
	return -16 * x * (0.5 - x)
}

// TestTwilioLegBadInput: echoes of marks never sent (a flood) and media for
// another stream are counted and skipped; enough of them end the stream.
func TestTwilioLegBadInput(t *testing.T) {
	t.Parallel()
	e := testServer(t, func(c *Config) { c.MaxBadMessages = 5 })
	tw, far, _, eng := startBot(t, e, "bot3", false)
	b, _ := json.Marshal(map[string]any{"event": "media", "streamSid": "MZother", "sequenceNumber": "3",
		"media": map[string]any{"track": "inbound", "payload": base64.StdEncoding.EncodeToString(make([]byte, 160))}})
	if err := tw.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		tw.send(map[string]any{"event": "mark", "mark": map[string]string{"name": "never-sent"}})
	}
	<-far.done
	if err := eng.WaitClosed(t); err == nil {
		t.Error("engagement closed with nil after a mark flood, want the reason")
	}
	for reason, want := range map[string]float64{"stream_sid": 1, "mark": 4} {
		if got := testutil.ToFloat64(e.srv.m.bad.WithLabelValues(FormatTwilio, reason)); got != want {
			t.Errorf("bad messages %s = %v, want %v", reason, got, want)
		}
	}
	ingesttest.WaitFor(t, "the stream counted as ended for bad messages", func() bool {
		return testutil.ToFloat64(e.srv.m.ended.WithLabelValues("bad_messages")) == 1
	})
	if p := eng.Party(ingest.PartyCustomer); p != nil {
		if n, _ := p.Packets(); n != 0 {
			t.Errorf("%d payloads of the other stream reached the engagement", n)
		}
	}
}
