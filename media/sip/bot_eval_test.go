//go:build eval

package sip

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/voice"
)

// speechSpan trims a recording to its speech (first to last frame with
// speech in it).
func speechSpan(ulaw []byte) []byte {
	start := speechOnset(ulaw)
	end := len(ulaw)
	for end-160 > start {
		peak := 0
		for _, b := range ulaw[end-160 : end] {
			v := int(codec.MulawToLinear(b))
			peak = max(peak, v, -v)
		}
		if peak > 2000 {
			break
		}
		end -= 160
	}
	return ulaw[start:end]
}

// turnLatency is, for one caller turn, the time from the end of the
// caller's speech (its last speech frame sent) to the bot's first audio
// packet of its answer arriving. The answer is the first talk spurt (RTP
// marker bit) the bot starts after the caller began: the tail of a
// previous prompt that arrives late on a loaded machine is not taken for
// it.
func turnLatency(t *testing.T, c *caller, speech []byte) time.Duration {
	n := len(c.received())
	c.say(t, speech)
	c.mu.Lock()
	end := c.spoke
	c.mu.Unlock()
	var at time.Time
	waitFor(t, "the bot to answer", func() bool {
		for _, p := range c.received()[n:] {
			if p.hdr.Marker {
				at = p.at
				return true
			}
		}
		return false
	})
	return at.Sub(end)
}

// evalRun is one configuration of the bot-call eval.
type evalRun struct {
	preset string // PocketSphinx search preset of the calls' recogniser
	kind   string // "slot_prompt" (a fixed prompt, cached) or "answer" (a dynamic sentence)
	calls  int    // concurrent calls
	turns  int    // caller turns per call
}

// evalResult is what one configuration measured.
type evalResult struct {
	lat        []time.Duration   // every turn's latency
	perTurn    [][]time.Duration // by turn index
	maxBacklog time.Duration     // the pipeline's largest queued audio, sampled every 100 ms
	cores      float64           // the process's CPU time over the wall time
	load       [2]string         // the machine's 1-minute load average before and after
}

// evalAnswer is the dynamic reply of the "answer" kind: one sentence, as
// a knowledge-base answer would be (never cached).
const evalAnswer = "Our branches are open from nine in the morning until five in the evening, Monday to Friday."

// runBotEval calls the bot r.calls times at once over SIP; each caller
// says r.turns utterances of recorded speech, waiting for the bot's
// answer to each. The bot side runs as a site's would: a recogniser with
// the run's preset, made ready ahead (voice.WarmRecognizer) with the
// fixed prompts synthesised into the speech front's cache
// (voice.WarmSpeech), the pipeline's engagement limit raised to the
// number of calls.
func runBotEval(t *testing.T, r evalRun, speech [][]byte) evalResult {
	rc := pocketsphinx.DefaultConfig()
	rc.Search, rc.MaxDecoders, rc.Warm = r.preset, max(16, r.calls+2), 0
	rec, err := pocketsphinx.New(rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	fc := tts.DefaultConfig()
	fc.OtherLanguages = ""
	front, err := tts.New(fc, nil, nil, newFlite(t))
	if err != nil {
		t.Fatal(err)
	}
	synth := front.ForBot("bank")
	reply, static := accountPrompt, []string{"Hello.", accountPrompt}
	if r.kind == "answer" {
		reply = evalAnswer
	}
	ctx := t.Context()
	if err := voice.WarmRecognizer(ctx, rec, stt.StreamOptions{Narrowband: true}, r.calls); err != nil {
		t.Fatal(err)
	}
	if err := voice.WarmSpeech(ctx, synth, voice.Prompts{Rates: []int{8000}, Static: static}); err != nil {
		t.Fatal(err)
	}
	// Each turn waits for the whole of the bot's answer (on a loaded
	// machine a prompt can pause longer than any silence threshold).
	greetN, replyN := promptPackets(t, synth, "Hello."), promptPackets(t, synth, reply)
	pcfg := pipeline.DefaultConfig()
	pcfg.MaxEngagements = max(pcfg.MaxEngagements, r.calls)
	cfg := botConfig()
	o := newBotOpenerWith(t, rec, pcfg, synth, cfg, func(voice.Call) voice.Brain { return &echoBrain{say: reply} })
	o.static = func(text string) bool { return slices.Contains(static, text) }
	e := testServer(t, func(c *Config) {
		c.Bots = map[string]string{botUser: "bank"}
		c.RTPTimeout = 30 * time.Second
	}, func(s *Server) { s.SetBotOpener(o) })

	res := evalResult{perTurn: make([][]time.Duration, r.turns)}
	res.load[0] = ingesttest.LoadAvg()
	stopSampling := ingesttest.SampleMax(o.pipe.Backlog)
	cpu0, wall0 := ingesttest.CPUTime(), time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range r.calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("eval-%s-%s-%d-%d@eval", r.preset, r.kind, r.calls, i)
			u := newUAC(t, e.srv.UDPAddr())
			c := newCaller(t)
			inv := botInvite(t, u, id, c.snd.port(), "0 101")
			if inv.StatusCode != 200 {
				t.Errorf("INVITE: %d", inv.StatusCode)
				return
			}
			tag, _ := inv.To().Params.Get("tag")
			c.start(t, e.streamPort(t, id, "index:0"))
			waitFor(t, "the greeting", func() bool { return len(c.received()) >= greetN })
			c.waitTalk(t, 0, 300*time.Millisecond)
			for j := range r.turns {
				n := len(c.received())
				d := turnLatency(t, c, speech[(i+j)%len(speech)])
				waitFor(t, "the whole answer", func() bool { return len(c.received())-n >= replyN })
				c.waitTalk(t, len(c.received())-1, 300*time.Millisecond)
				mu.Lock()
				res.lat = append(res.lat, d)
				res.perTurn[j] = append(res.perTurn[j], d)
				mu.Unlock()
			}
			botHangUp(t, e, u, id, tag)
		}()
	}
	wg.Wait()
	res.cores = float64(ingesttest.CPUTime()-cpu0) / float64(time.Since(wall0))
	res.maxBacklog = stopSampling()
	res.load[1] = ingesttest.LoadAvg()
	return res
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// TestEvalBotLatency measures bot calls over SIP: the turn latency (end
// of the caller's speech, its last speech frame sent, to the bot's first
// RTP packet of the answer arriving, as the caller's UAC sees it), with
// the default end-of-turn silence inside it, and how many concurrent
// calls hold in real time. Both recogniser presets run in the same test,
// one after the other, so they see the same machine. Run: make eval, or
//
//	go test -tags eval -run TestEvalBotLatency -v -timeout 60m ./media/sip/
//
// EARSHOT_EVAL_BOT_CALLS lists the concurrent-call counts of the capacity
// part (default 2,4,6,8); EARSHOT_EVAL_BOT_CAPACITY_PRESETS its presets
// (default fast,accurate).
func TestEvalBotLatency(t *testing.T) {
	// Utterances said in one breath (a pause inside one may end the
	// turn early, which is turn-taking working, not latency).
	var speech [][]byte
	for _, id := range []string{"0880", "0930"} {
		_, u, _ := speechULaw(t, id)
		speech = append(speech, speechSpan(u))
	}
	eot := botConfig().EndOfTurn
	report := func(r evalRun, res evalResult) {
		if len(res.lat) == 0 {
			return
		}
		early := 0
		for _, d := range res.lat {
			if d < 0 {
				early++ // the bot answered before the caller had finished
			}
		}
		last := res.perTurn[len(res.perTurn)-1]
		t.Logf("%-8s %-11s calls %d: %2d turns, latency p50 %s p95 %s (first turn p50 %s, last turn p50 %s; end-of-turn silence %s inside); "+
			"max backlog %s; %.2f cores; load %s -> %s; %d answered inside the caller's speech",
			r.preset, r.kind, r.calls, len(res.lat), ms(ingesttest.Percentile(res.lat, .5)), ms(ingesttest.Percentile(res.lat, .95)), ms(ingesttest.Percentile(res.perTurn[0], .5)),
			ms(ingesttest.Percentile(last, .5)), eot, ms(res.maxBacklog), res.cores, res.load[0], res.load[1], early)
	}
	// Latency: one call at a time, ten turns each.
	for _, kind := range []string{"slot_prompt", "answer"} {
		for _, preset := range []string{pocketsphinx.SearchFast, pocketsphinx.SearchAccurate} {
			r := evalRun{preset: preset, kind: kind, calls: 1, turns: 10}
			report(r, runBotEval(t, r, speech))
		}
	}
	// Capacity: N calls at once, four turns each.
	counts := []int{2, 4, 6, 8}
	if v := os.Getenv("EARSHOT_EVAL_BOT_CALLS"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				t.Fatalf("EARSHOT_EVAL_BOT_CALLS: %q is not a list of call counts", v)
			}
			counts = append(counts, n)
		}
	}
	presets := []string{pocketsphinx.SearchFast, pocketsphinx.SearchAccurate}
	if v := os.Getenv("EARSHOT_EVAL_BOT_CAPACITY_PRESETS"); v != "" {
		presets = strings.Split(v, ",")
	}
	for _, n := range counts {
		for _, preset := range presets {
			r := evalRun{preset: preset, kind: "slot_prompt", calls: n, turns: 4}
			report(r, runBotEval(t, r, speech))
		}
	}
}

// echoBrain answers every turn with the same prompt.
type echoBrain struct{ say string }

func (b *echoBrain) Greet(context.Context) voice.Reply { return voice.Reply{Say: []string{"Hello."}} }
func (b *echoBrain) Hear(context.Context, voice.Input) voice.Reply {
	return voice.Reply{Say: []string{b.say}}
}
