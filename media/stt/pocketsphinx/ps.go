package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/ngram_model.h>

// es_init parses argv against ps_args() (cmd_ln_init is variadic and cannot
// be called from Go) and initialises a decoder.
static ps_decoder_t *es_init(int argc, char **argv) {
	cmd_ln_t *cfg = cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
	if (cfg == NULL) return NULL;
	ps_decoder_t *ps = ps_init(cfg);
	cmd_ln_free_r(cfg);
	return ps;
}

static int es_cmn_veclen(ps_decoder_t *ps) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL) return 0;
	return f->cmn_struct->veclen;
}

static void es_cmn_get(ps_decoder_t *ps, float *out) {
	feat_t *f = ps_get_feat(ps);
	int i;
	for (i = 0; i < f->cmn_struct->veclen; i++) out[i] = f->cmn_struct->cmn_mean[i];
}

// es_cmn_set sets the live CMN mean to in, weighted as prior_frames
// frames of audio (cmn_live_set weighs it as CMN_WIN = 500).
static void es_cmn_set(ps_decoder_t *ps, float *in, int prior_frames) {
	feat_t *f = ps_get_feat(ps);
	cmn_t *c = f->cmn_struct;
	mfcc_t v[64];
	int i, n = c->veclen;
	if (n > 64) n = 64;
	for (i = 0; i < n; i++) v[i] = in[i];
	cmn_live_set(c, v);
	if (prior_frames > 0) {
		for (i = 0; i < n; i++) c->sum[i] = v[i] * prior_frames;
		c->nframe = prior_frames;
	}
}

// es_cmn_nframe is the weight, in frames, of the live CMN's running sum.
static int es_cmn_nframe(ps_decoder_t *ps) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL) return 0;
	return f->cmn_struct->nframe;
}

// es_cmn_update makes the live CMN mean the running mean now instead of
// at the end of the utterance.
static void es_cmn_update(ps_decoder_t *ps) {
	feat_t *f = ps_get_feat(ps);
	if (f != NULL && f->cmn_struct != NULL && f->cmn_struct->nframe > 0) cmn_live_update(f->cmn_struct);
}

#include <malloc.h>
// es_trim returns freed heap memory (closed decoders) to the system.
static void es_trim(void) { malloc_trim(0); }

#include <time.h>
static double es_thread_cpu(void) {
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double es_prob(ps_decoder_t *ps, int32 p) {
	return logmath_exp(ps_get_logmath(ps), p);
}

// es_add_interp adds search name: the general language model (NULL: the
// default search's) linearly interpolated with the model in path (weight
// w) and with prior (weight pw of the whole; NULL: none). The set's
// vocabulary is the union; words the dictionary lacks are never
// hypothesised.
static int es_add_interp(ps_decoder_t *ps, ngram_model_t *general, const char *name, const char *path, float w,
		ngram_model_t *prior, float pw) {
	if (general == NULL) general = ps_get_lm(ps, "_default");
	if (general == NULL) return -1;
	ngram_model_t *domain = ngram_model_read(ps_get_config(ps), path, NGRAM_AUTO, ps_get_logmath(ps));
	if (domain == NULL) return -2;
	ngram_model_retain(general);
	ngram_model_t *models[3] = {general, domain, prior};
	char *names[3] = {"general", "domain", "prior"};
	float32 weights[3] = {1.0f - w, w, 0};
	int n = 2;
	if (prior != NULL) {
		ngram_model_retain(prior);
		weights[0] *= 1.0f - pw;
		weights[1] *= 1.0f - pw;
		weights[2] = pw;
		n = 3;
	}
	ngram_model_t *set = ngram_model_set_init(ps_get_config(ps), models, names, weights, n);
	if (set == NULL) {
		for (int i = 0; i < n; i++) ngram_model_free(models[i]);
		return -3;
	}
	int rv = ps_set_lm(ps, name, set);
	ngram_model_free(set); // the search holds its own reference
	return rv;
}

// es_prior_lm makes search name's language model the default search's
// (the general model) linearly interpolated with the model in path
// (weight pw). The general model is shared (a reference), not loaded
// again. With replace, name is the default search and it stays the
// active one: a second language-model search would hold a second
// lexicon tree of the whole dictionary. *general and *prior are the two
// models, with a reference each for the caller (domain models are
// interpolated with them).
static int es_prior_lm(ps_decoder_t *ps, const char *name, int replace, const char *path, float pw,
		ngram_model_t **general, ngram_model_t **prior) {
	ngram_model_t *g = ps_get_lm(ps, "_default");
	if (g == NULL) return -1;
	ngram_model_t *p = ngram_model_read(ps_get_config(ps), path, NGRAM_AUTO, ps_get_logmath(ps));
	if (p == NULL) return -2;
	ngram_model_retain(g); // the set's
	ngram_model_t *models[2] = {g, p};
	char *names[2] = {"general", "prior"};
	float32 weights[2] = {1.0f - pw, pw};
	ngram_model_t *set = ngram_model_set_init(ps_get_config(ps), models, names, weights, 2);
	if (set == NULL) {
		ngram_model_free(g);
		ngram_model_free(p);
		return -3;
	}
	ngram_model_retain(g); // the caller's
	ngram_model_retain(p);
	if (ps_set_lm(ps, name, set) < 0 || (replace && ps_set_search(ps, name) < 0)) {
		ngram_model_free(set);
		ngram_model_free(g);
		ngram_model_free(p);
		return -4;
	}
	ngram_model_free(set); // the search holds its own reference
	*general = g;
	*prior = p;
	return 0;
}

// es_prior_on reports whether the default search's model is not the
// general model alone.
static int es_prior_on(ps_decoder_t *ps, ngram_model_t *general) {
	return general != NULL && ps_get_lm(ps, "_default") != general;
}

// es_set_jsgf adds a JSGF grammar as search name with word insertion
// penalty wip and silence probability silprob (0: the decoder's -wip,
// -silprob). The grammar search reads both from the decoder's
// configuration when it is made, so the values are set for that moment
// and put back, leaving the language-model searches made later as they
// were.
static int es_set_jsgf(ps_decoder_t *ps, const char *name, const char *jsgf, double wip, double silprob) {
	cmd_ln_t *cfg = ps_get_config(ps);
	double oldWIP = cmd_ln_float_r(cfg, "-wip");
	double oldSil = cmd_ln_float_r(cfg, "-silprob");
	if (wip > 0) cmd_ln_set_float_r(cfg, "-wip", wip);
	if (silprob > 0) cmd_ln_set_float_r(cfg, "-silprob", silprob);
	int rv = ps_set_jsgf_string(ps, name, jsgf);
	cmd_ln_set_float_r(cfg, "-wip", oldWIP);
	cmd_ln_set_float_r(cfg, "-silprob", oldSil);
	return rv;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

// decoder is one PocketSphinx decoder bound to a goroutine locked to its OS
// thread; every call into the C library runs on that thread.
type decoder struct {
	ps      *C.ps_decoder_t
	reqs    chan func()
	done    chan struct{}
	profile profile
	warp    int     // 0: no warp (1.0); i: Config.WarpSelection[i-1]
	cpu     float64 // CPU seconds spent on the decoder thread (decoder thread only)
	inUtt   bool    // ps_start_utt called and not yet ended
	speech  bool    // the decoder's VAD reported speech in this utterance
	// searches are the named searches added to this decoder besides the
	// default one (grammars, domain language models by version).
	searches map[string]bool
	search   string // the active search ("" = default)
	// general and prior are the general model and the spoken-forms
	// prior when the default search interpolates them (nil: the general
	// model alone), referenced for domain models' interpolations.
	general, prior *C.ngram_model_t
}

func newDecoder(args []string, p profile) (*decoder, error) {
	d := &decoder{reqs: make(chan func()), done: make(chan struct{}), profile: p}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(d.done)
		argv := make([]*C.char, len(args))
		for i, a := range args {
			argv[i] = C.CString(a)
		}
		ps := C.es_init(C.int(len(argv)), (**C.char)(unsafe.Pointer(&argv[0])))
		for _, a := range argv {
			C.free(unsafe.Pointer(a))
		}
		if ps == nil {
			errc <- errors.New("pocketsphinx: decoder initialisation failed (check model paths and arguments)")
			return
		}
		d.ps = ps
		errc <- nil
		for f := range d.reqs {
			f()
		}
		if d.general != nil {
			C.ngram_model_free(d.general)
			C.ngram_model_free(d.prior)
		}
		C.ps_free(ps)
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return d, nil
}

// do runs f on the decoder's thread and waits. The thread CPU time f
// uses is added to d.cpu.
func (d *decoder) do(f func()) {
	ch := make(chan struct{})
	d.reqs <- func() {
		t0 := float64(C.es_thread_cpu())
		f()
		d.cpu += float64(C.es_thread_cpu()) - t0
		close(ch)
	}
	<-ch
}

func (d *decoder) close() {
	close(d.reqs)
	<-d.done
}

// trimHeap gives the memory of freed decoders back to the system (glibc
// keeps it in the process otherwise).
func trimHeap() { C.es_trim() }

// The methods below run on the decoder thread (inside do).

// startStream starts a new stream on the decoder: PocketSphinx counts the
// frames of word segments from the start of the stream (across
// utterances), so every stream taken from the pool starts one, and word
// frames are then on the stream's clock.
func (d *decoder) startStream() error {
	if d.inUtt {
		if err := d.endUtt(); err != nil {
			return err
		}
	}
	if C.ps_start_stream(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_stream failed")
	}
	return nil
}

func (d *decoder) startUtt() error {
	if C.ps_start_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_utt failed")
	}
	d.inUtt, d.speech = true, false
	return nil
}

func (d *decoder) endUtt() error {
	d.inUtt = false
	if C.ps_end_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_end_utt failed")
	}
	return nil
}

func (d *decoder) processRaw(pcm []int16) error {
	if len(pcm) == 0 {
		return nil
	}
	if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), 0, 0) < 0 {
		return errors.New("pocketsphinx: ps_process_raw failed")
	}
	return nil
}

func (d *decoder) inSpeech() bool { return C.ps_get_in_speech(d.ps) != 0 }

func (d *decoder) hyp() string {
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return C.GoString(h)
}

type rawWord struct {
	word       string
	sf, ef     int
	confidence float64
}

func (d *decoder) words() []rawWord {
	var out []rawWord
	for it := C.ps_seg_iter(d.ps); it != nil; it = C.ps_seg_next(it) {
		w := C.GoString(C.ps_seg_word(it))
		var sf, ef C.int
		C.ps_seg_frames(it, &sf, &ef)
		var ascr, lscr, lback C.int32
		p := C.ps_seg_prob(it, &ascr, &lscr, &lback)
		out = append(out, rawWord{word: w, sf: int(sf), ef: int(ef), confidence: float64(C.es_prob(d.ps, p))})
	}
	return out
}

// pathScore returns the score of the last utterance's best path
// (acoustic and language model, in the decoder's log base; higher is
// better), false when it has none.
func (d *decoder) pathScore() (int64, bool) {
	var score C.int32
	if C.ps_get_hyp(d.ps, &score) == nil {
		return 0, false
	}
	return int64(score), true
}

// hypothesis is one reading of the last utterance from its lattice.
type hypothesis struct {
	score int // path score, in the decoder's log base (higher is better)
	words []rawWord
}

// nbest returns up to n distinct readings of the last utterance (by
// their words, fillers and silences aside), best first, from an A*
// search of its lattice; at most 4n paths are looked at, since many
// differ only in where silences fall.
func (d *decoder) nbest(n int) []hypothesis {
	var out []hypothesis
	seen := map[string]bool{}
	it := C.ps_nbest(d.ps)
	for paths := 0; it != nil && len(out) < n && paths < 4*n; paths++ {
		var score C.int32
		h := C.ps_nbest_hyp(it, &score)
		if h != nil {
			key := C.GoString(h)
			if !seen[key] {
				seen[key] = true
				hy := hypothesis{score: int(score)}
				for sg := C.ps_nbest_seg(it); sg != nil; sg = C.ps_seg_next(sg) {
					var sf, ef C.int
					C.ps_seg_frames(sg, &sf, &ef)
					hy.words = append(hy.words, rawWord{word: C.GoString(C.ps_seg_word(sg)), sf: int(sf), ef: int(ef), confidence: 1})
				}
				out = append(out, hy)
			}
		}
		it = C.ps_nbest_next(it)
	}
	if it != nil {
		C.ps_nbest_free(it)
	}
	return out
}

func (d *decoder) cmn() []float32 {
	n := int(C.es_cmn_veclen(d.ps))
	if n == 0 {
		return nil
	}
	v := make([]float32, n)
	C.es_cmn_get(d.ps, (*C.float)(unsafe.Pointer(&v[0])))
	return v
}

// cmnFrames is the weight, in frames, of the live cepstral mean's running
// sum (with cmn, the state setCMN puts back).
func (d *decoder) cmnFrames() int { return int(C.es_cmn_nframe(d.ps)) }

// setCMN sets the live cepstral mean, weighted as priorFrames frames of
// audio in the running mean (0: PocketSphinx's own weight, 500 frames).
func (d *decoder) setCMN(v []float32, priorFrames int) {
	if len(v) == 0 || int(C.es_cmn_veclen(d.ps)) != len(v) {
		return
	}
	C.es_cmn_set(d.ps, (*C.float)(unsafe.Pointer(&v[0])), C.int(priorFrames))
}

// defaultSearch is PocketSphinx's name of the search it was initialised
// with (PS_DEFAULT_SEARCH).
const defaultSearch = "_default"

// addGrammar adds a JSGF grammar as search name (once per decoder), with
// word insertion penalty wip (0: the decoder's).
func (d *decoder) addGrammar(name, jsgf string, wip float64) error {
	return d.addGrammarSil(name, jsgf, wip, 0)
}

// addGrammarSil is addGrammar with the silence probability silprob of
// the grammar search (0: the decoder's -silprob).
func (d *decoder) addGrammarSil(name, jsgf string, wip, silprob float64) error {
	if d.searches[name] {
		return nil
	}
	cn, cg := C.CString(name), C.CString(jsgf)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cg))
	if C.es_set_jsgf(d.ps, cn, cg, C.double(wip), C.double(silprob)) < 0 {
		return fmt.Errorf("pocketsphinx: grammar %s rejected", name)
	}
	if d.searches == nil {
		d.searches = map[string]bool{}
	}
	d.searches[name] = true
	return nil
}

// configFloat reads a floating-point argument of the decoder's
// configuration ("-wip").
func (d *decoder) configFloat(name string) float64 {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	return float64(C.cmd_ln_float_r(C.ps_get_config(d.ps), cn))
}

// addInterpolated adds search name: the general model interpolated with
// the language model file at path (weight w), and, withPrior, with the
// spoken-forms prior when the decoder has one (setPrior, addPrior).
func (d *decoder) addInterpolated(name, path string, w, pw float64, withPrior bool) error {
	if d.searches[name] {
		return nil
	}
	cn, cp := C.CString(name), C.CString(path)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cp))
	prior := d.prior
	if !withPrior {
		prior = nil
	}
	if rv := C.es_add_interp(d.ps, d.general, cn, cp, C.float(w), prior, C.float(pw)); rv < 0 {
		return fmt.Errorf("pocketsphinx: language model %s (%s): not loaded (%d)", name, path, int(rv))
	}
	if d.searches == nil {
		d.searches = map[string]bool{}
	}
	d.searches[name] = true
	return nil
}

// setPrior makes the default search's model the general model
// interpolated with the spoken-forms prior at path (weight pw).
func (d *decoder) setPrior(path string, pw float64) error {
	cd, cp := C.CString(defaultSearch), C.CString(path)
	defer C.free(unsafe.Pointer(cd))
	defer C.free(unsafe.Pointer(cp))
	if rv := C.es_prior_lm(d.ps, cd, 1, cp, C.float(pw), &d.general, &d.prior); rv < 0 {
		return fmt.Errorf("pocketsphinx: spoken-forms prior (%s): not loaded (%d)", path, int(rv))
	}
	d.search = ""
	return nil
}

// addPrior adds search name: the general model interpolated with the
// spoken-forms prior at path (weight pw), for utterances read again
// (Config.SpokenFormsMode reread); the default search stays the general
// model's.
func (d *decoder) addPrior(name, path string, pw float64) error {
	cn, cp := C.CString(name), C.CString(path)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cp))
	if rv := C.es_prior_lm(d.ps, cn, 0, cp, C.float(pw), &d.general, &d.prior); rv < 0 {
		return fmt.Errorf("pocketsphinx: spoken-forms prior (%s): not loaded (%d)", path, int(rv))
	}
	if d.searches == nil {
		d.searches = map[string]bool{}
	}
	d.searches[name] = true
	return nil
}

// priorOn reports whether the default search is interpolated with the
// spoken-forms prior.
func (d *decoder) priorOn() bool { return C.es_prior_on(d.ps, d.general) != 0 }

// removeSearch drops an added search (an old version of a model).
func (d *decoder) removeSearch(name string) {
	if !d.searches[name] || d.search == name {
		return
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	C.ps_unset_search(d.ps, cn)
	delete(d.searches, name)
}

// useSearch activates a search ("" = the default) outside an utterance.
func (d *decoder) useSearch(name string) error {
	if name == d.search {
		return nil
	}
	target := name
	if target == "" {
		target = defaultSearch
	}
	cn := C.CString(target)
	defer C.free(unsafe.Pointer(cn))
	if C.ps_set_search(d.ps, cn) < 0 {
		return fmt.Errorf("pocketsphinx: search %s not available", target)
	}
	d.search = name
	return nil
}

// updateCMN makes the running mean of the audio so far the live CMN.
func (d *decoder) updateCMN() { C.es_cmn_update(d.ps) }

func (d *decoder) lookup(word string) (string, bool) {
	cw := C.CString(word)
	defer C.free(unsafe.Pointer(cw))
	p := C.ps_lookup_word(d.ps, cw)
	if p == nil {
		return "", false
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p), true
}

func (d *decoder) addWord(word, phones string) error {
	cw, cp := C.CString(word), C.CString(phones)
	defer C.free(unsafe.Pointer(cw))
	defer C.free(unsafe.Pointer(cp))
	if C.ps_add_word(d.ps, cw, cp, 1) < 0 {
		return fmt.Errorf("pocketsphinx: add word %q: phones %q rejected", word, phones)
	}
	return nil
}

// cleanWord drops non-words and strips pronunciation variants: it returns
// "" for <s>, </s>, <sil>, fillers ([NOISE], ++...++) and a grammar's null
// transitions ((NULL)), and "read" for "read(2)".
func cleanWord(w string) string {
	if w == "" || strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || strings.HasPrefix(w, "++") || w == "(NULL)" {
		return ""
	}
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		w = w[:i]
	}
	return w
}
