package ingesttest

import "math"

// envelope returns the log energy of consecutive frames of ms milliseconds.
func envelope(s []int16, rate, ms int) []float64 {
	n := rate * ms / 1000
	var env []float64
	for i := 0; i+n <= len(s); i += n {
		var e float64
		for _, v := range s[i : i+n] {
			e += float64(v) * float64(v)
		}
		env = append(env, math.Log10(e/float64(n)+100))
	}
	return env
}

// BestMatch slides the source envelope (20 ms frames) over the received
// one and returns the highest Pearson correlation and its lag in frames.
// When less was received than sent (a client starts sending before the
// server's DTLS is up, and those packets are dropped) it compares the
// received audio with the end of the source, if it covers at least 60 %
// of it. It compares the shape of the speech (syllable energy over time),
// so it holds across codecs and resampling but fails for silence, noise or
// garbled audio.
func BestMatch(src []int16, srcRate int, got []int16, gotRate int) (float64, int) {
	a, b := envelope(src, srcRate, 20), envelope(got, gotRate, 20)
	best, lag := -1.0, -1
	if len(b) < len(a) {
		if len(b) < len(a)*6/10 {
			return -1, -1
		}
		for l := 0; l <= min(10, len(a)-len(b)); l++ { // up to 200 ms cut at the end
			end := len(a) - l
			if r := pearson(a[end-len(b):end], b); r > best {
				best, lag = r, -l
			}
		}
		return best, lag
	}
	for off := 0; off+len(a) <= len(b); off++ {
		if r := pearson(a, b[off:off+len(a)]); r > best {
			best, lag = r, off
		}
	}
	return best, lag
}

// Lag returns where in src (in ms) the audio got begins, for a live
// source whose first packets were lost (sent before the server was
// ready): it slides the 10 ms energy envelope of got's first 5 s over
// src's, for lags of 0 to 2 s, and returns the best lag with its Pearson
// correlation.
func Lag(src []int16, srcRate int, got []int16, gotRate int) (int64, float64) {
	a, b := envelope(src, srcRate, 10), envelope(got, gotRate, 10)
	b = b[:min(len(b), 500)]
	best, lag := -2.0, int64(-1)
	for l := 0; l <= 200 && l+len(b) <= len(a); l++ {
		if r := pearson(a[l:l+len(b)], b); r > best {
			best, lag = r, int64(l)*10
		}
	}
	return lag, best
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}
