//go:build eval

package analyze

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// TestEvalRecognizerCPU reports the recogniser thread CPU per audio second
// of each preset on the LibriVox recordings at 16 kHz and as 8 kHz mu-law,
// the minimum of EARSHOT_EVAL_REPEAT (default 3) passes: thread CPU time
// still grows when the other hyperthread or another process competes for
// the core, and the minimum is the least disturbed estimate.
func TestEvalRecognizerCPU(t *testing.T) {
	testdep.File(t, testdataDir, "pocketsphinx-testdata")
	repeat := 3
	if v := os.Getenv("EARSHOT_EVAL_REPEAT"); v != "" {
		repeat = max(1, atoiOr(v, 3))
	}
	tmp := t.TempDir()
	refs := readRefs(t, testdataDir+"/librivox/transcription")
	var wide, narrow []string
	for _, u := range refs {
		p := filepath.Join(testdataDir, "librivox", u.id+".wav")
		nb := filepath.Join(tmp, u.id+"-8k.wav")
		toMulaw8k(t, p, nb)
		wide, narrow = append(wide, p), append(narrow, nb)
	}
	searches := []string{pocketsphinx.SearchFast, pocketsphinx.SearchAccurate}
	if s := os.Getenv("EARSHOT_EVAL_SEARCH"); s != "" {
		searches = strings.Split(s, ",")
	}
	for _, search := range searches {
		cfg := pocketsphinx.DefaultConfig()
		cfg.Search = search
		if a := os.Getenv("EARSHOT_EVAL_PSARGS"); a != "" {
			cfg.Args = strings.Fields(a)
		}
		a, _ := newTestAnalyzer(t, cfg, pipeline.DefaultConfig())
		for _, set := range []struct {
			name  string
			files []string
		}{{"16k", wide}, {"8k mu-law", narrow}} {
			if v := os.Getenv("EARSHOT_EVAL_RATES"); v != "" && !strings.Contains(v, strings.Fields(set.name)[0]) {
				continue
			}
			best := -1.0
			for range repeat {
				var cpu, audio time.Duration
				for _, f := range set.files {
					_, r := transcribe(t, a, f)
					audio += time.Duration(r.DurationMs) * time.Millisecond
					for _, st := range r.Stats {
						cpu += st.RecognizerCPU
					}
				}
				if v := cpu.Seconds() / audio.Seconds(); best < 0 || v < best {
					best = v
				}
			}
			t.Logf("%-8s %-9s recogniser CPU %.3f s per audio s (min of %d passes)", search, set.name, best, repeat)
		}
	}
}

func atoiOr(s string, def int) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	return n
}
