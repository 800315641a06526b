//go:build eval

package nlu

// Open-intent evaluation on banking77 (PolyAI-LDN/task-specific-datasets
// @57ec275d, CC BY 4.0; read from ../shared/eval/banking77, never copied
// here).
//
// Protocol. Ten of the 77 intents are held out as unknown: the 77 names,
// sorted, are shuffled with math/rand/v2 PCG(77, 0) and the first ten are
// taken (the test logs them). The detector trains on the 67 others'
// training phrases only; its temperature, out-of-scope detector and
// threshold come from folds carved from those phrases (see package doc).
// It is scored on the whole banking77 test set, the ten held-out intents'
// test messages counting as out of scope: in-scope accuracy (an in-scope
// message is right when it is accepted with its intent), closed-set
// accuracy (the top intent, no threshold), out-of-scope recall and
// precision, and macro-F1 over 68 classes (67 intents and "oos").
//
// The peer, in the same run, is scikit-learn's TF-IDF + LinearSVC
// (testdata/open_intent_peer.py) with a max-margin threshold picked by the
// same rule on the same folds.
//
// Development happened on TestEvalBanking77OpenIntentDev and
// TestEvalBanking77OpenIntentSweep (the detector's feature sets side by
// side), which never read the test set: they hold out ten other intents
// (PCG(1077, 0)) and a quarter of the training phrases as their own test.

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/builtin/textclass"
	"github.com/earshot/earshot/internal/testdep"
)

func evalDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("EARSHOT_EVAL_DIR")
	if d == "" {
		d = filepath.Join("..", "..", "..", "..", "shared", "eval")
	}
	if _, err := os.Stat(filepath.Join(d, "banking77", "train.csv")); err != nil {
		testdep.Missing(t, "the banking77 evaluation set in "+d, "set EARSHOT_EVAL_DIR to the shared evaluation data")
	}
	return d
}

func loadCSV(t testing.TB, path string) []Example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([]Example, 0, len(rows)-1)
	for _, r := range rows[1:] {
		out = append(out, Example{Text: r[0], Intent: r[1]})
	}
	return out
}

// heldOutIntents draws n intents of examples with PCG(seed, 0).
func heldOutIntents(examples []Example, seed uint64, n int) []string {
	set := map[string]bool{}
	for _, e := range examples {
		set[e.Intent] = true
	}
	names := slices.Sorted(mapKeys(set))
	rng := rand.New(rand.NewPCG(seed, 0))
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	held := slices.Clone(names[:n])
	slices.Sort(held)
	return held
}

// python returns a Python 3 with scikit-learn (Debian python3-sklearn).
func python(t testing.TB) string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import sklearn").Run() == nil {
			return path
		}
	}
	testdep.Missing(t, "python3 with scikit-learn", "install the Debian package python3-sklearn (make test does, from DEBS_TEST)")
	return ""
}

type openResult struct {
	name                                 string
	closed, inScope, oosRec, oosPrec, f1 float64
	train, perQuery                      time.Duration
	trainCPU                             time.Duration
}

func score(name string, truth, top, pred []string) openResult {
	r := openResult{name: name}
	var nIn, nOOS, okClosed, okIn, oosHit, oosPred int
	classes := map[string]bool{"oos": true}
	for i := range truth {
		classes[truth[i]] = true
		if truth[i] == "oos" {
			nOOS++
			if pred[i] == "oos" {
				oosHit++
			}
		} else {
			nIn++
			if top[i] == truth[i] {
				okClosed++
			}
			if pred[i] == truth[i] {
				okIn++
			}
		}
		if pred[i] == "oos" {
			oosPred++
		}
	}
	r.closed, r.inScope = float64(okClosed)/float64(nIn), float64(okIn)/float64(nIn)
	r.oosRec = float64(oosHit) / float64(nOOS)
	if oosPred > 0 {
		r.oosPrec = float64(oosHit) / float64(oosPred)
	}
	var sum float64
	for c := range classes {
		var tp, fp, fn float64
		for i := range truth {
			switch {
			case pred[i] == c && truth[i] == c:
				tp++
			case pred[i] == c:
				fp++
			case truth[i] == c:
				fn++
			}
		}
		if tp > 0 {
			p, rc := tp/(tp+fp), tp/(tp+fn)
			sum += 2 * p * rc / (p + rc)
		}
	}
	r.f1 = sum / float64(len(classes))
	return r
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openIntent trains on train without the held intents, scores test, runs
// the peer on the same folds and logs both.
func openIntent(t *testing.T, train, test []Example, held []string) (ours, peer openResult) {
	t.Helper()
	cfg := evalConfig()
	t.Logf("training: folds %d, max accuracy drop %.3f", cfg.Folds, cfg.MaxAccuracyDrop)
	var fit []Example
	for _, e := range train {
		if !slices.Contains(held, e.Intent) {
			fit = append(fit, e)
		}
	}
	truth := make([]string, len(test))
	for i, e := range test {
		truth[i] = e.Intent
		if slices.Contains(held, e.Intent) {
			truth[i] = "oos"
		}
	}
	start, cpu0 := time.Now(), cpuTime()
	m, err := Train(t.Context(), cfg, fit)
	if err != nil {
		t.Fatal(err)
	}
	trainDur, trainCPU := time.Since(start), cpuTime()-cpu0
	top, pred := make([]string, len(test)), make([]string, len(test))
	var eceBefore, eceAfter []heldOut
	start = time.Now()
	for i, e := range test {
		r := m.Classify(e.Text)
		top[i], pred[i] = r.Intent, r.Intent
		if !r.InScope {
			pred[i] = "oos"
		}
	}
	perQuery := time.Since(start) / time.Duration(len(test))
	for i, e := range test {
		if truth[i] == "oos" {
			continue
		}
		x := m.clf.Vec.Transform(e.Text)
		sc, _, _ := split(m.clf.ScoresVec(x))
		h := heldOut{label: -1}
		for k, s := range sc {
			h.scores = append(h.scores, s.Score)
			if s.Label == e.Intent {
				h.label = k
			}
		}
		eceBefore = append(eceBefore, h)
		eceAfter = append(eceAfter, h)
	}
	ours = score("built-in (textclass SVM + detector)", truth, top, pred)
	ours.train, ours.trainCPU, ours.perQuery = trainDur, trainCPU, perQuery
	rep := m.Report()
	t.Logf("built-in calibration on held-out training folds: %+v", rep)
	t.Logf("test in-scope ECE: default temperature %.4f, fitted %.4f (T=%.2f)",
		ece(eceBefore, DefaultConfig().Classifier.Temperature), ece(eceAfter, m.temperature), m.temperature)

	// The peer, on the same folds.
	byIntent := map[string][]int{}
	for i, e := range fit {
		byIntent[e.Intent] = append(byIntent[e.Intent], i)
	}
	groupOf, foldOf := assignFolds(cfg, slices.Sorted(mapKeys(byIntent)), byIntent, len(fit))
	dir := t.TempDir()
	var tb strings.Builder
	for i, e := range fit {
		fmt.Fprintf(&tb, "%s\t%s\t%d\t%d\n", tsv(e.Text), e.Intent, groupOf[e.Intent], foldOf[i])
	}
	var qb strings.Builder
	for _, e := range test {
		qb.WriteString(tsv(e.Text) + "\n")
	}
	os.WriteFile(filepath.Join(dir, "train.tsv"), []byte(tb.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "test.txt"), []byte(qb.String()), 0o600)
	cmd := exec.Command(python(t), filepath.Join("testdata", "open_intent_peer.py"), filepath.Join(dir, "train.tsv"),
		filepath.Join(dir, "test.txt"), "--drop", fmt.Sprint(cfg.MaxAccuracyDrop))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peer: %v\n%s", err, stderr.String())
	}
	var ps struct {
		Threshold float64 `json:"threshold"`
		TrainS    float64 `json:"train_s"`
		InferS    float64 `json:"infer_s"`
	}
	json.Unmarshal([]byte(stderr.String()), &ps)
	t.Logf("peer held-out figures: %s", stderr.String())
	ppred := make([]string, 0, len(test))
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		ppred = append(ppred, sc.Text())
	}
	if len(ppred) != len(test) {
		t.Fatalf("peer gave %d predictions for %d messages", len(ppred), len(test))
	}
	// The peer's closed-set accuracy comes from its predictions where it
	// accepted; the script reports only thresholded labels, so its top
	// label for refused messages is unknown: closed-set accuracy is
	// reported for the built-in model only.
	peer = score("peer (scikit-learn TF-IDF + LinearSVC, max margin)", truth, ppred, ppred)
	peer.closed = math.NaN()
	peer.train = time.Duration(ps.TrainS * float64(time.Second))
	peer.perQuery = time.Duration(ps.InferS / float64(len(test)) * float64(time.Second))
	t.Logf("held-out intents: %s", strings.Join(held, ", "))
	t.Logf("open-intent detection, train %d phrases of %d intents, test %d messages (%d out of scope), %d cores:\n"+
		"| model | closed-set acc | in-scope acc | OOS recall | OOS precision | macro-F1 (68) | train | per message |\n|---|---|---|---|---|---|---|---|\n%s\n%s\n"+
		"ratios built-in/peer: macro-F1 %.3f, OOS recall %.3f",
		len(fit), len(byIntent), len(test), count(truth, "oos"), runtime.GOMAXPROCS(0), row(ours), row(peer), ours.f1/peer.f1, ours.oosRec/peer.oosRec)
	return ours, peer
}

func row(r openResult) string {
	closed := "n/a"
	if !math.IsNaN(r.closed) {
		closed = fmt.Sprintf("%.4f", r.closed)
	}
	tr := r.train.Round(time.Millisecond).String()
	if r.trainCPU > 0 {
		tr += fmt.Sprintf(" (%v CPU)", r.trainCPU.Round(time.Millisecond))
	}
	return fmt.Sprintf("| %s | %s | %.4f | %.4f | %.4f | %.4f | %s | %v |", r.name, closed, r.inScope, r.oosRec, r.oosPrec, r.f1, tr, r.perQuery.Round(time.Microsecond))
}

func count(xs []string, v string) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func tsv(s string) string { return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s) }

// TestEvalBanking77OpenIntent is the reported evaluation (see the file's
// comment). Targets from the issue: OOS recall >= 0.70 with in-scope
// accuracy no more than 2 points below closed-set accuracy, and a macro-F1
// above the peer's. The test fails only on the part that is a property of
// the method, not of one run's noise: in-scope accuracy within 2 points.
func TestEvalBanking77OpenIntent(t *testing.T) {
	dir := evalDir(t)
	train := loadCSV(t, filepath.Join(dir, "banking77", "train.csv"))
	test := loadCSV(t, filepath.Join(dir, "banking77", "test.csv"))
	held := heldOutIntents(train, 77, 10)
	ours, peer := openIntent(t, train, test, held)
	if ours.closed-ours.inScope > 0.02 {
		t.Errorf("in-scope accuracy %.4f is more than 2 points below closed-set %.4f", ours.inScope, ours.closed)
	}
	if ours.oosRec < 0.70 {
		t.Logf("target not met: OOS recall %.4f < 0.70", ours.oosRec)
	}
	if ours.f1 <= peer.f1 {
		t.Logf("target not met: macro-F1 %.4f not above the peer's %.4f", ours.f1, peer.f1)
	}
}

// TestEvalBanking77OpenIntentDev is the development split: training data
// only (ten other intents held out, a quarter of the phrases as test).
func TestEvalBanking77OpenIntentDev(t *testing.T) {
	train, test, held := devSplit(t)
	openIntent(t, train, test, held)
}

// devSplit is the development split of banking77's training data: a
// quarter of the phrases as test, ten intents (PCG(1077, 0)) held out.
// EARSHOT_NLU_DEV_SEED draws another split of the same data (another seed
// in place of 1077: a check that a sweep's finding is not one split's).
func devSplit(t *testing.T) (train, test []Example, held []string) {
	all := loadCSV(t, filepath.Join(evalDir(t), "banking77", "train.csv"))
	seed := uint64(1077)
	if v, err := strconv.ParseUint(os.Getenv("EARSHOT_NLU_DEV_SEED"), 10, 64); err == nil {
		seed = v
	}
	held = heldOutIntents(all, seed, 10)
	t.Logf("development split: seed %d, held-out intents %s", seed, strings.Join(held, ", "))
	rng := rand.New(rand.NewPCG(seed, 1))
	for k, i := range rng.Perm(len(all)) {
		if k%4 == 0 {
			test = append(test, all[i])
		} else {
			train = append(train, all[i])
		}
	}
	return train, test, held
}

// evalConfig is DefaultConfig with the development knobs (never set for
// the reported run unless the note says so): EARSHOT_NLU_DROP
// (MaxAccuracyDrop), EARSHOT_NLU_FOLDS.
func evalConfig() Config {
	cfg := DefaultConfig()
	if v, err := strconv.ParseFloat(os.Getenv("EARSHOT_NLU_DROP"), 64); err == nil {
		cfg.MaxAccuracyDrop = v
	}
	if v, err := strconv.Atoi(os.Getenv("EARSHOT_NLU_FOLDS")); err == nil {
		cfg.Folds = v
	}
	return cfg
}

// TestEvalBanking77OpenIntentSweep compares the detector's feature sets on
// the development split (never the test set): the fold models and the
// final model are trained once, then each feature set gets its own
// detector and threshold from the same held-out readings.
func TestEvalBanking77OpenIntentSweep(t *testing.T) {
	train, test, held := devSplit(t)
	var fit []Example
	for _, e := range train {
		if !slices.Contains(held, e.Intent) {
			fit = append(fit, e)
		}
	}
	cfg := evalConfig()
	wv := sweepVectors(t, fit, test)
	if wv != nil {
		cfg.extra = wv.source
	}
	byIntent := map[string][]int{}
	for i, e := range fit {
		byIntent[e.Intent] = append(byIntent[e.Intent], i)
	}
	intents := slices.Sorted(mapKeys(byIntent))
	readings, bg, err := foldReadings(t.Context(), cfg, fit, intents, byIntent)
	if err != nil {
		t.Fatal(err)
	}
	exs := slices.Clone(bg)
	for _, e := range fit {
		exs = append(exs, textclass.Example{Text: e.Text, Label: e.Intent})
	}
	clf, err := textclass.TrainContext(t.Context(), cfg.Classifier, exs)
	if err != nil {
		t.Fatal(err)
	}
	nn := newNeighbours(clf.Vec, exs)
	var ext extraFeatures
	if cfg.extra != nil {
		ext = cfg.extra(exs)
	}
	truth := make([]string, len(test))
	tests := make([]heldOut, len(test))
	for i, e := range test {
		truth[i] = e.Intent
		if slices.Contains(held, e.Intent) {
			truth[i] = "oos"
		}
		tests[i] = readHeldOut(clf, nn, ext, e.Text, "")
	}
	if ext != nil {
		logClassifier(t, ext, test, truth, tests)
	}
	base := []int{fTop, fMargin, fSame, fAny, fAgree, fUnseen, fBackground}

	allF := append(slices.Clone(base), fCentroid, fSame3, fWordAgree, fCharAgree, fWordMargin, fCharMargin, fLabelUnseen, fEntropy, nRaw, nRaw+1, nRaw+2)
	type variant = sweepVariant
	variants := []variant{
		{"base", base, false},
		{"all", allF, false},
		{"all, pairs", allF, true},
	}
	if wv != nil {
		variants = append(variants, wv.variants(base, allF)...)
	}
	if v := os.Getenv("EARSHOT_NLU_USE"); v != "" {
		var use []int
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			use = append(use, n)
		}
		variants = append(variants, variant{"EARSHOT_NLU_USE=" + v, use, os.Getenv("EARSHOT_NLU_PAIRS") != ""})
	}
	var b strings.Builder
	b.WriteString("| features | held-out acc / closed | held-out OOS recall | closed | in-scope | drop | OOS recall | OOS precision | macro-F1 | recall at test drop 1 / 2 / 3 / 5 |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, v := range variants {
		m := &Model{clf: clf, nn: nn, temperature: defaultTemperature}
		m.calibrate(readings, cfg.MaxAccuracyDrop, v.use, v.pairs)
		top, pred := make([]string, len(test)), make([]string, len(test))
		scores := make([]float64, len(test))
		for i, h := range tests {
			top[i], pred[i] = h.top, h.top
			scores[i] = m.det.score(append(m.stats.extend(h.feats, h.top), h.extra...))
			if h.background || scores[i] < m.threshold {
				pred[i] = "oos"
			}
		}
		r := score(v.name, truth, top, pred)
		rep := m.Report()
		fmt.Fprintf(&b, "| %s | %.4f / %.4f | %.4f | %.4f | %.4f | %.1f | %.4f | %.4f | %.4f | %s |\n", v.name, rep.Accuracy, rep.ClosedAccuracy,
			rep.OOSRecall, r.closed, r.inScope, 100*(r.closed-r.inScope), r.oosRec, r.oosPrec, r.f1, curve(truth, top, scores, tests))
		perIntent := map[string][2]int{}
		for i, e := range test {
			if truth[i] == "oos" {
				c := perIntent[e.Intent]
				c[1]++
				if pred[i] == "oos" {
					c[0]++
				}
				perIntent[e.Intent] = c
			}
		}
		var pi []string
		for _, it := range slices.Sorted(mapKeys(perIntent)) {
			pi = append(pi, fmt.Sprintf("%s %d/%d", it, perIntent[it][0], perIntent[it][1]))
		}
		t.Logf("%s: out-of-scope refused per held-out intent: %s", v.name, strings.Join(pi, ", "))
	}
	t.Logf("development split, %d folds, max accuracy drop %.3f:\n%s", cfg.Folds, cfg.MaxAccuracyDrop, b.String())
}

// curve is the out-of-scope recall at the thresholds that cost 1, 2, 3
// and 5 points of in-scope accuracy on the scored set itself: a
// diagnostic of the detector's ranking, apart from how its threshold
// transfers (development split only).
func curve(truth, top []string, scores []float64, tests []heldOut) string {
	type s struct {
		v      float64
		in, ok bool
	}
	var xs []s
	var nIn, okIn int
	for i := range truth {
		x := s{v: scores[i], in: truth[i] != "oos", ok: truth[i] == top[i] && !tests[i].background}
		xs = append(xs, x)
		if x.in {
			nIn++
			if x.ok {
				okIn++
			}
		}
	}
	slices.SortFunc(xs, func(a, b s) int { return cmpFloat(a.v, b.v) })
	var out []string
	for _, d := range []float64{0.01, 0.02, 0.03, 0.05} {
		lost, rej, nOOS := 0, 0, 0
		for _, x := range xs {
			if !x.in {
				nOOS++
			}
		}
		for _, x := range xs {
			if x.in && x.ok {
				if float64(lost+1)/float64(nIn) > d {
					break
				}
				lost++
			}
			if !x.in {
				rej++
			}
		}
		out = append(out, fmt.Sprintf("%.3f", float64(rej)/float64(nOOS)))
	}
	return strings.Join(out, " / ")
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
