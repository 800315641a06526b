//go:build eval

package whip

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/codec/opus"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/flite"
	"github.com/earshot/earshot/media/voice"
)

// The bot's two replies: a fixed slot prompt (synthesised ahead, served
// from the speech cache) and a dynamic sentence, as a knowledge-base answer
// would be (never cached). The same texts as the SIP leg's eval.
const (
	evalGreeting = "Hello."
	evalPrompt   = "Please enter your account number on the keypad."
	evalAnswer   = "Our branches are open from nine in the morning until five in the evening, Monday to Friday."
)

// evalBots runs every voice session as a bot call, as the daemon does: the
// caller's audio through the real pipeline (PocketSphinx), its speech
// starts and segments into the voice runtime, which speaks on the
// session's leg. The brain answers every turn with reply.
type evalBots struct {
	pipe   *pipeline.Pipeline
	synth  tts.Engine
	static []string
	reply  string
	m      *voice.Metrics

	mu    sync.Mutex
	convs []*voice.Conversation
	segs  sync.WaitGroup
}

type fixedBrain struct{ say string }

func (b fixedBrain) Greet(context.Context) voice.Reply {
	return voice.Reply{Say: []string{evalGreeting}}
}
func (b fixedBrain) Hear(context.Context, voice.Input) voice.Reply {
	return voice.Reply{Say: []string{b.say}}
}

type noTranscript struct{}

func (noTranscript) BotSaid(string, time.Time, time.Time) {}
func (noTranscript) Ended(string, string, bool)           {}

func (o *evalBots) Open(_ context.Context, m Meta) (ingest.Engagement, error) {
	var conv *voice.Conversation
	ready := make(chan struct{})
	pe, err := o.pipe.Open(context.Background(), pipeline.OpenOptions{ID: m.Query.Get("engagement"), Source: m.Source,
		OnSpeechStart: func(string) { <-ready; conv.SpeechStarted() }})
	if err != nil {
		return nil, err
	}
	conv, err = voice.Start(context.Background(), voice.DefaultConfig(), voice.Call{Bot: "bank", Source: "webrtc", Leg: m.Leg},
		voice.Deps{Brain: fixedBrain{say: o.reply}, TTS: o.synth, Transcript: noTranscript{}, Metrics: o.m,
			Static: func(text string) bool { return slices.Contains(o.static, text) },
			Heard:  func() (time.Time, bool) { return pe.Heard(string(ingest.PartyCustomer)) }})
	if err != nil {
		pe.Close()
		return nil, err
	}
	close(ready)
	o.mu.Lock()
	o.convs = append(o.convs, conv)
	o.mu.Unlock()
	o.segs.Add(1)
	go func() {
		defer o.segs.Done()
		for s := range pe.Segments() {
			conv.Hear(voice.Heard{Text: s.Text, Final: s.Final, End: pe.Origin().Add(time.Duration(s.EndMs) * time.Millisecond)})
		}
	}()
	return ingest.FromPipeline(pe), nil
}

func (o *evalBots) close() {
	o.mu.Lock()
	convs := o.convs
	o.mu.Unlock()
	for _, c := range convs {
		c.Close()
	}
}

// webCaller is a browser-side pion client on a voice session: its
// microphone sends a 20 ms packet every 20 ms (speech when given, else
// silence) in the negotiated codec, and it notes when each of the bot's
// packets arrived.
type webCaller struct {
	c     *pionClient
	cp    webrtc.RTPCodecParameters
	frame int // samples per 20 ms at the microphone's rate
	step  uint32
	enc   *opus.Encoder

	mu     sync.Mutex
	queue  [][]int16
	spoke  time.Time // the last speech frame sent
	sent   chan struct{}
	arrive []time.Time
	marker []bool
}

func dialWebCaller(t *testing.T, url string, cp webrtc.RTPCodecParameters) *webCaller {
	t.Helper()
	w := &webCaller{cp: cp, frame: 160, step: 160}
	if cp.MimeType == webrtc.MimeTypeOpus {
		enc, err := opus.NewEncoder(opus.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(enc.Close)
		w.enc, w.frame, w.step = enc, enc.FrameSamples(), opus.ClockStep
	}
	w.c = dialPionWith(t, url, cp, func(pc *webrtc.PeerConnection) {
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				now := time.Now()
				w.mu.Lock()
				w.arrive = append(w.arrive, now)
				w.marker = append(w.marker, p.Marker)
				w.mu.Unlock()
			}
		})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go w.mic(ctx, done)
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *webCaller) mic(ctx context.Context, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	silence := make([]int16, w.frame)
	var buf []byte
	for seq := uint16(1); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.mu.Lock()
		pcm, last := silence, false
		if len(w.queue) > 0 {
			pcm, w.queue = w.queue[0], w.queue[1:]
			last = len(w.queue) == 0
		}
		w.mu.Unlock()
		if w.enc != nil {
			var err error
			if buf, err = w.enc.Encode(buf[:0], pcm); err != nil {
				panic(err) // whole frames only: cannot happen
			}
		} else {
			buf = codec.EncodeMulaw(buf[:0], pcm)
		}
		_ = w.c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * w.step}, Payload: buf})
		if last {
			w.mu.Lock()
			w.spoke = time.Now()
			close(w.sent)
			w.mu.Unlock()
		}
	}
}

// say sends speech (whole frames) in real time and returns when its last
// frame was sent.
func (w *webCaller) say(speech []int16) time.Time {
	w.mu.Lock()
	w.sent = make(chan struct{})
	for off := 0; off+w.frame <= len(speech); off += w.frame {
		w.queue = append(w.queue, speech[off:off+w.frame])
	}
	sent := w.sent
	w.mu.Unlock()
	<-sent
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spoke
}

func (w *webCaller) received() (int, []time.Time, []bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.arrive), slices.Clone(w.arrive), slices.Clone(w.marker)
}

// quiet waits for the bot to send nothing for d.
func (w *webCaller) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	ingesttest.WaitFor(t, "the bot to fall quiet", func() bool {
		_, at, _ := w.received()
		return len(at) > 0 && time.Since(at[len(at)-1]) >= d
	})
}

// speechOnly trims pcm to its speech: first to last 20 ms frame with a
// peak above 2000.
func speechOnly(pcm []int16, frame int) []int16 {
	loud := func(f []int16) bool {
		for _, v := range f {
			if v > 2000 || v < -2000 {
				return true
			}
		}
		return false
	}
	start, end := 0, len(pcm)/frame*frame
	for start+frame <= end && !loud(pcm[start:start+frame]) {
		start += frame
	}
	for end-frame > start && !loud(pcm[end-frame:end]) {
		end -= frame
	}
	return pcm[start:end]
}

// webEvalResult is what one configuration measured.
type webEvalResult struct {
	lat        []time.Duration
	first      time.Duration // the first turn's latency
	maxBacklog time.Duration
	cores      float64
	load       [2]string
}

// runWebBotEval makes one bot call over a voice session in codec cp and
// says turns utterances of recorded speech, each after the bot's whole
// previous answer. The bot side runs as a site's would: the fast
// recogniser made ready ahead (voice.WarmRecognizer), the fixed prompts
// synthesised into the speech front's cache at the leg's rate
// (voice.WarmSpeech).
func runWebBotEval(t *testing.T, cp webrtc.RTPCodecParameters, kind string, turns int) webEvalResult {
	rc := pocketsphinx.DefaultConfig()
	rc.Search, rc.Warm = pocketsphinx.SearchFast, 0
	rec, err := pocketsphinx.New(rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	fl, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("flite (Debian flite1-dev): %v", err)
	}
	fc := tts.DefaultConfig()
	fc.OtherLanguages = ""
	front, err := tts.New(fc, nil, nil, fl)
	if err != nil {
		t.Fatal(err)
	}
	synth := front.ForBot("bank")
	f := formatOf(codec.PCMU)
	if cp.MimeType == webrtc.MimeTypeOpus {
		f = formatOf(codec.Opus)
	}
	reply := evalPrompt
	if kind == "answer" {
		reply = evalAnswer
	}
	static := []string{evalGreeting, evalPrompt}
	ctx := t.Context()
	if err := voice.WarmRecognizer(ctx, rec, stt.StreamOptions{Narrowband: f.rate == 8000}, 1); err != nil {
		t.Fatal(err)
	}
	if err := voice.WarmSpeech(ctx, synth, voice.Prompts{Rates: []int{f.rate}, Static: static}); err != nil {
		t.Fatal(err)
	}
	packets := func(text string) int {
		n := 0
		if err := synth.Synthesize(ctx, tts.Request{Text: text, Rate: f.rate}, func(pcm []int16) error { n += len(pcm); return nil }); err != nil {
			t.Fatal(err)
		}
		return n / f.frame
	}
	greetN, replyN := packets(evalGreeting), packets(reply)
	pipe, err := pipeline.New(pipeline.DefaultConfig(), nil, prometheus.NewRegistry(), rec)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := voice.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	bots := &evalBots{pipe: pipe, synth: synth, static: static, reply: reply, m: vm}
	t.Cleanup(bots.close)
	e := testServerWith(t, nil, bots)
	h := e.srv.VoiceHandler("/voice")
	e.mux.Handle("/voice", auth(h))
	e.mux.Handle("/voice/", auth(h))

	var utterances [][]int16 // said in one breath
	for _, id := range []string{"0880", "0930"} {
		_, pcm, _ := speech(t, id, f.rate)
		utterances = append(utterances, speechOnly(pcm, f.frame))
	}

	var res webEvalResult
	res.load[0] = ingesttest.LoadAvg()
	stopSampling := ingesttest.SampleMax(pipe.Backlog)
	cpu0, wall0 := ingesttest.CPUTime(), time.Now()
	w := dialWebCaller(t, fmt.Sprintf("%s/voice?engagement=eval-%s-%s&party=customer", e.hs.URL, strings.ToLower(cp.MimeType[6:]), kind), cp)
	ingesttest.WaitFor(t, "the greeting", func() bool { n, _, _ := w.received(); return n >= greetN })
	w.quiet(t, 300*time.Millisecond)
	for j := range turns {
		n, _, _ := w.received()
		end := w.say(utterances[j%len(utterances)])
		var at time.Time
		from := 0
		ingesttest.WaitFor(t, "the bot to answer", func() bool {
			_, arr, mk := w.received()
			for i := n; i < len(arr); i++ {
				if mk[i] {
					at, from = arr[i], i
					return true
				}
			}
			return false
		})
		ingesttest.WaitFor(t, "the whole answer", func() bool { m, _, _ := w.received(); return m-from >= replyN })
		w.quiet(t, 300*time.Millisecond)
		d := at.Sub(end)
		if j == 0 {
			res.first = d
		}
		res.lat = append(res.lat, d)
	}
	res.cores = float64(ingesttest.CPUTime()-cpu0) / float64(time.Since(wall0))
	res.maxBacklog = stopSampling()
	res.load[1] = ingesttest.LoadAvg()
	return res
}

// TestEvalWebBotLatency measures bot calls over the voice widget's leg
// (WebRTC, a pion client in the browser's place): the turn latency from
// the end of the caller's speech (its last speech packet sent) to the
// bot's first RTP packet of the answer arriving at the client, with the
// default end-of-turn silence inside it, for a fixed slot prompt and a
// dynamic sentence, with Opus (what browsers negotiate) and PCMU side by
// side in the same run. It is the SIP leg's TestEvalBotLatency
// (media/sip) on the widget's transport. Run: make eval, or
//
//	go test -tags eval -run TestEvalWebBotLatency -v -timeout 30m ./media/whip/
//
// EARSHOT_EVAL_WEB_TURNS sets the caller turns per configuration (default
// 10).
func TestEvalWebBotLatency(t *testing.T) {
	turns := 10
	if v := os.Getenv("EARSHOT_EVAL_WEB_TURNS"); v != "" {
		if _, err := fmt.Sscan(v, &turns); err != nil || turns < 1 {
			t.Fatalf("EARSHOT_EVAL_WEB_TURNS: %q is not a number of turns", v)
		}
	}
	eot := voice.DefaultConfig().EndOfTurn
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	for _, kind := range []string{"slot_prompt", "answer"} {
		for _, cp := range []webrtc.RTPCodecParameters{opusCodec, pcmuCodec} {
			res := runWebBotEval(t, cp, kind, turns)
			early := 0
			for _, d := range res.lat {
				if d < 0 {
					early++
				}
			}
			t.Logf("%-4s %-11s: %2d turns, latency p50 %s p95 %s (first turn %s; end-of-turn silence %s inside); max backlog %s; %.2f cores; load %s -> %s; %d answered inside the caller's speech",
				strings.ToLower(cp.MimeType[6:]), kind, len(res.lat), ms(ingesttest.Percentile(res.lat, .5)), ms(ingesttest.Percentile(res.lat, .95)),
				ms(res.first), eot, ms(res.maxBacklog), res.cores, res.load[0], res.load[1], early)
		}
	}
}
