package sip

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/tts"
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

// fliteCLI speaks with the flite program of Debian's flite package (CMU
// Flite, voice slt), resampled by sox.
type fliteCLI struct{ dir, voice string }

func newFliteCLI(t *testing.T) *fliteCLI {
	testdep.Program(t, "flite", "flite")
	testdep.Program(t, "sox", "sox")
	return &fliteCLI{dir: t.TempDir()}
}

func (f *fliteCLI) Name() string { return "flite" }

var fliteN struct {
	sync.Mutex
	n int
}

func (f *fliteCLI) Synthesize(ctx context.Context, req tts.Request, fn func([]int16) error) error {
	fliteN.Lock()
	fliteN.n++
	n := fliteN.n
	fliteN.Unlock()
	wav := filepath.Join(f.dir, fmt.Sprintf("p%d.wav", n))
	raw := filepath.Join(f.dir, fmt.Sprintf("p%d.raw", n))
	txt := filepath.Join(f.dir, fmt.Sprintf("p%d.txt", n))
	if err := os.WriteFile(txt, []byte(req.Text), 0o600); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "flite", "-voice", cmp.Or(f.voice, "slt"), "-f", txt, "-o", wav).CombinedOutput(); err != nil {
		return fmt.Errorf("flite: %v: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "sox", wav, "-r", fmt.Sprint(req.Rate), "-e", "signed", "-b", "16", "-c", "1", "-t", "raw", raw).CombinedOutput(); err != nil {
		return fmt.Errorf("sox: %v: %s", err, out)
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		return err
	}
	pcm := ingesttest.LE16(b)
	for len(pcm) > 0 {
		n := min(len(pcm), req.Rate/5) // 200 ms chunks
		if err := fn(pcm[:n]); err != nil {
			return err
		}
		pcm = pcm[n:]
	}
	return nil
}

// botOpener runs bot calls as the daemon does: the caller's audio through
// the real pipeline (PocketSphinx), its speech starts, segments and digits
// into the voice runtime.
type botOpener struct {
	pipe  *pipeline.Pipeline
	cfg   voice.Config
	synth tts.Engine
	reg   prometheus.Registerer
	m     *voice.Metrics
	brain func(call voice.Call) voice.Brain
	debug func(string)

	mu    sync.Mutex
	calls []*botEngagement
}

func newBotOpener(t *testing.T, synth tts.Engine, cfg voice.Config, brain func(voice.Call) voice.Brain) *botOpener {
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, prometheus.NewRegistry(), engine)
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
	conv, err = voice.Start(context.Background(), o.cfg, call, voice.Deps{Brain: o.brain(call), TTS: o.synth, Transcript: be.said, Metrics: o.m})
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
	snd  *rtpSender
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	queue  [][]byte // 160-byte mu-law frames
	digits []string
	spoke  time.Time // when the last queued speech frame was sent
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
		<-c.done
	}
}

// start sends to the bot's RTP port and records what comes back.
func (c *caller) start(t *testing.T, port int) {
	c.snd.dst = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
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
			if speech {
				c.mu.Lock()
				c.spoke = time.Now()
				c.mu.Unlock()
			}
		}
	}()
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
// 40% of its words (PocketSphinx on 8 kHz synthetic speech is rough) and
// to more of them than of any other prompt of the bot.
func saidWell(t *testing.T, what, prompt string, pkts []recvd) {
	t.Helper()
	got := transcribe(t, pkts)
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer(".", "", ",", "", "?", "").Replace(s))
	}
	found, total := ingesttest.WordsFound(norm(prompt), got)
	t.Logf("%s: bot said %q, recognised %q (%d/%d words)", what, prompt, got, found, total)
	if found*5 < total*2 {
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

func botConfig() voice.Config { return voice.DefaultConfig() }

// botEnv starts a SIP server whose bot user runs brain with flite.
func botEnv(t *testing.T, cfg voice.Config, brain func(voice.Call) voice.Brain) (*env, *botOpener) {
	t.Helper()
	o := newBotOpener(t, newFliteCLI(t), cfg, brain)
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
	o.debug = func(s string) { t.Log(time.Now().Format("05.000"), s) }
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

	greeting := c.waitTalk(t, 0, 400*time.Millisecond)
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
	prompt := c.waitTalk(t, n, 400*time.Millisecond)
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
