package sip

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/flite"
	"github.com/earshot/earshot/media/voice"
)

// botUser is the Request-URI user the test bots answer.
const botUser = "bank-bot"

// Prompts of the test bot. The caller's recorded speech never says them.
const (
	greetingPrompt = "Welcome to the bank. How can I help you today?"
	accountPrompt  = "Please enter your account number on the keypad."
	transferPrompt = "Thank you. I am putting you through to an agent."
	goodbyePrompt  = "Goodbye."
)

// scriptBrain is a scripted bot: greeting, then a digit slot for any
// speech, then a hand-over for the digits. It records what it heard.
// (The daemon's tests run real bot definitions; media may not import
// the bot runtime.)
type scriptBrain struct {
	greeting string
	target   string

	mu    sync.Mutex
	heard []voice.Input
	got   chan voice.Input
}

func newScriptBrain(greeting, target string) *scriptBrain {
	return &scriptBrain{greeting: greeting, target: target, got: make(chan voice.Input, 64)}
}

func (b *scriptBrain) Greet(context.Context) voice.Reply {
	return voice.Reply{Say: []string{b.greeting}}
}

func (b *scriptBrain) Hear(_ context.Context, in voice.Input) voice.Reply {
	if in.Partial {
		return voice.Reply{Defer: true}
	}
	b.mu.Lock()
	b.heard = append(b.heard, in)
	b.mu.Unlock()
	b.got <- in
	switch in.Kind {
	case voice.InputSpeech:
		return voice.Reply{Say: []string{accountPrompt}, Digits: &voice.DigitSpec{Max: 8, Terminator: "#"}}
	case voice.InputDigits:
		return voice.Reply{Say: []string{transferPrompt}, Handover: &voice.Handover{Reason: "account_help", Target: b.target}}
	}
	return voice.Reply{Say: []string{goodbyePrompt}, End: "no_input"}
}

func (b *scriptBrain) next(t *testing.T) voice.Input {
	t.Helper()
	select {
	case in := <-b.got:
		return in
	case <-time.After(60 * time.Second):
		t.Fatal("the bot heard nothing within 60 s")
		return voice.Input{}
	}
}

// newFlite returns Earshot's Flite engine (cgo, Debian libflite1) with
// its default voice.
func newFlite(t *testing.T) tts.Engine {
	t.Helper()
	e, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// botOpener runs bot calls as the daemon does: the caller's audio through
// the real pipeline (PocketSphinx), its speech starts, segments and digits
// into the voice runtime.
type botOpener struct {
	pipe  *pipeline.Pipeline
	cfg   voice.Config
	synth tts.Engine
	m     *voice.Metrics
	brain func(call voice.Call) voice.Brain
	debug func(string)
	// static marks the prompts the synthesiser may cache (nil: none).
	static func(string) bool

	mu    sync.Mutex
	calls []*botEngagement
}

func newBotOpener(t *testing.T, synth tts.Engine, cfg voice.Config, brain func(voice.Call) voice.Brain) *botOpener {
	return newBotOpenerWith(t, engine, pipeline.DefaultConfig(), synth, cfg, brain)
}

// newBotOpenerWith runs the calls on recogniser rec through a pipeline
// configured with pcfg.
func newBotOpenerWith(t *testing.T, rec stt.Engine, pcfg pipeline.Config, synth tts.Engine, cfg voice.Config, brain func(voice.Call) voice.Brain) *botOpener {
	p, err := pipeline.New(pcfg, nil, prometheus.NewRegistry(), rec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := voice.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &botOpener{pipe: p, cfg: cfg, synth: synth, m: m, brain: brain}
}

type botEngagement struct {
	ingest.Engagement
	conv *voice.Conversation
	said *saidLog
	segs sync.WaitGroup
}

// saidLog is the bot's transcript.
type saidLog struct {
	mu    sync.Mutex
	said  []string
	ended []string
}

func (s *saidLog) BotSaid(text string, _, _ time.Time) {
	s.mu.Lock()
	s.said = append(s.said, text)
	s.mu.Unlock()
}

func (s *saidLog) Ended(kind, reason string, transferred bool) {
	s.mu.Lock()
	s.ended = append(s.ended, fmt.Sprintf("%s:%s:%t", kind, reason, transferred))
	s.mu.Unlock()
}

func (s *saidLog) endings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ended...)
}

func (o *botOpener) OpenBot(ctx context.Context, call voice.Call) (ingest.Engagement, error) {
	be := &botEngagement{said: &saidLog{}}
	var conv *voice.Conversation
	ready := make(chan struct{})
	pe, err := o.pipe.Open(context.Background(), pipeline.OpenOptions{ID: call.Bot, Source: call.Source,
		OnSpeechStart: func(party string) {
			<-ready
			if o.debug != nil {
				o.debug("speech start")
			}
			conv.SpeechStarted()
		}})
	if err != nil {
		return nil, err
	}
	conv, err = voice.Start(context.Background(), o.cfg, call, voice.Deps{Brain: o.brain(call), TTS: o.synth, Transcript: be.said, Metrics: o.m, Static: o.static,
		Heard: func() (time.Time, bool) { return pe.Heard(string(ingest.PartyCustomer)) }})
	if err != nil {
		pe.Close()
		return nil, err
	}
	close(ready)
	be.conv = conv
	be.Engagement = ingest.FromPipeline(pe)
	be.segs.Add(1)
	go func() {
		defer be.segs.Done()
		for s := range pe.Segments() {
			end := pe.Origin().Add(time.Duration(s.EndMs) * time.Millisecond)
			if o.debug != nil {
				o.debug(fmt.Sprintf("segment final=%v %d-%d %q", s.Final, s.StartMs, s.EndMs, s.Text))
			}
			conv.Hear(voice.Heard{Text: s.Text, Final: s.Final, End: end})
		}
	}()
	o.mu.Lock()
	o.calls = append(o.calls, be)
	o.mu.Unlock()
	return be, nil
}

func (e *botEngagement) DTMF(_ ingest.Party, digit string) { e.conv.DTMF(digit) }

func (e *botEngagement) Close(err error) {
	e.conv.Close()
	e.Engagement.Close(err)
	e.segs.Wait()
}

// caller is the far end of a bot call: it sends RTP every 20 ms (speech
// when it has some queued, else silence, as a phone does), RFC 4733
// digits, and records the bot's RTP as it arrives.
type caller struct {
	snd     *rtpSender
	stop    chan struct{}
	done    chan struct{}
	started bool // start ran (from the test's goroutine)

	mu     sync.Mutex
	queue  [][]byte // 160-byte mu-law frames
	digits []string
	spoke  time.Time // when the last queued frame that carries sound was sent (not the recordings' padding of silence)
	talkAt time.Time // when the first frame of the last speech was sent
	pkts   []recvd
}

type recvd struct {
	at      time.Time
	hdr     rtp.Header
	payload []byte
	from    netip.AddrPort
}

func newCaller(t *testing.T) *caller {
	c := &caller{snd: newRTPSender(t, 0), stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(c.close)
	return c
}

func (c *caller) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		if c.started {
			<-c.done
		}
	}
}

// start sends to the bot's RTP port and records what comes back.
func (c *caller) start(t *testing.T, port int) {
	c.snd.dst = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	c.started = true
	go c.receive()
	go func() {
		defer close(c.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		silence := make([]byte, 160)
		for i := range silence {
			silence[i] = 0xff
		}
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			c.mu.Lock()
			var f []byte
			if len(c.digits) > 0 {
				d := c.digits[0]
				c.digits = c.digits[1:]
				c.mu.Unlock()
				c.sendDigit(t, d)
				continue
			}
			speech := len(c.queue) > 0
			if speech {
				f, c.queue = c.queue[0], c.queue[1:]
			} else {
				f = silence
			}
			c.mu.Unlock()
			c.snd.send(t, 0, f, false)
			c.snd.seq++
			c.snd.ts += 160
			if speech && audible(f) {
				c.mu.Lock()
				c.spoke = time.Now()
				c.mu.Unlock()
			}
		}
	}()
}

// audible reports whether a mu-law frame carries sound: a sample above
// -54 dBFS. The test recordings are padded with half a second of silence
// (dithered by sox to the smallest mu-law steps), which is the caller
// being quiet, not speaking; a recording's own quiet background is louder.
func audible(f []byte) bool {
	for _, b := range f {
		if s := codec.MulawToLinear(b); s > 64 || s < -64 {
			return true
		}
	}
	return false
}

// say queues mu-law speech; it returns once it has all been sent.
func (c *caller) say(t *testing.T, ulaw []byte) {
	c.mu.Lock()
	c.talkAt = time.Time{}
	for i := 0; i+160 <= len(ulaw); i += 160 {
		c.queue = append(c.queue, ulaw[i:i+160])
	}
	c.mu.Unlock()
	waitFor(t, "the caller's speech to be sent", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.queue) == 0
	})
}

// key queues DTMF digits (one per 20 ms tick, each as three event packets
// with the end bit on the last).
func (c *caller) key(digits string) {
	c.mu.Lock()
	for _, d := range digits {
		c.digits = append(c.digits, string(d))
	}
	c.mu.Unlock()
}

func (c *caller) sendDigit(t *testing.T, d string) {
	ev := byte(strings.Index(dtmfDigits, d))
	for i := range 3 {
		flags := byte(10) // volume
		if i == 2 {
			flags |= 0x80
		}
		dur := uint16((i + 1) * 160)
		c.snd.send(t, 101, []byte{ev, flags, byte(dur >> 8), byte(dur)}, i == 0)
		c.snd.seq++
	}
	c.snd.ts += 480
}

func (c *caller) receive() {
	buf := make([]byte, 2048)
	for {
		n, from, err := c.snd.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		c.mu.Lock()
		c.pkts = append(c.pkts, recvd{at: time.Now(), hdr: p.Header, payload: append([]byte(nil), p.Payload...), from: from})
		c.mu.Unlock()
	}
}

func (c *caller) received() []recvd {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]recvd(nil), c.pkts...)
}

// quietFor waits until the bot has sent something after `after` packets
// and then nothing for d; it returns the packets of that talk.
func (c *caller) waitTalk(t *testing.T, after int, d time.Duration) []recvd {
	t.Helper()
	waitFor(t, "the bot to speak and fall silent", func() bool {
		p := c.received()
		return len(p) > after && time.Since(p[len(p)-1].at) > d
	})
	return c.received()[after:]
}

// waitPrompt waits for a whole prompt of n packets after `after`, then
// for the bot to fall silent: on a loaded machine a prompt can pause
// longer than any silence threshold.
func (c *caller) waitPrompt(t *testing.T, after, n int) []recvd {
	t.Helper()
	waitFor(t, "the whole prompt", func() bool { return len(c.received())-after >= n })
	return c.waitTalk(t, after, 400*time.Millisecond)
}

// promptPackets is how many 20 ms packets synth makes of text at 8 kHz.
func promptPackets(t *testing.T, synth tts.Engine, text string) int {
	t.Helper()
	n := 0
	err := synth.Synthesize(t.Context(), tts.Request{Text: text, Rate: 8000}, func(pcm []int16) error { n += len(pcm); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n / 160
}

// transcribe decodes the bot's recorded RTP (placed by timestamp, gaps
// filled with silence) with the package's PocketSphinx engine.
func transcribe(t *testing.T, pkts []recvd) string {
	t.Helper()
	if len(pkts) == 0 {
		return ""
	}
	var ulaw []byte
	base := pkts[0].hdr.Timestamp
	for _, p := range pkts {
		off := int(p.hdr.Timestamp - base)
		for len(ulaw) < off {
			ulaw = append(ulaw, 0xff)
		}
		ulaw = append(ulaw[:off], p.payload...)
	}
	silence := make([]byte, 8000)
	for i := range silence {
		silence[i] = 0xff
	}
	ulaw = append(ulaw, silence...)
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, prometheus.NewRegistry(), engine)
	if err != nil {
		t.Fatal(err)
	}
	pe, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "bot-recording", Offline: true, Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	party, err := pe.AddParty(pipeline.PartyOptions{Name: "bot", Format: codec.Format{Codec: codec.PCMU, SampleRate: 8000, Channels: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range pe.Segments() {
			if s.Final && s.Text != "" {
				words = append(words, s.Text)
			}
		}
	}()
	if err := party.Write(ulaw); err != nil {
		t.Fatal(err)
	}
	pe.Close()
	<-done
	return strings.Join(words, " ")
}

// saidWell checks that the recording of a prompt transcribes to at least
// a third of its words (PocketSphinx's general model on 8 kHz synthetic
// speech is rough) and
// to more of them than of any other prompt of the bot.
func saidWell(t *testing.T, what, prompt string, pkts []recvd) {
	t.Helper()
	got := transcribe(t, pkts)
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer(".", "", ",", "", "?", "").Replace(s))
	}
	found, total := ingesttest.WordsFound(norm(prompt), got)
	t.Logf("%s: bot said %q, recognised %q (%d/%d words)", what, prompt, got, found, total)
	if found*3 < total {
		t.Errorf("%s: recognised %q from the bot's audio, want most of %q", what, got, prompt)
	}
	for _, other := range []string{greetingPrompt, accountPrompt, transferPrompt, goodbyePrompt} {
		if other == prompt {
			continue
		}
		if f, n := ingesttest.WordsFound(norm(other), got); f*total > found*n {
			t.Errorf("%s: the recording matches %q (%d/%d) better than %q", what, other, f, n, prompt)
		}
	}
}

// checkRTP checks the bot's packets: one SSRC, sequence numbers +1,
// timestamps +160 within a talk spurt, the marker bit on each spurt's
// first packet only, PCMU payloads of 160 bytes, paced about 20 ms apart.
func checkRTP(t *testing.T, pkts []recvd) {
	t.Helper()
	for i, p := range pkts {
		if p.hdr.PayloadType != 0 || len(p.payload) != 160 {
			t.Fatalf("packet %d: payload type %d with %d bytes, want PCMU 160", i, p.hdr.PayloadType, len(p.payload))
		}
		if i == 0 {
			if !p.hdr.Marker {
				t.Errorf("first packet without the marker bit")
			}
			continue
		}
		q := pkts[i-1]
		if p.hdr.SSRC != q.hdr.SSRC {
			t.Fatalf("packet %d: SSRC changed", i)
		}
		if p.hdr.SequenceNumber != q.hdr.SequenceNumber+1 {
			t.Fatalf("packet %d: sequence %d after %d", i, p.hdr.SequenceNumber, q.hdr.SequenceNumber)
		}
		d := p.hdr.Timestamp - q.hdr.Timestamp
		switch {
		case d == 160 && p.hdr.Marker:
			t.Errorf("packet %d: marker bit within a talk spurt", i)
		case d != 160 && !p.hdr.Marker:
			t.Errorf("packet %d: timestamp jumped %d without the marker bit", i, d)
		case d%160 != 0 || d == 0:
			t.Errorf("packet %d: timestamp step %d is not a multiple of 160", i, d)
		}
	}
	if n := len(pkts); n > 50 {
		span := pkts[n-1].at.Sub(pkts[0].at)
		ts := time.Duration(pkts[n-1].hdr.Timestamp-pkts[0].hdr.Timestamp) * time.Second / 8000
		// Pacing: the packets arrive over (about) the time they cover,
		// not in a burst.
		if span < ts*8/10 {
			t.Errorf("%d packets covering %s arrived within %s: not paced", n, ts, span)
		}
	}
}

// botInvite sends an INVITE to the bot user offering PCMU and
// telephone-event sendrecv from the caller's RTP port.
func botInvite(t *testing.T, u *uac, id string, port int, pts string, extra ...string) *sipmsg.Response {
	t.Helper()
	lines := append([]string{"a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendrecv"}, extra...)
	msg := u.request("INVITE", id, "", 1, nil, "application/sdp", sdpOffer(port, pts, lines...))
	msg = strings.Replace(msg, "INVITE sip:srs@", "INVITE sip:"+botUser+"@", 1)
	return u.do(t, msg)
}

// dialBot calls the bot as caller id: INVITE (answered 200), then RTP
// both ways; it returns the UAC, the caller and the dialog's To tag.
func dialBot(t *testing.T, e *env, id string) (*uac, *caller, string) {
	t.Helper()
	u := newUAC(t, e.srv.UDPAddr())
	c := newCaller(t)
	res := botInvite(t, u, id, c.snd.port(), "0 101")
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	tag, _ := res.To().Params.Get("tag")
	c.start(t, e.streamPort(t, id, "index:0"))
	return u, c, tag
}

func botConfig() voice.Config { return voice.DefaultConfig() }

// botEnv starts a SIP server whose bot user runs brain with flite.
func botEnv(t *testing.T, cfg voice.Config, brain func(voice.Call) voice.Brain) (*env, *botOpener) {
	t.Helper()
	o := newBotOpener(t, newFlite(t), cfg, brain)
	e := testServer(t, func(c *Config) {
		c.Bots = map[string]string{botUser: "bank"}
		c.RTPTimeout = 30 * time.Second
	}, func(s *Server) { s.SetBotOpener(o) })
	return e, o
}

// awaitRequest waits for a request of method in a call's dialog, answers
// it with status, and returns it.
func (u *uac) awaitRequest(t *testing.T, method sipmsg.RequestMethod, callID string, status int) *sipmsg.Request {
	t.Helper()
	buf := make([]byte, 65535)
	_ = u.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		n, addr, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no %s from the server: %v", method, err)
		}
		m, err := sipmsg.ParseMessage(buf[:n])
		req, ok := m.(*sipmsg.Request)
		if err != nil || !ok || req.Method != method || req.CallID().Value() != callID {
			continue
		}
		res := sipmsg.NewResponseFromRequest(req, status, "OK", nil)
		if _, err := u.conn.WriteToUDP([]byte(res.String()), addr); err != nil {
			t.Fatal(err)
		}
		return req
	}
}

// TestBotCall: a caller calls the bot, hears its greeting (the recording
// of the bot's RTP transcribed by PocketSphinx), says something (recorded
// speech the bot was not told), hears the slot prompt, keys the digits
// and is transferred with REFER once the NOTIFY reports the transfer
// target answered.
func TestBotCall(t *testing.T) {
	brain := newScriptBrain(greetingPrompt, "sip:agents@127.0.0.1:5999")
	e, o := botEnv(t, botConfig(), func(voice.Call) voice.Brain { return brain })
	u := newUAC(t, e.srv.UDPAddr())
	c := newCaller(t)
	res := botInvite(t, u, "bot-1@test", c.snd.port(), "0 101")
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d %s", res.StatusCode, res.Reason)
	}
	body := string(res.Body())
	if !strings.Contains(body, "a=sendrecv") || !strings.Contains(body, "telephone-event/8000") {
		t.Fatalf("answer is not sendrecv with telephone-event:\n%s", body)
	}
	tag, _ := res.To().Params.Get("tag")
	c.start(t, e.streamPort(t, "bot-1@test", "index:0"))

	greeting := c.waitPrompt(t, 0, promptPackets(t, o.synth, greetingPrompt))
	checkRTP(t, greeting)
	saidWell(t, "greeting", greetingPrompt, greeting)

	_, speech, said := speechULaw(t, "0880")
	n := len(c.received())
	c.say(t, speech)
	in := brain.next(t)
	if in.Kind != voice.InputSpeech {
		t.Fatalf("the bot heard %v, want speech", in.Kind)
	}
	if f, total := ingesttest.WordsFound(said, in.Text); f*2 < total {
		t.Errorf("the bot heard %q, want most of %q", in.Text, said)
	}
	prompt := c.waitPrompt(t, n, promptPackets(t, o.synth, accountPrompt))
	t.Logf("prompt packets %d, barge-ins %v", len(prompt), testutil.ToFloat64(o.m.BargeIns(Source)))
	saidWell(t, "slot prompt", accountPrompt, prompt)

	c.key("4211#")
	in = brain.next(t)
	if in.Kind != voice.InputDigits || in.Text != "4211" {
		t.Fatalf("the bot got %v %q, want digits 4211", in.Kind, in.Text)
	}
	refer := u.awaitRequest(t, sipmsg.REFER, "bot-1@test", 202)
	if h := refer.GetHeader("Refer-To"); h == nil || h.Value() != "<sip:agents@127.0.0.1:5999>" {
		t.Fatalf("REFER with Refer-To %v", h)
	}
	if ft, _ := refer.To().Params.Get("tag"); ft != uacTag("bot-1@test") {
		t.Errorf("REFER To tag %q, want the caller's %q", ft, uacTag("bot-1@test"))
	}
	notify := u.request("NOTIFY", "bot-1@test", tag, 2, []string{"Event: refer", "Subscription-State: terminated;reason=noresource"},
		"message/sipfrag;version=2.0", "SIP/2.0 200 OK\r\n")
	if r := u.do(t, notify); r.StatusCode != 200 {
		t.Fatalf("NOTIFY: %d", r.StatusCode)
	}
	if _, _, err := u.awaitBye("bot-1@test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call to end", func() bool { return e.srv.Calls() == 0 })
	if got := o.calls[0].said.endings(); len(got) != 1 || got[0] != "handover:account_help:true" {
		t.Errorf("endings %v, want the transferred hand-over", got)
	}
	if v := testutil.ToFloat64(e.srv.m.transfers.WithLabelValues("accepted")); v != 1 {
		t.Errorf("accepted transfers %v, want 1", v)
	}
	if v := testutil.ToFloat64(e.srv.m.dtmf); v != 5 {
		t.Errorf("DTMF digits counted %v, want 5", v)
	}
}

// speechOnset returns the offset of the first 20 ms mu-law frame with
// speech in it (the recordings start with half a second of silence).
func speechOnset(ulaw []byte) int {
	for i := 0; i+160 <= len(ulaw); i += 160 {
		peak := 0
		for _, b := range ulaw[i : i+160] {
			v := int(codec.MulawToLinear(b))
			peak = max(peak, v, -v)
		}
		if peak > 2000 {
			return i
		}
	}
	return 0
}

// TestBotBargeIn: the caller speaks over a long greeting; the bot stops
// playing (measured in the recording of its RTP) and answers what the
// caller said.
func TestBotBargeIn(t *testing.T) {
	long := "Welcome to the bank. " + strings.Repeat("Our branches are open from nine in the morning until five in the evening on weekdays. ", 4)
	brain := newScriptBrain(long, "")
	e, o := botEnv(t, botConfig(), func(voice.Call) voice.Brain { return brain })
	u, c, tag := dialBot(t, e, "barge@test")
	waitFor(t, "the greeting to play for a second", func() bool { return len(c.received()) >= 50 })
	_, speech, said := speechULaw(t, "0880")
	speech = speech[speechOnset(speech):]
	onset := time.Now()
	c.say(t, speech)
	in := brain.next(t)
	if f, total := ingesttest.WordsFound(said, in.Text); in.Kind != voice.InputSpeech || f*2 < total {
		t.Errorf("the bot heard %v %q, want most of %q", in.Kind, in.Text, said)
	}
	pkts := c.received()
	var last time.Time
	var greeting []recvd
	for i, p := range pkts {
		if i > 0 && p.hdr.Marker {
			break // the next prompt
		}
		last = p.at
		greeting = append(greeting, p)
	}
	stop := last.Sub(onset)
	played := time.Duration(len(greeting)) * 20 * time.Millisecond
	t.Logf("barge-in: the greeting stopped %s after the caller started speaking (%s of it played)", stop.Round(time.Millisecond), played)
	// The greeting lasts about 25 s: it must have been cut.
	if played > 10*time.Second {
		t.Errorf("the greeting played for %s over the caller's speech", played)
	}
	if v := testutil.ToFloat64(o.m.BargeIns(Source)); v < 1 {
		t.Errorf("barge-ins counted %v, want at least 1", v)
	}
	botHangUp(t, e, u, "barge@test", tag)
}

// earlyBrain acts on the first partial hypothesis of a turn (as a bot
// does for a request it is sure of) and records what it heard.
type earlyBrain struct {
	mu  sync.Mutex
	ins []voice.Input
}

func (b *earlyBrain) Greet(context.Context) voice.Reply { return voice.Reply{Say: []string{"Hello."}} }

func (b *earlyBrain) Hear(_ context.Context, in voice.Input) voice.Reply {
	b.mu.Lock()
	b.ins = append(b.ins, in)
	b.mu.Unlock()
	if in.Partial {
		return voice.Reply{Say: []string{accountPrompt}}
	}
	return voice.Reply{Say: []string{goodbyePrompt}}
}

func (b *earlyBrain) heard() []voice.Input {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ins)
}

// TestBotEarlyAnswer: with early intent on, a Brain that acts on a partial
// hypothesis has its answer held until the caller's turn has ended (not
// spoken over the caller, not cut by their own speech), then spoken; the
// rest of the caller's turn is not asked about again.
func TestBotEarlyAnswer(t *testing.T) {
	cfg := botConfig()
	cfg.EarlyIntent = true
	brain := &earlyBrain{}
	e, o := botEnv(t, cfg, func(voice.Call) voice.Brain { return brain })
	u, c, tag := dialBot(t, e, "early@test")
	c.waitTalk(t, 0, 400*time.Millisecond)
	_, speech, _ := speechULaw(t, "0880")
	n := len(c.received())
	c.say(t, speech)
	c.mu.Lock()
	spoke := c.spoke
	c.mu.Unlock()
	answer := c.waitTalk(t, n, 600*time.Millisecond)
	if first := answer[0].at; first.Before(spoke) {
		t.Errorf("the answer started %s before the caller's last sound was sent", spoke.Sub(first))
	}
	saidWell(t, "early answer", accountPrompt, answer)
	ins := brain.heard()
	if len(ins) != 1 || !ins[0].Partial || ins[0].Text == "" {
		t.Errorf("the brain heard %+v, want the one partial hypothesis it acted on", ins)
	}
	if v := testutil.ToFloat64(o.m.Early(Source)); v != 1 {
		t.Errorf("early answers counted %v, want 1", v)
	}
	if v := testutil.ToFloat64(o.m.BargeIns(Source)); v != 0 {
		t.Errorf("barge-ins counted %v, want none (the caller's own turn must not cut its answer)", v)
	}
	botHangUp(t, e, u, "early@test", tag)
}

// TestBotNoInput: a caller who never speaks hears the greeting, one
// reprompt, and the goodbye; the call then ends with BYE carrying the
// configured reason.
func TestBotNoInput(t *testing.T) {
	cfg := botConfig()
	cfg.NoInput, cfg.NoInputRetries = time.Second, 1
	brain := newScriptBrain("Hello.", "")
	e, _ := botEnv(t, cfg, func(voice.Call) voice.Brain { return brain })
	u := newUAC(t, e.srv.UDPAddr())
	c := newCaller(t)
	res := botInvite(t, u, "silent@test", c.snd.port(), "0 101")
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	c.start(t, e.streamPort(t, "silent@test", "index:0"))
	bye := u.awaitRequest(t, sipmsg.BYE, "silent@test", 200)
	if h := bye.GetHeader("Reason"); h == nil || !strings.Contains(h.Value(), `text="no_input"`) {
		t.Errorf("BYE Reason %v, want no_input", h)
	}
	if in := brain.next(t); in.Kind != voice.InputNoInput {
		t.Errorf("the bot heard %v, want no input", in.Kind)
	}
	spurts := 0
	for _, p := range c.received() {
		if p.hdr.Marker {
			spurts++
		}
	}
	// greeting, reprompt, goodbye (a slow synthesis may split one).
	if spurts < 3 {
		t.Errorf("%d talk spurts, want the greeting, a reprompt and the goodbye", spurts)
	}
	waitFor(t, "the call to end", func() bool { return e.srv.Calls() == 0 })
}

// TestBotDTMFFlood: thousands of digits as fast as the socket takes them
// neither block the call nor grow its queue: inputs are cut at the
// longest digit input or dropped and counted, and the call still ends
// cleanly. RTP from another source is dropped and counted.
func TestBotDTMFFlood(t *testing.T) {
	brain := &floodBrain{}
	e, o := botEnv(t, botConfig(), func(voice.Call) voice.Brain { return brain })
	u := newUAC(t, e.srv.UDPAddr())
	c := newCaller(t)
	res := botInvite(t, u, "flood@test", c.snd.port(), "0 101")
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	tag, _ := res.To().Params.Get("tag")
	port := e.streamPort(t, "flood@test", "index:0")
	c.snd.dst = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	stranger := newRTPSender(t, 0)
	stranger.dst = c.snd.dst
	before := testutil.ToFloat64(e.srv.m.dropped.WithLabelValues("unexpected_source"))
	stranger.send(t, 0, make([]byte, 160), true)
	waitFor(t, "the stranger's packet to be dropped", func() bool {
		return testutil.ToFloat64(e.srv.m.dropped.WithLabelValues("unexpected_source")) > before
	})
	// 3000 digits in bursts of 100 (300 packets), each sent as fast as
	// the socket takes them and the next sent as soon as the server has
	// taken the last: far faster than the bot can hear them. A burst stays
	// well inside the RTP socket's receive buffer, so what is measured is
	// the server, not the kernel dropping datagrams when the reader is
	// descheduled for a moment (sent as one burst of 9000 packets, more
	// than a tenth were once lost that way in a full test run).
	const n, burst = 3000, 100
	taken := func() float64 {
		return testutil.ToFloat64(e.srv.m.dtmf) + testutil.ToFloat64(e.srv.m.dropped.WithLabelValues("late"))
	}
	for sent := 0; sent < n; {
		for range burst {
			c.sendDigit(t, string(dtmfDigits[sent%10]))
			sent++
		}
		waitFor(t, "the digits to be taken", func() bool { return taken() >= float64(sent*9/10) })
	}
	botHangUp(t, e, u, "flood@test", tag)
	brain.mu.Lock()
	defer brain.mu.Unlock()
	digits := 0
	for _, in := range brain.inputs {
		if len(in) > voice.DefaultConfig().MaxDigits {
			t.Errorf("a digit input of %d digits, want at most %d", len(in), voice.DefaultConfig().MaxDigits)
		}
		digits += len(in)
	}
	dropped := testutil.ToFloat64(o.m.Dropped(Source))
	t.Logf("%d digits sent: %d inputs (%d digits) heard, %v dropped at the queue, %v received", n, len(brain.inputs), digits, dropped, testutil.ToFloat64(e.srv.m.dtmf))
	if len(brain.inputs) == 0 {
		t.Error("the bot heard no digits")
	}
}

// floodBrain acknowledges every input.
type floodBrain struct {
	mu     sync.Mutex
	inputs []string
}

func (b *floodBrain) Greet(context.Context) voice.Reply { return voice.Reply{Say: []string{"Hello."}} }

func (b *floodBrain) Hear(_ context.Context, in voice.Input) voice.Reply {
	b.mu.Lock()
	b.inputs = append(b.inputs, in.Text)
	b.mu.Unlock()
	return voice.Reply{Say: []string{"Got it."}}
}

// TestBotLongPrompt: a 10,000-character prompt starts playing within
// its first chunk's synthesis and does not hold up another call, whose
// greeting plays (and is recognised) while the long one goes on.
func TestBotLongPrompt(t *testing.T) {
	long := strings.Repeat("Your statement lists every payment made this month in order. ", 170)[:10000]
	e, _ := botEnv(t, botConfig(), func(call voice.Call) voice.Brain {
		if strings.Contains(call.Caller, "long") {
			return newScriptBrain(long, "")
		}
		return newScriptBrain(greetingPrompt, "")
	})
	ua := newUAC(t, e.srv.UDPAddr())
	ca := newCaller(t)
	msg := ua.request("INVITE", "long@test", "", 1, nil, "application/sdp", sdpOffer(ca.snd.port(), "0 101", "a=sendrecv"))
	msg = strings.Replace(msg, "INVITE sip:srs@", "INVITE sip:"+botUser+"@", 1)
	msg = strings.Replace(msg, "From: <sip:+15550001111@", "From: <sip:long@", 1)
	start := time.Now()
	res := ua.do(t, msg)
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	tagA, _ := res.To().Params.Get("tag")
	ca.start(t, e.streamPort(t, "long@test", "index:0"))
	waitFor(t, "the long prompt to start", func() bool { return len(ca.received()) > 0 })
	t.Logf("the 10,000-character prompt started after %s", ca.received()[0].at.Sub(start).Round(time.Millisecond))

	ub := newUAC(t, e.srv.UDPAddr())
	cb := newCaller(t)
	res = botInvite(t, ub, "short@test", cb.snd.port(), "0 101")
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	tagB, _ := res.To().Params.Get("tag")
	cb.start(t, e.streamPort(t, "short@test", "index:0"))
	greeting := cb.waitTalk(t, 0, 400*time.Millisecond)
	saidWell(t, "greeting beside a long prompt", greetingPrompt, greeting)
	// The long prompt is still playing.
	if p := ca.received(); time.Since(p[len(p)-1].at) > time.Second {
		t.Errorf("the long prompt stopped")
	}
	botHangUp(t, e, ub, "short@test", tagB)
	botHangUp(t, e, ua, "long@test", tagA)
}

// TestBotNoCommonCodec: an INVITE to a bot offering no G.711 gets 488.
func TestBotNoCommonCodec(t *testing.T) {
	e, _ := botEnv(t, botConfig(), func(voice.Call) voice.Brain { return newScriptBrain("Hello.", "") })
	u := newUAC(t, e.srv.UDPAddr())
	if res := botInvite(t, u, "g722@test", 40000, "9 101"); res.StatusCode != 488 {
		t.Errorf("INVITE offering G.722 only: %d, want 488", res.StatusCode)
	}
}

// botHangUp ends a bot call with BYE and waits for the server to end it.
func botHangUp(t *testing.T, e *env, u *uac, id, tag string) {
	t.Helper()
	if res := u.do(t, u.request("BYE", id, tag, 100, nil, "", "")); res.StatusCode != 200 {
		t.Errorf("BYE %s: %d", id, res.StatusCode)
	}
	waitFor(t, "the call to end", func() bool { return e.srv.lookup(id) == nil })
}

// TestBotHold: the caller puts the bot on hold with a re-INVITE
// (a=sendonly): the answer is recvonly and the bot sends nothing until a
// re-INVITE resumes the call (sendrecv).
func TestBotHold(t *testing.T) {
	long := strings.Repeat("Our branches are open from nine in the morning until five in the evening on weekdays. ", 4)
	e, _ := botEnv(t, botConfig(), func(voice.Call) voice.Brain { return newScriptBrain(long, "") })
	u, c, tag := dialBot(t, e, "hold@test")
	waitFor(t, "the greeting to play", func() bool { return len(c.received()) >= 25 })
	hold := u.request("INVITE", "hold@test", tag, 2, nil, "application/sdp", sdpOffer(c.snd.port(), "0 101", "a=rtpmap:101 telephone-event/8000", "a=sendonly"))
	res := u.do(t, hold)
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("hold re-INVITE: %d\n%s", res.StatusCode, res.Body())
	}
	// Packets already on their way may still arrive: wait until none has
	// for 200 ms, then check that none comes for another second.
	waitFor(t, "the bot to stop sending", func() bool {
		p := c.received()
		return time.Since(p[len(p)-1].at) > 200*time.Millisecond
	})
	n := len(c.received())
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if len(c.received()) != n {
			t.Fatal("the bot sent RTP to a caller who holds the call")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resume := u.request("INVITE", "hold@test", tag, 3, nil, "application/sdp", sdpOffer(c.snd.port(), "0 101", "a=rtpmap:101 telephone-event/8000", "a=sendrecv"))
	res = u.do(t, resume)
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=sendrecv") {
		t.Fatalf("resume re-INVITE: %d\n%s", res.StatusCode, res.Body())
	}
	waitFor(t, "the greeting to go on after the hold", func() bool { return len(c.received()) > n })
	botHangUp(t, e, u, "hold@test", tag)
}
