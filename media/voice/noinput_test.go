package voice_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/playout"
	"github.com/earshot/earshot/media/tts/flite"
	"github.com/earshot/earshot/media/voice"
)

// paced is a voice.Leg over the real playout queue the protocols use (20 ms
// frames in real time); it counts talkspurts and notes when the last frame
// went out.
type paced struct {
	q      *playout.Queue
	spurts atomic.Int64
	last   atomic.Int64 // unix ns of the last frame sent
	done   chan struct{}
}

func newPaced() *paced {
	l := &paced{q: playout.New(160, 50), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		_ = l.q.Run(func(_ []int16, resumed bool) error {
			if resumed {
				l.spurts.Add(1)
			}
			l.last.Store(time.Now().UnixNano())
			return nil
		}, func(ch chan struct{}) error { close(ch); return nil })
	}()
	return l
}

func (l *paced) Rate() int                                   { return 8000 }
func (l *paced) Play(ctx context.Context, pcm []int16) error { return l.q.Play(ctx, pcm) }
func (l *paced) Mark() <-chan struct{}                       { return l.q.Mark() }
func (l *paced) Clear()                                      { l.q.Clear() }
func (l *paced) Transfer(context.Context, string) error      { return voice.ErrUnsupported }
func (l *paced) Hangup(context.Context, string) error        { l.q.Stop(); return nil }
func (l *paced) stop()                                       { l.q.Stop(); <-l.done }

// quietBrain greets, and records what it hears.
type quietBrain struct {
	mu    sync.Mutex
	heard []voice.Input
}

func (b *quietBrain) Greet(context.Context) voice.Reply { return voice.Reply{Say: []string{"Hello."}} }
func (b *quietBrain) Hear(_ context.Context, in voice.Input) voice.Reply {
	b.mu.Lock()
	b.heard = append(b.heard, in)
	b.mu.Unlock()
	return voice.Reply{Say: []string{"Thank you."}}
}

type nopTranscript struct{}

func (nopTranscript) BotSaid(string, time.Time, time.Time) {}
func (nopTranscript) Ended(string, string, bool)           {}

// TestNoInputOnMediaClock: the no-input timeout after a prompt counts the
// caller's audio heard, not the wall clock. While the recogniser is behind
// (Deps.Heard stays at the call's start, as with a backlog), the timeout's
// wall-clock end passes with no reprompt (the caller may have spoken in the
// audio not yet heard); once the audio up to there has been heard without
// speech, the reprompt comes. A wall-clock timer reprompts at once.
func TestNoInputOnMediaClock(t *testing.T) {
	t.Parallel()
	fl, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("Flite (Debian flite1-dev): %v", err)
	}
	cfg := voice.DefaultConfig()
	cfg.NoInput, cfg.NoInputRetries = time.Second, 1
	leg := newPaced()
	defer leg.stop()
	var heard atomic.Int64 // the caller's audio heard up to, unix ns
	heard.Store(time.Now().UnixNano())
	brain := &quietBrain{}
	conv, err := voice.Start(t.Context(), cfg, voice.Call{Bot: "bank", Source: "test", Leg: leg},
		voice.Deps{Brain: brain, TTS: fl, Transcript: nopTranscript{},
			Heard: func() (time.Time, bool) { return time.Unix(0, heard.Load()), true }})
	if err != nil {
		t.Fatal(err)
	}
	defer conv.Close()
	ingesttest.WaitFor(t, "the greeting", func() bool { return leg.spurts.Load() == 1 && leg.last.Load() != 0 })
	// Wait for the greeting to end (no frame for 200 ms), then for twice
	// the no-input timeout past it on the wall clock: the subject here is
	// that the timer has not fired by then.
	ingesttest.WaitFor(t, "the greeting's end", func() bool {
		return time.Since(time.Unix(0, leg.last.Load())) > 200*time.Millisecond
	})
	ended := time.Unix(0, leg.last.Load())
	ingesttest.WaitFor(t, "twice the no-input timeout", func() bool { return time.Since(ended) >= 2*cfg.NoInput })
	if n := leg.spurts.Load(); n != 1 {
		t.Fatalf("%d talkspurts %s after the greeting with the caller's audio not yet heard, want 1 (no reprompt)",
			n, time.Since(ended).Round(time.Millisecond))
	}
	// The recogniser catches up: the audio up to now was silence.
	heard.Store(time.Now().UnixNano())
	ingesttest.WaitFor(t, "the reprompt", func() bool { return leg.spurts.Load() == 2 })
	brain.mu.Lock()
	defer brain.mu.Unlock()
	if len(brain.heard) != 0 {
		t.Errorf("the brain heard %+v, want nothing (one reprompt of %d)", brain.heard, cfg.NoInputRetries)
	}
}
