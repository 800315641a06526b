package audio

import (
	"fmt"
	"math"
)

// RecognizerRate is the sample rate every speech-to-text engine receives.
const RecognizerRate = 16000

// Resampler converts a mono 16-bit stream from one sample rate to another
// with a polyphase windowed-sinc (Kaiser) low-pass filter. It is streaming:
// Process may be called with chunks of any size and keeps the filter history
// between calls; Flush emits the tail. A Resampler is not safe for concurrent
// use; use one per channel.
//
// The ratio is reduced to out/in = L/M. The prototype filter runs at the
// virtual rate in*L with its cut-off at 0.92 of the lower Nyquist frequency
// and 16 zero crossings on each side, so 8 -> 16 kHz uses 35 taps per output
// sample and 48 -> 16 kHz 105; the group delay is compensated so output
// sample n is aligned with input time n*in/out.
type Resampler struct {
	inRate, outRate int
	l, m            int
	half            int         // half filter length at the virtual rate
	k               int         // taps per phase
	bank            [][]float32 // bank[p][k] = h[p+k*L]
	buf             []float32   // input history; buf[0] is absolute sample bufStart
	bufStart        int64
	nIn, nOut       int64
	flushed         bool
}

// NewResampler returns a resampler from inRate to outRate (Hz).
func NewResampler(inRate, outRate int) (*Resampler, error) {
	if inRate <= 0 || outRate <= 0 || inRate > 384000 || outRate > 384000 {
		return nil, fmt.Errorf("audio: resampler rates %d -> %d out of range", inRate, outRate)
	}
	g := gcd(inRate, outRate)
	r := &Resampler{inRate: inRate, outRate: outRate, l: outRate / g, m: inRate / g}
	if r.l == 1 && r.m == 1 {
		return r, nil
	}
	const zeros = 16
	const rolloff = 0.92
	const beta = 8.0
	fc := 0.5 / float64(max(r.l, r.m)) * rolloff // cycles per virtual sample
	r.half = int(math.Ceil(zeros / (2 * fc)))
	n := 2*r.half + 1
	h := make([]float64, n)
	i0b := besselI0(beta)
	for j := range n {
		x := float64(j - r.half)
		s := 2 * fc
		if x != 0 {
			s = math.Sin(2*math.Pi*fc*x) / (math.Pi * x)
		}
		ratio := x / float64(r.half)
		w := besselI0(beta*math.Sqrt(math.Max(0, 1-ratio*ratio))) / i0b
		h[j] = float64(r.l) * s * w
	}
	r.k = (n + r.l - 1) / r.l
	r.bank = make([][]float32, r.l)
	for p := range r.l {
		r.bank[p] = make([]float32, r.k)
		for k := range r.k {
			if idx := p + k*r.l; idx < n {
				r.bank[p][k] = float32(h[idx])
			}
		}
	}
	return r, nil
}

// InRate returns the input sample rate.
func (r *Resampler) InRate() int { return r.inRate }

// OutRate returns the output sample rate.
func (r *Resampler) OutRate() int { return r.outRate }

// Process appends to dst the output samples that the input seen so far
// (including src) fully determines, and returns the extended slice.
func (r *Resampler) Process(dst, src []int16) []int16 {
	if r.bank == nil {
		return append(dst, src...)
	}
	for _, s := range src {
		r.buf = append(r.buf, float32(s))
	}
	r.nIn += int64(len(src))
	return r.produce(dst, r.nIn)
}

// Flush appends the remaining output (the filter tail, as if the input were
// followed by silence) so that the total output length is
// ceil(inputLength*out/in). The resampler may not be used after Flush.
func (r *Resampler) Flush(dst []int16) []int16 {
	if r.bank == nil || r.flushed {
		return dst
	}
	r.flushed = true
	total := (r.nIn*int64(r.l) + int64(r.m) - 1) / int64(r.m)
	for r.nOut < total {
		dst = r.emit(dst)
	}
	r.trim()
	return dst
}

// produce emits outputs whose newest needed input index is < avail.
func (r *Resampler) produce(dst []int16, avail int64) []int16 {
	for {
		t := r.nOut*int64(r.m) + int64(r.half)
		base := t / int64(r.l)
		if base >= avail {
			break
		}
		dst = r.emit(dst)
	}
	r.trim()
	return dst
}

func (r *Resampler) emit(dst []int16) []int16 {
	t := r.nOut*int64(r.m) + int64(r.half)
	p := t % int64(r.l)
	base := t / int64(r.l)
	taps := r.bank[p]
	var acc float32
	for k, c := range taps {
		i := base - int64(k) - r.bufStart
		if i < 0 {
			break
		}
		if i >= int64(len(r.buf)) {
			continue // beyond the input: silence (only during Flush)
		}
		acc += c * r.buf[i]
	}
	r.nOut++
	return append(dst, clip16(acc))
}

// trim drops history no future output needs.
func (r *Resampler) trim() {
	t := r.nOut*int64(r.m) + int64(r.half)
	oldest := t/int64(r.l) - int64(r.k) + 1
	drop := oldest - r.bufStart
	if drop <= 0 {
		return
	}
	if drop > int64(len(r.buf)) {
		drop = int64(len(r.buf))
	}
	n := copy(r.buf, r.buf[drop:])
	r.buf = r.buf[:n]
	r.bufStart += drop
}

func clip16(v float32) int16 {
	v = float32(math.Round(float64(v)))
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// besselI0 is the zeroth-order modified Bessel function of the first kind.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}
