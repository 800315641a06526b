//go:build eval

package analyze

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/wer"
)

type evalSet struct {
	name, dir, refs string
}

var evalSets = []evalSet{
	{"librivox", testdataDir + "/librivox", testdataDir + "/librivox/transcription"},
	{"cards", testdataDir + "/cards", testdataDir + "/cards/cards.transcription"},
}

// toMulaw8k converts with sox (an independent resampler) to 8 kHz mu-law.
// -D: no dither. sox dithers with an unseeded random generator by default,
// which made the 8 kHz WER vary by up to 10 points from run to run on the
// 71 LibriVox words; G.711 encoders in phones and gateways do not dither.
func toMulaw8k(t *testing.T, in, out string) {
	t.Helper()
	if b, err := exec.Command("sox", "-D", in, "-r", "8000", "-e", "mu-law", "-b", "8", out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, b)
	}
}

// continuous runs Debian's pocketsphinx_continuous on a file.
func continuous(t *testing.T, path string, extra ...string) (string, time.Duration) {
	t.Helper()
	args := append([]string{"-infile", path, "-logfn", os.DevNull}, extra...)
	cmd := exec.Command("pocketsphinx_continuous", args...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pocketsphinx_continuous: %v", err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return strings.Join(strings.Fields(string(out)), " "), cpu
}

func TestEvalWER(t *testing.T) {
	testdep.File(t, testdataDir, "pocketsphinx-testdata")
	tmp := t.TempDir()
	type row struct {
		set, system string
		c           wer.Counts
		audio, cpu  time.Duration
	}
	var rows []row
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
		if v, ok := os.LookupEnv("EARSHOT_EVAL_WIDE_CMN"); ok {
			cfg.WidebandCMNInit = v
		}
		if v := os.Getenv("EARSHOT_EVAL_NARROW_CMN"); v != "" {
			cfg.NarrowbandCMNInit = v
		}
		if v := os.Getenv("EARSHOT_EVAL_WIDE_CMN_ADAPT_MS"); v != "" {
			fmt.Sscanf(v, "%d", &cfg.WidebandCMNAdaptMs)
		}
		pcfg := pipeline.DefaultConfig()
		if v := os.Getenv("EARSHOT_EVAL_VAD"); v != "" { // hangover_ms,pre_roll_ms
			fmt.Sscanf(v, "%d,%d", &pcfg.VAD.HangoverMs, &pcfg.VAD.PreRollMs)
		}
		a, _ := newTestAnalyzer(t, cfg, pcfg)
		for _, set := range evalSets {
			if v := os.Getenv("EARSHOT_EVAL_SETS"); v != "" && !strings.Contains(v, set.name) {
				continue
			}
			var c16, c8 wer.Counts
			var a16, p16, a8, p8 time.Duration
			var hyp16, hyp8, refs []string
			for _, u := range readRefs(t, set.refs) {
				wavPath := filepath.Join(set.dir, u.id+".wav")
				hyp, r := transcribe(t, a, wavPath)
				c16 = c16.Add(wer.Align(wer.Normalize(u.text), wer.Normalize(hyp)))
				a16 += time.Duration(r.DurationMs) * time.Millisecond
				for _, st := range r.Stats {
					p16 += st.RecognizerCPU
				}
				nb := filepath.Join(tmp, set.name+"-"+u.id+"-8k.wav")
				toMulaw8k(t, wavPath, nb)
				h8, r8 := transcribe(t, a, nb)
				a8 += time.Duration(r8.DurationMs) * time.Millisecond
				for _, st := range r8.Stats {
					p8 += st.RecognizerCPU
				}
				c8 = c8.Add(wer.Align(wer.Normalize(u.text), wer.Normalize(h8)))
				if os.Getenv("EARSHOT_EVAL_HYP") != "" {
					t.Logf("%s\n  ref: %s\n  16k: %s\n   8k: %s", u.id, u.text, hyp, h8)
				}
				hyp16 = append(hyp16, fmt.Sprintf("%s (%s)", hyp, u.id))
				hyp8 = append(hyp8, fmt.Sprintf("%s (%s)", h8, u.id))
				refs = append(refs, fmt.Sprintf("%s (%s)", strings.Join(wer.Normalize(u.text), " "), u.id))
			}
			rows = append(rows, row{set.name + " 16k", "pipeline " + search, c16, a16, p16})
			rows = append(rows, row{set.name + " 8k mu-law", "pipeline " + search, c8, a8, p8})
			writeTrn(t, tmp, set.name+"-"+search+"-16k", refs, hyp16)
			writeTrn(t, tmp, set.name+"-"+search+"-8k", refs, hyp8)
		}
	}
	// Baseline: pocketsphinx_continuous on the same 16 kHz files, default
	// and with the engine's fast settings.
	variants := []struct {
		name string
		args []string
	}{{"pocketsphinx_continuous default", nil}, {"pocketsphinx_continuous fast", fastArgsForBaseline()}}
	if os.Getenv("EARSHOT_EVAL_NOBASELINE") != "" {
		variants = nil
	}
	for _, variant := range variants {
		for _, set := range evalSets {
			var c wer.Counts
			var cpu, audio time.Duration
			for _, u := range readRefs(t, set.refs) {
				wavPath := filepath.Join(set.dir, u.id+".wav")
				hyp, d := continuous(t, wavPath, variant.args...)
				audio += time.Duration(mustParseWAV(t, wavPath).DurationMs()) * time.Millisecond
				c = c.Add(wer.Align(wer.Normalize(u.text), wer.Normalize(hyp)))
				cpu += d
			}
			rows = append(rows, row{set.name + " 16k", variant.name, c, audio, cpu})
		}
	}
	// cpu/audio s: recogniser thread CPU per audio second for the pipeline;
	// process CPU (decoder initialisation per file included) for
	// pocketsphinx_continuous.
	t.Logf("%-18s %-34s %6s %5s %5s %5s %8s %11s", "set", "system", "WER%", "sub", "del", "ins", "cpu s", "cpu/audio s")
	for _, r := range rows {
		per := 0.0
		if r.audio > 0 {
			per = r.cpu.Seconds() / r.audio.Seconds()
		}
		t.Logf("%-18s %-34s %6.1f %5d %5d %5d %8.2f %11.3f", r.set, r.system, r.c.WER(), r.c.Sub, r.c.Del, r.c.Ins, r.cpu.Seconds(), per)
	}
	t.Logf("targets: LibriVox streaming WER <= 30%% at 16 kHz, <= 35%% at 8 kHz mu-law; within 2 points of pocketsphinx_continuous")
	sclite := "/usr/lib/sctk/bin/sclite" // Debian sctk
	if p, err := exec.LookPath("sclite"); err == nil {
		sclite = p
	}
	if _, err := os.Stat(sclite); err == nil {
		for _, n := range []string{"librivox-fast-16k", "librivox-fast-8k", "librivox-accurate-16k", "librivox-accurate-8k"} {
			if _, err := os.Stat(filepath.Join(tmp, n+".hyp")); err != nil {
				continue // that search was not run
			}
			out, err := exec.Command(sclite, "-r", filepath.Join(tmp, n+".ref"), "trn", "-h", filepath.Join(tmp, n+".hyp"), "trn", "-i", "rm", "-o", "sum", "stdout").CombinedOutput()
			if err != nil {
				t.Logf("sclite %s: %v\n%s", n, err, out)
				continue
			}
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "Sum/Avg") {
					t.Logf("sclite %s: %s", n, strings.Join(strings.Fields(l), " "))
				}
			}
		}
	}
}

func writeTrn(t *testing.T, dir, name string, refs, hyps []string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".ref"), []byte(strings.Join(refs, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".hyp"), []byte(strings.Join(hyps, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func fastArgsForBaseline() []string { return pocketsphinx.FastArgs() }
