package pocketsphinx

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wav"
	"github.com/earshot/earshot/media/wer"
)

func TestCleanWord(t *testing.T) {
	for in, want := range map[string]string{
		"<s>": "", "</s>": "", "<sil>": "", "[NOISE]": "", "++BREATH++": "",
		"read(2)": "read", "hello": "hello", "a(3)": "a", "(": "(", "(NULL)": "",
	} {
		if got := cleanWord(in); got != want {
			t.Errorf("cleanWord(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMergeArgs(t *testing.T) {
	got := strings.Join(mergeArgs([]string{"-hmm", "m", "-beam", "1e-40", "-topn", "4"},
		[]string{"-beam", "1e-30", "-maxwpf", "10", "-topn", "3"}), " ")
	if want := "-hmm m -beam 1e-30 -topn 3 -maxwpf 10"; got != want {
		t.Errorf("mergeArgs = %q, want %q", got, want)
	}
}

// TestArgsOverridePreset: an argument of the fast preset given again in
// Config.Args replaces the preset's value instead of failing decoder
// initialisation (PocketSphinx refuses duplicate names).
func TestArgsOverridePreset(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.Args = []string{"-maxhmmpf", "2000"} })
	s, err := e.NewStream(context.Background(), stt.StreamOptions{})
	if err != nil {
		t.Fatalf("NewStream with an overriding argument: %v", err)
	}
	s.Close()
}

func newEngine(t *testing.T, mod func(*Config)) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Search = SearchFast // quick unit tests; accuracy is measured by the evals
	cfg.MaxDecoders, cfg.Warm = 2, 0
	// One decoder per stream: warp selection (on by default) has its own
	// tests (warp_test.go) and would make the others' decoders too.
	cfg.WarpSelection = nil
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestStreamRecognisesSpeech feeds a LibriVox recording in 20 ms writes and
// checks words, times, confidences and partial hypotheses.
func TestStreamRecognisesSpeech(t *testing.T) {
	pcm := loadSpeech(t, "0930")
	durationMs := int64(len(pcm)) * 1000 / stt.Rate
	// The whole file goes in, leading and trailing silence included, with
	// no voice activity detector in front: the live CMN adaptation, which
	// assumes gated audio (DefaultWidebandCMNAdaptMs), is off here. The
	// pipeline tests and the WER eval cover it on gated audio.
	e := newEngine(t, func(c *Config) { c.WidebandCMNAdaptMs = 0 })
	s, err := e.NewStream(context.Background(), stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res := feed(t, s, pcm)
	var finals []string
	partials := 0
	var lastEnd int64
	for _, r := range res {
		if !r.Final {
			partials++
			continue
		}
		finals = append(finals, r.Text)
		for _, w := range r.Words {
			if w.StartMs < lastEnd || w.EndMs < w.StartMs || w.EndMs > durationMs+50 {
				t.Errorf("word %+v out of order or beyond the audio (%d ms)", w, durationMs)
			}
			if w.Confidence <= 0 || w.Confidence > 1 {
				t.Errorf("word %+v: confidence outside (0,1]", w)
			}
			lastEnd = w.EndMs
		}
	}
	hyp := strings.Join(finals, " ")
	c := wer.Align(wer.Normalize("he might even have been made amiable himself"), wer.Normalize(hyp))
	t.Logf("hyp %q WER %.1f%%, %d partials", hyp, c.WER(), partials)
	if c.WER() > 50 {
		t.Errorf("WER %.1f%% > 50%%: %q", c.WER(), hyp)
	}
	if partials == 0 {
		t.Error("no partial hypotheses")
	}
	if cpu := s.(stt.CPUReporter).CPUTime(); cpu <= 0 {
		t.Errorf("CPUTime = %v", cpu)
	}
}

func TestVocabulary(t *testing.T) {
	e := newEngine(t, func(c *Config) {
		c.Vocabulary = map[string]string{"Earshot": "", "Zorblax": "Z AO R B L AE K S"}
	})
	s, err := e.NewStream(context.Background(), stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := s.(*stream)
	var got = map[string]string{}
	st.d.do(func() {
		for _, w := range []string{"earshot", "zorblax"} {
			got[w], _ = st.d.lookup(w)
		}
	})
	s.Close()
	if got["earshot"] != "IH R SH AA T" {
		t.Errorf("earshot phones = %q, want the concatenation of ear + shot", got["earshot"])
	}
	if got["zorblax"] != "Z AO R B L AE K S" {
		t.Errorf("zorblax phones = %q", got["zorblax"])
	}
	cfg := DefaultConfig()
	cfg.Warm = 1
	cfg.Vocabulary = map[string]string{"qxzqxz": ""}
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "qxzqxz") {
		t.Errorf("New with an underivable term: err = %v, want one naming it", err)
	}
}

func TestPoolReuseAndBusy(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.MaxDecoders = 1 })
	ctx := context.Background()
	s1, err := e.NewStream(ctx, stt.StreamOptions{Narrowband: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.NewStream(ctx, stt.StreamOptions{}); !errors.Is(err, stt.ErrBusy) {
		t.Fatalf("second stream: %v, want ErrBusy", err)
	}
	d := s1.(*stream).d
	s1.Close()
	s2, err := e.NewStream(ctx, stt.StreamOptions{Narrowband: true})
	if err != nil {
		t.Fatal(err)
	}
	if s2.(*stream).d != d {
		t.Error("closed stream's decoder was not reused")
	}
	s2.Close()
	// A wideband request evicts the idle narrowband decoder.
	s3, err := e.NewStream(ctx, stt.StreamOptions{})
	if err != nil {
		t.Fatalf("wideband after narrowband: %v", err)
	}
	s3.Close()
}

func TestCopyModelDir(t *testing.T) {
	dst := t.TempDir() + "/m"
	if err := CopyModelDir(DefaultModelDir, dst, DefaultNarrowbandCMNInit); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dst + "/feat.params")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "-cmninit"); n != 1 || !strings.Contains(string(b), "-cmninit "+DefaultNarrowbandCMNInit) {
		t.Errorf("feat.params has %d -cmninit lines:\n%s", n, b)
	}
	if err := CopyModelDir(DefaultModelDir, dst, "1,2"); err == nil {
		t.Error("short cmninit accepted")
	}
}

// TestCMNAdapt: with WidebandCMNAdaptMs the live cepstral mean follows the
// audio during the first utterance; without it, it stays at the initial
// value until the utterance ends.
func TestCMNAdapt(t *testing.T) {
	b, err := os.ReadFile("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
	if err != nil {
		t.Fatalf("pocketsphinx-testdata: %v", err)
	}
	f, err := wav.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	pcm := f.Samples()[:3*stt.Rate] // inside the first utterance
	for _, adapt := range []int{0, 100} {
		e := newEngine(t, func(c *Config) { c.WidebandCMNAdaptMs = adapt })
		st, err := e.NewStream(context.Background(), stt.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := st.(*stream)
		var c0 []float32
		s.d.do(func() { c0 = s.d.cmn() })
		for off := 0; off < len(pcm); off += 320 {
			if _, err := s.Write(pcm[off:min(off+320, len(pcm))]); err != nil {
				t.Fatal(err)
			}
		}
		var c1 []float32
		s.d.do(func() { c1 = s.d.cmn() })
		moved := c0[0] != c1[0]
		t.Logf("adapt %d ms: c0 %.2f -> %.2f", adapt, c0[0], c1[0])
		if moved != (adapt > 0) {
			t.Errorf("adapt %d ms: cepstral mean moved during the utterance = %v", adapt, moved)
		}
		st.Close()
	}
}

// TestTimesOnTheStreamClock feeds two recordings as two utterances to a
// stream whose decoder was used before (pooled), and checks that every
// result and word lies inside the span of the audio of its utterance, in
// milliseconds of audio written to this stream. PocketSphinx's word frames
// count from the decoder's stream start, not from the utterance: taken as
// utterance-relative they stamped each utterance later by all the audio
// before it, and on a reused decoder by the previous streams' audio too.
func TestTimesOnTheStreamClock(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.MaxDecoders = 1 })
	ctx := context.Background()
	// A first stream leaves the pooled decoder 3 s of audio further on.
	s0, err := e.NewStream(ctx, stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s0, loadSpeech(t, "0880"))
	s0.Close()

	s, err := e.NewStream(ctx, stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var start int64
	for _, id := range []string{"0930", "0880"} {
		pcm := loadSpeech(t, id)
		end := start + int64(len(pcm))*1000/stt.Rate
		finals := 0
		for _, r := range feed(t, s, pcm) {
			if r.Final {
				finals++
			}
			if r.StartMs < start || r.EndMs > end+20 || r.EndMs < r.StartMs {
				t.Errorf("%s: result %d..%d ms %q outside its audio %d..%d ms", id, r.StartMs, r.EndMs, r.Text, start, end)
			}
			for _, w := range r.Words {
				if w.StartMs < r.StartMs || w.EndMs > r.EndMs {
					t.Errorf("%s: word %+v outside its result %d..%d ms", id, w, r.StartMs, r.EndMs)
				}
			}
		}
		if finals == 0 {
			t.Errorf("%s: no final result", id)
		}
		start = end
	}
}

// loadSpeech reads a LibriVox recording of pocketsphinx-testdata (16 kHz).
func loadSpeech(t testing.TB, id string) []int16 {
	t.Helper()
	b, err := os.ReadFile("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-" + id + ".wav")
	if err != nil {
		t.Fatalf("pocketsphinx-testdata: %v", err)
	}
	f, err := wav.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return f.Samples()
}

// feed writes pcm to s in 20 ms writes, ends the utterance, and returns
// every result.
func feed(t *testing.T, s stt.Stream, pcm []int16) []stt.Result {
	t.Helper()
	var res []stt.Result
	for off := 0; off < len(pcm); off += 320 {
		r, err := s.Write(pcm[off:min(off+320, len(pcm))])
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, r...)
	}
	r, err := s.EndUtterance()
	if err != nil {
		t.Fatal(err)
	}
	return append(res, r...)
}
