//go:build eval

package analyze

// Held-out speech evals (make eval). The data is fetched outside the
// repository (media/analyze/EVAL.md says from where, at which commits, under
// which licences) into $EARSHOT_EVAL_SPEECH (default
// ~/.cache/earshot/eval/speech):
//
//   - an4/: CMU AN4, real speech of 84 speakers (48 min, 16 kHz): census
//     answers (names and words spelled, dates, phone numbers, zip codes)
//     and alphanumeric commands. adagioNeo/VoiceInterpreter @ e750b5ef :
//     an4/ (CMU AN4 licence: free for any purpose, BSD-style).
//   - fsdd/: Free Spoken Digit Dataset, isolated digits of 6 speakers, 8 kHz.
//     Jakobovski/free-spoken-digit-dataset @ 26eb9aaf : recordings/
//     (CC BY-SA 4.0).
//
// Split: by speaker, with a fixed rule decided before any result was
// seen: speakers sorted by name, alternately to the development half
// (1st, 3rd, ...) and to the reported half (2nd, 4th, ...). (A first rule,
// the parity of an FNV hash of the name, gave halves of 33 and 15 minutes;
// it was replaced before anything was decoded.) Presets, beams,
// CMN settings and the domain-LM weight are chosen on the development
// half (TestEvalHeldOutDev, TestEvalDomainLMDev); the other evals report
// the reported half only.
//
// Each speaker's utterances (id order) make one call: 0.5 s of silence,
// then the utterances with 0.8 s of silence between them, the way a
// caller answers a series of questions; 8 kHz copies are G.711 mu-law
// made by sox -D (no dither).

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/lm"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/wav"
	"github.com/earshot/earshot/media/wer"
)

// speechDir is where the fetched held-out speech is. Missing data fails
// the eval under CI and skips it elsewhere, saying where to get it.
func speechDir(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("EARSHOT_EVAL_SPEECH")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "earshot", "eval", "speech")
	}
	p := filepath.Join(dir, sub)
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("held-out speech %s missing (%v): fetch it as media/analyze/EVAL.md says", p, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// inDev is the split rule: of the speakers sorted by name, the 1st, 3rd,
// ... are the development half.
func inDev(speaker string, all []string) bool {
	return slices.Index(all, speaker)%2 == 0
}

// call is one speaker's utterances as one recording.
type call struct {
	speaker string
	ref     string   // what is said, all utterances
	utts    []string // per utterance
	wav16   string   // 16 kHz PCM WAV
	wav8    string   // 8 kHz mu-law WAV
	ms      int64
}

func sox(t testing.TB, args ...string) {
	t.Helper()
	if b, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
		t.Fatalf("sox %v: %v: %s", args, err, b)
	}
}

func readPCM16(t testing.TB, path string) []int16 {
	t.Helper()
	f := mustParseWAV(t, path)
	return f.Samples()
}

func writeWAV16(t testing.TB, path string, pcm []int16) {
	t.Helper()
	writeWAVAt(t, path, 16000, pcm)
}

// writeWAVAt writes mono PCM at rate Hz as a WAV file.
func writeWAVAt(t testing.TB, path string, rate int, pcm []int16) {
	t.Helper()
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	if err := os.WriteFile(path, wav.Encode(wav.Format{Encoding: wav.PCM, SampleRate: rate, Channels: 1, BitsPerSample: 16}, b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// an4Calls builds (once, cached next to the data) one call per AN4
// speaker of the given half.
func an4Calls(t *testing.T, dev bool) []call {
	t.Helper()
	root := speechDir(t, "an4")
	refs := map[string]string{}
	for _, f := range []string{"an4_train.transcription", "an4_test.transcription"} {
		for _, u := range readRefs(t, filepath.Join(root, "etc", f)) {
			txt := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(u.text), "<s>"), "</s>"))
			refs[strings.TrimSpace(u.id)] = strings.ToLower(txt)
		}
	}
	bySpeaker := map[string][]string{}
	dirs, _ := filepath.Glob(filepath.Join(root, "wav", "*", "*", "*.sph"))
	for _, p := range dirs {
		spk := filepath.Base(filepath.Dir(p))
		bySpeaker[spk] = append(bySpeaker[spk], p)
	}
	cache := filepath.Join(filepath.Dir(root), "cache", "an4-calls")
	os.MkdirAll(cache, 0o755)
	var out []call
	all := slices.Sorted(maps.Keys(bySpeaker))
	for _, spk := range all {
		if inDev(spk, all) != dev {
			continue
		}
		files := bySpeaker[spk]
		slices.Sort(files)
		c := call{speaker: spk, wav16: filepath.Join(cache, spk+"-16k.wav"), wav8: filepath.Join(cache, spk+"-8k.wav")}
		for _, f := range files {
			id := strings.TrimSuffix(filepath.Base(f), ".sph")
			r, ok := refs[id]
			if !ok {
				continue
			}
			c.utts = append(c.utts, r)
		}
		c.ref = strings.Join(c.utts, " ")
		if _, err := os.Stat(c.wav8); err != nil {
			pcm := make([]int16, 8000)
			for _, f := range files {
				if _, ok := refs[strings.TrimSuffix(filepath.Base(f), ".sph")]; !ok {
					continue
				}
				tmp := filepath.Join(t.TempDir(), "u.wav")
				sox(t, f, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", tmp)
				pcm = append(append(pcm, readPCM16(t, tmp)...), make([]int16, 12800)...)
			}
			writeWAV16(t, c.wav16, pcm)
			sox(t, "-D", c.wav16, "-r", "8000", "-e", "mu-law", "-b", "8", c.wav8)
		}
		c.ms = mustParseWAV(t, c.wav16).DurationMs()
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no AN4 speakers found")
	}
	return out
}

// result is the outcome of one system on a set of calls.
type result struct {
	c        wer.Counts
	audio    time.Duration
	cpu      time.Duration // recogniser CPU (pipeline) or process CPU (pocketsphinx_continuous)
	perCall  []float64
	firstErr []int // errors in each call's first utterance-length of reference words
}

func (r result) cpuPerAudioSec() float64 {
	if r.audio == 0 {
		return 0
	}
	return r.cpu.Seconds() / r.audio.Seconds()
}

// runCalls transcribes calls with the analyzer, two at a time (the
// machine's two cores), narrowband when n8 is set.
func runCalls(t *testing.T, a *Analyzer, calls []call, n8 bool, profile string) result {
	t.Helper()
	var mu sync.Mutex
	var res result
	res.perCall = make([]float64, len(calls))
	eachCall(calls, func(i int, c call) {
		b, err := os.ReadFile(c.path(n8))
		if err != nil {
			t.Error(err)
			return
		}
		ctx := context.Background()
		// EARSHOT_EVAL_WARPTRACE=n: print the scores each warp's decoder
		// gives the call's first n utterances (pocketsphinx.WarpTrace),
		// to compare warp selection rules offline.
		if n, _ := strconv.Atoi(os.Getenv("EARSHOT_EVAL_WARPTRACE")); n > 0 {
			ctx = pocketsphinx.WithWarpTrace(ctx, c.speaker, n, func(tr pocketsphinx.WarpTrace) {
				for k := range tr.Path {
					t.Logf("warptrace %s utts=%d frames=%d warps=%v path=%v ascr=%v", tr.ID, k+1, tr.Frames[k], tr.Warps, tr.Path[k], tr.Ascr[k])
				}
			})
		}
		r, err := a.Analyze(ctx, b, Options{ID: c.speaker, Profile: profile})
		if err != nil {
			t.Error(err)
			return
		}
		var hyp []string
		for _, s := range r.Segments {
			hyp = append(hyp, s.Text)
		}
		counts := wer.Align(wer.Normalize(c.ref), wer.Normalize(strings.Join(hyp, " ")))
		mu.Lock()
		defer mu.Unlock()
		res.c = res.c.Add(counts)
		res.perCall[i] = counts.WER()
		res.audio += time.Duration(r.DurationMs) * time.Millisecond
		for _, st := range r.Stats {
			res.cpu += st.RecognizerCPU
		}
		if os.Getenv("EARSHOT_EVAL_HYP") != "" {
			t.Logf("earshot %s %.1f%%\n  ref: %s\n  hyp: %s", c.speaker, counts.WER(), c.ref, strings.Join(hyp, " "))
		}
	})
	return res
}

// eachCall runs f on every call, two at a time (the machine's two
// cores), and returns when all are done.
func eachCall(calls []call, f func(i int, c call)) {
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i, c)
		}()
	}
	wg.Wait()
}

// path is the call's 16 kHz recording, or its 8 kHz mu-law copy (n8).
func (c call) path(n8 bool) string {
	if n8 {
		return c.wav8
	}
	return c.wav16
}

// runContinuous runs pocketsphinx_continuous with its defaults on each
// call, two at a time (16 kHz; the 8 kHz copies upsampled to 16 kHz by
// sox, since its default model is wideband).
func runContinuous(t *testing.T, calls []call, n8 bool) result {
	t.Helper()
	var res result
	tmp := t.TempDir()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, c := range calls {
		path := c.wav16
		if n8 {
			path = filepath.Join(tmp, c.speaker+"-up.wav")
			sox(t, c.wav8, "-r", "16000", "-e", "signed-integer", "-b", "16", path)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			args := []string{"-infile", path, "-logfn", os.DevNull}
			if a := os.Getenv("EARSHOT_EVAL_CONTINUOUS_ARGS"); a != "" { // development only
				args = append(args, strings.Fields(a)...)
			}
			cmd := exec.Command("pocketsphinx_continuous", args...)
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("pocketsphinx_continuous %s: %v", c.speaker, err)
				return
			}
			hyp := strings.Join(strings.Fields(string(out)), " ")
			mu.Lock()
			defer mu.Unlock()
			counts := wer.Align(wer.Normalize(c.ref), wer.Normalize(hyp))
			res.c = res.c.Add(counts)
			res.audio += time.Duration(c.ms) * time.Millisecond
			if os.Getenv("EARSHOT_EVAL_HYP") != "" {
				t.Logf("continuous %s %.1f%%\n  ref: %s\n  hyp: %s", c.speaker, counts.WER(), c.ref, hyp)
			}
			res.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}()
	}
	wg.Wait()
	return res
}

func minutes(calls []call) float64 {
	var ms int64
	for _, c := range calls {
		ms += c.ms
	}
	return float64(ms) / 60000
}

// psConfig is the engine configuration of a named system.
func psConfig(search string, redo bool, mods ...func(*pocketsphinx.Config)) pocketsphinx.Config {
	cfg := pocketsphinx.DefaultConfig()
	cfg.Search = search
	cfg.RedecodeFirst = redo
	// The evals keep the product's pool (8 decoders) for their two calls
	// at once: with a smaller pool a warp trial, which never takes the
	// last free decoder a new call would need, would run or not by timing.
	for _, m := range mods {
		m(&cfg)
	}
	return cfg
}

type sysRow struct {
	set, system string
	r           result
}

func logRows(t *testing.T, rows []sysRow) {
	t.Helper()
	t.Logf("%-22s %-44s %6s %5s %5s %5s %6s %9s", "set", "system", "WER%", "sub", "del", "ins", "words", "cpu/aud s")
	for _, r := range rows {
		t.Logf("%-22s %-44s %6.1f %5d %5d %5d %6d %9.3f", r.set, r.system, r.r.c.WER(), r.r.c.Sub, r.r.c.Del, r.r.c.Ins,
			r.r.c.Ref, r.r.cpuPerAudioSec())
	}
}

// TestEvalHeldOutDev is the development half: the grid the defaults were
// chosen from (presets, re-decoding the first utterance, 16 and 8 kHz).
// EARSHOT_EVAL_GRID=search:redo,... limits it.
func TestEvalHeldOutDev(t *testing.T) {
	calls := an4Calls(t, true)
	traceRereads(t)
	// A subset of the development half, for time: EARSHOT_EVAL_SPEAKERS=n
	// (the first n) or =i-j (the ith to the jth, from 1).
	if v := os.Getenv("EARSHOT_EVAL_SPEAKERS"); v != "" {
		from, to := 1, 0
		if _, err := fmt.Sscanf(v, "%d-%d", &from, &to); err != nil {
			from, to = 1, 0
			fmt.Sscanf(v, "%d", &to)
		}
		if from >= 1 && to >= from && to <= len(calls) {
			calls = calls[from-1 : to]
		}
	}
	t.Logf("development half: %d speakers, %.1f min", len(calls), minutes(calls))
	grid := []struct {
		search string
		redo   bool
	}{{pocketsphinx.SearchFast, false}, {pocketsphinx.SearchFast, true}, {pocketsphinx.SearchAccurate, false}, {pocketsphinx.SearchAccurate, true}}
	var rows []sysRow
	for _, g := range grid {
		name := fmt.Sprintf("%s redo=%v", g.search, g.redo)
		if v := os.Getenv("EARSHOT_EVAL_GRID"); v != "" && !strings.Contains(v, fmt.Sprintf("%s:%v", g.search, g.redo)) {
			continue
		}
		for _, wv := range warpVariants() {
			for _, pw := range priorWeights() {
				cfg := psConfig(g.search, g.redo)
				pcfg := pipeline.DefaultConfig()
				name := name + devKnobs(&cfg, &pcfg)
				if wv != nil {
					cfg.WarpSelection = wv.warps
					name += " warps=" + wv.name
				}
				if pw.w >= 0 {
					name += pw.apply(&cfg)
				}
				a, eng := newTestAnalyzer(t, cfg, pcfg)
				for _, n8 := range evalRates() {
					if os.Getenv("EARSHOT_EVAL_DIRECT") != "only" {
						rows = append(rows, sysRow{rateSet("an4 dev", n8), name, runCalls(t, a, calls, n8, "")})
						t.Logf("%s: streams by warp %v", name, eng.WarpStreams())
						rd, rc := eng.SpokenFormsReadings()
						t.Logf("%s: utterances read again with the spoken-forms prior %d, changed %d", name, rd, rc)
						if wv != nil {
							wv.perCall = rows[len(rows)-1].r.perCall
						}
					}
					// EARSHOT_EVAL_DIRECT=1 (or =only): also (only) the whole
					// calls straight to the recogniser, without the pipeline's
					// voice activity detector (runDirect).
					if os.Getenv("EARSHOT_EVAL_DIRECT") != "" {
						d := runDirect(t, eng, calls, n8)
						rows = append(rows, sysRow{rateSet("an4 dev", n8), name + " direct", d})
						if os.Getenv("EARSHOT_EVAL_DIRECT") != "only" {
							logPerCall(t, calls, rows[len(rows)-2].r, d)
						}
					}
				}
				logRows(t, rows)
			}
		}
		logWarpPerCall(t, calls)
	}
	if os.Getenv("EARSHOT_EVAL_NOBASELINE") == "" {
		rows = append(rows, sysRow{"an4 dev 16k", "pocketsphinx_continuous defaults", runContinuous(t, calls, false)})
		if os.Getenv("EARSHOT_EVAL_QUICK") == "" {
			rows = append(rows, sysRow{"an4 dev 8k mu-law", "pocketsphinx_continuous defaults (upsampled)", runContinuous(t, calls, true)})
		}
	}
	logRows(t, rows)
}

// priorSetting is one EARSHOT_EVAL_PRIOR setting: a spoken-forms prior
// weight (-1: the default) and, optionally, its mode and re-read
// threshold.
type priorSetting struct {
	w     float64
	mode  string  // "": the default (Config.SpokenFormsMode)
	words int     // 0: the default (Config.SpokenFormsRereadWords)
	whole float64 // 0: the default (Config.SpokenFormsWholeShare)
}

// apply sets the prior in cfg and returns the row name's suffix.
func (p priorSetting) apply(cfg *pocketsphinx.Config) string {
	cfg.SpokenFormsWeight = p.w
	name := fmt.Sprintf(" prior=%g", p.w)
	if p.mode != "" {
		cfg.SpokenFormsMode = p.mode
		name += " " + p.mode
	}
	if p.words > 0 {
		cfg.SpokenFormsRereadWords = p.words
		name += strconv.Itoa(p.words)
	}
	if p.whole > 0 {
		cfg.SpokenFormsWholeShare = p.whole
		name += fmt.Sprintf("@%g", p.whole)
	}
	return name
}

// priorWeights reads EARSHOT_EVAL_PRIOR: values of
// Config.SpokenFormsWeight (the spoken-forms prior, media/stt/spokenforms)
// separated by ";" ("0;0.1;0.2"), each optionally with its mode and, for
// reread and region, its threshold ("0.1/always", "0.1/reread",
// "0.1/reread1": one number word or letter is enough, "0.1/region1"),
// region optionally with its whole-reading share ("0.1/region1@1": only
// finals that are all details are taken whole), run one after the other with the
// same grid entry; unset, one run with the default (weight -1).
func priorWeights() []priorSetting {
	v := os.Getenv("EARSHOT_EVAL_PRIOR")
	if v == "" {
		return []priorSetting{{w: -1}}
	}
	var out []priorSetting
	for _, f := range strings.Split(v, ";") {
		ws, mode, _ := strings.Cut(f, "/")
		w, err := strconv.ParseFloat(ws, 64)
		if err != nil || w < 0 || w >= 1 {
			panic("EARSHOT_EVAL_PRIOR: " + v)
		}
		p := priorSetting{w: w}
		if m, share, ok := strings.Cut(mode, "@"); ok {
			if p.whole, err = strconv.ParseFloat(share, 64); err != nil || p.whole <= 0 || p.whole > 1 || !strings.HasPrefix(m, pocketsphinx.SpokenFormsRegion) {
				panic("EARSHOT_EVAL_PRIOR: " + v)
			}
			mode = m
		}
		switch {
		case mode == "":
		case mode == pocketsphinx.SpokenFormsAlways:
			p.mode = mode
		case strings.HasPrefix(mode, pocketsphinx.SpokenFormsReread), strings.HasPrefix(mode, pocketsphinx.SpokenFormsRegion):
			p.mode = pocketsphinx.SpokenFormsReread
			if strings.HasPrefix(mode, pocketsphinx.SpokenFormsRegion) {
				p.mode = pocketsphinx.SpokenFormsRegion
			}
			if n := strings.TrimPrefix(mode, p.mode); n != "" {
				if p.words, err = strconv.Atoi(n); err != nil {
					panic("EARSHOT_EVAL_PRIOR: " + v)
				}
			}
		default:
			panic("EARSHOT_EVAL_PRIOR: " + v)
		}
		out = append(out, p)
	}
	return out
}

// warpVariant is one EARSHOT_EVAL_WARPS setting of the development run.
type warpVariant struct {
	name    string
	warps   []float64 // nil: off
	perCall []float64
}

var warpRuns []*warpVariant

// warpVariants reads EARSHOT_EVAL_WARPS: settings of
// Config.WarpSelection separated by ";", each "off" or warps separated
// by "," ("off;0.9,1.1"), run one after the other with the same grid
// entry; unset, the one run uses the default.
func warpVariants() []*warpVariant {
	v := os.Getenv("EARSHOT_EVAL_WARPS")
	if v == "" {
		return []*warpVariant{nil}
	}
	warpRuns = nil
	for _, f := range strings.Split(v, ";") {
		wv := &warpVariant{name: f}
		if f != "off" {
			for _, x := range strings.Split(f, ",") {
				w, err := strconv.ParseFloat(x, 64)
				if err != nil {
					panic("EARSHOT_EVAL_WARPS: " + v)
				}
				wv.warps = append(wv.warps, w)
			}
		}
		warpRuns = append(warpRuns, wv)
	}
	return warpRuns
}

// logWarpPerCall prints each call's WER under each EARSHOT_EVAL_WARPS
// setting side by side.
func logWarpPerCall(t *testing.T, calls []call) {
	t.Helper()
	if len(warpRuns) < 2 {
		return
	}
	for i, c := range calls {
		line := fmt.Sprintf("%-8s", c.speaker)
		for _, wv := range warpRuns {
			if i < len(wv.perCall) {
				line += fmt.Sprintf("  %s %5.1f", wv.name, wv.perCall[i])
			}
		}
		t.Log(line)
	}
}

// logPerCall prints each call's WER through the pipeline next to the
// whole call decoded directly (runDirect), and how many calls each won:
// whether the pipeline's cuts lose words is a per-call question, since
// the totals are dominated by a few hard speakers.
func logPerCall(t *testing.T, calls []call, pipe, direct result) {
	t.Helper()
	better, worse := 0, 0
	for i, c := range calls {
		d := pipe.perCall[i] - direct.perCall[i]
		switch {
		case d < 0:
			better++
		case d > 0:
			worse++
		}
		t.Logf("%-8s pipeline %5.1f  direct %5.1f  %+5.1f", c.speaker, pipe.perCall[i], direct.perCall[i], d)
	}
	t.Logf("pipeline better than direct on %d calls, worse on %d, level on %d", better, worse, len(calls)-better-worse)
}

// devKnobs applies the development half's exploration settings from the
// environment and names them: EARSHOT_EVAL_PSARGS (extra decoder
// arguments), EARSHOT_EVAL_WIDE_CMN / EARSHOT_EVAL_NARROW_CMN (-cmninit;
// an empty wide value keeps the model's own), EARSHOT_EVAL_WIDE_CMN_ADAPT_MS
// and EARSHOT_EVAL_NB_ADAPT_MS, EARSHOT_EVAL_FOLD (narrowband digits fold
// gain) and EARSHOT_EVAL_FOLD_ADAPT_MS, EARSHOT_EVAL_DIGIT_SILPROB (the
// digits grammar's silence probability; 0.005 is the decoder's own, the
// value before DefaultDigitSilenceProb), EARSHOT_EVAL_DIGIT_CMN_PRIOR
// (frames; 0 is the value before DefaultDigitCMNPriorFrames), EARSHOT_EVAL_VAD
// (hangover_ms,pre_roll_ms).
func devKnobs(cfg *pocketsphinx.Config, pcfg *pipeline.Config) string {
	name := ""
	if a := os.Getenv("EARSHOT_EVAL_PSARGS"); a != "" {
		cfg.Args = strings.Fields(a)
		name += " args=" + a
	}
	if os.Getenv("EARSHOT_EVAL_WARPTRACE") != "" {
		// The trace holds a decoder per warp beside each call's own
		// during its first utterances; the pool must not run short.
		cfg.MaxDecoders = max(cfg.MaxDecoders, 16)
	}
	if v, ok := os.LookupEnv("EARSHOT_EVAL_WIDE_CMN"); ok {
		cfg.WidebandCMNInit = v
		name += " wide-cmn=" + cmp.Or(v, "model")
	}
	if v := os.Getenv("EARSHOT_EVAL_NARROW_CMN"); v != "" {
		cfg.NarrowbandCMNInit = v
		name += " narrow-cmn=" + v
	}
	if v, err := strconv.Atoi(os.Getenv("EARSHOT_EVAL_WIDE_CMN_ADAPT_MS")); err == nil {
		cfg.WidebandCMNAdaptMs = v
		name += fmt.Sprintf(" wb-adapt=%dms", v)
	}
	if v, err := strconv.Atoi(os.Getenv("EARSHOT_EVAL_NB_ADAPT_MS")); err == nil {
		cfg.NarrowbandCMNAdaptMs = v
		name += fmt.Sprintf(" nb-adapt=%dms", v)
	}
	if v, err := strconv.ParseFloat(os.Getenv("EARSHOT_EVAL_FOLD"), 64); err == nil {
		cfg.NarrowbandFoldGain = v
		name += fmt.Sprintf(" fold=%g", v)
	}
	if v, err := strconv.Atoi(os.Getenv("EARSHOT_EVAL_FOLD_ADAPT_MS")); err == nil {
		cfg.NarrowbandFoldCMNAdaptMs = v
		name += fmt.Sprintf(" fold-adapt=%dms", v)
	}
	if v, err := strconv.ParseFloat(os.Getenv("EARSHOT_EVAL_DIGIT_SILPROB"), 64); err == nil {
		cfg.DigitSilenceProb = v
		name += fmt.Sprintf(" digit-silprob=%g", v)
	}
	if v, err := strconv.Atoi(os.Getenv("EARSHOT_EVAL_DIGIT_CMN_PRIOR")); err == nil {
		cfg.DigitCMNPriorFrames = v
		name += fmt.Sprintf(" digit-cmn-prior=%d", v)
	}
	if v, err := strconv.ParseFloat(os.Getenv("EARSHOT_EVAL_SILENCE_FILL_DB"), 64); err == nil {
		cfg.DigitSilenceFillDB = v
		name += fmt.Sprintf(" silence-fill=%gdB", v)
	}
	if v := os.Getenv("EARSHOT_EVAL_VAD"); v != "" {
		fmt.Sscanf(v, "%d,%d", &pcfg.VAD.HangoverMs, &pcfg.VAD.PreRollMs)
		name += " vad=" + v
	}
	return name
}

// evalRates are the rates an eval runs (n8: 8 kHz mu-law): both, or
// EARSHOT_EVAL_QUICK=1 or EARSHOT_EVAL_RATE=16k 16 kHz only,
// EARSHOT_EVAL_RATE=8k 8 kHz only.
func evalRates() []bool {
	switch {
	case os.Getenv("EARSHOT_EVAL_RATE") == "16k":
		return []bool{false}
	case os.Getenv("EARSHOT_EVAL_RATE") == "8k":
		return []bool{true}
	case os.Getenv("EARSHOT_EVAL_QUICK") != "":
		return []bool{false}
	}
	return []bool{false, true}
}

func rateSet(set string, n8 bool) string {
	if n8 {
		return set + " 8k mu-law"
	}
	return set + " 16k"
}

// TestEvalHeldOut reports the reported half: the default and accurate
// presets at 16 and 8 kHz next to pocketsphinx_continuous with its
// defaults on the same audio, and the default preset with the domain
// language model (built from banking77's training phrases and the shared
// FAQ set, never from test transcripts).
func TestEvalHeldOut(t *testing.T) {
	calls := an4Calls(t, false)
	if k, _ := strconv.Atoi(os.Getenv("EARSHOT_EVAL_EVERY")); k > 1 {
		// Every kth speaker of the reported half, for a short run.
		var some []call
		for i := 0; i < len(calls); i += k {
			some = append(some, calls[i])
		}
		calls = some
	}
	t.Logf("reported half: %d speakers, %.1f min", len(calls), minutes(calls))
	var rows []sysRow
	add := func(r ...sysRow) {
		rows = append(rows, r...)
		logRows(t, r) // as they come: the whole run is long
	}
	run := func(name string, cfg pocketsphinx.Config, profile string) {
		a, eng := newTestAnalyzer(t, cfg, pipeline.DefaultConfig())
		if profile != "" {
			installDomainLM(t, eng, profile, domainWeight)
		}
		for _, n8 := range evalRates() {
			add(sysRow{rateSet("an4 reported", n8), name, runCalls(t, a, calls, n8, profile)})
		}
	}
	// EARSHOT_EVAL_SYSTEMS=default,continuous,domain,accurate runs some
	// of them (separate processes use both cores of a busy machine).
	want := func(name string) bool {
		v := os.Getenv("EARSHOT_EVAL_SYSTEMS")
		return v == "" || slices.Contains(strings.Split(v, ","), name)
	}
	if want("default") {
		run("earshot default", pocketsphinx.DefaultConfig(), "")
	}
	// The default without the narrowband fold, for its before/after
	// (only when named).
	if slices.Contains(strings.Split(os.Getenv("EARSHOT_EVAL_SYSTEMS"), ","), "default-nofold") {
		cfg := pocketsphinx.DefaultConfig()
		cfg.NarrowbandFoldGain = 0
		run("earshot default, no fold", cfg, "")
	}
	if want("continuous") {
		for _, n8 := range evalRates() {
			name := "pocketsphinx_continuous defaults"
			if n8 {
				name += " (upsampled)"
			}
			add(sysRow{rateSet("an4 reported", n8), name, runContinuous(t, calls, n8)})
		}
		if want("default") && len(evalRates()) == 2 {
			c16, c8 := rows[2].r, rows[3].r
			def16, def8 := rows[0].r, rows[1].r
			t.Logf("target: the default preset at least 5 points better than pocketsphinx_continuous: 16k %.1f vs %.1f (%+.1f), 8k %.1f vs %.1f (%+.1f)",
				def16.c.WER(), c16.c.WER(), c16.c.WER()-def16.c.WER(), def8.c.WER(), c8.c.WER(), c8.c.WER()-def8.c.WER())
		}
	}
	if want("domain") {
		run("earshot default + domain LM", pocketsphinx.DefaultConfig(), "bank")
	}
	// The default with the spoken-forms prior at the weight chosen on the
	// development half (only when named: it is not the default, see
	// pocketsphinx.DefaultSpokenFormsWeight).
	if slices.Contains(strings.Split(os.Getenv("EARSHOT_EVAL_SYSTEMS"), ","), "spoken-forms") {
		cfg := pocketsphinx.DefaultConfig()
		cfg.SpokenFormsWeight = spokenFormsDevWeight
		run(fmt.Sprintf("earshot default + spoken-forms prior %.2g %s", spokenFormsDevWeight, cfg.SpokenFormsMode), cfg, "")
	}
	if want("accurate") {
		run("earshot accurate", psConfig(pocketsphinx.SearchAccurate, pocketsphinx.DefaultConfig().RedecodeFirst), "")
	}
	logRows(t, rows)
}

// spokenFormsDevWeight is the spoken-forms prior's weight chosen on AN4
// development speakers 1-16 (EARSHOT_EVAL_PRIOR: 0.05 28.4, 0.1 28.0,
// 0.2 28.9 WER).
const spokenFormsDevWeight = 0.1

// domainWeight is the domain model's interpolation weight, chosen on the
// development voices of the domain speech set (TestEvalDomainLMDev).
const domainWeight = 0.5

// domainText is the site text of the eval's bank: banking77's training
// phrases and the shared FAQ set (questions, rephrasings, answers).
func domainText(t *testing.T) []string {
	t.Helper()
	shared := os.Getenv("EARSHOT_SHARED_EVAL")
	if shared == "" {
		shared = "../../../shared/eval"
	}
	var docs []string
	for _, row := range readCSV(t, filepath.Join(shared, "banking77", "train.csv")) {
		docs = append(docs, row[0])
	}
	docs = append(docs, readFAQ(t, filepath.Join(shared, "stackfaq", "stackExchange-FAQ.json"))...)
	return docs
}

// TestEvalDomainLMDev chooses the domain model's weight on the
// development voices of the domain speech set.
func TestEvalDomainLMDev(t *testing.T) {
	sents := domainSentences(t, true)
	traceRereads(t)
	var rows []sysRow
	weights := []float64{0.3, 0.5, 0.7, 0.9}
	// EARSHOT_EVAL_PRIOR: each spoken-forms prior weight, with the
	// general model and with the domain model at domainWeight (or the
	// EARSHOT_EVAL_WEIGHTS).
	if os.Getenv("EARSHOT_EVAL_PRIOR") != "" {
		weights = []float64{domainWeight}
	}
	if v := os.Getenv("EARSHOT_EVAL_WEIGHTS"); v != "" { // some of them, for time
		weights = weights[:0]
		for _, f := range strings.Split(v, ",") {
			w, err := strconv.ParseFloat(f, 64)
			if err != nil || w <= 0 || w > 1 {
				t.Fatalf("EARSHOT_EVAL_WEIGHTS: %q is not a weight in (0,1]", f)
			}
			weights = append(weights, w)
		}
	}
	for _, pw := range priorWeights() {
		cfg := pocketsphinx.DefaultConfig()
		suffix := ""
		if pw.w >= 0 {
			suffix = "," + pw.apply(&cfg)
		}
		a, eng := newTestAnalyzer(t, cfg, pipeline.DefaultConfig())
		rows = append(rows, sysRow{"domain dev 16k", "general model" + suffix, runCalls(t, a, sents, false, "")})
		rd0, rc0 := eng.SpokenFormsReadings()
		t.Logf("general model%s: utterances read again with the spoken-forms prior %d, changed %d", suffix, rd0, rc0)
		for _, w := range weights {
			profile := fmt.Sprintf("bank%.0f", w*10)
			installDomainLM(t, eng, profile, w)
			name := fmt.Sprintf("domain LM weight %.1f%s", w, suffix)
			rows = append(rows, sysRow{"domain dev 16k", name, runCalls(t, a, sents, false, profile)})
			rd, rc := eng.SpokenFormsReadings()
			t.Logf("%s: utterances read again with the spoken-forms prior %d, changed %d", name, rd-rd0, rc-rc0)
			rd0, rc0 = rd, rc
		}
		logRows(t, rows)
	}
}

// TestEvalDomainLM reports the domain speech set's reported voices with and
// without the domain model, at 16 and 8 kHz, for the default (accurate)
// and the fast preset.
func TestEvalDomainLM(t *testing.T) {
	sents := domainSentences(t, false)
	var rows []sysRow
	systems := []struct {
		name, search string
	}{{"earshot default", pocketsphinx.DefaultSearch}, {"earshot fast", pocketsphinx.SearchFast}}
	// EARSHOT_EVAL_QUICK: the default preset at 16 kHz only;
	// EARSHOT_EVAL_SYSTEMS=default: the default preset at both rates.
	if os.Getenv("EARSHOT_EVAL_QUICK") != "" || os.Getenv("EARSHOT_EVAL_SYSTEMS") == "default" {
		systems = systems[:1]
	}
	rates := evalRates()
	for _, sys := range systems {
		cfg := pocketsphinx.DefaultConfig()
		cfg.Search = sys.search
		a, eng := newTestAnalyzer(t, cfg, pipeline.DefaultConfig())
		installDomainLM(t, eng, "bank", domainWeight)
		for _, n8 := range rates {
			set := "domain reported 16k"
			if n8 {
				set = "domain reported 8k mu-law"
			}
			g := runCalls(t, a, sents, n8, "")
			d := runCalls(t, a, sents, n8, "bank")
			rows = append(rows, sysRow{set, sys.name, g}, sysRow{set, sys.name + " + domain LM", d})
			t.Logf("%s %s: domain LM %.1f%% vs %.1f%%: %.0f%% relative (target >= 15%%)", set, sys.name, d.c.WER(), g.c.WER(),
				100*(g.c.WER()-d.c.WER())/g.c.WER())
		}
	}
	logRows(t, rows)
}

// domainSentences is the domain speech set: banking77 test queries (every
// 40th row, never in the model's text) read by Flite voices, one "call"
// per voice. No public recordings of contact-centre sentences could be
// had, so these are synthesised (stated in the note): development voices
// slt and kal16, reported voices rms and awb (a speaker split, like AN4).
func domainSentences(t *testing.T, dev bool) []call {
	t.Helper()
	if _, err := exec.LookPath("flite"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("flite missing (Debian flite)")
		}
		t.Skip("flite missing (Debian flite)")
	}
	shared := os.Getenv("EARSHOT_SHARED_EVAL")
	if shared == "" {
		shared = "../../../shared/eval"
	}
	rows := readCSV(t, filepath.Join(shared, "banking77", "test.csv"))
	var sents []string
	for i := 0; i < len(rows); i += 40 {
		sents = append(sents, rows[i][0])
	}
	voices := []string{"rms", "awb"}
	if dev {
		voices = []string{"slt", "kal16"}
	}
	cache := filepath.Join(filepath.Dir(speechDir(t, "")), "speech", "cache", "domain")
	os.MkdirAll(cache, 0o755)
	var out []call
	for _, v := range voices {
		c := call{speaker: v, wav16: filepath.Join(cache, v+"-16k.wav"), wav8: filepath.Join(cache, v+"-8k.wav")}
		var refs []string
		for _, s := range sents {
			refs = append(refs, strings.Join(wer.Normalize(spellDigits(s)), " "))
		}
		c.ref = strings.Join(refs, " ")
		if _, err := os.Stat(c.wav8); err != nil {
			pcm := make([]int16, 8000)
			for i, s := range sents {
				f := filepath.Join(t.TempDir(), strconv.Itoa(i)+".wav")
				if b, err := exec.Command("flite", "-voice", v, "-t", s, "-o", f).CombinedOutput(); err != nil {
					t.Fatalf("flite: %v: %s", err, b)
				}
				r := filepath.Join(t.TempDir(), "r.wav")
				sox(t, f, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", r)
				pcm = append(append(pcm, readPCM16(t, r)...), make([]int16, 12800)...)
			}
			writeWAV16(t, c.wav16, pcm)
			sox(t, "-D", c.wav16, "-r", "8000", "-e", "mu-law", "-b", "8", c.wav8)
		}
		c.ms = mustParseWAV(t, c.wav16).DurationMs()
		out = append(out, c)
	}
	t.Logf("domain speech: %d sentences x %d voices (%v), %.1f min", len(sents), len(voices), voices, minutes(out))
	return out
}

// spellDigits writes digits as words, as the model's text normaliser does.
func spellDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteString(" " + [10]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}[r-'0'] + " ")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestEvalDigits: spoken digit strings of 4-16 digits (Free Spoken Digit
// Dataset recordings of one speaker, 80-200 ms apart) recognised with the
// digits grammar (the mode a virtual agent's step switches on), exact
// string match, at 8 kHz (the recordings' rate, as mu-law) and 16 kHz
// (upsampled: FSDD has no wideband recordings), next to the general
// language model. Reported speakers only (same split rule).
func TestEvalDigits(t *testing.T) {
	dev := os.Getenv("EARSHOT_EVAL_DEV") != ""
	n := 40
	if v, _ := strconv.Atoi(os.Getenv("EARSHOT_EVAL_N")); v > 0 {
		n = v
	}
	strs := digitStrings(t, dev, n)
	if os.Getenv("EARSHOT_EVAL_DIGITS") == "an4" {
		strs = an4DigitStrings(t, dev)
	}
	var rows []string
	modes, rates := []stt.Mode{stt.ModeDigits, stt.ModeSpeech}, []int{16000, 8000}
	if os.Getenv("EARSHOT_EVAL_QUICK") != "" {
		modes = modes[:1]
	}
	switch os.Getenv("EARSHOT_EVAL_RATE") {
	case "8k":
		rates = rates[1:]
	case "16k":
		rates = rates[:1]
	}
	for _, mode := range modes {
		for _, rate := range rates {
			cfg := pocketsphinx.DefaultConfig()
			cfg.MaxDecoders = 4
			if v := os.Getenv("EARSHOT_EVAL_REDO"); v != "" {
				cfg.RedecodeFirst = v == "1"
			}
			if v, err := strconv.ParseFloat(os.Getenv("EARSHOT_EVAL_GRAMMAR_WIP"), 64); err == nil {
				cfg.GrammarWIP = v
			}
			if v, err := strconv.Atoi(os.Getenv("EARSHOT_EVAL_DIGIT_MIN_MS")); err == nil {
				cfg.DigitMinWordMs = v
			}
			if v := os.Getenv("EARSHOT_EVAL_SEARCH"); v != "" {
				cfg.Search = v
			}
			pcfg := pipeline.DefaultConfig()
			knobs := devKnobs(&cfg, &pcfg)
			eng, err := pocketsphinx.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := pipeline.New(pcfg, nil, nil, eng)
			if err != nil {
				t.Fatal(err)
			}
			exact := 0
			var c wer.Counts
			for i, s := range strs {
				segs := runDigitSegments(t, p, s, rate, mode, i)
				hyp := segmentsText(segs)
				if digitsOf(hyp) == s.digits {
					exact++
				}
				c = c.Add(wer.Align(strings.Split(s.digits, ""), strings.Split(digitsOf(hyp), "")))
				switch os.Getenv("EARSHOT_EVAL_HYP") {
				case "":
				case "words": // each word with its duration in ms
					t.Logf("%s %s -> %q %s", s.speaker, s.digits, hyp, wordDurations(segs))
				default:
					t.Logf("%s %s -> %q", s.speaker, s.digits, hyp)
				}
			}
			eng.Close()
			rows = append(rows, fmt.Sprintf("%s search, redo %v, digit min %d ms%s: %-7s %5d Hz: %d of %d strings exact (%.1f%%), digit error rate %.1f%%", cfg.Search, cfg.RedecodeFirst,
				cfg.DigitMinWordMs, knobs, mode, rate, exact, len(strs), 100*float64(exact)/float64(len(strs)), c.WER()))
		}
	}
	for _, r := range rows {
		t.Log(r)
	}
	t.Log("targets (digits mode): >= 90% exact at 16 kHz, >= 80% at 8 kHz")
}

type digitString struct {
	speaker, digits string
	pcm8            []int16  // 8 kHz (FSDD)
	spans           [][2]int // FSDD: each digit recording's first and end sample in pcm8
	wav16           string   // 16 kHz recording (AN4), instead of pcm8
}

// an4DigitStrings are the AN4 utterances of 4-16 spoken digits and
// nothing else (phone numbers, zip codes), 16 kHz, each with 0.5 s of
// silence before and after, of one half's speakers (same split rule).
func an4DigitStrings(t *testing.T, dev bool) []digitString {
	t.Helper()
	root := speechDir(t, "an4")
	digitWord := map[string]bool{}
	for _, w := range strings.Fields("zero oh one two three four five six seven eight nine double triple") {
		digitWord[w] = true
	}
	files, _ := filepath.Glob(filepath.Join(root, "wav", "*", "*", "*.sph"))
	var all []string
	for _, f := range files {
		if spk := filepath.Base(filepath.Dir(f)); !slices.Contains(all, spk) {
			all = append(all, spk)
		}
	}
	slices.Sort(all)
	byID := map[string]string{}
	for _, f := range files {
		byID[strings.TrimSuffix(filepath.Base(f), ".sph")] = f
	}
	cache := filepath.Join(filepath.Dir(root), "cache", "an4-digits")
	os.MkdirAll(cache, 0o755)
	var out []digitString
	for _, tf := range []string{"an4_train.transcription", "an4_test.transcription"} {
		for _, u := range readRefs(t, filepath.Join(root, "etc", tf)) {
			id := strings.TrimSpace(u.id)
			words := wer.Normalize(strings.NewReplacer("<s>", "", "</s>", "").Replace(u.text))
			ok := len(words) > 0
			for _, w := range words {
				ok = ok && digitWord[w]
			}
			d := digitsOf(strings.Join(words, " "))
			f, found := byID[id]
			if !ok || !found || len(d) < 4 || len(d) > 16 || inDev(filepath.Base(filepath.Dir(f)), all) != dev {
				continue
			}
			w16 := filepath.Join(cache, id+".wav")
			if _, err := os.Stat(w16); err != nil {
				tmp := filepath.Join(t.TempDir(), "u.wav")
				sox(t, f, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", tmp)
				writeWAV16(t, w16, append(append(make([]int16, 8000), readPCM16(t, tmp)...), make([]int16, 8000)...))
			}
			out = append(out, digitString{speaker: filepath.Base(filepath.Dir(f)), digits: d, wav16: w16})
		}
	}
	t.Logf("%d AN4 digit strings (4-16 digits)", len(out))
	return out
}

// digitStrings builds n strings per half from FSDD: lengths 4-16, digits
// and gaps from a fixed seed, each string from one speaker.
func digitStrings(t *testing.T, dev bool, n int) []digitString {
	t.Helper()
	dir := speechDir(t, "fsdd/recordings")
	files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	rec := map[string]map[byte][]string{} // speaker -> digit -> files
	var all []string
	for _, f := range files {
		if parts := strings.Split(strings.TrimSuffix(filepath.Base(f), ".wav"), "_"); len(parts) == 3 && !slices.Contains(all, parts[1]) {
			all = append(all, parts[1])
		}
	}
	slices.Sort(all)
	for _, f := range files {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(f), ".wav"), "_")
		if len(parts) != 3 || inDev(parts[1], all) != dev {
			continue
		}
		if rec[parts[1]] == nil {
			rec[parts[1]] = map[byte][]string{}
		}
		rec[parts[1]][parts[0][0]] = append(rec[parts[1]][parts[0][0]], f)
	}
	speakers := slices.Sorted(maps.Keys(rec))
	if len(speakers) == 0 {
		t.Fatal("no FSDD speakers in this half")
	}
	rng := rand.New(rand.NewPCG(22, 7))
	// EARSHOT_EVAL_GAP_NOISE_DB (diagnostic): the silence around and
	// between the digits gets white noise at that level (dBFS) instead of
	// digital zeros, as a line's background would have.
	gapNoise := 0.0
	if v, err := strconv.ParseFloat(os.Getenv("EARSHOT_EVAL_GAP_NOISE_DB"), 64); err == nil {
		gapNoise = 32768 * math.Pow(10, v/20)
	}
	noise := rand.New(rand.NewPCG(22, 8))
	gap := func(n int) []int16 {
		g := make([]int16, n)
		for j := range g {
			if gapNoise > 0 {
				g[j] = int16(max(-32768, min(32767, noise.NormFloat64()*gapNoise)))
			}
		}
		return g
	}
	var out []digitString
	for i := range n {
		spk := speakers[i%len(speakers)]
		l := 4 + rng.IntN(13)
		s := digitString{speaker: spk}
		s.pcm8 = gap(4000)
		for range l {
			d := byte('0' + rng.IntN(10))
			fs := rec[spk][d]
			slices.Sort(fs)
			f := mustParseWAV(t, fs[rng.IntN(len(fs))])
			s.digits += string(d)
			rec := f.Samples()
			if fade, _ := strconv.Atoi(os.Getenv("EARSHOT_EVAL_FADE_MS")); fade > 0 {
				// Diagnostic: fade each recording in and out over fade
				// ms (some are cut off mid-word: a step to silence).
				rec = slices.Clone(rec)
				n := min(fade*8, len(rec)/2)
				for j := range n {
					g := float64(j) / float64(n)
					rec[j] = int16(float64(rec[j]) * g)
					rec[len(rec)-1-j] = int16(float64(rec[len(rec)-1-j]) * g)
				}
			}
			s.spans = append(s.spans, [2]int{len(s.pcm8), len(s.pcm8) + len(rec)})
			s.pcm8 = append(append(s.pcm8, rec...), gap(640+rng.IntN(960))...)
		}
		s.pcm8 = append(s.pcm8, gap(4000)...)
		out = append(out, s)
	}
	t.Logf("%d digit strings from speakers %v", len(out), speakers)
	return out
}

// runDigits feeds one digit string through the pipeline with the
// party's recogniser in mode.
func runDigits(t *testing.T, p *pipeline.Pipeline, s digitString, rate int, mode stt.Mode, i int) string {
	t.Helper()
	return segmentsText(runDigitSegments(t, p, s, rate, mode, i))
}

// segmentsText joins final segments' texts.
func segmentsText(segs []pipeline.Segment) string {
	var words []string
	for _, sg := range segs {
		words = append(words, sg.Text)
	}
	return strings.Join(words, " ")
}

// wordDurations lists the segments' words as word/duration in ms (as the
// pipeline delivers them: inside the voice activity detector's speech
// bounds), a segment a bracket.
func wordDurations(segs []pipeline.Segment) string {
	var b strings.Builder
	for _, sg := range segs {
		b.WriteString("[")
		for i, w := range sg.Words {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s/%d", w.Text, w.EndMs-w.StartMs)
		}
		b.WriteString("]")
	}
	return b.String()
}

// runDigitSegments is runDigits' final segments, in time order.
func runDigitSegments(t *testing.T, p *pipeline.Pipeline, s digitString, rate int, mode stt.Mode, i int) []pipeline.Segment {
	t.Helper()
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.wav")
	if s.wav16 != "" {
		in = s.wav16
	} else {
		b := make([]byte, 2*len(s.pcm8))
		for j, v := range s.pcm8 {
			binary.LittleEndian.PutUint16(b[2*j:], uint16(v))
		}
		os.WriteFile(in, wav.Encode(wav.Format{Encoding: wav.PCM, SampleRate: 8000, Channels: 1, BitsPerSample: 16}, b), 0o644)
	}
	var format codec.Format
	var raw []byte
	if rate == 8000 {
		out := filepath.Join(tmp, "out.raw")
		sox(t, "-D", in, "-r", "8000", "-e", "mu-law", "-b", "8", "-t", "raw", out)
		raw, _ = os.ReadFile(out)
		format = codec.Format{Codec: codec.PCMU}
	} else {
		out := filepath.Join(tmp, "out.raw")
		sox(t, in, "-r", "16000", "-e", "signed-integer", "-b", "16", "-t", "raw", out)
		raw, _ = os.ReadFile(out)
		format = codec.Format{Codec: codec.S16LE, SampleRate: 16000}
	}
	e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: fmt.Sprint("digits-", i), Source: "eval", Offline: true, Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "customer", Format: format})
	if err != nil {
		t.Fatal(err)
	}
	if mode != stt.ModeSpeech {
		if err := pt.SetMode(mode); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer e.Close()
		step := 320
		for off := 0; off < len(raw); off += step {
			pt.Write(raw[off:min(off+step, len(raw))])
		}
	}()
	var segs []pipeline.Segment
	for sg := range e.Segments() {
		if sg.Final {
			segs = append(segs, sg)
		}
	}
	slices.SortFunc(segs, func(a, b pipeline.Segment) int { return cmp.Compare(a.StartMs, b.StartMs) })
	var detail strings.Builder
	for _, sg := range segs {
		fmt.Fprintf(&detail, " |%d-%d|", sg.StartMs, sg.EndMs)
		for _, w := range sg.Words {
			fmt.Fprintf(&detail, " %s[%d-%d %.2f]", w.Text, w.StartMs, w.EndMs, w.Confidence)
		}
	}
	if os.Getenv("EARSHOT_EVAL_WORDS") != "" {
		t.Logf("%s words:%s", s.digits, detail.String())
	}
	return segs
}

// digitsOf maps spoken digits to a digit string ("double five" = "55").
func digitsOf(text string) string {
	val := map[string]string{"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
		"six": "6", "seven": "7", "eight": "8", "nine": "9"}
	var b strings.Builder
	rep := 1
	for _, w := range strings.Fields(strings.ToLower(text)) {
		switch w {
		case "double":
			rep = 2
			continue
		case "triple":
			rep = 3
			continue
		}
		if d, ok := val[w]; ok {
			b.WriteString(strings.Repeat(d, rep))
		}
		rep = 1
	}
	return b.String()
}

// TestEvalStartOffsets: the WER of each reported speaker's first two
// utterances, delayed by 0..9 ms of silence, with the default preset,
// with and without re-decoding the first utterance.
func TestEvalStartOffsets(t *testing.T) {
	calls := an4Calls(t, os.Getenv("EARSHOT_EVAL_DEV") != "")
	if len(calls) > 12 {
		calls = calls[:12]
	}
	tmp := t.TempDir()
	rates := []bool{false, true}
	if os.Getenv("EARSHOT_EVAL_QUICK") != "" {
		rates = rates[:1] // 16 kHz only
	}
	redos := []bool{false, true}
	if v := os.Getenv("EARSHOT_EVAL_REDO"); v != "" { // one of them (separate processes)
		redos = []bool{v == "1"}
	}
	for _, redo := range redos {
		for _, n8 := range rates {
			cfg := pocketsphinx.DefaultConfig()
			cfg.RedecodeFirst = redo
			cfg.MaxDecoders = 4
			a, _ := newTestAnalyzer(t, cfg, pipeline.DefaultConfig())
			var wers []float64
			for off := range 10 {
				var shifted []call
				for _, c := range calls {
					pcm := readPCM16(t, c.wav16)
					// The first two utterances: up to the second 0.8 s gap.
					end := firstUtterancesEnd(pcm, 2)
					sc := call{speaker: c.speaker, ref: strings.Join(c.utts[:min(2, len(c.utts))], " ")}
					sc.wav16 = filepath.Join(tmp, fmt.Sprintf("%s-%d-16k.wav", c.speaker, off))
					sc.wav8 = filepath.Join(tmp, fmt.Sprintf("%s-%d-8k.wav", c.speaker, off))
					// Start the audio off ms later: the first 0.5 s of
					// silence is cut to start at the offset.
					audio := append(make([]int16, 16*off), pcm[7200:end]...)
					if os.Getenv("EARSHOT_EVAL_SHIFT_AT") == "second" {
						// Diagnostic: the stream's start stays put and the
						// offset goes into the gap before the second
						// utterance, which alone moves against the frames.
						mid := firstUtterancesEnd(pcm, 1)
						audio = append(append(slices.Clone(pcm[7200:mid]), make([]int16, 16*off)...), pcm[mid:end]...)
					}
					writeWAV16(t, sc.wav16, audio)
					sox(t, "-D", sc.wav16, "-r", "8000", "-e", "mu-law", "-b", "8", sc.wav8)
					sc.ms = int64(end-7200)/16 + int64(off)
					shifted = append(shifted, sc)
				}
				r := runCalls(t, a, shifted, n8, "")
				wers = append(wers, r.c.WER())
				// As each is measured: a stopped run still tells something.
				t.Logf("redecode first=%v 8k=%v: offset %d ms: WER %.1f%% (%d words)", redo, n8, off, r.c.WER(), r.c.Ref)
			}
			rate := "16k"
			if n8 {
				rate = "8k mu-law"
			}
			t.Logf("redecode first=%v %s: WER by start offset 0..9 ms %v: spread %.1f points (min %.1f, max %.1f)",
				redo, rate, fmtFloats(wers), slices.Max(wers)-slices.Min(wers), slices.Min(wers), slices.Max(wers))
		}
	}
}

// firstUtterancesEnd finds the sample after the nth utterance of a call
// built by an4Calls (utterances separated by 0.8 s of digital silence).
func firstUtterancesEnd(pcm []int16, n int) int {
	run, seen := 0, 0
	for i := 8000; i < len(pcm); i++ {
		if pcm[i] == 0 {
			run++
			if run == 12000 { // 0.75 s of zeros: a gap
				seen++
				if seen == n {
					return i - 12000 + 1600
				}
			}
			continue
		}
		run = 0
	}
	return len(pcm)
}

func fmtFloats(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("shared eval data (../shared/eval): %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows[1:] // header
}

func readFAQ(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("shared eval data (../shared/eval): %v", err)
	}
	var doc struct {
		Root struct {
			QAPair []struct {
				Question string          `json:"question"`
				Rephr    []string        `json:"rephr"`
				Answer   json.RawMessage `json:"answer"` // a list, or one string

			} `json:"qapair"`
		} `json:"root"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, q := range doc.Root.QAPair {
		out = append(out, q.Question)
		out = append(out, q.Rephr...)
		var answers []string
		if err := json.Unmarshal(q.Answer, &answers); err != nil {
			var one string
			if err := json.Unmarshal(q.Answer, &one); err != nil {
				t.Fatalf("stackfaq answer: %v", err)
			}
			answers = []string{one}
		}
		out = append(out, answers...)
	}
	return out
}

// installDomainLM builds the eval bank's domain model and gives it to
// the engine as profile.
func installDomainLM(t *testing.T, eng *pocketsphinx.Engine, profile string, weight float64) {
	t.Helper()
	t0 := time.Now()
	m := lm.NewModel(lm.Options{Known: eng.Known})
	for _, d := range domainText(t) {
		m.Add(d, eng.Known)
	}
	path := filepath.Join(t.TempDir(), profile+".lm")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WriteARPA(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st := m.Stats()
	t.Logf("domain LM %s: %d sentences, %d tokens (%d OOV), n-grams %v, built in %s, weight %.1f", profile, st.Sentences, st.Tokens, st.OOV,
		st.NGrams, time.Since(t0).Round(time.Millisecond), weight)
	if err := eng.SetDomainLM(profile, pocketsphinx.DomainLM{Path: path, Version: "eval", Weight: weight}); err != nil {
		t.Fatal(err)
	}
}

// traceRereads: with EARSHOT_EVAL_REREAD_TRACE set, every utterance read
// again with the spoken-forms prior is logged (first reading, second
// reading, final kept, the region mode's final without detail phrases,
// word times in ms). Development sets only: never
// called by a reported evaluation.
func traceRereads(t *testing.T) {
	if os.Getenv("EARSHOT_EVAL_REREAD_TRACE") == "" {
		return
	}
	show := func(ws []stt.Word) string {
		var b strings.Builder
		for _, w := range ws {
			fmt.Fprintf(&b, " %s[%d-%d]", w.Text, w.StartMs, w.EndMs)
		}
		return b.String()
	}
	pocketsphinx.SetRereadTrace(func(first, reread, kept []stt.Word) {
		t.Logf("reread trace\n  first: %s\n  again: %s\n  kept:  %s\n  plain: %s", show(first), show(reread), show(kept),
			show(pocketsphinx.SpliceRegionsPlain(first, reread)))
	})
	t.Cleanup(func() { pocketsphinx.SetRereadTrace(nil) })
}
