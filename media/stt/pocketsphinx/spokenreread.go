package pocketsphinx

import (
	"slices"
	"strings"

	"github.com/earshot/earshot/media/stt"
)

// Utterances of details read out, read again with the spoken-forms prior.
//
// Interpolated into every utterance's search, the spoken-forms prior
// helps where callers read out numbers, codes and spellings, and costs
// words elsewhere: free speech gets digits and letters where words were
// said, and every utterance pays for the interpolated model's lookups.
// In SpokenFormsReread mode each utterance is decoded with the stream's
// own search (the general model, or the profile's domain model) as
// before; only when its final looks like details read out (at least
// Config.SpokenFormsRereadWords number words, single letters or "as in")
// is the utterance's audio decoded again on a second search whose model
// is the same one interpolated with the prior, and that reading is the
// final. Partials are the first pass's. The second search shares the
// decoder's general model (and prior) by reference; it has its own
// lexicon tree.

// Modes of the spoken-forms prior (Config.SpokenFormsMode).
const (
	SpokenFormsReread = "reread" // utterances with details read out are read again with it
	SpokenFormsAlways = "always" // every free-speech utterance's search has it
	// SpokenFormsRegion reads them again as SpokenFormsReread does, and
	// the second reading's words stand only within the stretches of
	// details and the detail phrases next to them (spliceRegions), unless
	// at least Config.SpokenFormsWholeShare of the final's words are
	// details: then it is the second reading whole.
	SpokenFormsRegion = "region"
)

// DefaultSpokenFormsMode is Config.SpokenFormsMode's default: on the
// domain speech set's development voices SpokenFormsReread cost the
// general model 0.8 WER points (questions holding one number read again
// whole), SpokenFormsRegion none (DefaultSpokenFormsWeight).
const DefaultSpokenFormsMode = SpokenFormsRegion

// DefaultSpokenFormsWholeShare is Config.SpokenFormsWholeShare's
// default: only a final that is all details is taken whole (as the
// splice would take it). A final at least half of whose first reading's
// words are details, taken whole, gets the phrases around its details
// from the second reading ("card number", "expiry"), which the
// redaction detectors read: on the redaction eval's dev3 split (first
// 155 utterances, 16 kHz; its region and whole re-read decodes combined
// per final; 0.4, 0.5, 0.6 and 0.7 tried) card recall rose 0.975 ->
// 0.988, expiry 0.926 -> 1.000, IBAN 0.375 -> 0.750 at 0.5. But on AN4's
// development speakers 1-16 the same utterances read whole had 249 word
// errors where the splice had 243 (+0.55 WER points, the readings of one
// run compared; a separate run's figure was 35.4 against 34.4), beyond
// the 0.3 allowed, so the splice stays the default; a site that puts
// redaction first may set 0.5. The detail phrases (detailPhrases) bring
// the phrases into the splice instead.
const DefaultSpokenFormsWholeShare = 1.0

// DefaultSpokenFormsRereadWords is Config.SpokenFormsRereadWords'
// default, chosen on AN4 development speakers 1-16 (16 kHz, the default
// search, the pipeline; media/analyze TestEvalHeldOutDev with
// EARSHOT_EVAL_PRIOR, weight 0.1; the same run, prior off 39.5 WER):
// with two words 139 utterances were read again and WER was 36.7, with
// one 151 and 33.8 (before a read-again utterance started from its own
// cepstral mean; with it, one word: 153 utterances, 33.1). An answer
// read out is often one detail ("six", "b"), and a spelling the general
// model heard mostly as words keeps one letter or digit. (Run again with
// the final code, two words: AN4 36.1 against 39.5; on the domain speech
// set's development voices two words cost 0.5 and 0.3 points with the
// general and domain models, one word 0.8 and 0.3.)
const DefaultSpokenFormsRereadWords = 1

// spokenFormsSearch is the search of utterances read again on the general
// model; a domain model's is rereadSearch(its search).
const spokenFormsSearch = "spokenforms"

// rereadSearch is the name of the search that reads again the utterances
// of a stream whose free-speech search is base.
func rereadSearch(base string) string {
	if base == "" {
		return spokenFormsSearch
	}
	return base + "+" + spokenFormsSearch
}

// spokenFormCues counts the words of a final that are details read out:
// number words ("four", "oh", "double", "twenty", "hundred"; not the
// look-alikes "for", "to"), single letters other than "a" and "i" (which
// are words), and "as in".
func spokenFormCues(words []stt.Word) int {
	n := 0
	for i, w := range words {
		if spokenFormCue(words, i) && !strings.EqualFold(w.Text, "in") {
			n++
		}
	}
	return n
}

// detailsShare is the share of a final's words that are details read
// out (spokenFormCues).
func detailsShare(words []stt.Word) float64 {
	if len(words) == 0 {
		return 0
	}
	return float64(spokenFormCues(words)) / float64(len(words))
}

// spokenFormCue tells whether words[i] is a detail read out: a number
// word, a single letter other than "a" and "i", or either word of "as in".
func spokenFormCue(words []stt.Word, i int) bool {
	t := strings.ToLower(words[i].Text)
	switch {
	case numberWord[t]:
		return true
	case len(t) == 1 && t[0] >= 'a' && t[0] <= 'z' && t != "a" && t != "i":
		return true
	case t == "as":
		return i+1 < len(words) && strings.EqualFold(words[i+1].Text, "in")
	case t == "in":
		return i > 0 && strings.EqualFold(words[i-1].Text, "as")
	}
	return false
}

// rereadSpokenForms decodes the utterance again with the prior when its
// final words look like details read out, and returns that reading
// (decoder thread, between utterances, with the utterance's audio in
// s.utt). Word times stay on the stream's clock. The first reading is
// kept when the second has no words.
func (s *stream) rereadSpokenForms(words []stt.Word) ([]stt.Word, error) {
	name := rereadSearch(s.base)
	if !s.d.searches[name] || len(s.utt) == 0 || spokenFormCues(words) < s.e.cfg.SpokenFormsRereadWords {
		return words, nil
	}
	s.e.observe.spokenReread.Add(1)
	// The second reading hears the audio as the first did: from the
	// cepstral mean the utterance started with, following it as often
	// as the live stream does. Then the mean the utterance ended with
	// is put back (its frames went into the running sum a second time).
	mean, frames := s.d.cmn(), s.d.cmnFrames()
	if s.uttMean != nil {
		s.d.setCMN(s.uttMean, s.uttFrames)
	}
	got, _, err := s.decodeSpanN(s.utt, name, ms(s.uttStart), int(s.cmnEvery), 0)
	if err == nil {
		err = s.d.useSearch(s.base)
	}
	s.d.setCMN(mean, frames)
	if err != nil || len(got) == 0 {
		return words, err
	}
	kept := got
	if s.region {
		// On the stream's clock, whole or spliced: the card readings
		// after it find their spans by time.
		kept = onClockOf(got, words)
		if detailsShare(words) < s.e.cfg.SpokenFormsWholeShare {
			kept = spliceRegions(words, kept, true)
		}
	}
	if rereadTrace != nil {
		rereadTrace(words, got, kept)
	}
	if !slices.EqualFunc(kept, words, func(a, b stt.Word) bool { return a.Text == b.Text }) {
		s.e.observe.spokenChanged.Add(1)
	}
	return kept, nil
}

// rereadTrace, when set (development evaluations, rereadtrace_eval.go),
// hears every utterance read again: its first reading, the second and
// the final kept.
var rereadTrace func(first, reread, kept []stt.Word)

// SpokenFormsReadings returns how many utterances were decoded again with
// the spoken-forms prior (SpokenFormsReread) and how many of those
// readings differ from the first one in their words, since the engine
// started.
func (e *Engine) SpokenFormsReadings() (decoded, changed int64) {
	return e.observe.spokenReread.Load(), e.observe.spokenChanged.Load()
}

// detailPhrases say what the details read out next to them are: a
// card's number, its expiry and security code, a bank account's, an
// IBAN, a card network, a charge. The first reading, with the general
// model, often hears them as ordinary words ("car number", "next bar",
// "chaudhry" for "charge three"), and the second, read with the
// spoken-forms prior, in their context; the redaction detectors read
// them to know what a number is. In SpokenFormsRegion mode the second
// reading's detail phrase next to a stretch of details joins it.
var detailPhrases = func() [][]string {
	var out [][]string
	for _, p := range []string{"card number", "long number", "number on the front", "number on the card",
		"digits on the front", "card ending", "expiry", "expires", "expiration", "expiry date", "security code",
		"sort code", "account number", "routing number", "iban", "visa", "mastercard", "amex",
		"american express", "charge", "charge it to", "put it on", "pay with", "date of birth", "postcode",
		"zip code", "pin"} {
		out = append(out, strings.Fields(p))
	}
	// The longest first: "charge it to" before "charge".
	slices.SortStableFunc(out, func(a, b []string) int { return len(b) - len(a) })
	return out
}()

// detailPhraseAt returns the number of words of the detail phrase that
// begins at words[i], or 0.
func detailPhraseAt(words []stt.Word, i int) int {
next:
	for _, p := range detailPhrases {
		if i+len(p) > len(words) {
			continue
		}
		for j, w := range p {
			if !strings.EqualFold(words[i+j].Text, w) {
				continue next
			}
		}
		return len(p)
	}
	return 0
}

// regionAdjoinMs is how far apart (ms) two words read out may be and
// still be one stretch of details.
const regionAdjoinMs = 150

// spliceRegions is the final of SpokenFormsRegion: the second reading's
// words stand only within the stretches of the audio where details were
// read out, and the first reading's words everywhere else, so that a
// question holding one number keeps the rest of its first reading. The
// stretches are the first reading's runs of cue words (spokenFormCue),
// grown by the second reading's cue words that overlap or adjoin them
// (within regionAdjoinMs), one after another (so "a seven double for
// one" read again as "oh seven double four one" takes "oh" and "four"),
// and, with phrases, by its detail phrases likewise ("shark our number
// sixty five ... next bar eleven twenty seven" read again as "sure card
// number sixty five ... expiry eleven twenty seven" takes "card number"
// and "expiry").
// A word is in a stretch when its midpoint is. Times stay monotone.
func spliceRegions(first, again []stt.Word, phrases bool) []stt.Word {
	type span struct{ lo, hi int64 }
	var regions []span
	for i := range first {
		if !spokenFormCue(first, i) {
			continue
		}
		w := first[i]
		if n := len(regions); n > 0 && i > 0 && spokenFormCue(first, i-1) {
			regions[n-1].hi = max(regions[n-1].hi, w.EndMs) // one run
			continue
		}
		regions = append(regions, span{w.StartMs, w.EndMs})
	}
	if len(regions) == 0 {
		return first
	}
	// Grow by the second reading's cue words, and its detail phrases
	// (detailPhraseAt), until none is added.
	used := make([]bool, len(again))
	for grown := true; grown; {
		grown = false
		for i := 0; i < len(again); i++ {
			n := 0
			switch {
			case used[i]:
			case spokenFormCue(again, i):
				n = 1
			case phrases:
				n = detailPhraseAt(again, i)
			}
			if n == 0 {
				continue
			}
			lo, hi := again[i].StartMs, again[i+n-1].EndMs
			for k := range regions {
				r := &regions[k]
				if lo <= r.hi+regionAdjoinMs && hi >= r.lo-regionAdjoinMs {
					r.lo, r.hi = min(r.lo, lo), max(r.hi, hi)
					for j := i; j < i+n; j++ {
						used[j] = true
					}
					grown = true
					break
				}
			}
			i += n - 1
		}
	}
	// Stretches that grew into each other are one.
	slices.SortFunc(regions, func(a, b span) int { return int(a.lo - b.lo) })
	merged := regions[:1]
	for _, r := range regions[1:] {
		if last := &merged[len(merged)-1]; r.lo <= last.hi {
			last.hi = max(last.hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	in := func(w stt.Word) int {
		mid := (w.StartMs + w.EndMs) / 2
		for k, r := range merged {
			if mid >= r.lo && mid <= r.hi {
				return k
			}
		}
		return -1
	}
	var out []stt.Word
	add := func(w stt.Word) {
		if n := len(out); n > 0 && w.StartMs < out[n-1].EndMs {
			w.StartMs = out[n-1].EndMs
		}
		w.EndMs = max(w.EndMs, w.StartMs)
		out = append(out, w)
	}
	// Every stretch holds a word of the first reading (its cue words):
	// at a stretch's first such word the second reading's words of the
	// stretch are put instead.
	done := -1
	for _, w := range first {
		k := in(w)
		if k < 0 {
			add(w)
			continue
		}
		if k == done {
			continue
		}
		for _, a := range again {
			if in(a) == k {
				add(a)
			}
		}
		done = k
	}
	return out
}

// onClockOf returns again with its times moved onto first's clock. The
// two readings of an utterance count time differently (the first from
// the stream's decoder frames, the second from the span's first
// segment), and they were seen 0.1-0.2 s apart; the words both readings
// hold (a longest common subsequence of their texts) give the offset,
// their start times' median difference. With no word in common, again
// is returned as it is.
func onClockOf(again, first []stt.Word) []stt.Word {
	n, m := len(first), len(again)
	// lcs[i][j]: the longest common subsequence of first[i:] and again[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case strings.EqualFold(first[i].Text, again[j].Text):
				lcs[i][j] = lcs[i+1][j+1] + 1
			case lcs[i+1][j] >= lcs[i][j+1]:
				lcs[i][j] = lcs[i+1][j]
			default:
				lcs[i][j] = lcs[i][j+1]
			}
		}
	}
	var d []int64
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case strings.EqualFold(first[i].Text, again[j].Text):
			d = append(d, first[i].StartMs-again[j].StartMs)
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			i++
		default:
			j++
		}
	}
	if len(d) == 0 {
		return again
	}
	slices.Sort(d)
	shift := d[len(d)/2]
	out := make([]stt.Word, m)
	for i, w := range again {
		w.StartMs, w.EndMs = w.StartMs+shift, w.EndMs+shift
		out[i] = w
	}
	return out
}
