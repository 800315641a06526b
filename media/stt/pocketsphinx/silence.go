package pocketsphinx

import (
	"math"
	"math/rand/v2"

	"github.com/earshot/earshot/media/stt"
)

// A background under digital silence.
//
// PocketSphinx's front end gives a frame of digital silence (exact zeros:
// a gap an RTP timestamp jump or DTX left, which the pipeline fills with
// zeros, or a recording trimmed to its word) a log spectrum of a fixed
// floor far below the background of any recording the model was trained
// on. Next to such frames the grammar search loses whole words: over the
// FSDD digit strings (tightly trimmed digits joined by zeros) a third of
// the digits came back as nothing, although the voice activity detector
// passed every one of them to the recogniser, and the same digits with a
// faint background instead of the zeros were heard (media/analyze
// TestEvalDigitsTrace; see DefaultDigitSilenceFillDB). In the digits mode
// runs of zeros reaching the decoder are therefore replaced by white
// noise at a low level, as a quiet line would carry.

// fillMinRun is the shortest run of zeros that is digital silence rather
// than a waveform crossing zero (2 ms at 16 kHz).
const fillMinRun = stt.Rate / 500

// startFill decides at the start of an utterance whether its digital
// silence is filled (decoder thread).
func (s *stream) startFill() {
	s.fill = s.mode == stt.ModeDigits && s.e.cfg.DigitSilenceFillDB < 0
	if s.fill && s.fillRand == nil {
		// A fixed seed: the same audio gives the same transcript.
		s.fillRand = rand.New(rand.NewPCG(0x5eed, 0x0f111))
		s.fillSigma = 32768 * math.Pow(10, s.e.cfg.DigitSilenceFillDB/20)
		if s.d.profile == narrowband {
			s.fillSigma /= narrowbandNoiseGain
		}
	}
}

// narrowbandNoise is a low-pass filter (windowed sinc, 3.6 kHz at
// 16 kHz) that keeps the background of a narrowband stream inside the
// telephone band: white noise above 4 kHz, where an upsampled call has
// nothing, is unlike any call the narrowband set-up was measured on.
var narrowbandNoise, narrowbandNoiseGain = func() ([]float64, float64) {
	const n, fc = 33, 3600.0 / stt.Rate
	h := make([]float64, n)
	var e float64
	for i := range h {
		x := float64(i - n/2)
		v := 2 * fc
		if x != 0 {
			v = math.Sin(2*math.Pi*fc*x) / (math.Pi * x)
		}
		h[i] = v * (0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/(n-1)))
		e += h[i] * h[i]
	}
	return h, math.Sqrt(e)
}()

// noise returns the next sample of the background (decoder thread).
func (s *stream) noise() int16 {
	w := s.fillRand.NormFloat64() * s.fillSigma
	if s.d.profile == narrowband {
		h := narrowbandNoise
		if len(s.fillHist) < len(h) {
			s.fillHist = make([]float64, len(h))
		}
		copy(s.fillHist, s.fillHist[1:])
		s.fillHist[len(h)-1] = w
		w = 0
		for i, c := range h {
			w += c * s.fillHist[i]
		}
	}
	return int16(max(-32768, min(32767, math.Round(w))))
}

// fillSilence returns pcm with its runs of at least fillMinRun zeros
// (counted across writes) replaced by noise, in s.fillBuf when anything
// was replaced (pcm is left as it is; decoder thread). A run's first
// fillMinRun-1 samples written by an earlier call stay zeros.
func (s *stream) fillSilence(pcm []int16) []int16 {
	var out []int16
	for i, v := range pcm {
		if v != 0 {
			s.zeroRun = 0
			continue
		}
		s.zeroRun++
		if s.zeroRun < fillMinRun {
			continue
		}
		if out == nil {
			out = append(s.fillBuf[:0], pcm...)
		}
		from := i
		if s.zeroRun == fillMinRun {
			from = max(0, i-fillMinRun+1)
		}
		for j := from; j <= i; j++ {
			out[j] = s.noise()
		}
	}
	if out == nil {
		return pcm
	}
	s.fillBuf = out
	return out
}
