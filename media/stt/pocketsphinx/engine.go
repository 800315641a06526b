package pocketsphinx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/earshot/earshot/media/stt"
)

// Debian's en-us model.
const (
	DefaultModelDir = "/usr/share/pocketsphinx/model/en-us/en-us"
	DefaultLM       = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
	DefaultDict     = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
)

// DefaultNarrowbandCMNInit is the cepstral mean of 8 kHz mu-law speech
// upsampled to 16 kHz by media/audio, measured by TestEvalMeasureCMN
// (media/analyze, eval build tag) on pocketsphinx-testdata recordings that
// the LibriVox WER eval does not score (goforward, numbers, something and
// the cards recordings) converted to 8 kHz mu-law by sox. The previous
// value was measured on the scored LibriVox audio itself. CMN is a
// property of the channel, so a site should re-measure on its own calls.
const DefaultNarrowbandCMNInit = "48.02,28.68,-43.77,39.64,-26.58,-1.95,16.21,-30.78,18.28,-12.21,-2.57,11.18,-13.09"

// DefaultWidebandCMNInit is the cepstral mean of 16 kHz speech measured by
// TestEvalMeasureCMN on the same held-out recordings (goforward, numbers,
// something and cards, never LibriVox). It replaces the model's own
// -cmninit (41.00,-5.29,...), whose first coefficient is far from what
// this pipeline produces, in a copy of the model directory.
const DefaultWidebandCMNInit = "58.54,-6.62,0.93,1.67,-7.50,2.19,-5.92,-0.98,-7.10,0.95,-1.82,0.33,1.27"

// DefaultWidebandCMNAdaptMs: 16 kHz streams update their cepstral mean
// every 100 ms from the start of the stream. The running mean takes every
// frame fed, so it assumes audio gated by a voice activity detector, as
// the pipeline feeds it; long silences fed in would pull the mean towards
// silence.
//
// How it was chosen (LibriVox 71 words and cards 21 words, 16 kHz,
// fast/accurate WER %, TestEvalWER):
//
//	model -cmninit                    40.8/32.4  cards 47.6/42.9
//	model -cmninit, adapt 100 ms      40.8/31.0  cards 47.6/42.9
//	held-out -cmninit                 35.2/35.2  cards 14.3/4.8
//	held-out -cmninit, adapt 100 ms   35.2/28.2  cards 19.0/4.8
//
// The -cmninit was measured on held-out audio; turning adaptation on was
// decided with these figures in view, LibriVox included, so the LibriVox
// rows are not a clean held-out measurement of that one choice.
const DefaultWidebandCMNAdaptMs = 100

// Search presets.
const (
	// SearchFast drops the flat-lexicon second pass and narrows the beams:
	// about a third of the CPU, for many more errors on held-out speech
	// (see DefaultSearch). For sites that need the stream count.
	SearchFast = "fast"
	// SearchAccurate is PocketSphinx's default search (the default).
	SearchAccurate = "accurate"
)

// DefaultSearch is the default preset, chosen on the development half of
// the held-out AN4 speech (media/analyze TestEvalHeldOutDev, first 8
// development speakers, 522 words, 16 kHz; WER %, thread CPU-s per audio
// second on a loaded machine):
//
//	fast (narrow beams, no flat-lexicon pass)          57.9  0.06
//	fast + -fwdflat yes                                 53.1  0.11
//	fast + -beam/-pbeam 1e-48, -maxhmmpf 5000           44.1  0.18
//	fast + PocketSphinx's beams and -maxhmmpf            42.5  0.22
//	fast + -maxhmmpf 3000 or 30000 alone                 57.3 / 57.1
//	fast with the model's -cmninit / no CMN adaptation   58.2 / 56.1
//	accurate (PocketSphinx's search)                    40.6  0.19
//	accurate with the model's -cmninit                  42.1
//	pocketsphinx_continuous, its defaults               44.3  0.35
//
// Tried later on the same 8 speakers, accurate with extra arguments:
// -lw 5.5 -fwdflatlw 7 -bestpathlw 8 40.6; -lw 5 -fwdflatlw 6
// -bestpathlw 7 39.5; -beam/-pbeam 1e-60 -wbeam 1e-40 38.9 (0.52); both
// 38.3 (0.61), but 43.0 against 42.8 on the next 8 development speakers
// (561 words), so none was adopted; -lw 8 47.9; -bestpath no 46.9; no
// live CMN adaptation 42.5.
//
// Then on development speakers 1-16 (1083 words): the pipeline 41.7, the
// same engine on each whole call without the pipeline's voice activity
// detector 42.7 (the pipeline better on 8 calls, worse on 3), psc 43.9,
// so the pipeline's cuts are not where words are lost. -remove_silence no
// was worse at once (fejs 34.9 -> 38.6, fjam 47.4 -> 57.9). A frequency
// warp (-warp_params, inverse linear) of 0.9 or 1.1 for every speaker
// gave 44.1 / 40.4; the warp chosen per speaker from {0.9, 1.0, 1.1} by
// the best lattice score on the speaker's first utterance (scored by
// pocketsphinx_continuous) 39.4, oracle 38.0. Built as
// Config.WarpSelection (a stream moves to another warp's decoder after
// its first utterance, chosen by its best path's score): on by default,
// 41.7 -> 39.7 on speakers 1-16 and 40.4 -> 39.4 on speakers 17-42
// (1900 words, not used before), at the same CPU (0.92 and 0.99 of it
// off; see DefaultWarpSelection).
//
// The fast preset's beams (chosen earlier on LibriVox and the cards
// recordings) were what lost the words: its -beam/-pbeam of 1e-40 prune
// the right hypothesis on this speech; the CMN settings matter little.
const DefaultSearch = SearchAccurate

// fastArgs are the SearchFast settings. The search (channels evaluated
// in the lexicon tree), not the acoustic model, is most of the decoder's
// CPU. maxhmmpf 1500 (was 3000) and lponlybeam 1e-25 (PocketSphinx:
// 7e-29) were chosen on the search counters PocketSphinx logs
// (deterministic, unlike CPU time on a shared machine) and on the cards
// recordings: on 8 kHz mu-law LibriVox speech they cut the channels
// searched by 28% and the senones scored by 11%, which made six real-time
// streams sustainable on two cores (TestEvalConcurrentStreams). Beams of
// 1e-35 cut the channels by a further 15% at no cost on the cards but cost
// two words in 71 on LibriVox at each rate and failed the A-law unit test;
// 1e-32 and tighter break the search (most words deleted); maxhmmpf 1000
// cost 7 to 9 WER points on LibriVox.
var fastArgs = []string{
	"-fwdflat", "no",
	"-bestpath", "yes",
	"-beam", "1e-40",
	"-wbeam", "1e-30",
	"-pbeam", "1e-40",
	"-lponlybeam", "1e-25",
	"-maxhmmpf", "1500",
	"-pl_window", "5",
}

// Config configures the engine.
type Config struct {
	ModelDir string `json:"model_dir"`
	LM       string `json:"lm"`
	Dict     string `json:"dict"`
	// WorkDir receives the narrowband model directory copy (default: a
	// directory under os.TempDir()).
	WorkDir string `json:"work_dir"`
	// NarrowbandCMNInit is the -cmninit of the narrowband profile.
	NarrowbandCMNInit string `json:"narrowband_cmninit"`
	// WidebandCMNInit, if set, replaces the model's -cmninit for 16 kHz
	// sources (through a model directory copy as well).
	WidebandCMNInit string `json:"wideband_cmninit"`
	// MaxDecoders bounds the pool (each decoder is about 90 MB, about
	// 145 MB with the spoken-forms prior's second search); it is the
	// number of parties that can be recognised at once.
	MaxDecoders int `json:"max_decoders"`
	// Warm decoders (wideband) are created by New, and the pool keeps
	// Warm free decoders of each kind a new stream takes (wideband, and
	// narrowband once a narrowband stream was opened) topped up in the
	// background within MaxDecoders, so that a call's setup does not
	// wait seconds for one to be made (warmpool.go). 0: none.
	Warm int `json:"warm"`
	// Search is SearchAccurate (default, DefaultSearch) or SearchFast.
	Search string `json:"search"`
	// Args are extra PocketSphinx arguments ("-name value" pairs), applied
	// last.
	Args []string `json:"args"`
	// Vocabulary adds the site's product names and terms to the
	// dictionary: word -> phones (CMU phone set, space separated). Empty
	// phones are derived by splitting the word into dictionary words
	// ("earshot" = "ear" + "shot").
	Vocabulary map[string]string `json:"vocabulary"`
	// PartialEveryMs is the audio between two partial hypotheses (default 250).
	PartialEveryMs int `json:"partial_every_ms"`
	// WidebandCMNAdaptMs and NarrowbandCMNAdaptMs: when positive, the live
	// cepstral mean is replaced by the running mean of the stream's audio
	// this often (with the initial value weighted as 2 s of audio) instead
	// of only at utterance ends, so the first utterance of a call is not
	// recognised with the initial mean alone. 0 keeps PocketSphinx's
	// behaviour. Defaults: 100 ms at 16 kHz (see DefaultWidebandCMNAdaptMs),
	// off at 8 kHz (on LibriVox it hurt there).
	WidebandCMNAdaptMs   int `json:"wideband_cmn_adapt_ms"`
	NarrowbandCMNAdaptMs int `json:"narrowband_cmn_adapt_ms"`
	// RedecodeFirst decodes each stream's first utterance a second time
	// with the cepstral mean of its own audio, so that the transcript of
	// a call's first words does not depend on where its audio began
	// (see the start-offset eval in media/analyze). It costs one more
	// decoding of the first utterance.
	RedecodeFirst bool `json:"redecode_first_utterance"`
	// GrammarWIP is the word insertion penalty of the listening modes'
	// grammars (digits, letters): below the language model's -wip it
	// keeps short words ("oh", "eight") from being inserted into noise
	// and breaths between digits. 0 uses the decoder's -wip.
	GrammarWIP float64 `json:"grammar_word_insertion_penalty"`
	// DigitMinWordMs drops the words of the digits mode shorter than this
	// from its finals: a breath or the release of a consonant that the
	// grammar search matched as a short "eight" or "oh". "oh" is kept
	// down to half of it. 0 keeps them (default DefaultDigitMinWordMs).
	DigitMinWordMs int `json:"digit_min_word_ms"`
	// NumberSpans decodes a free-speech final's runs of number words
	// ("five one four four six ...") a second time with a grammar of
	// spoken digits and digit pairs, from the utterance's own audio, and
	// puts the grammar's words in their place: read-out card and account
	// numbers come out as digits instead of the language model's guesses
	// ("three seven or nine"). It costs one more decoding of those runs.
	NumberSpans bool `json:"redecode_number_spans"`
	// NarrowbandFoldGain: in the digits mode of narrowband (8 kHz)
	// streams the top of the telephone band is mirrored into the empty
	// band above 4 kHz at this gain (fold.go), so that fricatives reach
	// the wideband model's filters. 0 turns it off (default
	// DefaultNarrowbandFoldGain).
	NarrowbandFoldGain float64 `json:"narrowband_fold_gain"`
	// NarrowbandFoldCMNAdaptMs is the live CMN adaptation of folded
	// utterances (as NarrowbandCMNAdaptMs, which it overrides while they
	// last; default DefaultNarrowbandFoldCMNAdaptMs): the folded audio
	// has a cepstral mean of its own.
	NarrowbandFoldCMNAdaptMs int `json:"narrowband_fold_cmn_adapt_ms"`
	// DigitSilenceFillDB: in the digits mode, runs of digital silence
	// (exact zeros, 2 ms or more) reaching the decoder are replaced by
	// white noise of this RMS level in dBFS (silence.go). 0 turns it off
	// (default DefaultDigitSilenceFillDB).
	DigitSilenceFillDB float64 `json:"digit_silence_fill_db"`
	// CardContextDigits decodes the audio after a card phrase in a
	// free-speech final ("my card number is") a second time
	// with the digits mode's grammar, and puts the reading in place of the
	// language model's words there when it is a card's length
	// (cardcontext.go). It costs one more decoding of that audio. On by
	// default: on the development half of the redaction set (200
	// utterances, 32 cards, Flite voices; inference/redact
	// TestEvalRedactRecognised) card recall through an 8 kHz mu-law
	// channel rose from 0.281 to 0.469 (card precision 0.909 -> 0.938,
	// all types 0.844 -> 0.865), and at 16 kHz card recall and precision
	// stayed 0.844 and 0.964 (the misses there have no card phrase).
	// Those figures were measured with a longer phrase list that also
	// held payment words ("charge", "put it on", "visa"); after those,
	// ordinary speech was read as digits (TestCardContextLeavesSpeech).
	CardContextDigits bool `json:"card_context_digits"`
	// CardContextPhrases are the card phrases (default
	// DefaultCardContextPhrases), matched as whole words.
	CardContextPhrases []string `json:"card_context_phrases"`
	// CardNumberRuns decodes a free-speech final's runs of at least
	// CardNumberRunWords number-like words ("five three one one oh
	// seven ...", with or without a card phrase before them) a second
	// time with the digits mode's grammar, and puts the reading in place
	// of the run when it is a Luhn-valid card number and the run was not
	// (cardruns.go). It costs one more decoding of those runs (up to
	// three when the reading is no card). On by default: on the
	// development half of the redaction set (200 utterances, 32 cards,
	// Flite voices, accurate search; inference/redact
	// TestEvalRedactRecognised) card recall at 16 kHz rose from 0.875 to
	// 0.938 (card precision 0.966 -> 0.968, all types 0.959 -> 0.970),
	// and no near-miss or plain utterance had anything redacted.
	CardNumberRuns bool `json:"card_number_runs"`
	// CardNumberRunWords is the shortest run CardNumberRuns reads
	// (default DefaultCardNumberRunWords).
	CardNumberRunWords int `json:"card_number_run_words"`
	// CardReadingAlternatives: when the digits reading of a card
	// phrase's audio or of a run (CardContextDigits, CardNumberRuns) is
	// no Luhn-valid card number, this many of the audio's best readings
	// (from the grammar search's lattice) are looked at, and the best of
	// them that is a Luhn-valid number of its network's length is taken
	// (cardruns.go; a run's only when its best reading is no well-formed
	// number). 0 turns it off, 0..50 (default
	// DefaultCardReadingAlternatives, off: on the development data it
	// made more numbers that were not cards into cards than it found).
	CardReadingAlternatives int `json:"card_reading_alternatives"`
	// DigitSilenceProb is the probability of silence between the words
	// of the digits grammar's search (PocketSphinx's -silprob, 0.005 by
	// default, for that search only): a pause between two digits then
	// costs the search little, so it is not filled with a digit or made
	// to swallow one. 0 uses the decoder's -silprob (default
	// DefaultDigitSilenceProb).
	DigitSilenceProb float64 `json:"digit_silence_probability"`
	// DigitCMNPriorFrames: at the start of each digits-mode utterance of
	// a wideband (16 kHz) stream the live cepstral mean so far is weighed
	// as this many 10 ms frames, so that it follows the caller's own
	// level within the first digits (default DefaultDigitCMNPriorFrames;
	// 0 leaves the stream's weight as it is). Narrowband streams' digits
	// keep NarrowbandFoldCMNAdaptMs' weight.
	DigitCMNPriorFrames int `json:"digit_cmn_prior_frames"`
	// WarpSelection are frequency warps (PocketSphinx's -warp_params,
	// inverse linear) tried on each wideband stream's first utterance
	// with a reading (of up to three; a listening mode's do not count)
	// besides 1.0: the utterance is decoded again with a decoder of each
	// warp (from the pool, returned at once), and the stream moves to
	// the warp whose best path scores highest (acoustic and language
	// model scores), its first
	// final coming from that decoding (warp.go). Empty turns it off
	// (default DefaultWarpSelection, 0.9 and 1.1). Narrowband streams
	// keep 1.0.
	WarpSelection []float64 `json:"warp_selection"`
	// SpokenFormsWeight is the weight of the spoken-forms prior (a
	// trigram model of digit strings, dates, amounts, spelled names and
	// confirmations built at start from media/stt/spokenforms) linearly
	// interpolated with the general model, and with a profile's domain
	// model where one is set, for free speech (SpokenFormsMode; default
	// DefaultSpokenFormsWeight; 0 off; below 1). Listening modes'
	// grammars are unchanged; the fast search does without it.
	SpokenFormsWeight float64 `json:"spoken_forms_weight"`
	// SpokenFormsMode is how the spoken-forms prior is used when
	// SpokenFormsWeight is above 0 (default DefaultSpokenFormsMode):
	// SpokenFormsReread decodes every utterance with the general model
	// (or the profile's domain model) and reads again, with the prior
	// interpolated, only the utterances whose final holds at least
	// SpokenFormsRereadWords number words or spelled letters, that
	// reading being the final (spokenreread.go); SpokenFormsRegion reads
	// them again likewise but keeps the second reading's words only
	// within the stretches of the audio where details were read out;
	// SpokenFormsAlways interpolates the prior into every free-speech
	// utterance's search.
	SpokenFormsMode string `json:"spoken_forms_mode"`
	// SpokenFormsRereadWords is the fewest number words ("four", "oh",
	// "double", "twenty"), single letters other than "a" and "i", and
	// "as in" a final must hold to be read again with the prior
	// (SpokenFormsReread; default DefaultSpokenFormsRereadWords; 1..20).
	SpokenFormsRereadWords int `json:"spoken_forms_reread_words"`
	// SpokenFormsWholeShare is, in SpokenFormsRegion mode, the share of
	// a final's words that must be details read out (number words,
	// single letters, "as in") for the second reading to be the final
	// whole rather than within the details' stretches (default
	// DefaultSpokenFormsWholeShare; above 0, at most 1; 1: only finals
	// that are all details).
	SpokenFormsWholeShare float64 `json:"spoken_forms_whole_share"`
}

// DefaultDigitCMNPriorFrames was chosen on the development halves of the
// held-out spoken digit strings (media/analyze TestEvalDigits with
// EARSHOT_EVAL_DEV=1 and EARSHOT_EVAL_DIGIT_CMN_PRIOR; AN4 speakers 1st,
// 3rd, ..., 91 strings; FSDD speakers george, lucas, theo, 40 strings).
// With the stream's own weight (200 frames, 2 s) a quiet caller's first
// digits were lost while the mean, which starts from a typical level,
// moved towards theirs: FSDD's theo (-44 dBFS) lost 30 digits at 16 kHz,
// most at the start of a string. Strings exact at 16 kHz, AN4 / FSDD
// (digit error): 200 (before) 86 (1.1 %) / 4 (39.1 %); 100: 86 (1.1 %) /
// 4 (34.0 %); 70: 86 (0.9 %) / 7 (32.7 %; theo's lost digits 30 -> 8);
// 50: 86 (0.9 %) / 7 (33.0 %); 40: 84 / 8; 30: 84 / 8; 20: 83 / 8. At
// 8 kHz mu-law the same weight lost AN4 strings (50 and 100: 74 -> 71,
// FSDD 11 -> 13), so narrowband streams are left as they were.
const DefaultDigitCMNPriorFrames = 70

// DefaultGrammarWIP is the grammars' word insertion penalty, chosen on
// the development half of the held-out spoken digit strings (AN4 speakers
// 1st, 3rd, ...; media/analyze TestEvalDigits with EARSHOT_EVAL_DEV=1):
// strings exact at 16 kHz / 8 kHz mu-law with 0.65 (the decoder's -wip)
// 74.7 / 44.0 %, 1e-4 79.1 / 35.2 %, 3e-3 86.8 / 56.0 %, 1e-2 87.9 /
// 54.9 %, 3e-2 82.4 / 53.8 %, 1e-1 79.1 / 51.6 %; 1e-7 cuts every word
// (a penalty past the word beam).
const DefaultGrammarWIP = 1e-2

// DefaultDigitMinWordMs is the shortest word the digits mode keeps,
// chosen on the development half of the held-out spoken digit strings
// (AN4 speakers 1st, 3rd, ...; 91 strings; media/analyze TestEvalDigits
// with EARSHOT_EVAL_DEV=1 EARSHOT_EVAL_DIGITS=an4 and
// EARSHOT_EVAL_DIGIT_MIN_MS): strings exact at 16 kHz with 0 (keep all)
// 87.9 %, 90 ms 89.0 %, 110 ms 90.1 %, 120 ms 91.2 %, 130 ms 90.1 %,
// 150 ms 81.3 % (real digits start to go); at 8 kHz mu-law 0 ms 56.0 %,
// 120 ms 60.4 %. The words dropped were inserted "eight"s and "oh"s of
// 30-110 ms; the real digits of these speakers last 140 ms and more.
//
// "oh" is kept down to half the minimum (60 ms): with the digits
// grammar's silence probability (DefaultDigitSilenceProb) the words the
// minimum still dropped on the development strings were inserted
// "eight"s and one real "oh" (AN4 16 kHz, 91 strings exact: 85 with one
// minimum for all words, 86 with half of it for "oh", the same with a
// third; 8 kHz mu-law 74 and 74; FSDD 8 kHz 11/40 either way, 16 kHz
// 4/40, digit error 40.2 -> 38.6 %). Flite's voices say "oh" after
// "eight" in 100-120 ms. The minimum itself was not chosen again: 60,
// 90, 100, 110 ms for every word gave 84, 84, 83, 84 at 16 kHz.
const DefaultDigitMinWordMs = 120

// DefaultNarrowbandFoldGain and DefaultNarrowbandFoldCMNAdaptMs were
// chosen on the development half of the held-out spoken digit strings
// (AN4 speakers 1st, 3rd, ...; 91 strings, 8 kHz mu-law; media/analyze
// TestEvalDigits with EARSHOT_EVAL_DEV=1 EARSHOT_EVAL_DIGITS=an4
// EARSHOT_EVAL_RATE=8k). Strings exact: no folding 60.4 % (55/91; 13
// "six" heard as "eight"), CMN adaptation 100 ms alone 65.9 %; folding
// without adaptation at gain 0.01 71.4 %, 0.03 59.3 %; with adaptation
// 100 ms at gain 0.01 72.5 %, 0.015 79.1 %, 0.02 80.2 % (73/91), 0.03
// 75.8 %, 0.05 75.8 %, 0.1 63.7 %; at 0.02 adaptation 50 ms 79.1 %,
// 200 ms 80.2 %. Both halves of the development speakers gained (34 of
// 46 and 39 of 45 strings, from 31 and 29). Folding the signal itself
// instead of its first difference: 75.8 % at 0.01 and 0.03.
//
// The same setting on free speech at 8 kHz mu-law (AN4 development
// speakers, accurate preset, TestEvalHeldOutDev with EARSHOT_EVAL_RATE=8k),
// WER %: speakers 1-8 (522 words) 72.8 without, 66.1 with (68.2 folded
// without the adaptation); speakers 9-16 (561 words) 77.5 without, 73.4
// with; adaptation alone 72.8 on speakers 1-8. It is not applied to the
// speech mode: on the reported speakers (9, 640 words) it gained less
// (60.2 -> 59.4) and on a LibriVox A-law recording with the fast preset
// (media/analyze TestStereoChannelMapping) it lost two words of 19.
const (
	DefaultNarrowbandFoldGain       = 0.02
	DefaultNarrowbandFoldCMNAdaptMs = 100
)

// DefaultDigitSilenceFillDB is the level of the background put under
// digital silence in the digits mode, chosen on the development half of
// the held-out spoken digit strings (media/analyze TestEvalDigits with
// EARSHOT_EVAL_DEV=1 and EARSHOT_EVAL_SILENCE_FILL_DB; FSDD strings of
// tightly trimmed digits joined by zeros, 40; AN4 read strings, 91).
// Strings exact (digit error) at 8 kHz mu-law, FSDD / AN4: off 4/40
// (37.0 %) / 73/91; -80 dBFS 7/40 (32.7 %) / 73; -70 8/40 (29.2 %) / 73;
// -60 8/40 (26.3 %) / 73; -50 4/40 / 72; -40 2/40 / 69; -70 is the
// middle of the levels that gained. White noise over the whole band
// instead of the telephone band's lost strings at 8 kHz (-70: FSDD 0/40,
// AN4 53/91). At 16 kHz (white): AN4 83/91 off, 84/91 at -60..-80; the
// upsampled FSDD strings stay at 0/40 (digit error 45.6 -> 45.3 %).
const DefaultDigitSilenceFillDB = -70

// DefaultDigitSilenceProb is the digits grammar's silence probability,
// chosen on the development half of the held-out spoken digit strings
// (media/analyze TestEvalDigits with EARSHOT_EVAL_DEV=1; AN4 read
// strings, 91; FSDD strings of trimmed digits joined by zeros, 40; the
// decoder's -silprob given for every search through EARSHOT_EVAL_PSARGS,
// the digits grammar alone being decoded). Strings exact, AN4 16 kHz:
// 0.005 (the decoder's default) 84, 1e-4 82, 0.1 84, 0.3 / 0.5 / 0.9 /
// 1.0 85 (an "eight" no longer inserted into a pause); AN4 8 kHz mu-law:
// 0.005 73, 0.3 73, 0.5 / 1.0 74; FSDD 8 kHz: 0.005 8/40 (digit error
// 29.2 %), 0.2 11 (23.6 %), 0.5 11 (22.5 %), 1.0 11 (22.0 %); FSDD
// 16 kHz: 0.005 0/40 (45.8 %), 0.5 3 (38.6 %), 1.0 4 (39.1 %). 0.5 is
// the middle of the plateau. Beams (1e-60 / 1e-80), -bestpath no,
// -topn 8 or 16, -pip 0.5 or 2 and -lw 3, 5, 8 or 10 gained nothing at
// 16 kHz.
const DefaultDigitSilenceProb = 0.5

// cmnAdaptPriorFrames is the weight, in 10 ms frames, of the initial
// cepstral mean in the running mean of an adapting stream.
const cmnAdaptPriorFrames = 200

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{ModelDir: DefaultModelDir, LM: DefaultLM, Dict: DefaultDict,
		NarrowbandCMNInit: DefaultNarrowbandCMNInit, WidebandCMNInit: DefaultWidebandCMNInit, WidebandCMNAdaptMs: DefaultWidebandCMNAdaptMs,
		MaxDecoders: 8, Warm: 1, Search: DefaultSearch, PartialEveryMs: 250, GrammarWIP: DefaultGrammarWIP,
		DigitMinWordMs: DefaultDigitMinWordMs, NarrowbandFoldGain: DefaultNarrowbandFoldGain,
		NarrowbandFoldCMNAdaptMs: DefaultNarrowbandFoldCMNAdaptMs, DigitSilenceFillDB: DefaultDigitSilenceFillDB,
		DigitSilenceProb: DefaultDigitSilenceProb, DigitCMNPriorFrames: DefaultDigitCMNPriorFrames, CardContextDigits: true,
		CardContextPhrases: DefaultCardContextPhrases(), CardNumberRuns: true, CardNumberRunWords: DefaultCardNumberRunWords,
		CardReadingAlternatives: DefaultCardReadingAlternatives, WarpSelection: DefaultWarpSelection(),
		SpokenFormsWeight: DefaultSpokenFormsWeight, SpokenFormsMode: DefaultSpokenFormsMode,
		SpokenFormsRereadWords: DefaultSpokenFormsRereadWords, SpokenFormsWholeShare: DefaultSpokenFormsWholeShare}
}

var cmnRe = regexp.MustCompile(`^-?[0-9.]+(,-?[0-9.]+){12}$`)

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.MaxDecoders <= 0:
		return fmt.Errorf("pocketsphinx: max_decoders must be positive, got %d", c.MaxDecoders)
	case c.Warm < 0 || c.Warm > c.MaxDecoders:
		return fmt.Errorf("pocketsphinx: warm must be in 0..max_decoders, got %d", c.Warm)
	case c.Search != SearchFast && c.Search != SearchAccurate:
		return fmt.Errorf("pocketsphinx: search must be %q or %q, got %q", SearchFast, SearchAccurate, c.Search)
	case c.WidebandCMNInit != "" && !cmnRe.MatchString(c.WidebandCMNInit):
		return fmt.Errorf("pocketsphinx: wideband_cmninit must be 13 comma-separated numbers, got %q", c.WidebandCMNInit)
	case !cmnRe.MatchString(c.NarrowbandCMNInit):
		return fmt.Errorf("pocketsphinx: narrowband_cmninit must be 13 comma-separated numbers, got %q", c.NarrowbandCMNInit)
	case len(c.Args)%2 != 0:
		return fmt.Errorf("pocketsphinx: args must be name/value pairs")
	case c.PartialEveryMs < 0:
		return fmt.Errorf("pocketsphinx: partial_every_ms must not be negative")
	case c.WidebandCMNAdaptMs < 0 || c.NarrowbandCMNAdaptMs < 0:
		return fmt.Errorf("pocketsphinx: cmn_adapt_ms must not be negative")
	case c.DigitCMNPriorFrames < 0 || c.DigitCMNPriorFrames > 1000:
		return fmt.Errorf("pocketsphinx: digit_cmn_prior_frames must be in 0..1000, got %d", c.DigitCMNPriorFrames)
	case c.DigitMinWordMs < 0 || c.DigitMinWordMs > 500:
		return fmt.Errorf("pocketsphinx: digit_min_word_ms must be in 0..500, got %d", c.DigitMinWordMs)
	case c.NarrowbandFoldGain < 0 || c.NarrowbandFoldGain > 1:
		return fmt.Errorf("pocketsphinx: narrowband_fold_gain must be in 0..1, got %v", c.NarrowbandFoldGain)
	case c.NarrowbandFoldCMNAdaptMs < 0:
		return fmt.Errorf("pocketsphinx: narrowband_fold_cmn_adapt_ms must not be negative, got %d", c.NarrowbandFoldCMNAdaptMs)
	case c.DigitSilenceFillDB != 0 && (c.DigitSilenceFillDB < -100 || c.DigitSilenceFillDB > -30):
		return fmt.Errorf("pocketsphinx: digit_silence_fill_db must be 0 (off) or in -100..-30, got %v", c.DigitSilenceFillDB)
	case c.DigitSilenceProb < 0 || c.DigitSilenceProb > 1:
		return fmt.Errorf("pocketsphinx: digit_silence_probability must be in 0..1, got %v", c.DigitSilenceProb)
	case c.SpokenFormsWeight < 0 || c.SpokenFormsWeight >= 1:
		return fmt.Errorf("pocketsphinx: spoken_forms_weight must be in 0..1 (0 off, 1 excluded), got %v", c.SpokenFormsWeight)
	case c.SpokenFormsMode != SpokenFormsReread && c.SpokenFormsMode != SpokenFormsAlways && c.SpokenFormsMode != SpokenFormsRegion:
		return fmt.Errorf("pocketsphinx: spoken_forms_mode must be %q, %q or %q, got %q", SpokenFormsReread, SpokenFormsRegion, SpokenFormsAlways, c.SpokenFormsMode)
	case c.SpokenFormsRereadWords < 1 || c.SpokenFormsRereadWords > 20:
		return fmt.Errorf("pocketsphinx: spoken_forms_reread_words must be in 1..20, got %d", c.SpokenFormsRereadWords)
	case !(c.SpokenFormsWholeShare > 0 && c.SpokenFormsWholeShare <= 1):
		return fmt.Errorf("pocketsphinx: spoken_forms_whole_share must be above 0 and at most 1, got %v", c.SpokenFormsWholeShare)
	case c.GrammarWIP < 0 || c.GrammarWIP > 1:
		return fmt.Errorf("pocketsphinx: grammar_word_insertion_penalty must be in 0..1, got %v", c.GrammarWIP)
	}
	if err := validateWarps(c.WarpSelection); err != nil {
		return err
	}
	if c.CardNumberRuns && (c.CardNumberRunWords < 6 || c.CardNumberRunWords > 19) {
		return fmt.Errorf("pocketsphinx: card_number_run_words must be in 6..19 when card_number_runs is on, got %d", c.CardNumberRunWords)
	}
	if c.CardReadingAlternatives < 0 || c.CardReadingAlternatives > 50 {
		return fmt.Errorf("pocketsphinx: card_reading_alternatives must be in 0..50, got %d", c.CardReadingAlternatives)
	}
	if c.CardContextDigits && len(c.CardContextPhrases) == 0 {
		return fmt.Errorf("pocketsphinx: card_context_phrases must not be empty when card_context_digits is on")
	}
	for i, p := range c.CardContextPhrases {
		if len(strings.Fields(p)) == 0 {
			return fmt.Errorf("pocketsphinx: card_context_phrases[%d] is empty", i)
		}
	}
	for _, p := range []struct{ name, path string }{{"model_dir", c.ModelDir}, {"lm", c.LM}, {"dict", c.Dict}} {
		if _, err := os.Stat(p.path); err != nil {
			return fmt.Errorf("pocketsphinx: %s: %w", p.name, err)
		}
	}
	return nil
}

type profile int

const (
	wideband profile = iota
	narrowband
)

func (p profile) String() string {
	if p == narrowband {
		return "narrowband"
	}
	return "wideband"
}

// Engine is the PocketSphinx engine with its decoder pool.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	args [][]string // by slot (profile and warp)
	cmn  [2][]float32
	// warpChosen counts the wideband streams by the warp they were
	// decoded with after their first utterance (0: 1.0, i: WarpSelection[i-1]).
	warpChosen []atomic.Int64
	tmpDir     string
	mu         sync.Mutex
	cond       *sync.Cond   // on mu: a decoder freed or made, or the engine closed
	free       [][]*decoder // by slot; +checklocks:mu
	// total counts the decoders made or being made, the ones in use
	// included. +checklocks:mu
	total  int
	closed bool // +checklocks:mu
	// warm keeps the free decoders a new call takes topped up in the
	// background (warmpool.go).
	warm warmPool
	// domain are the domain language models by profile. +checklocks:mu
	domain map[string]DomainLM
	known  func(string) bool // the dictionary's words
	// prior is the spoken-forms prior's model file ("": off), written at
	// start and removed at Close.
	prior string
	// cardPhrases are Config.CardContextPhrases split into words.
	cardPhrases [][]string
	observe     observed
}

// DomainLM is a profile's language model (a queue's), interpolated with
// the general model.
type DomainLM struct {
	// Path is the model file (ARPA text or PocketSphinx binary).
	Path string
	// Version names this build; a stream opened after a new version was
	// set uses it.
	Version string
	// Weight of the domain model in the linear interpolation (0..1).
	Weight float64
}

// SetDomainLM makes lm the language model of streams opened with
// StreamOptions.Profile profile, from the next stream on (decoders load it
// on first use). A zero DomainLM removes the profile's model.
func (e *Engine) SetDomainLM(profile string, lm DomainLM) error {
	if lm.Path != "" {
		if lm.Weight <= 0 || lm.Weight >= 1 {
			return fmt.Errorf("pocketsphinx: domain language model weight must be in (0, 1), got %v", lm.Weight)
		}
		if _, err := os.Stat(lm.Path); err != nil {
			return fmt.Errorf("pocketsphinx: domain language model: %w", err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.domain == nil {
		e.domain = map[string]DomainLM{}
	}
	if lm.Path == "" {
		delete(e.domain, profile)
	} else {
		e.domain[profile] = lm
	}
	return nil
}

func domainSearch(profile, version string) string { return "lm:" + profile + ":" + version }

var _ stt.Engine = (*Engine)(nil)

// New creates the engine, writes the narrowband model directory copy and
// warms cfg.Warm decoders. A nil logger discards.
func New(cfg Config, logger *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Engine{cfg: cfg, log: logger.With("component", "pocketsphinx"), known: Known(cfg)}
	e.cond = sync.NewCond(&e.mu)
	e.warm.e = e
	for _, p := range cfg.CardContextPhrases {
		e.cardPhrases = append(e.cardPhrases, strings.Fields(strings.ToLower(p)))
	}
	work := cfg.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "earshot-pocketsphinx-")
		if err != nil {
			return nil, fmt.Errorf("pocketsphinx: work dir: %w", err)
		}
		work, e.tmpDir = d, d
	}
	nbDir := filepath.Join(work, "en-us-narrowband")
	if err := CopyModelDir(cfg.ModelDir, nbDir, cfg.NarrowbandCMNInit); err != nil {
		e.Close()
		return nil, err
	}
	wbDir := cfg.ModelDir
	if cfg.WidebandCMNInit != "" {
		wbDir = filepath.Join(work, "en-us-wideband")
		if err := CopyModelDir(cfg.ModelDir, wbDir, cfg.WidebandCMNInit); err != nil {
			e.Close()
			return nil, err
		}
	}
	wideCMN, err := readCMNInit(filepath.Join(wbDir, "feat.params"))
	if err != nil {
		e.Close()
		return nil, err
	}
	e.cmn[wideband] = wideCMN
	e.cmn[narrowband] = parseCMN(cfg.NarrowbandCMNInit)
	e.args = make([][]string, 2+len(cfg.WarpSelection))
	e.free = make([][]*decoder, len(e.args))
	e.warpChosen = make([]atomic.Int64, 1+len(cfg.WarpSelection))
	for p, dir := range map[profile]string{wideband: wbDir, narrowband: nbDir} {
		a := []string{"-hmm", dir, "-lm", cfg.LM, "-dict", cfg.Dict, "-logfn", os.DevNull}
		if cfg.Search == SearchFast {
			a = mergeArgs(a, fastArgs)
		}
		e.args[p] = mergeArgs(a, cfg.Args)
	}
	for i, w := range cfg.WarpSelection {
		e.args[slot(wideband, i+1)] = mergeArgs(e.args[wideband], []string{"-warp_params", strconv.FormatFloat(w, 'f', -1, 64)})
	}
	// The fast search keeps the general model alone: with the prior its
	// narrow beams lost free speech ("he might even have been made
	// amiable himself" heard as "he buy d been up in mei
	// videoconferencing") and cut a date of birth short.
	if cfg.SpokenFormsWeight > 0 && cfg.Search != SearchFast {
		if e.prior, err = writeSpokenForms(filepath.Join(work, "spoken-forms.lm"), e.known); err != nil {
			e.Close()
			return nil, err
		}
	}
	var warm []*decoder
	for range cfg.Warm {
		d, err := e.create(wideband, 0)
		if err != nil {
			e.Close()
			return nil, err
		}
		warm = append(warm, d)
	}
	e.mu.Lock()
	e.free[wideband] = append(e.free[wideband], warm...)
	e.mu.Unlock()
	return e, nil
}

// Name implements stt.Engine.
func (e *Engine) Name() string { return "pocketsphinx" }

// MaxStreams returns the pool bound.
func (e *Engine) MaxStreams() int { return e.cfg.MaxDecoders }

// create makes a decoder for profile p with warp (0: 1.0, i:
// WarpSelection[i-1]) and counts it; callers then hand it out or put it
// on the free list.
func (e *Engine) create(p profile, warp int) (*decoder, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errors.New("pocketsphinx: engine closed")
	}
	e.total++
	e.mu.Unlock()
	d, err := e.newPoolDecoder(p, warp)
	if err != nil {
		e.mu.Lock()
		e.total--
		e.mu.Unlock()
		return nil, err
	}
	return d, nil
}

// newPoolDecoder makes a decoder for profile p with warp, its vocabulary
// and the spoken-forms prior added; the caller has counted it in total.
func (e *Engine) newPoolDecoder(p profile, warp int) (*decoder, error) {
	d, err := newDecoder(e.args[slot(p, warp)], p)
	if err != nil {
		return nil, err
	}
	d.warp = warp
	err = e.addVocabulary(d)
	if err == nil && e.prior != "" {
		if e.cfg.SpokenFormsMode == SpokenFormsAlways {
			d.do(func() { err = d.setPrior(e.prior, e.cfg.SpokenFormsWeight) })
		} else {
			d.do(func() { err = d.addPrior(spokenFormsSearch, e.prior, e.cfg.SpokenFormsWeight) })
		}
	}
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// NewStream implements stt.Engine. It returns stt.ErrBusy when all
// MaxDecoders decoders are in use.
func (e *Engine) NewStream(ctx context.Context, opts stt.StreamOptions) (stt.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := wideband
	if opts.Narrowband {
		p = narrowband
	}
	d, err := e.acquireFor(p, 0, 0, true)
	if err != nil {
		return nil, err
	}
	adaptMs := e.cfg.WidebandCMNAdaptMs
	if p == narrowband {
		adaptMs = e.cfg.NarrowbandCMNAdaptMs
	}
	e.mu.Lock()
	lm := e.domain[opts.Profile]
	e.mu.Unlock()
	var base string
	d.do(func() { base, err = e.prepare(d, opts.Profile, lm, adaptMs) })
	if err != nil {
		e.put(d)
		return nil, err
	}
	cmnEvery := int64(adaptMs) * stt.Rate / 1000
	return &stream{e: e, d: d, cpu0: d.cpu, partialEvery: int64(e.cfg.PartialEveryMs) * stt.Rate / 1000,
		cmnEvery: cmnEvery, baseCMNEvery: cmnEvery, base: base, redo: e.cfg.RedecodeFirst, spans: e.cfg.NumberSpans,
		cardCtx: e.cfg.CardContextDigits || e.cfg.CardNumberRuns, lmProfile: opts.Profile, lm: lm,
		reread:      e.prior != "" && e.cfg.SpokenFormsMode != SpokenFormsAlways,
		region:      e.prior != "" && e.cfg.SpokenFormsMode == SpokenFormsRegion,
		warpPending: p == wideband && len(e.cfg.WarpSelection) > 0, tr: newWarpTracer(ctx)}, nil
}

// acquire takes a free decoder of profile p and warp, or makes one while
// the pool has room, or else closes a free decoder of another kind to
// make room; stt.ErrBusy when every decoder is in use, or when taking
// one would leave fewer than spare decoders for others (a warp trial
// keeps room for a call arriving meanwhile). A decoder of the kind
// being made in the background (warmpool.go) is waited for rather than
// made a second time, and so is one of another kind when the pool is
// full and it is all that could make room. The slot of a decoder to be
// made is counted in total before the lock is let go, so that two
// callers never both take the last one.
func (e *Engine) acquire(p profile, warp, spare int) (*decoder, error) {
	return e.acquireFor(p, warp, spare, false)
}

// acquireFor is acquire; call marks a new stream's (NewStream), whose
// profile is then kept warm and whose waits are counted.
func (e *Engine) acquireFor(p profile, warp, spare int, call bool) (*decoder, error) {
	k := slot(p, warp)
	waited := false
	var evict *decoder
	e.mu.Lock()
	for {
		if e.closed {
			e.mu.Unlock()
			return nil, errors.New("pocketsphinx: engine closed")
		}
		if spare > 0 {
			// A decoder being made in the background is for the next
			// call: it is room kept, not a decoder in use.
			inUse := e.total - e.warm.makingLocked()
			for _, f := range e.free {
				inUse -= len(f)
			}
			if inUse+1+spare > e.cfg.MaxDecoders {
				e.mu.Unlock()
				return nil, fmt.Errorf("%w: %d of %d pocketsphinx decoders in use", stt.ErrBusy, inUse, e.cfg.MaxDecoders)
			}
		}
		if n := len(e.free[k]); n > 0 {
			d := e.free[k][n-1]
			e.free[k] = e.free[k][:n-1]
			if call {
				e.warm.takenLocked(p)
			}
			e.mu.Unlock()
			if call && waited {
				e.warm.waits.Add(1)
			}
			return d, nil
		}
		if e.warm.claimLocked(k) {
			waited = true
			e.cond.Wait()
			e.warm.unclaimLocked(k)
			continue
		}
		if e.total < e.cfg.MaxDecoders {
			break
		}
		for o := range e.free {
			if n := len(e.free[o]); o != k && n > 0 {
				evict = e.free[o][n-1]
				e.free[o] = e.free[o][:n-1]
				e.total--
				break
			}
		}
		if evict != nil {
			break
		}
		if e.warm.makingLocked() == 0 {
			e.mu.Unlock()
			return nil, fmt.Errorf("%w: %d pocketsphinx decoders in use", stt.ErrBusy, e.cfg.MaxDecoders)
		}
		waited = true
		e.cond.Wait()
	}
	e.total++
	if call {
		e.warm.seenLocked(p)
	}
	e.mu.Unlock()
	if call {
		e.warm.waits.Add(1)
	}
	if evict != nil {
		evict.close()
	}
	d, err := e.newPoolDecoder(p, warp)
	e.mu.Lock()
	if err != nil {
		e.total--
		e.cond.Broadcast()
	}
	if call {
		// Only now: a decoder made in the background meanwhile would
		// have taken a core from this caller's.
		e.warm.startLocked()
	}
	e.mu.Unlock()
	return d, err
}

// prepare readies a decoder taken from the pool for a stream of the
// language-model profile lmProfile (decoder thread): the domain model
// lm, if any, as its search, a new PocketSphinx stream (word frames
// from 0) and the profile's initial cepstral mean. It returns the
// stream's free-speech search.
func (e *Engine) prepare(d *decoder, lmProfile string, lm DomainLM, adaptMs int) (string, error) {
	prior := 0 // PocketSphinx's weight, 500 frames
	if adaptMs > 0 {
		prior = cmnAdaptPriorFrames
	}
	base := ""
	if lm.Path != "" {
		base = domainSearch(lmProfile, lm.Version)
		always := e.cfg.SpokenFormsMode == SpokenFormsAlways
		if err := d.addInterpolated(base, lm.Path, lm.Weight, e.cfg.SpokenFormsWeight, always); err != nil {
			e.log.Warn("domain language model not loaded; using the general model", "profile", lmProfile,
				"version", lm.Version, "err", err)
			base = ""
		} else if d.prior != nil && !always {
			// Utterances read again take the three-way interpolation:
			// general, domain and the prior.
			if err := d.addInterpolated(rereadSearch(base), lm.Path, lm.Weight, e.cfg.SpokenFormsWeight, true); err != nil {
				e.log.Warn("domain language model with the spoken-forms prior not loaded; utterances read again use the general model with it",
					"profile", lmProfile, "version", lm.Version, "err", err)
			}
		}
	}
	if err := d.useSearch(base); err != nil {
		return "", err
	}
	// Older versions of this profile's model are of no more use.
	for name := range d.searches {
		if name != base && name != rereadSearch(base) && strings.HasPrefix(name, "lm:"+lmProfile+":") {
			d.removeSearch(name)
		}
	}
	if err := d.startStream(); err != nil {
		return "", err
	}
	d.setCMN(e.cmn[d.profile], prior)
	return base, nil
}

func (e *Engine) put(d *decoder) {
	e.mu.Lock()
	if e.closed {
		e.total--
		e.mu.Unlock()
		d.close()
		return
	}
	k := slot(d.profile, d.warp)
	e.free[k] = append(e.free[k], d)
	// A caller waiting for a full pool to make room can take it or
	// close it; a free decoder beyond the warm ones can make room for
	// a warm one.
	e.cond.Broadcast()
	e.warm.startLocked()
	e.mu.Unlock()
}

// Close frees idle decoders; decoders in use are freed when their streams
// close.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	var ds []*decoder
	for p := range e.free {
		ds = append(ds, e.free[p]...)
		e.free[p] = nil
	}
	e.total -= len(ds)
	e.cond.Broadcast() // callers waiting for a decoder give up
	e.mu.Unlock()
	for _, d := range ds {
		d.close()
	}
	// A decoder being made in the background is closed when it is
	// ready (it cannot be stopped half made); its files are in tmpDir.
	made := e.warm.wait()
	if len(ds) > 0 || made {
		trimHeap()
	}
	if e.tmpDir != "" {
		os.RemoveAll(e.tmpDir)
	} else if e.prior != "" {
		os.Remove(e.prior)
	}
	return nil
}

// addVocabulary adds cfg.Vocabulary to a new decoder's dictionary.
func (e *Engine) addVocabulary(d *decoder) error {
	words := make([]string, 0, len(e.cfg.Vocabulary))
	for w := range e.cfg.Vocabulary {
		words = append(words, w)
	}
	sort.Strings(words)
	var err error
	d.do(func() {
		for _, w := range words {
			phones := strings.TrimSpace(e.cfg.Vocabulary[w])
			lw := strings.ToLower(strings.TrimSpace(w))
			if phones == "" {
				if _, ok := d.lookup(lw); ok {
					continue // already known
				}
				var ok bool
				if phones, ok = derivePhones(d, lw); !ok {
					err = fmt.Errorf("pocketsphinx: vocabulary %q: not in the dictionary and not a compound of dictionary words; give its phones", w)
					return
				}
			}
			if err = d.addWord(lw, phones); err != nil {
				return
			}
		}
	})
	return err
}

// derivePhones splits w into dictionary words (fewest pieces, each at
// least two letters) and concatenates their pronunciations.
func derivePhones(d *decoder, w string) (string, bool) {
	n := len(w)
	best := make([]int, n+1) // pieces to cover w[:i]
	prev := make([]int, n+1)
	pron := make([]string, n+1)
	for i := 1; i <= n; i++ {
		best[i] = -1
	}
	for i := 2; i <= n; i++ {
		for j := 0; j+2 <= i; j++ {
			if best[j] < 0 || (best[i] >= 0 && best[j]+1 >= best[i]) {
				continue
			}
			if p, ok := d.lookup(w[j:i]); ok {
				best[i], prev[i], pron[i] = best[j]+1, j, p
			}
		}
	}
	if best[n] < 0 {
		return "", false
	}
	var parts []string
	for i := n; i > 0; i = prev[i] {
		parts = append([]string{pron[i]}, parts...)
	}
	return strings.Join(parts, " "), true
}

// CopyModelDir makes dst a copy of the acoustic model directory src (large
// files symlinked) whose feat.params carries -cmninit cmninit. PocketSphinx
// reads feat.params after the command line and lets it win, so this is the
// only way to change -cmninit.
func CopyModelDir(src, dst, cmninit string) error {
	if !cmnRe.MatchString(cmninit) {
		return fmt.Errorf("pocketsphinx: cmninit %q is not 13 comma-separated numbers", cmninit)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("pocketsphinx: model dir: %w", err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil { // #nosec G301 -- a copy of the public acoustic model, read by the decoder; nothing private in it
		return fmt.Errorf("pocketsphinx: model copy: %w", err)
	}
	for _, ent := range ents {
		s, t := filepath.Join(src, ent.Name()), filepath.Join(dst, ent.Name())
		os.Remove(t)
		if ent.Name() == "feat.params" {
			b, err := os.ReadFile(s)
			if err != nil {
				return fmt.Errorf("pocketsphinx: model copy: %w", err)
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "-cmninit") {
					lines = append(lines, l)
				}
			}
			lines = append(lines, "-cmninit "+cmninit)
			if err := os.WriteFile(t, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil { // #nosec G306 G703 -- the feature parameters of the model copy (public); t is inside the engine's own temporary directory
				return fmt.Errorf("pocketsphinx: model copy: %w", err)
			}
			continue
		}
		abs, _ := filepath.Abs(s)
		if err := os.Symlink(abs, t); err != nil {
			return fmt.Errorf("pocketsphinx: model copy: %w", err)
		}
	}
	return nil
}

func readCMNInit(featParams string) ([]float32, error) {
	b, err := os.ReadFile(featParams)
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "-cmninit" {
			return parseCMN(f[1]), nil
		}
	}
	return nil, nil
}

func parseCMN(s string) []float32 {
	var v []float32
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
		if err != nil {
			return nil
		}
		v = append(v, float32(x))
	}
	return v
}

// FormatCMN renders a CMN vector as a -cmninit value.
func FormatCMN(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'f', 2, 32)
	}
	return strings.Join(parts, ",")
}

// mergeArgs returns base with the "-name value" pairs of over applied:
// a name already in base gets the new value (PocketSphinx refuses a name
// given twice), new names are appended.
func mergeArgs(base, over []string) []string {
	out := append([]string(nil), base...)
	for i := 0; i+1 < len(over); i += 2 {
		replaced := false
		for j := 0; j+1 < len(out); j += 2 {
			if out[j] == over[i] {
				out[j+1] = over[i+1]
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, over[i], over[i+1])
		}
	}
	return out
}

// FastArgs returns the PocketSphinx arguments of SearchFast (for baselines).
func FastArgs() []string { return append([]string(nil), fastArgs...) }

// MeasureCMN runs utterances (16 kHz mono PCM, already through the same
// decode and resampling path as live audio) through a decoder of the
// narrowband or wideband profile in
// streaming mode and returns the adapted cepstral mean, formatted for
// -cmninit / Config.NarrowbandCMNInit. Running it twice over the audio lets
// the estimate converge from the starting value.
func (e *Engine) MeasureCMN(narrow bool, utts [][]int16) (string, error) {
	p := wideband
	if narrow {
		p = narrowband
	}
	d, err := e.create(p, 0)
	if err != nil {
		return "", err
	}
	defer func() {
		d.close()
		e.mu.Lock()
		e.total--
		e.mu.Unlock()
	}()
	var v []float32
	d.do(func() {
		for pass := 0; pass < 2 && err == nil; pass++ {
			for _, u := range utts {
				if err = d.startUtt(); err != nil {
					return
				}
				for off := 0; off < len(u); off += chunk {
					if err = d.processRaw(u[off:min(off+chunk, len(u))]); err != nil {
						return
					}
				}
				if err = d.endUtt(); err != nil {
					return
				}
			}
		}
		v = d.cmn()
	})
	if err != nil {
		return "", err
	}
	return FormatCMN(v), nil
}

// Known returns whether the engine's dictionary (and vocabulary) has a
// word, for language-model builders that must not use words the decoder
// cannot say.
func (e *Engine) Known(word string) bool { return e.known(word) }

// Known returns the word test of Engine.Known for cfg without creating an
// engine: the dictionary file is read once, on first use.
func Known(cfg Config) func(string) bool {
	var once sync.Once
	var dict map[string]bool
	return func(word string) bool {
		once.Do(func() {
			dict = map[string]bool{}
			b, err := os.ReadFile(cfg.Dict)
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(b), "\n") {
				w, _, _ := strings.Cut(l, " ")
				if i := strings.IndexByte(w, '('); i > 0 {
					w = w[:i]
				}
				if w != "" {
					dict[w] = true
				}
			}
			for w := range cfg.Vocabulary {
				dict[strings.ToLower(strings.TrimSpace(w))] = true
			}
		})
		return dict[word]
	}
}
