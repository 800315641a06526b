package analyze

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/wav"
	"github.com/earshot/earshot/media/wer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	f0880 = testdataDir + "/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"
	r0880 = "he was not an ill disposed young man"
	f0920 = testdataDir + "/librivox/sense_and_sensibility_01_austen_64kb-0920.wav"
	r0920 = "had he married a more a amiable woman he might have been made still more respectable than he was"
)

func analyzer(t *testing.T, reg prometheus.Registerer) *Analyzer {
	t.Helper()
	cfg := pocketsphinx.DefaultConfig()
	cfg.Search = pocketsphinx.SearchFast // quick unit tests; accuracy is measured by the evals
	cfg.MaxDecoders = 2
	eng, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, nil, eng)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(p, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestStereoChannelMapping: a stereo 8 kHz A-law file with a different
// speaker recording on each channel; each channel is transcribed as its
// own party, faster than real time.
func TestStereoChannelMapping(t *testing.T) {
	a := analyzer(t, nil)
	left, right := mustParseWAV(t, f0880).Samples(), mustParseWAV(t, f0920).Samples()
	down := func(s []int16) []int16 {
		r, _ := audio.NewResampler(16000, 8000)
		return r.Flush(r.Process(nil, s))
	}
	left, right = down(left), down(right)
	// Right channel speaks after the left one: offset it by 4 s.
	n := max(len(left), len(right)+32000)
	var data []byte
	for i := range n {
		var l, r int16
		if i < len(left) {
			l = left[i]
		}
		if j := i - 32000; j >= 0 && j < len(right) {
			r = right[j]
		}
		data = append(data, codecAlaw(l), codecAlaw(r))
	}
	file := wav.Encode(wav.Format{Encoding: wav.Alaw, SampleRate: 8000, Channels: 2, BitsPerSample: 8}, data)
	res, err := a.Analyze(context.Background(), file, Options{Parties: []string{"agent", "customer"}})
	if err != nil {
		t.Fatal(err)
	}
	text := map[string][]string{}
	for _, s := range res.Segments {
		text[s.Party] = append(text[s.Party], s.Text)
		if s.Party == "customer" && s.StartMs < 3800 {
			t.Errorf("customer segment starts at %d ms, before the channel's speech at 4000", s.StartMs)
		}
	}
	for party, ref := range map[string]string{"agent": r0880, "customer": r0920} {
		hyp := strings.Join(text[party], " ")
		c := wer.Align(wer.Normalize(ref), wer.Normalize(hyp))
		t.Logf("%s: %q WER %.0f%%", party, hyp, c.WER())
		if c.WER() > 60 {
			t.Errorf("%s: WER %.0f%% > 60%%: %q", party, c.WER(), hyp)
		}
	}
	t.Logf("%d ms of audio in %d ms", res.DurationMs, res.ProcessingMs)
}

func TestBadInputCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := analyzer(t, reg)
	good := wav.Encode(wav.Format{Encoding: wav.PCM, SampleRate: 16000, Channels: 1, BitsPerSample: 16}, make([]byte, 3200))
	lying := append([]byte(nil), good...)
	lying[40] = 0xFF // data size claims ~64 KB more than present
	lying[41] = 0xFF
	tests := []struct {
		name, reason string
		in           []byte
		want         error
	}{
		{"truncated", "wav_truncated", good[:len(good)/2], wav.ErrTruncated},
		{"lying header", "wav_truncated", lying, wav.ErrTruncated},
		{"not audio", "not_wav", []byte("hello there, not a wav file"), wav.ErrNotWAV},
		{"bad transcript", "transcript", []byte(`[{"party":"agent","text":"hi","start_ms":500,"end_ms":100}]`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.ToFloat64(a.bad.WithLabelValues(tt.reason))
			_, err := a.Analyze(context.Background(), tt.in, Options{})
			if !errors.Is(err, ErrBadInput) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Analyze() error = %v, want ErrBadInput wrapping %v", err, tt.want)
			}
			if got := testutil.ToFloat64(a.bad.WithLabelValues(tt.reason)) - before; got != 1 {
				t.Errorf("bad_input_total{reason=%q} rose by %v, want 1", tt.reason, got)
			}
		})
	}
	if n, err := testutil.GatherAndCount(reg, "earshot_analyze_bad_input_total"); err != nil || n == 0 {
		t.Errorf("metric not registered: %d, %v", n, err)
	}
}

func TestParseTranscript(t *testing.T) {
	tests := []struct {
		name, in, errText string
		n                 int
	}{
		{"array", `[{"party":"agent","text":"hello","start_ms":0,"end_ms":900},{"party":"customer","text":"hi","start_ms":1000,"end_ms":1500}]`, "", 2},
		{"object", `{"segments":[{"party":"agent","text":"hello","start_ms":0,"end_ms":900,"words":[{"text":"hello","start_ms":0,"end_ms":900,"confidence":0.9}]}]}`, "", 1},
		{"no party", `[{"text":"hello","start_ms":0,"end_ms":900}]`, "segment 0: party is empty", 0},
		{"empty text", `[{"party":"a","text":" ","start_ms":0,"end_ms":900}]`, "segment 0: text is empty", 0},
		{"times reversed", `[{"party":"a","text":"x","start_ms":0,"end_ms":1},{"party":"a","text":"x","start_ms":9,"end_ms":2}]`, "segment 1: start_ms 9 / end_ms 2", 0},
		{"unknown field", `[{"party":"a","text":"x","speaker":"b"}]`, "unknown field", 0},
		{"bad confidence", `[{"party":"a","text":"x","words":[{"text":"x","confidence":7}]}]`, "word 0", 0},
		{"empty", `[]`, "no segments", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, err := ParseTranscript([]byte(tt.in))
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("ParseTranscript() error = %v, want %q", err, tt.errText)
				}
				return
			}
			if err != nil || len(segs) != tt.n {
				t.Fatalf("ParseTranscript() = %d segments, %v; want %d", len(segs), err, tt.n)
			}
			for i, s := range segs {
				if !s.Final || s.Seq != uint64(i+1) {
					t.Errorf("segment %d: final %v seq %d", i, s.Final, s.Seq)
				}
			}
		})
	}
}

func FuzzParseTranscript(f *testing.F) {
	f.Add([]byte(`[{"party":"agent","text":"hello","start_ms":0,"end_ms":900}]`))
	f.Add([]byte(`{"segments":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		segs, err := ParseTranscript(b)
		if err != nil {
			return
		}
		for _, s := range segs {
			if s.Party == "" || s.EndMs < s.StartMs {
				t.Fatalf("accepted invalid segment %+v", s)
			}
		}
	})
}

func TestFilePrintsTranscript(t *testing.T) {
	var out strings.Builder
	r, err := File(context.Background(), f0880, &out, Options{}, pocketsphinx.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Segments) == 0 || !strings.Contains(out.String(), "speaker: ") || !strings.Contains(out.String(), "young") {
		t.Errorf("transcript output %q, want a speaker line with the recognised words", out.String())
	}
	if _, err := File(context.Background(), "/nonexistent.wav", &out, Options{}, pocketsphinx.Config{}, nil); err == nil {
		t.Error("missing file: nil error")
	}
}
