package flite

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/internal/roundtrip"
)

func newEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("New (Debian libflite1): %v", err)
	}
	return e
}

func speakAll(t testing.TB, e tts.Engine, req tts.Request) []int16 {
	t.Helper()
	var pcm []int16
	err := e.Synthesize(context.Background(), req, func(c []int16) error {
		pcm = append(pcm, c...)
		return nil
	})
	if err != nil {
		t.Fatalf("Synthesize(%s): %v", req.Voice, err)
	}
	return pcm
}

// TestVoicesRoundTrip synthesises a prompt with every voice at 16 kHz
// (and the male cmu_us_rms at 8 kHz through mu-law, as on a phone line;
// the eval reports every voice at 8 kHz) and transcribes it
// back with PocketSphinx. The recogniser is not perfect on synthetic
// speech (the eval reports the word error rates), so each voice must be
// heard saying a third of the content words and all of them together
// most of them; silence, noise or the wrong prompt hear none.
func TestVoicesRoundTrip(t *testing.T) {
	e := newEngine(t)
	rec, err := roundtrip.NewRecognizer(1)
	if err != nil {
		t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us): %v", err)
	}
	defer rec.Close()
	const text = "Thank you for calling. Please tell me your account number."
	want := []string{"thank", "calling", "please", "tell", "account", "number"}
	type run struct {
		voice string
		rate  int
	}
	runs := []run{{"cmu_us_rms", 8000}}
	for _, v := range Voices {
		runs = append(runs, run{v, 16000})
	}
	total := 0
	for _, r := range runs {
		pcm := speakAll(t, e, tts.Request{Text: text, Voice: r.voice, Rate: r.rate})
		if secs := float64(len(pcm)) / float64(r.rate); secs < 1.5 || secs > 8 {
			t.Errorf("%s at %d Hz: %.2f s of audio for a 10-word prompt", r.voice, r.rate, secs)
		}
		if r.rate == 8000 {
			pcm = roundtrip.MuLaw(pcm)
		}
		got, err := roundtrip.Transcribe(rec, pcm, r.rate)
		if err != nil {
			t.Fatal(err)
		}
		heard := roundtrip.Heard(got, want)
		total += heard
		t.Logf("%s %d Hz: %q", r.voice, r.rate, got)
		if heard*3 < len(want) {
			t.Errorf("%s at %d Hz: heard %q, want a third of %v", r.voice, r.rate, got, want)
		}
	}
	if total*10 < len(runs)*len(want)*6 {
		t.Errorf("heard %d of %d content words over all voices, want 60%%", total, len(runs)*len(want))
	}
}

func longPrompt(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString("Your payment has been received and your balance is now up to date. ")
	}
	return b.String()
}

// TestStreamsBeforeDone: the first chunk of a long prompt arrives while
// the rest is still to be synthesised. Cancelling at the first chunk
// leaves most of the prompt unsynthesised, which it could not if the
// engine had synthesised the whole prompt before handing anything over.
func TestStreamsBeforeDone(t *testing.T) {
	e := newEngine(t)
	text := longPrompt(1400) // 20 sentences
	full := len(speakAll(t, e, tts.Request{Text: text, Rate: 16000}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got, calls := 0, 0
	err := e.Synthesize(ctx, tts.Request{Text: text, Rate: 16000}, func(c []int16) error {
		if calls == 0 {
			cancel()
		}
		calls++
		got += len(c)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Synthesize after cancel = %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("%d chunks handed over after cancelling, want none", calls-1)
	}
	if got*10 > full {
		t.Errorf("first chunk %d samples of %d: not streamed", got, full)
	}
}

// TestReceiverErrorStops: fn's error ends synthesis and is returned.
func TestReceiverErrorStops(t *testing.T) {
	e := newEngine(t)
	stop := errors.New("hung up")
	calls := 0
	err := e.Synthesize(context.Background(), tts.Request{Text: longPrompt(1000), Rate: 8000}, func([]int16) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Synthesize = %v after %d calls, want the receiver's error after 1", err, calls)
	}
}

// TestSlowReceiverDoesNotBlockOthers: a receiver that does not return
// (a paced playback, a stuck call) holds no engine lock: another call
// synthesises meanwhile.
func TestSlowReceiverDoesNotBlockOthers(t *testing.T) {
	e := newEngine(t)
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var once sync.Once
		e.Synthesize(context.Background(), tts.Request{Text: longPrompt(10000), Rate: 8000}, func([]int16) error {
			once.Do(func() { close(started) })
			<-release
			return errors.New("done")
		})
	}()
	<-started
	pcm := speakAll(t, e, tts.Request{Text: "One moment please.", Voice: "cmu_us_awb", Rate: 8000})
	close(release)
	wg.Wait()
	if len(pcm) < 4000 {
		t.Errorf("short prompt beside a blocked one: %d samples", len(pcm))
	}
}

func TestBadRequests(t *testing.T) {
	e := newEngine(t)
	for _, req := range []tts.Request{
		{Text: "hello", Rate: 44100},
		{Text: "  ", Rate: 8000},
		{Text: "hello", Voice: "cmu_us_nobody", Rate: 8000},
		{Text: "hola", Lang: "es", Rate: 8000},
	} {
		if err := e.Synthesize(context.Background(), req, func([]int16) error { return nil }); err == nil {
			t.Errorf("Synthesize(%+v) succeeded", req)
		}
	}
	if err := (Config{DefaultVoice: "x"}).Validate(); err == nil {
		t.Error("Validate accepted an unknown default voice")
	}
}

// TestConcurrentVoices synthesises with every voice at once (run with
// -race: the Go side is shared state too).
func TestConcurrentVoices(t *testing.T) {
	e := newEngine(t)
	var wg sync.WaitGroup
	lens := make([]int, len(Voices))
	for i, v := range Voices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Synthesize(context.Background(), tts.Request{Text: "Your card ending in four two one one is now active.", Voice: v, Rate: 16000}, func(c []int16) error {
				lens[i] += len(c)
				return nil
			})
		}()
	}
	wg.Wait()
	for i, n := range lens {
		if n < 16000 {
			t.Errorf("%s: %d samples", Voices[i], n)
		}
	}
}
