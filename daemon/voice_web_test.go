package daemon

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/flite"
	"github.com/earshot/earshot/media/wav"
)

func init() {
	policy["GET /api/v1/bots/{id}/voice/twilio"] = []Role{RoleAdmin, RoleIngest}
	for _, k := range []string{"POST /chat/{bot}/voice", "PATCH /chat/{bot}/voice/{id}", "DELETE /chat/{bot}/voice/{id}",
		"OPTIONS /chat/{bot}/voice", "OPTIONS /chat/{bot}/voice/{id}"} {
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
	namingSkip["OPTIONS /chat/{bot}/voice"] = "a CORS preflight: no body"
	namingSkip["OPTIONS /chat/{bot}/voice/{id}"] = "a CORS preflight: no body"
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
	return ingesttest.TranscribeMulaw(t, eng, "bot-audio", frames)
}

// TestTwilioBotCall calls the card-services bot over a Twilio
// bidirectional stream with a Go WebSocket client: the bot's greeting
// comes back as paced mu-law media followed by a mark, and PocketSphinx
// finds in it at least half as many of the greeting's words as
// in the same text synthesised by Flite here (the peer in the same run:
// Flite speech at 8 kHz is hard for PocketSphinx), and at least three. On
// a second call the caller (Flite speech the bot was not told) speaks
// over the greeting and gets it cleared (barge-in).
func TestTwilioBotCall(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td
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
	var got []int16
	for _, f := range greeting {
		got = append(got, mulawPCM(f)...)
	}
	r, lag := ingesttest.BestMatch(mulawPCM(synth8k(t, greetingText)), 8000, got, 8000)
	t.Logf("greeting: %d frames (%.1f s); heard %q: %d/%d words; Flite's own synthesis heard %q: %d/%d words; envelope correlation with it %.3f at %d ms",
		len(greeting), float64(len(greeting))/50, text, found, total, ref, refFound, total, r, lag*20)
	if want := max(refFound/2, 3); len(greeting) < 100 || found < want {
		t.Errorf("heard %d of the greeting's %d words in %d frames, want >= %d (half of Flite's own synthesis, and 3)", found, total, len(greeting), want)
	}
	if r < 0.7 {
		t.Errorf("the bot's audio does not have the greeting's shape: correlation %.3f, want >= 0.7", r)
	}

	_ = c.ws.Close(websocket.StatusNormalClosure, "caller hung up")

	// A second call: the caller speaks over the greeting one second in.
	c2 := dialTwilioBot(t, td, "card-services", env.ingest)
	waitUntil(t, "a second of the greeting", func() bool { f, _, _ := c2.state(); return len(f) >= 50 })
	c2.utter(lost)
	c2.mu.Lock()
	spoke := c2.saidAt
	c2.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, m, cl := c2.state()
		if len(cl) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no clear within 30 s of the caller speaking over the greeting: %d frames, %d marks; barge-ins %q; bot audio heard as %q",
				len(f), m, metricValue(t, td, `earshot_voicebot_barge_ins_total{source="twilio"}`), hear(t, f))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cleared := time.Now()
	frames, _, clears := c2.state()
	t.Logf("barge-in: clear %v after the caller started speaking (Flite's lead-in silence included); %d frames of the greeting sent before it, %d after",
		cleared.Sub(spoke).Round(10*time.Millisecond), clears[0], len(frames)-clears[0])
	if clears[0] >= len(greeting) {
		t.Errorf("the clear came after %d frames, the whole greeting (%d)", clears[0], len(greeting))
	}
	if got := metricValue(t, td, `earshot_wsstream_sent_total{kind="clear"}`); got == "" || got == "0" {
		t.Errorf("clears sent metric = %q, want >= 1", got)
	}
}

func mulawPCM(b []byte) []int16 {
	out := make([]int16, len(b))
	for i, v := range b {
		out[i] = codec.MulawToLinear(v)
	}
	return out
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

// callerWAV writes the fake microphone: silence for lead, then text
// spoken by Flite, then a second of silence, as 48 kHz 16-bit mono
// (Chromium loops the file).
func callerWAV(t *testing.T, lead time.Duration, text string) string {
	t.Helper()
	e, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("flite: %v (Debian packages flite1-dev)", err)
	}
	var pcm []int16
	if err := e.Synthesize(context.Background(), tts.Request{Text: text, Rate: 16000}, func(p []int16) error {
		pcm = append(pcm, p...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, (int(lead.Seconds()*48000)+len(pcm)*3+48000)*2)
	for range int(lead.Seconds() * 48000) {
		out = append(out, 0, 0)
	}
	for i, v := range pcm { // 16 -> 48 kHz, linear
		next := v
		if i+1 < len(pcm) {
			next = pcm[i+1]
		}
		for k := range 3 {
			s := int16((int(v)*(3-k) + int(next)*k) / 3)
			out = binary.LittleEndian.AppendUint16(out, uint16(s))
		}
	}
	for range 48000 {
		out = append(out, 0, 0)
	}
	path := filepath.Join(t.TempDir(), "caller.wav")
	if err := os.WriteFile(path, wav.Encode(wav.Format{Encoding: wav.PCM, SampleRate: 48000, Channels: 1, BitsPerSample: 16}, out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// voiceBrowser starts headless Chromium whose microphone plays wav and
// which may use WebRTC over loopback.
func voiceBrowser(t *testing.T, wavPath string) context.Context {
	t.Helper()
	bin := testdep.Program(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true), chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wavPath), chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	return ctx
}

// captureJS records the bot's voice in the page: the widget's remote
// stream through WebAudio at 16 kHz, as 16-bit samples in window.__cap.
const captureJS = `(() => {
  window.__cap = [];
  const host = document.getElementById('earshot-chat');
  const t = setInterval(() => {
    const c = host.earshotVoice;
    if (!c || !c.stream) return;
    clearInterval(t);
    const ac = new AudioContext({sampleRate: 16000});
    const src = ac.createMediaStreamSource(c.stream);
    const sp = ac.createScriptProcessor(4096, 1, 1);
    sp.onaudioprocess = e => { for (const x of e.inputBuffer.getChannelData(0)) window.__cap.push(Math.max(-32768, Math.min(32767, Math.round(x * 32767)))); };
    src.connect(sp); sp.connect(ac.destination);
    ac.resume();
  }, 20);
  return true;
})()`

// rtpCodecsJS reports the codecs of the widget call's audio RTP streams
// from the page's WebRTC stats, as "inbound=MIME outbound=MIME".
const rtpCodecsJS = `(async () => {
  const c = document.getElementById('earshot-chat').earshotVoice;
  if (!c || !c.pc) return '';
  const stats = await c.pc.getStats();
  const out = [];
  stats.forEach(r => {
    if ((r.type === 'inbound-rtp' || r.type === 'outbound-rtp') && r.kind === 'audio' && r.codecId && stats.get(r.codecId)) {
      out.push(r.type.replace('-rtp', '') + '=' + stats.get(r.codecId).mimeType.toLowerCase());
    }
  });
  return out.sort().join(' ');
})()`

// hear16k transcribes 16 kHz PCM with Earshot's PocketSphinx engine, as
// 8 kHz telephone audio (as the reference, Flite's own synthesis in 8 kHz
// mu-law, is heard).
func hear16k(t *testing.T, pcm16 []int16) string {
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
	pe, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "browser-audio", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rec := ingesttest.Record(pe)
	sink, err := rec.AddParty(ingest.PartyAgent, codec.Format{Codec: codec.S16LE, SampleRate: 8000, Channels: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, len(pcm16)/2)
	for i := range pcm {
		pcm[i] = int16((int(pcm16[2*i]) + int(pcm16[2*i+1])) / 2)
	}
	b := make([]byte, 0, 2*len(pcm))
	for _, v := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	for off := 0; off < len(b); off += 320 {
		_ = sink.Write(b[off:min(len(b), off+320)])
	}
	rec.Close(nil)
	return rec.Transcript(t, ingest.PartyAgent)
}

// TestVoiceWidgetChromium calls the card-services bot from its web page
// in headless Chromium: the widget's Call button opens a WebRTC call
// (the fake microphone: ten seconds of silence, then Flite speech), the
// bot's greeting plays in the page and is recorded there with WebAudio,
// and PocketSphinx finds the greeting's words in the recording (against
// Flite's own synthesis of the greeting, heard the same way, in the same
// run). The call uses Opus both ways (the page's WebRTC stats and the
// server's count say so). Hanging up ends the call.
func TestVoiceWidgetChromium(t *testing.T) {
	env := startBotEnv(t, func(c *Config) {
		c.Media.WHIP.IncludeLoopback = true
		c.Media.WHIP.Interfaces = []string{"lo"}
		c.Media.WHIP.Addresses = []string{"127.0.0.1"}
		c.Media.WHIP.RemoteAddresses = []string{"127.0.0.0/8"}
	})
	td := env.td
	ctx := voiceBrowser(t, callerWAV(t, 10*time.Second, "I lost my card."))
	const target = "earshot-chat"
	if err := chromedp.Do(ctx, chromedp.Navigate(td.URL+"/chat/card-services")); err != nil {
		t.Fatal(err)
	}
	waitWidget(t, ctx, target, "card services assistant") // the chat side is up
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](captureJS)); err != nil {
		t.Fatal(err)
	}
	btn := widgetRoot(target) + `.querySelector('button.call')`
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.JSPath(btn))); err != nil {
		t.Fatalf("click Call: %v", err)
	}
	waitAttr(t, ctx, target, "data-voice", "connected")
	// Chromium offers Opus first: the call must use it both ways.
	var codecs string
	waitUntil(t, "the call's codecs in the page's WebRTC stats", func() bool {
		codecs, _ = chromedp.Run(ctx, chromedp.Evaluate[string](rtpCodecsJS, chromedp.EvalAwaitPromise))
		return strings.Contains(codecs, "inbound=") && strings.Contains(codecs, "outbound=")
	})
	if codecs != "inbound=audio/opus outbound=audio/opus" {
		t.Errorf("the page's RTP codecs: %q, want Opus both ways", codecs)
	}
	if v := metricValue(t, td, `earshot_whip_voice_sessions_total{codec="opus"}`); v != "1" {
		t.Errorf("Opus voice sessions counted %q, want 1", v)
	}
	var pcm []int16
	waitUntil(t, "twelve seconds of the bot's voice recorded in the page", func() bool {
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__cap.length`))
		return n >= 12*16000
	})
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`window.__cap.slice(0, 12*16000)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range got {
		pcm = append(pcm, int16(v))
	}
	const greetingText = "Hi, I'm the card services assistant. I can block a lost card, tell you a card's balance or answer questions about fees."
	said := strings.ToLower(strings.NewReplacer(",", "", ".", "").Replace(greetingText))
	text := hear16k(t, pcm)
	found, total := ingesttest.WordsFound(said, text)
	ref := hear(t, framesOf(synth8k(t, greetingText)))
	refFound, _ := ingesttest.WordsFound(said, ref)
	r, lag := ingesttest.BestMatch(mulawPCM(synth8k(t, greetingText)), 8000, pcm, 16000)
	t.Logf("the page heard %q: %d/%d words; Flite's own synthesis (8 kHz mu-law) heard: %d/%d; envelope correlation with it %.3f at %d ms",
		text, found, total, refFound, total, r, lag*20)
	// The browser's playout (Opus decoded, jitter-buffered, resampled)
	// costs more words than the packets themselves: a third of Flite's
	// own, and 3.
	if want := max(refFound/3, 3); found < want {
		t.Errorf("heard %d of the greeting's %d words, want >= %d", found, total, want)
	}
	// Chromium's jitter buffer stretches and shrinks playout as it
	// adapts, so the page's recording follows the greeting's shape less
	// closely than the packets do (0.998 on the Twilio leg).
	if r < 0.4 {
		t.Errorf("the page's recording does not have the greeting's shape: correlation %.3f, want >= 0.4", r)
	}
	if v := metricValue(t, td, `earshot_whip_sent_total{kind="rtp"}`); v == "" || v == "0" {
		t.Errorf("RTP packets sent = %q, want > 0", v)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.JSPath(btn))); err != nil {
		t.Fatalf("click Hang up: %v", err)
	}
	waitUntil(t, "the call's session to end", func() bool { return td.media.whip.Sessions() == 0 })
}

// TestWebBotCallRefusals: web bot calls the daemon must refuse, each
// answered with a problem (or a close status) and counted.
func TestWebBotCallRefusals(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td
	key, err := td.store.Bot("card-services")
	if err != nil {
		t.Fatal(err)
	}
	post := func(query, origin, body string) int {
		req, _ := http.NewRequest("POST", td.URL+"/chat/card-services/voice"+query, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/sdp")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, query, origin string
		want                int
		reason              string
	}{
		{"no key", "", "", 403, "key"},
		{"old key", "?key=pk_old", "", 403, "key"},
		{"foreign origin", "?key=" + key.WidgetKey, "https://evil.example", 403, "origin"},
	} {
		if got := post(tc.query, tc.origin, "v=0\r\n"); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
		if v := metricValue(t, td, `earshot_bot_chat_refused_total{reason="`+tc.reason+`"}`); v == "" || v == "0" {
			t.Errorf("%s: refusal %s not counted (%q)", tc.name, tc.reason, v)
		}
	}
	// Key and origin right, SDP wrong: the WHIP server refuses and counts
	// it, and the widget's slot is given back (max_sessions calls could
	// otherwise be used up by bad offers).
	for range 3 {
		if got := post("?key="+key.WidgetKey, "https://www.bank.example", "not sdp"); got != 400 {
			t.Fatalf("bad offer: status %d, want 400", got)
		}
	}
	if v := metricValue(t, td, `earshot_whip_refusals_total{reason="bad_sdp"}`); v != "3" {
		t.Errorf("bad offers counted %q, want 3", v)
	}
	td.bots.limits.mu.Lock()
	n := td.bots.limits.widgets["card-services"]
	td.bots.limits.mu.Unlock()
	if n != 0 {
		t.Errorf("%d widget slots held after refused offers, want 0", n)
	}
	// CORS preflight: the bot's allowed site gets it, another site not.
	for origin, want := range map[string]int{"https://www.bank.example": 204, "https://evil.example": 403} {
		req, _ := http.NewRequest("OPTIONS", td.URL+"/chat/card-services/voice", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		allowed := resp.Header.Get("Access-Control-Allow-Origin")
		if resp.StatusCode != want || (want == 204) != (allowed == origin) {
			t.Errorf("preflight from %s: %d, Access-Control-Allow-Origin %q; want %d", origin, resp.StatusCode, allowed, want)
		}
	}
	req, _ := http.NewRequest("DELETE", td.URL+"/chat/card-services/voice/0123456789abcdef", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("DELETE of an unknown call: %v %v, want 404", resp, err)
	}

	// Twilio: a token without the bot's queue, an unknown bot, a raw PCM
	// stream (no way to speak back).
	loans := td.tokenFor(t, "loans-feed", RoleIngest, "loans")
	dial := func(bot, token string) (*websocket.Conn, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/bots/"+bot+"/voice/twilio",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		if err != nil {
			return nil, resp.StatusCode
		}
		return ws, 101
	}
	if _, st := dial("card-services", loans); st != 403 {
		t.Errorf("token without the bot's queue: %d, want 403", st)
	}
	if _, st := dial("no-such-bot", env.ingest); st != 404 {
		t.Errorf("unknown bot: %d, want 404", st)
	}
	ws, st := dial("card-services", env.ingest)
	if st != 101 {
		t.Fatalf("bot stream: %d, want 101", st)
	}
	defer ws.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = ws.Write(ctx, websocket.MessageBinary, make([]byte, 320)) // PCM
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "Twilio") {
		t.Errorf("PCM on the bot route: %v, want a policy-violation close naming Twilio", err)
	}
}
