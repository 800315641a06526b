//go:build eval

package redact

// Accuracy of redaction on the labelled set in testdata/eval.jsonl
// (testdata/README.md): precision and recall per entity type on the
// written form, on the spoken form as a recogniser writes it, and on the
// same spoken utterances synthesised by Flite and recognised by the real
// PocketSphinx pipeline; compared in the same run with plain regular
// expressions (baselineRules). Reported on the "test" half; the detectors
// were tuned on the "dev" half only (EARSHOT_EVAL_REDACT_SPLIT=dev shows
// it, EARSHOT_EVAL_REDACT_VERBOSE=1 lists its misses).
//
//	go test -tags eval -run TestEvalRedact -v ./inference/redact

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/wav"
)

// predSpan is a redacted span in a text.
type predSpan struct {
	typ        string
	start, end int
}

// tally counts one entity type.
type tally struct {
	gold, hit, hitAny int // gold spans; found with the right type; covered by any type
	pred, tp          int // predicted spans; overlapping a gold span of the type
}

type score map[string]*tally

func (s score) get(t string) *tally {
	if s[t] == nil {
		s[t] = &tally{}
	}
	return s[t]
}

// coverage is the share of the alphanumeric bytes of g covered by preds
// (of type typ, or of any type when typ is empty).
func coverage(text string, g evalSpan, preds []predSpan, typ string) float64 {
	n, c := 0, 0
	for i := g.Start; i < g.End; i++ {
		b := text[i]
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z') {
			continue
		}
		n++
		for _, p := range preds {
			if (typ == "" || p.typ == typ) && i >= p.start && i < p.end {
				c++
				break
			}
		}
	}
	if n == 0 {
		return 1
	}
	return float64(c) / float64(n)
}

// recallCover is the share of a value that must be redacted for it to
// count as found.
const recallCover = 0.8

func (s score) add(text string, gold []evalSpan, preds []predSpan) (misses, fps []string) {
	for _, g := range gold {
		t := s.get(g.Type)
		t.gold++
		if coverage(text, g, preds, g.Type) >= recallCover {
			t.hit++
		} else {
			misses = append(misses, g.Type)
		}
		if coverage(text, g, preds, "") >= recallCover {
			t.hitAny++
		}
	}
	for _, p := range preds {
		t := s.get(p.typ)
		t.pred++
		ok := false
		for _, g := range gold {
			if g.Type == p.typ && p.start < g.End && g.Start < p.end {
				ok = true
				break
			}
		}
		if ok {
			t.tp++
		} else {
			fps = append(fps, p.typ)
		}
	}
	return misses, fps
}

func (s score) total() (p, r float64) {
	var tp, pred, hit, gold int
	for _, t := range s {
		tp, pred, hit, gold = tp+t.tp, pred+t.pred, hit+t.hit, gold+t.gold
	}
	return ratio(tp, pred), ratio(hit, gold)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// baselineRules are plain regular expressions over the written form, the
// kind a site would write without a redaction product: one per type, the
// first submatch (if any) is the value. Overlaps go to the earlier rule.
var baselineRules = []struct {
	typ Entity
	re  *regexp.Regexp
}{
	{Email, regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)},
	{Card, regexp.MustCompile(`\b(?:\d[ -]?){12,18}\d\b`)},
	{SSN, regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`)},
	{IBAN, regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b`)},
	{NINumber, regexp.MustCompile(`\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b`)},
	{Phone, regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\b\d{3,5})[ .-]?\d{3,4}[ .-]?\d{3,4}\b`)},
	{CardExpiry, regexp.MustCompile(`\b(?:0[1-9]|1[0-2])/\d{2}\b`)},
	{DateOfBirth, regexp.MustCompile(`\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b`)},
	{CardCVV, regexp.MustCompile(`(?i)\b(?:cvv|cvc|security code)(?: is)? (\d{3,4})\b`)},
	{PIN, regexp.MustCompile(`(?i)\bpin(?: number)?(?: is)? (\d{4,6})\b`)},
	{Password, regexp.MustCompile(`(?i)\bpassword(?: is)?:? (\S+)`)},
	{BankAccount, regexp.MustCompile(`(?i)\baccount number(?: is)? (\d{6,17})\b`)},
	{RoutingNumber, regexp.MustCompile(`(?i)\b(?:routing number|sort code)(?: is)? ([\d-]{6,9})\b`)},
	{Address, regexp.MustCompile(`\b\d+[A-Z]? [A-Z][a-z]+(?: [A-Z][a-z]+)? (?:Street|St|Road|Rd|Avenue|Ave|Lane|Drive|Close|Way|Court|Place|Crescent|Terrace|Boulevard|Gardens)\b`)},
	{Postcode, regexp.MustCompile(`\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b|\b\d{5}(?:-\d{4})?\b`)},
}

func baseline(text string) []predSpan {
	var out []predSpan
	for _, r := range baselineRules {
		for _, m := range r.re.FindAllStringSubmatchIndex(text, -1) {
			s, e := m[0], m[1]
			if len(m) > 2 && m[2] >= 0 {
				s, e = m[2], m[3]
			}
			if !slices.ContainsFunc(out, func(p predSpan) bool { return s < p.end && p.start < e }) {
				out = append(out, predSpan{typ: string(r.typ), start: s, end: e})
			}
		}
	}
	return out
}

func earshot(r *Redactor, text string) []predSpan {
	res := r.Redact(SourceOther, text, nil)
	out := make([]predSpan, len(res.Spans))
	for i, s := range res.Spans {
		out[i] = predSpan{typ: string(s.Type), start: s.Start, end: s.End}
	}
	return out
}

func evalSplit() string {
	if s := os.Getenv("EARSHOT_EVAL_REDACT_SPLIT"); s != "" {
		return s
	}
	return "test"
}

func printTable(t *testing.T, title string, cols []string, scores []score) {
	t.Logf("%s", title)
	head := fmt.Sprintf("%-15s %5s", "type", "n")
	for _, c := range cols {
		head += fmt.Sprintf(" | %-22s", c+" P/R/any")
	}
	t.Logf("%s", head)
	for _, e := range append(slices.Clone(Entities), Number) {
		if scores[0][string(e)] == nil && e == Number {
			continue
		}
		line := fmt.Sprintf("%-15s %5d", e, scores[0].get(string(e)).gold)
		for _, s := range scores {
			x := s.get(string(e))
			line += fmt.Sprintf(" | %5.3f %5.3f %5.3f     ", ratio(x.tp, x.pred), ratio(x.hit, x.gold), ratio(x.hitAny, x.gold))
		}
		t.Logf("%s", line)
	}
	line := fmt.Sprintf("%-15s %5s", "all", "")
	for _, s := range scores {
		p, r := s.total()
		line += fmt.Sprintf(" | %5.3f %5.3f           ", p, r)
	}
	t.Logf("%s", line)
}

// TestEvalRedact scores the written and spoken (simulated recogniser)
// forms, Earshot against the regular-expression baseline.
func TestEvalRedact(t *testing.T) {
	split := evalSplit()
	verbose := os.Getenv("EARSHOT_EVAL_REDACT_VERBOSE") != "" && strings.HasPrefix(split, "dev")
	r, err := New(DefaultPolicy(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ew, es, bw, bs := score{}, score{}, score{}, score{}
	nearFP := map[string][2]int{} // near-miss utterances with any redaction: earshot, baseline (written)
	n := 0
	for _, u := range loadEvalSet(t) {
		if u.Split != split {
			continue
		}
		n++
		pw := earshot(r, u.Written)
		mw, fw := ew.add(u.Written, u.WrittenSpans, pw)
		ps := earshot(r, u.Spoken)
		ms, fs := es.add(u.Spoken, u.SpokenSpans, ps)
		pb := baseline(u.Written)
		bw.add(u.Written, u.WrittenSpans, pb)
		bs.add(u.Spoken, u.SpokenSpans, baseline(u.Spoken))
		if strings.HasPrefix(u.Kind, "near_miss") || u.Kind == "dialogue" {
			c := nearFP[u.Kind]
			if len(pw) > 0 {
				c[0]++
			}
			if len(pb) > 0 {
				c[1]++
			}
			nearFP[u.Kind] = c
		}
		if verbose && len(mw)+len(fw)+len(ms)+len(fs) > 0 {
			t.Logf("%s %s\n  written miss=%v fp=%v: %s\n    -> %s\n  spoken miss=%v fp=%v: %s\n    -> %s", u.ID, u.Kind,
				mw, fw, u.Written, r.Redact(SourceOther, u.Written, nil).Text, ms, fs, u.Spoken, r.Redact(SourceOther, u.Spoken, nil).Text)
		}
	}
	printTable(t, fmt.Sprintf("%s half, %d utterances (P precision, R recall with the right type, any: covered by any type)", split, n),
		[]string{"earshot written", "earshot spoken", "regex written", "regex spoken"}, []score{ew, es, bw, bs})
	kinds := make([]string, 0, len(nearFP))
	for k := range nearFP {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		t.Logf("utterances with nothing sensitive redacted anyway, %-20s earshot %3d  regex %3d", k, nearFP[k][0], nearFP[k][1])
	}
	if split != "test" {
		return
	}
	if c := ew.get(string(Card)); ratio(c.hit, c.gold) < 0.99 {
		t.Errorf("card recall written %.3f, target 0.99", ratio(c.hit, c.gold))
	}
	if p, _ := ew.total(); p < 0.95 {
		t.Errorf("precision written %.3f, target 0.95", p)
	}
	if p, _ := es.total(); p < 0.95 {
		t.Errorf("precision spoken %.3f, target 0.95", p)
	}
}

// alignWords maps each reference word to the hypothesis word aligned
// with it (match or substitution), or -1 (deleted), by edit distance.
func alignWords(ref, hyp []string) []int {
	n, m := len(ref), len(hyp)
	d := make([][]int, n+1)
	for i := range d {
		d[i] = make([]int, m+1)
		d[i][0] = i
	}
	for j := 0; j <= m; j++ {
		d[0][j] = j
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			sub := d[i-1][j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			d[i][j] = min(sub, d[i-1][j]+1, d[i][j-1]+1)
		}
	}
	out := make([]int, n)
	i, j := n, m
	for i > 0 || j > 0 {
		switch {
		case i > 0 && j > 0 && d[i][j] == d[i-1][j-1]+btoi(ref[i-1] != hyp[j-1]):
			out[i-1] = j - 1
			i, j = i-1, j-1
		case i > 0 && d[i][j] == d[i-1][j]+1:
			out[i-1] = -1
			i--
		default:
			j--
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// wordSpans returns the byte range of each whitespace word of s.
func wordSpans(s string) [][2]int {
	var out [][2]int
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, [2]int{start, i})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// recognised is one utterance through the recogniser.
type recognised struct {
	hyp   string
	preds []predSpan
	// partials: partial hypotheses seen, and those whose redacted text
	// still showed four or more digits in a row.
	partials, partialLeaks int
	audioMs                int64
	redacted               string // the released finals' redacted text
}

var flite = "flite" // Debian flite

// synth writes text spoken by a Flite voice to a 16 kHz WAV file.
func synth(dir, voice, text string, i int) (*wav.File, error) {
	p := filepath.Join(dir, fmt.Sprintf("u%d.wav", i))
	if out, err := exec.Command(flite, "-voice", voice, "-t", text, "-o", p).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("flite (Debian flite, in DEBS_TEST): %v: %s", err, out)
	}
	defer os.Remove(p)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	f, err := wav.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("flite output: %w", err)
	}
	return f, nil
}

// telephone passes 16 kHz audio through a telephone channel: 8 kHz G.711
// mu-law, returned as 8 kHz linear samples.
func telephone(pcm []int16) ([]int16, error) {
	down, err := audio.NewResampler(16000, 8000)
	if err != nil {
		return nil, err
	}
	n := down.Flush(down.Process(nil, pcm))
	for i, u := range codec.EncodeMulaw(nil, n) {
		n[i] = codec.MulawToLinear(u)
	}
	return n, nil
}

// digitsOf returns the digits a text reads out, in order (numerals and
// number words, "for" and "to" as the digits they may stand for).
func digitsOf(text string) []byte {
	toks := tokenize(text, 0, nil)
	var out []byte
	for i := 0; i < len(toks); {
		d, n, _ := numberAt(toks, i, nil)
		if n == 0 {
			i++
			continue
		}
		out, i = append(out, d...), i+n
	}
	return out
}

// editDistance is the number of digits inserted, deleted or substituted
// between ref and hyp.
func editDistance(ref, hyp []byte) int {
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := range ref {
		cur[0] = i + 1
		for j := range hyp {
			sub := prev[j]
			if ref[i] != hyp[j] {
				sub++
			}
			cur[j+1] = min(sub, prev[j+1]+1, cur[j]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)]
}

// decode runs pcm (at rate Hz) through the pipeline and returns its
// segments (partials and finals, in order).
func decode(ctx context.Context, p *pipeline.Pipeline, id string, pcm []int16, rate int) ([]pipeline.Segment, error) {
	e, err := p.Open(ctx, pipeline.OpenOptions{ID: id, Source: "upload", Blocking: true, Offline: true})
	if err != nil {
		return nil, err
	}
	defer e.Abort()
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "customer", Format: codec.Format{Codec: codec.S16LE, SampleRate: rate, Channels: 1}})
	if err != nil {
		return nil, err
	}
	go func() {
		defer e.Close()
		// a second of silence after the speech ends the last utterance
		pcm := append(slices.Clip(pcm), make([]int16, rate)...)
		for off := 0; off < len(pcm); off += rate / 10 {
			if pt.WritePCM(pcm[off:min(off+rate/10, len(pcm))]) != nil {
				return
			}
		}
	}()
	var segs []pipeline.Segment
	for s := range e.Segments() {
		segs = append(segs, s)
	}
	return segs, nil
}

// decodeCached is decode with the segments kept in dir (when not empty)
// under a name made of everything that decides them, so that a rerun with
// changed detectors replays the recogniser's output instead of decoding
// the audio again (PocketSphinx is deterministic for the same audio and
// settings). The cache holds synthetic speech's transcripts only and
// lives outside the repository. With tel the audio goes through a
// telephone channel first.
func decodeCached(ctx context.Context, p *pipeline.Pipeline, dir, key string, u evalUtt, voice string, tmp string, i int, tel bool) ([]pipeline.Segment, int64, error) {
	type entry struct {
		AudioMs  int64              `json:"audio_ms"`
		Segments []pipeline.Segment `json:"segments"`
	}
	var path string
	if dir != "" {
		h := sha256.Sum256([]byte(key + "\x00" + voice + "\x00" + u.Say))
		path = filepath.Join(dir, fmt.Sprintf("%s-%s-%x.json", u.ID, voice, h[:8]))
		if b, err := os.ReadFile(path); err == nil {
			var c entry
			if json.Unmarshal(b, &c) == nil {
				return c.Segments, c.AudioMs, nil
			}
		}
	}
	// EARSHOT_EVAL_REDACT_CACHE_ONLY=1 replays a cache and fails on a
	// miss instead of decoding: text-level changes are scored on the
	// decodes they were made from, at no recogniser cost.
	if os.Getenv("EARSHOT_EVAL_REDACT_CACHE_ONLY") == "1" {
		return nil, 0, fmt.Errorf("%s (%s) not in the cache %s", u.ID, voice, dir)
	}
	f, err := synth(tmp, voice, u.Say, i)
	if err != nil {
		return nil, 0, err
	}
	pcm, rate := f.Samples(), f.SampleRate
	if tel {
		if pcm, err = telephone(pcm); err != nil {
			return nil, 0, err
		}
		rate = 8000
	}
	segs, err := decode(ctx, p, u.ID, pcm, rate)
	if err != nil {
		return nil, 0, err
	}
	if path != "" {
		b, err := json.Marshal(entry{AudioMs: f.DurationMs(), Segments: segs})
		if err == nil {
			err = os.WriteFile(path, b, 0o600)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return segs, f.DurationMs(), nil
}

// askCard is the agent's question EARSHOT_EVAL_REDACT_ASKED puts before
// every utterance.
const askCard = "can i take the long number on the front of the card please"

// redactSegments redacts a recogniser's segments with an Engagement as
// the live path does, partials included. asked puts the agent's question
// for the card number (as text, the agent's own channel) before them.
func redactSegments(r *Redactor, segs []pipeline.Segment, audioMs int64, asked bool) (recognised, error) {
	e, err := r.NewEngagement(SourceUpload, StreamConfig{})
	if err != nil {
		return recognised{}, err
	}
	const party = "customer"
	if asked {
		e.Final("agent", Segment{ID: 1 << 62, Text: askCard, Complete: true}, time.Now())
	}
	st := struct {
		Partial func(string, []Word) Result
		Final   func(Segment, time.Time) []Release
		Flush   func() []Release
	}{
		Partial: func(text string, words []Word) Result { return e.Partial(party, text, words) },
		Final:   func(seg Segment, now time.Time) []Release { return e.Final(party, seg, now) },
		Flush: func() []Release {
			var out []Release
			for _, rel := range e.Flush() {
				if rel.Party == party {
					out = append(out, rel)
				}
			}
			return out
		},
	}
	out := recognised{audioMs: audioMs}
	released := map[uint64]Result{}
	var ids []uint64
	take := func(rs []Release) {
		for _, rel := range rs {
			if rel.Party != party {
				continue
			}
			if _, ok := released[rel.ID]; !ok {
				ids = append(ids, rel.ID)
			}
			released[rel.ID] = rel.Result
		}
	}
	for _, s := range segs {
		words := make([]Word, len(s.Words))
		for i, w := range s.Words {
			words[i] = Word{Text: w.Text, StartMs: w.StartMs, EndMs: w.EndMs, Confidence: float32(w.Confidence)}
		}
		if !s.Final {
			res := st.Partial(s.Text, words)
			out.partials++
			d := docPool.Get().(*doc)
			d.reset()
			d.toks = tokenize(res.Text, 0, d.toks)
			d.analyse()
			for _, rn := range d.runs {
				if len(rn.digits) >= 4 {
					out.partialLeaks++
					break
				}
			}
			docPool.Put(d)
			continue
		}
		take(st.Final(Segment{ID: s.Seq, Text: s.Text, Words: words}, time.Now()))
	}
	take(st.Flush())
	slices.Sort(ids)
	var b, red strings.Builder
	for _, id := range ids {
		res := released[id]
		if strings.TrimSpace(res.Original) == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
			red.WriteByte(' ')
		}
		red.WriteString(res.Text)
		base := b.Len()
		b.WriteString(res.Original)
		for _, sp := range res.Spans {
			out.preds = append(out.preds, predSpan{typ: string(sp.Type), start: base + sp.Start, end: base + sp.End})
		}
	}
	out.hyp, out.redacted = b.String(), red.String()
	return out, nil
}

// mapSpans carries the gold spans of ref onto hyp through the word
// alignment: a span covers the hypothesis words from the first to the
// last aligned with its words. Spans whose words were all deleted are
// returned in lost.
func mapSpans(ref, hyp string, gold []evalSpan) (mapped []evalSpan, lost int) {
	rw, hw := wordSpans(ref), wordSpans(hyp)
	rt, ht := make([]string, len(rw)), make([]string, len(hw))
	for i, w := range rw {
		rt[i] = ref[w[0]:w[1]]
	}
	for i, w := range hw {
		ht[i] = hyp[w[0]:w[1]]
	}
	al := alignWords(rt, ht)
	for _, g := range gold {
		lo, hi := -1, -1
		for i, w := range rw {
			if w[0] >= g.Start && w[1] <= g.End && al[i] >= 0 {
				if lo < 0 {
					lo = al[i]
				}
				hi = al[i]
			}
		}
		if lo < 0 {
			lost++
			continue
		}
		mapped = append(mapped, evalSpan{Type: g.Type, Start: hw[lo][0], End: hw[hi][1]})
	}
	return mapped, lost
}

// TestEvalRedactRecognised synthesises the spoken form of each utterance
// with Flite (four voices in turn), recognises it with the PocketSphinx
// pipeline on its default settings, redacts the segments with an
// Engagement as the live path does, and scores the result against the labels carried
// over by word alignment. Regular expressions over the same recognised
// text are the baseline. EARSHOT_EVAL_REDACT_MAX limits the utterances.
func TestEvalRedactRecognised(t *testing.T) {
	if _, err := exec.LookPath(flite); err != nil {
		t.Fatalf("flite not installed (Debian flite, in DEBS_TEST): %v", err)
	}
	split := evalSplit()
	verbose := os.Getenv("EARSHOT_EVAL_REDACT_VERBOSE") != "" && strings.HasPrefix(split, "dev")
	limit := 1 << 30
	if v := os.Getenv("EARSHOT_EVAL_REDACT_MAX"); v != "" {
		fmt.Sscanf(v, "%d", &limit)
	}
	// The accurate search by default: on read-out digits the fast preset
	// (the live default, for capacity) loses most numbers before any
	// redaction sees them; EARSHOT_EVAL_SEARCH=fast measures it.
	psCfg := pocketsphinx.DefaultConfig()
	psCfg.Search = pocketsphinx.SearchAccurate
	if v := os.Getenv("EARSHOT_EVAL_SEARCH"); v != "" {
		psCfg.Search = v
	}
	// EARSHOT_EVAL_NUMBER_SPANS=1 decodes number runs again with the
	// digits grammar (redecode_number_spans, off by default: on the dev
	// half it raised card recall from 0.812 to 0.906, on the test half it
	// gave 0.656 against 0.688 without).
	psCfg.NumberSpans = os.Getenv("EARSHOT_EVAL_NUMBER_SPANS") == "1"
	// EARSHOT_EVAL_CARD_CONTEXT=1|0 decodes the audio after a card phrase
	// again with the digits grammar (card_context_digits) or not.
	if v := os.Getenv("EARSHOT_EVAL_CARD_CONTEXT"); v != "" {
		psCfg.CardContextDigits = v == "1"
	}
	// EARSHOT_EVAL_CARD_RUNS=1|0 decodes long runs of number words again
	// (card_number_runs) or not; EARSHOT_EVAL_CARD_RUN_WORDS sets the
	// shortest run.
	if v := os.Getenv("EARSHOT_EVAL_CARD_RUNS"); v != "" {
		psCfg.CardNumberRuns = v == "1"
	}
	if v := os.Getenv("EARSHOT_EVAL_CARD_RUN_WORDS"); v != "" {
		fmt.Sscanf(v, "%d", &psCfg.CardNumberRunWords)
	}
	// EARSHOT_EVAL_CARD_ALTS=N looks at N of a card reading's best
	// readings for a card number when the best is none
	// (card_reading_alternatives; 0 turns it off).
	if v := os.Getenv("EARSHOT_EVAL_CARD_ALTS"); v != "" {
		fmt.Sscanf(v, "%d", &psCfg.CardReadingAlternatives)
	}
	// EARSHOT_EVAL_PRIOR=w[/mode] sets the spoken-forms prior's weight
	// (spoken_forms_weight; 0 off) and mode (spoken_forms_mode); the
	// defaults are the product's (pocketsphinx.DefaultSpokenFormsWeight,
	// DefaultSpokenFormsMode).
	if v := os.Getenv("EARSHOT_EVAL_PRIOR"); v != "" {
		w, mode, _ := strings.Cut(v, "/")
		if _, err := fmt.Sscanf(w, "%g", &psCfg.SpokenFormsWeight); err != nil {
			t.Fatalf("EARSHOT_EVAL_PRIOR=%q: the weight: %v", v, err)
		}
		// "w/region@share": the region mode with its whole-reading
		// share (spoken_forms_whole_share).
		if m, share, ok := strings.Cut(mode, "@"); ok {
			if _, err := fmt.Sscanf(share, "%g", &psCfg.SpokenFormsWholeShare); err != nil {
				t.Fatalf("EARSHOT_EVAL_PRIOR=%q: the whole-reading share: %v", v, err)
			}
			mode = m
		}
		if mode != "" {
			psCfg.SpokenFormsMode = mode
		}
	}
	// EARSHOT_EVAL_REDACT_RATE=8k passes the speech through a telephone
	// channel (8 kHz mu-law: the recogniser's narrowband profile).
	tel := os.Getenv("EARSHOT_EVAL_REDACT_RATE") == "8k"
	t.Logf("recogniser: %s search, number spans decoded again: %v, card context read as digits: %v, card number runs: %v (%d words), alternatives read: %d, spoken-forms prior %g (%s, whole at %g), telephone channel: %v",
		psCfg.Search, psCfg.NumberSpans, psCfg.CardContextDigits, psCfg.CardNumberRuns, psCfg.CardNumberRunWords, psCfg.CardReadingAlternatives, psCfg.SpokenFormsWeight, psCfg.SpokenFormsMode, psCfg.SpokenFormsWholeShare, tel)
	eng, err := pocketsphinx.New(psCfg, nil)
	if err != nil {
		t.Fatalf("pocketsphinx (Debian pocketsphinx-en-us): %v", err)
	}
	defer eng.Close()
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, nil, eng)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(DefaultPolicy(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A stratified sample keeps the run to minutes on two cores (the
	// accurate search runs at about one times real time): every card
	// utterance of the half (the card target), and the first perKind of
	// every other kind. EARSHOT_EVAL_REDACT_PER_KIND=0 takes them all.
	perKind := 8
	if v := os.Getenv("EARSHOT_EVAL_REDACT_PER_KIND"); v != "" {
		fmt.Sscanf(v, "%d", &perKind)
	}
	// EARSHOT_EVAL_REDACT_KINDS (comma-separated kind prefixes, e.g.
	// "card,near_miss") takes those kinds in full as well.
	var full []string
	if v := os.Getenv("EARSHOT_EVAL_REDACT_KINDS"); v != "" {
		full = strings.Split(v, ",")
	}
	inFull := func(kind string) bool {
		return kind == string(Card) || slices.ContainsFunc(full, func(p string) bool { return p != "" && (kind == p || strings.HasPrefix(kind, p+"_")) })
	}
	// EARSHOT_EVAL_REDACT_IDS (comma-separated utterance ids) takes those
	// utterances only: a recogniser change looked at on the utterances it
	// is meant for, before a whole split is decoded again.
	var ids []string
	if v := os.Getenv("EARSHOT_EVAL_REDACT_IDS"); v != "" {
		ids = strings.Split(v, ",")
	}
	var us []evalUtt
	var voiceOf []int // each utterance's place in the run without EARSHOT_EVAL_REDACT_IDS
	taken, skipped := map[string]int{}, 0
	for _, u := range loadEvalSet(t) {
		if u.Split != split || len(us) >= limit || perKind > 0 && !inFull(u.Kind) && taken[u.Kind] >= perKind {
			continue
		}
		taken[u.Kind]++
		if ids != nil && !slices.Contains(ids, u.ID) {
			skipped++ // the others keep the voice of the whole run
			continue
		}
		us = append(us, u)
		voiceOf = append(voiceOf, len(us)-1+skipped)
	}
	voices := []string{"kal16", "rms", "awb", "slt"}
	dir := t.TempDir()
	// EARSHOT_EVAL_REDACT_CACHE keeps the recogniser's segments between
	// runs (e.g. ~/.cache/earshot/eval/redact-recognised).
	cache := os.Getenv("EARSHOT_EVAL_REDACT_CACHE")
	if cache != "" {
		if err := os.MkdirAll(cache, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cacheKey := fmt.Sprintf("%s/%v", psCfg.Search, psCfg.NumberSpans)
	if psCfg.CardContextDigits {
		cacheKey += "/cardctx"
	}
	if psCfg.CardNumberRuns {
		cacheKey += fmt.Sprintf("/cardruns=%d", psCfg.CardNumberRunWords)
	}
	if psCfg.SpokenFormsWeight > 0 {
		cacheKey += fmt.Sprintf("/prior=%g", psCfg.SpokenFormsWeight)
		// The plain key stays the "reread" mode's, as the caches made
		// since that mode was added have it (older ones hold "always"
		// readings under it: give a run a cache directory of its own).
		if psCfg.SpokenFormsMode != pocketsphinx.SpokenFormsReread {
			cacheKey += "/" + psCfg.SpokenFormsMode
		}
		// Region decodes made before the whole-reading share (it was 1
		// in effect) keep their key.
		if psCfg.SpokenFormsMode == pocketsphinx.SpokenFormsRegion && psCfg.SpokenFormsWholeShare != 1 {
			cacheKey += fmt.Sprintf("/whole=%g", psCfg.SpokenFormsWholeShare)
		}
	}
	if psCfg.CardReadingAlternatives > 0 {
		cacheKey += fmt.Sprintf("/alts=%d", psCfg.CardReadingAlternatives)
	}
	if tel {
		cacheKey += fmt.Sprintf("/8k/fold=%g", psCfg.NarrowbandFoldGain)
	}
	// EARSHOT_EVAL_REDACT_ASKED=1: every utterance answers the agent's
	// question for the card number (a scenario, not the reported figure:
	// the set's utterances carry their own context or none).
	asked := os.Getenv("EARSHOT_EVAL_REDACT_ASKED") == "1"
	if asked {
		t.Logf("every utterance follows the agent's %q", askCard)
	}
	results := make([]recognised, len(us))
	errs := make([]error, len(us))
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				segs, audioMs, err := decodeCached(context.Background(), p, cache, cacheKey, us[i], voices[voiceOf[i]%len(voices)], dir, i, tel)
				if err == nil {
					results[i], err = redactSegments(r, segs, audioMs, asked)
				}
				errs[i] = err
			}
		}()
	}
	// EARSHOT_EVAL_REDACT_ORDER=reverse decodes the sample from its end
	// (two runs sharing their decodes through the cache meet halfway).
	reverse := os.Getenv("EARSHOT_EVAL_REDACT_ORDER") == "reverse"
	for i := range us {
		if reverse {
			i = len(us) - 1 - i
		}
		work <- i
	}
	close(work)
	wg.Wait()
	wall := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", us[i].ID, err)
		}
	}
	ers, brs := score{}, score{}
	lost := map[string]int{}
	var audio int64
	var partials, leaks, numberUtts, nearFP, nearN int
	var cardDigits, cardDigitErrs int
	for i, u := range us {
		res := results[i]
		audio += res.audioMs
		gold, nl := mapSpans(u.Say, res.hyp, u.SaySpans)
		lost["all"] += nl
		miss, fps := ers.add(res.hyp, gold, res.preds)
		brs.add(res.hyp, gold, baseline(res.hyp))
		if u.Kind == string(Card) {
			ref := digitsOf(u.Say)
			cardDigits += len(ref)
			cardDigitErrs += editDistance(ref, digitsOf(res.hyp))
		}
		if len(u.SaySpans) > 0 {
			numberUtts++
			partials += res.partials
			leaks += res.partialLeaks
		}
		if strings.HasPrefix(u.Kind, "near_miss") || u.Kind == "dialogue" {
			nearN++
			if len(res.preds) > 0 {
				nearFP++
			}
		}
		if verbose && len(miss)+len(fps) > 0 {
			t.Logf("%s %s miss=%v fp=%v\n  say: %s\n  hyp: %s\n  out: %s", u.ID, u.Kind, miss, fps, u.Say, res.hyp, res.redacted)
		}
	}
	printTable(t, fmt.Sprintf("%s half through Flite + PocketSphinx (%s search): %d utterances, %.0f s of audio, %s wall (2 workers)",
		split, psCfg.Search, len(us), float64(audio)/1000, wall.Round(time.Second)),
		[]string{"earshot recognised", "regex recognised"}, []score{ers, brs})
	if dec, rep := eng.CardReadings(pocketsphinx.CardReadingPhrase); dec > 0 {
		t.Logf("audio after a card phrase decoded again: %d; readings put in place: %d (this run's decodes only, not cached ones)", dec, rep)
	}
	if dec, rep := eng.CardReadings(pocketsphinx.CardReadingRun); dec > 0 {
		t.Logf("runs of number words decoded again: %d; readings put in place: %d (this run's decodes only)", dec, rep)
	}
	if n := eng.CardReadingAlternatives(); n > 0 {
		t.Logf("card readings put in place that were a next-best reading: %d (this run's decodes only)", n)
	}
	t.Logf("labelled values whose every word the recogniser dropped (not scored): %d", lost["all"])
	t.Logf("near-miss and plain utterances with something redacted: %d of %d", nearFP, nearN)
	t.Logf("digit errors in card utterances (all their digits): %d of %d (%.1f %%)", cardDigitErrs, cardDigits, 100*ratio(cardDigitErrs, cardDigits))
	t.Logf("partial hypotheses of utterances with a sensitive value: %d; still showing four digits in a row after redaction: %d", partials, leaks)
	if split != "test" {
		return
	}
	if c := ers.get(string(Card)); ratio(c.hit, c.gold) < 0.95 {
		t.Errorf("card recall through the recogniser %.3f, target 0.95", ratio(c.hit, c.gold))
	}
}
