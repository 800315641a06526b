//go:build eval

package analyze

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/wer"
)

// runDirect is a development diagnostic: each call's whole audio goes
// to a recogniser stream in 100 ms blocks, without the pipeline's voice
// activity detector (the decoder's own detector cuts the utterances, as
// pocketsphinx_continuous's does). 8 kHz calls are upsampled by
// media/audio, as the pipeline does. Comparing it with runCalls on the
// same engine separates the pipeline's cuts from the decoder's settings.
func runDirect(t *testing.T, eng *pocketsphinx.Engine, calls []call, n8 bool) result {
	t.Helper()
	var mu sync.Mutex
	var res result
	res.perCall = make([]float64, len(calls))
	eachCall(calls, func(i int, c call) {
		f := mustParseWAV(t, c.path(n8))
		pcm := f.Samples()
		if f.SampleRate != stt.Rate {
			rs, err := audio.NewResampler(f.SampleRate, stt.Rate)
			if err != nil {
				t.Error(err)
				return
			}
			pcm = rs.Flush(rs.Process(nil, pcm))
		}
		st, err := eng.NewStream(context.Background(), stt.StreamOptions{Narrowband: n8})
		if err != nil {
			t.Error(err)
			return
		}
		defer st.Close()
		var hyp []string
		take := func(rs []stt.Result) {
			for _, r := range rs {
				if r.Final && r.Text != "" {
					hyp = append(hyp, r.Text)
				}
			}
		}
		block := stt.Rate / 10
		for off := 0; off < len(pcm); off += block {
			rs, err := st.Write(pcm[off:min(off+block, len(pcm))])
			if err != nil {
				t.Error(err)
				return
			}
			take(rs)
		}
		rs, err := st.EndUtterance()
		if err != nil {
			t.Error(err)
			return
		}
		take(rs)
		var cpu time.Duration
		if r, ok := st.(stt.CPUReporter); ok {
			cpu = r.CPUTime()
		}
		counts := wer.Align(wer.Normalize(c.ref), wer.Normalize(strings.Join(hyp, " ")))
		mu.Lock()
		defer mu.Unlock()
		res.c = res.c.Add(counts)
		res.perCall[i] = counts.WER()
		res.audio += time.Duration(c.ms) * time.Millisecond
		res.cpu += cpu
		if os.Getenv("EARSHOT_EVAL_HYP") != "" {
			t.Logf("direct %s %.1f%%\n  ref: %s\n  hyp: %s", c.speaker, counts.WER(), c.ref, strings.Join(hyp, " "))
		}
	})
	return res
}
