package pocketsphinx

import (
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/earshot/earshot/media/stt"
)

// chunk is the 20 ms block fed to ps_process_raw.
const chunk = stt.Rate / 50

type stream struct {
	e            *Engine
	d            *decoder
	pending      []int16
	fed          int64 // samples processed by the decoder
	uttStart     int64 // fed index at ps_start_utt
	lastPartial  int64
	partialEvery int64
	closed       bool
	cmnEvery     int64 // samples between live CMN updates (0: at utterance ends only)
	lastCMN      int64
	cpu0         float64 // decoder CPU when the stream started (or moved to it)
	cpuPrev      float64 // CPU of decoders the stream used before s.d, and of warp trials

	// Frequency warp selection (warp.go): the stream's utterances are
	// kept (warpUtts, and warpCur the current one's) while warpPending,
	// and s.next is the decoder of the warp chosen, to which the stream
	// moves before reading the last of them.
	warpPending bool
	warpUtts    [][]int16
	warpCur     []int16
	next        *decoder
	nextBase    string
	lmProfile   string   // the stream's language-model profile
	lm          DomainLM // its domain model when the stream opened (zero: none)
	tr          *warpTracer

	base string   // search of free speech: "" (general model) or a domain model
	mode stt.Mode // listening mode; applied at the start of each utterance

	// The first utterance is decoded again once its own cepstral mean is
	// known (redo), so that it does not depend on where the audio began.
	redo      bool
	first     []int16 // audio of the first utterance, while redo is pending
	shiftMs   int64   // decoder frames ahead of the stream's audio (re-decoded audio), ms
	firstDone bool

	// With Config.NumberSpans the current utterance's audio is kept
	// (utt, from stream sample uttStart) to decode its number runs again.
	spans bool
	utt   []int16
	// With Config.CardContextDigits the audio after a card phrase is
	// decoded again with the digits grammar (cardcontext.go); the
	// utterance's audio is kept for it as well.
	cardCtx bool
	// With the spoken-forms prior in SpokenFormsReread mode, a final
	// that holds details read out is decoded again from s.utt with the
	// prior (spokenreread.go).
	reread bool
	// region (SpokenFormsRegion): the second reading replaces the first
	// only within the stretches of details read out.
	region bool
	// uttMean and uttFrames are the live cepstral mean and its weight
	// when the utterance started (reread).
	uttMean   []float32
	uttFrames int

	// The digits mode of narrowband streams folds the telephone band's
	// top into the empty high band (fold.go).
	fold         bool  // this utterance's audio is folded
	foldPrev     int16 // the last sample before the current write
	foldBuf      []int16
	baseCMNEvery int64 // cmnEvery outside folded utterances

	// The digits mode fills digital silence with a faint background
	// (silence.go).
	fill      bool // this utterance's digital silence is filled
	zeroRun   int  // zeros in a row up to the last sample processed
	fillRand  *rand.Rand
	fillSigma float64
	fillBuf   []int16
	fillHist  []float64 // the narrowband background's last white samples
}

func ms(samples int64) int64 { return samples * 1000 / stt.Rate }

// Write implements stt.Stream.
func (s *stream) Write(pcm []int16) ([]stt.Result, error) {
	if s.closed {
		return nil, errors.New("pocketsphinx: stream closed")
	}
	s.pending = append(s.pending, pcm...)
	var res []stt.Result
	for {
		var err error
		s.d.do(func() { res, err = s.feed(res) })
		if err != nil || s.next == nil {
			return res, err
		}
		var r stt.Result
		if r, err = s.moveAndFinish(); err != nil {
			return res, err
		}
		res = append(res, r)
	}
}

// feed decodes the whole chunks of s.pending (decoder thread). It stops
// after a final that moves the stream to another decoder (s.next).
func (s *stream) feed(res []stt.Result) ([]stt.Result, error) {
	n := 0
	defer func() { s.pending = append(s.pending[:0], s.pending[n:]...) }()
	for n+chunk <= len(s.pending) {
		if !s.d.inUtt {
			if err := s.startUtt(); err != nil {
				return res, err
			}
		}
		if err := s.process(s.pending[n : n+chunk]); err != nil {
			return res, err
		}
		n += chunk
		s.fed += chunk
		if s.cmnEvery > 0 && s.fed-s.lastCMN >= s.cmnEvery {
			s.lastCMN = s.fed
			s.d.updateCMN()
		}
		if s.d.inSpeech() {
			s.d.speech = true
		} else if s.d.speech {
			// The decoder's own VAD closed the utterance.
			r, err := s.final()
			if err != nil {
				return res, err
			}
			if s.next != nil {
				return res, nil
			}
			res = append(res, r)
		}
	}
	if s.d.inUtt && s.d.speech && s.partialEvery > 0 && s.fed-s.lastPartial >= s.partialEvery {
		s.lastPartial = s.fed
		if h := cleanText(s.d.hyp()); h != "" {
			res = append(res, stt.Result{Text: h, StartMs: ms(s.uttStart), EndMs: ms(s.fed)})
		}
	}
	return res, nil
}

// moveAndFinish moves the stream to the decoder selectWarp chose and
// reads the first utterance's final from it.
func (s *stream) moveAndFinish() (stt.Result, error) {
	s.move()
	var r stt.Result
	var err error
	s.d.do(func() { r, err = s.finish() })
	return r, err
}

// EndUtterance implements stt.Stream.
func (s *stream) EndUtterance() ([]stt.Result, error) {
	if s.closed {
		return nil, errors.New("pocketsphinx: stream closed")
	}
	var res []stt.Result
	var err error
	s.d.do(func() {
		if len(s.pending) > 0 {
			if !s.d.inUtt {
				if err = s.startUtt(); err != nil {
					return
				}
			}
			if err = s.process(s.pending); err != nil {
				return
			}
			s.fed += int64(len(s.pending))
			s.pending = s.pending[:0]
		}
		if s.d.inUtt {
			var r stt.Result
			if r, err = s.final(); err != nil || s.next != nil {
				return
			}
			res = append(res, r)
		}
	})
	if err == nil && s.next != nil {
		var r stt.Result
		if r, err = s.moveAndFinish(); err == nil {
			res = append(res, r)
		}
	}
	return res, err
}

// process feeds audio of the current utterance (decoder thread).
func (s *stream) process(pcm []int16) error {
	if s.fold {
		pcm = s.foldHighBand(pcm)
	} else if len(pcm) > 0 {
		s.foldPrev = pcm[len(pcm)-1]
	}
	if s.fill {
		pcm = s.fillSilence(pcm)
	}
	s.tr.add(pcm)
	if s.warpPending {
		s.warpCur = append(s.warpCur, pcm...)
	}
	if s.redo && !s.firstDone {
		s.first = append(s.first, pcm...)
	}
	if s.spans || s.cardCtx || s.reread {
		s.utt = append(s.utt, pcm...)
	}
	return s.d.processRaw(pcm)
}

// redoPriorFrames weighs the first utterance's own mean while it is
// decoded again, so that the second pass does not move it.
const redoPriorFrames = 1 << 20

// redecode decodes the first utterance again with the cepstral mean its
// own audio gave (decoder thread, after its first end). The decoder then
// counts those frames twice: later word times are corrected by shiftMs.
func (s *stream) redecode() error {
	mean := s.d.cmn()
	s.d.setCMN(mean, redoPriorFrames)
	if err := s.d.startUtt(); err != nil {
		return err
	}
	if err := s.d.processRaw(s.first); err != nil {
		return err
	}
	if err := s.d.endUtt(); err != nil {
		return err
	}
	// Carry on from the first utterance's mean, weighted as its length
	// (and the initial value), as the live mean would have been.
	s.d.setCMN(mean, min(len(s.first)/(stt.Rate/100)+cmnAdaptPriorFrames, 500))
	s.shiftMs += int64(len(s.first)) * 1000 / stt.Rate
	s.first = nil
	return nil
}

// final ends the utterance and reads its hypothesis (decoder thread).
func (s *stream) final() (stt.Result, error) {
	if err := s.d.endUtt(); err != nil {
		return stt.Result{}, err
	}
	s.d.speech = false
	s.tr.uttEnd(s)
	if s.warpPending {
		decided, err := s.selectWarp()
		if decided {
			s.warpPending = false
			if s.next == nil {
				s.warpUtts = nil
			}
		}
		if err != nil {
			return stt.Result{}, err
		}
		if s.next != nil {
			return stt.Result{}, nil // read from s.next once the stream moved
		}
	}
	return s.finish()
}

// finish reads the final of the utterance just ended (decoder thread).
func (s *stream) finish() (stt.Result, error) {
	if !s.firstDone {
		s.firstDone = true
		if s.redo && len(s.first) > 0 {
			if err := s.redecode(); err != nil {
				return stt.Result{}, err
			}
		}
		s.first = nil
	}
	r := stt.Result{Final: true, StartMs: ms(s.uttStart), EndMs: ms(s.fed)}
	var texts []string
	digits := s.mode == stt.ModeDigits
	dropped := false
	for _, w := range s.d.words() {
		t := cleanWord(w.word)
		if t == "" {
			continue
		}
		if digits && shortDigit(t, int64(w.ef+1-w.sf)*10, s.e.cfg.DigitMinWordMs) {
			dropped = true
			continue
		}
		conf := w.confidence
		if conf > 1 {
			conf = 1
		}
		// Word frames (10 ms) count from the stream's start, like fed
		// (less the audio decoded twice).
		r.Words = append(r.Words, stt.Word{Text: t, StartMs: int64(w.sf)*10 - s.shiftMs, EndMs: int64(w.ef+1)*10 - s.shiftMs, Confidence: conf})
		texts = append(texts, t)
	}
	if (s.spans || s.cardCtx || s.reread) && (s.mode == "" || s.mode == stt.ModeSpeech) && len(r.Words) > 0 {
		words := r.Words
		var err error
		// The spoken-forms reading comes first: the number and card
		// readings read its words.
		if s.reread {
			if words, err = s.rereadSpokenForms(words); err != nil {
				return stt.Result{}, err
			}
		}
		if s.spans {
			if words, err = s.redecodeNumbers(words); err != nil {
				return stt.Result{}, err
			}
		}
		if s.cardCtx {
			if words, err = s.readCardContext(words); err != nil {
				return stt.Result{}, err
			}
		}
		r.Words, texts = words, texts[:0]
		for _, w := range words {
			texts = append(texts, w.Text)
		}
	}
	if len(r.Words) > 0 {
		r.StartMs = r.Words[0].StartMs
		r.EndMs = r.Words[len(r.Words)-1].EndMs
		r.Text = strings.Join(texts, " ")
	} else if !dropped {
		r.Text = cleanText(s.d.hyp())
	}
	return r, nil
}

func cleanText(h string) string {
	var out []string
	for _, w := range strings.Fields(h) {
		if t := cleanWord(w); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, " ")
}

// CPUTime returns the CPU time the decoder thread spent on this stream
// (thread CPU clock, so it is not inflated by other processes' load).
func (s *stream) CPUTime() time.Duration {
	var c float64
	s.d.do(func() {})
	c = s.cpuPrev + s.d.cpu - s.cpu0
	return time.Duration(c * float64(time.Second))
}

// Close implements stt.Stream: the decoder goes back to the pool.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.tr.done(s.e)
	s.d.do(func() {
		if s.d.inUtt {
			_ = s.d.endUtt()
		}
	})
	s.e.put(s.d)
	return nil
}
