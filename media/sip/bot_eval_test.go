//go:build eval

package sip

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
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
// packet of its answer arriving.
func turnLatency(t *testing.T, c *caller, speech []byte) time.Duration {
	n := len(c.received())
	c.say(t, speech)
	c.mu.Lock()
	end := c.spoke
	c.mu.Unlock()
	waitFor(t, "the bot to answer", func() bool { return len(c.received()) > n })
	return c.received()[n].at.Sub(end)
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// TestEvalBotLatency measures the turn latency of bot calls over SIP
// (end of the caller's speech to the bot's first RTP packet, as the
// caller's UAC sees it) with the default end-of-turn silence, for a slot
// prompt and for a longer answer, with 1 to 6 concurrent calls each
// speaking 4 turns of recorded speech. Run: make eval, or
// go test -tags eval -run TestEvalBotLatency -v ./media/sip/
func TestEvalBotLatency(t *testing.T) {
	answer := "Our branches are open from nine in the morning until five in the evening, Monday to Friday."
	cfg := botConfig()
	ids := []string{"0880", "0890", "0920", "0930"}
	speech := map[string][]byte{}
	for _, id := range ids {
		_, u, _ := speechULaw(t, id)
		speech[id] = speechSpan(u)
	}
	for _, kind := range []string{"slot_prompt", "answer"} {
		for _, k := range []int{1, 2, 4, 6} {
			reply := accountPrompt
			if kind == "answer" {
				reply = answer
			}
			e, _ := botEnv(t, cfg, func(voice.Call) voice.Brain { return &echoBrain{say: reply} })
			var mu sync.Mutex
			var lat []time.Duration
			var perTurn [4][]time.Duration
			var wg sync.WaitGroup
			for i := range k {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("lat-%s-%d-%d@eval", kind, k, i)
					u := newUAC(t, e.srv.UDPAddr())
					c := newCaller(t)
					res := botInvite(t, u, id, c.snd.port(), "0 101")
					if res.StatusCode != 200 {
						t.Errorf("INVITE: %d", res.StatusCode)
						return
					}
					tag, _ := res.To().Params.Get("tag")
					c.start(t, e.streamPort(t, id, "index:0"))
					c.waitTalk(t, 0, 300*time.Millisecond)
					for j, sid := range ids {
						d := turnLatency(t, c, speech[sid])
						c.waitTalk(t, len(c.received())-1, 300*time.Millisecond)
						mu.Lock()
						lat = append(lat, d)
						perTurn[j] = append(perTurn[j], d)
						mu.Unlock()
					}
					botHangUp(t, e, u, id, tag)
				}()
			}
			wg.Wait()
			if len(lat) == 0 {
				continue
			}
			t.Logf("%s, %d concurrent calls: %d turns, latency p50 %s p95 %s (end-of-turn silence %s; first turn p50 %s, last turn p50 %s)",
				kind, k, len(lat), pct(lat, .5).Round(time.Millisecond), pct(lat, .95).Round(time.Millisecond), cfg.EndOfTurn,
				pct(perTurn[0], .5).Round(time.Millisecond), pct(perTurn[3], .5).Round(time.Millisecond))
		}
	}
}

// echoBrain answers every turn with the same prompt.
type echoBrain struct{ say string }

func (b *echoBrain) Greet(context.Context) voice.Reply { return voice.Reply{Say: []string{"Hello."}} }
func (b *echoBrain) Hear(context.Context, voice.Input) voice.Reply {
	return voice.Reply{Say: []string{b.say}}
}
