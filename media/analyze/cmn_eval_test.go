//go:build eval

package analyze

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// heldOut are recordings of pocketsphinx-testdata that the WER eval does
// not score: the initial CMN is measured on them, not on the test set.
var heldOut = []string{"goforward.raw", "numbers.raw", "something.raw"}

// TestEvalMeasureCMN measures the -cmninit of both profiles on held-out
// audio through exactly the pipeline's path: wideband as is; narrowband
// converted to 8 kHz mu-law by sox, decoded by media/wav and upsampled by
// media/audio.
func TestEvalMeasureCMN(t *testing.T) {
	testdep.File(t, testdataDir, "pocketsphinx-testdata")
	tmp := t.TempDir()
	var wide, narrow [][]int16
	for _, name := range heldOut {
		raw := filepath.Join(testdataDir, name)
		b, err := os.ReadFile(raw)
		if err != nil {
			t.Fatal(err)
		}
		wide = append(wide, audio.LE16(nil, b))
		nb := filepath.Join(tmp, name+".wav")
		if out, err := exec.Command("sox", "-D", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", raw,
			"-r", "8000", "-e", "mu-law", "-b", "8", nb).CombinedOutput(); err != nil {
			t.Fatalf("sox: %v: %s", err, out)
		}
		f := mustParseWAV(t, nb)
		rs, err := audio.NewResampler(f.SampleRate, audio.RecognizerRate)
		if err != nil {
			t.Fatal(err)
		}
		narrow = append(narrow, rs.Flush(rs.Process(nil, f.Samples())))
	}
	// The same through the scored recordings themselves (the CMN is a
	// channel statistic; both are reported).
	var wideEval, narrowEval, wideCards, narrowCards [][]int16
	for _, set := range evalSets {
		for _, u := range readRefs(t, set.refs) {
			p := filepath.Join(set.dir, u.id+".wav")
			wideEval = append(wideEval, mustParseWAV(t, p).Samples())
			nb := filepath.Join(tmp, u.id+"-8k.wav")
			toMulaw8k(t, p, nb)
			f := mustParseWAV(t, nb)
			rs, err := audio.NewResampler(f.SampleRate, audio.RecognizerRate)
			if err != nil {
				t.Fatal(err)
			}
			narrowEval = append(narrowEval, rs.Flush(rs.Process(nil, f.Samples())))
			if set.name == "cards" {
				wideCards = append(wideCards, wideEval[len(wideEval)-1])
				narrowCards = append(narrowCards, narrowEval[len(narrowEval)-1])
			}
		}
	}
	eng, err := pocketsphinx.New(pocketsphinx.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	w, err := eng.MeasureCMN(false, wide)
	if err != nil {
		t.Fatal(err)
	}
	n, err := eng.MeasureCMN(true, narrow)
	if err != nil {
		t.Fatal(err)
	}
	we, err := eng.MeasureCMN(false, wideEval)
	if err != nil {
		t.Fatal(err)
	}
	ne, err := eng.MeasureCMN(true, narrowEval)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := eng.MeasureCMN(false, append(append([][]int16(nil), wide...), wideCards...))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := eng.MeasureCMN(true, append(append([][]int16(nil), narrow...), narrowCards...))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wideband   -cmninit, held-out+cards:  %s", wc)
	t.Logf("narrowband -cmninit, held-out+cards:  %s", nc)
	t.Logf("wideband   -cmninit, held-out audio:  %s", w)
	t.Logf("narrowband -cmninit, held-out audio:  %s", n)
	t.Logf("wideband   -cmninit, LibriVox+cards:  %s", we)
	t.Logf("narrowband -cmninit, LibriVox+cards:  %s", ne)
	t.Logf("current defaults: wideband %q narrowband %q", pocketsphinx.DefaultWidebandCMNInit, pocketsphinx.DefaultNarrowbandCMNInit)
}
