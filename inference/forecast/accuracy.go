package forecast

import "math"

// Accuracy summarises forecast errors over a set of intervals.
//
// MAPE is the mean over intervals of |actual - forecast| / actual, in
// percent, over open intervals with actual > 0 (intervals with actual 0 are
// counted in WAPE only). WAPE is Σ|actual - forecast| / Σ actual, in percent.
// Coverage80/95 are the fractions of intervals whose actual lies within the
// 80 % / 95 % prediction interval.
type Accuracy struct {
	N          int     `json:"n"`
	MAPE       float64 `json:"mape"`
	WAPE       float64 `json:"wape"`
	Coverage80 float64 `json:"coverage80"`
	Coverage95 float64 `json:"coverage95"`
}

// accum accumulates Accuracy.
type accum struct {
	n, nm        int
	ape, ae, act float64
	in80, in95   int
}

func (a *accum) add(actual float64, e Estimate) {
	a.n++
	err := math.Abs(actual - e.Value)
	a.ae += err
	a.act += actual
	if actual > 0 {
		a.ape += err / actual
		a.nm++
	}
	if actual >= e.Lower80 && actual <= e.Upper80 {
		a.in80++
	}
	if actual >= e.Lower95 && actual <= e.Upper95 {
		a.in95++
	}
}

func (a *accum) merge(b accum) {
	a.n += b.n
	a.nm += b.nm
	a.ape += b.ape
	a.ae += b.ae
	a.act += b.act
	a.in80 += b.in80
	a.in95 += b.in95
}

func (a *accum) result() Accuracy {
	r := Accuracy{N: a.n}
	if a.nm > 0 {
		r.MAPE = 100 * a.ape / float64(a.nm)
	}
	if a.act > 0 {
		r.WAPE = 100 * a.ae / a.act
	}
	if a.n > 0 {
		r.Coverage80 = float64(a.in80) / float64(a.n)
		r.Coverage95 = float64(a.in95) / float64(a.n)
	}
	return r
}

// Score compares a forecast with what happened: actual maps interval starts
// (Unix seconds) to the observed value of the target. Only open forecast
// intervals with an observation are scored.
func Score(f *Forecast, actual map[int64]float64, target Target) Accuracy {
	var a accum
	for _, p := range f.Points {
		if !p.Open {
			continue
		}
		v, ok := actual[p.Start.Unix()]
		if !ok {
			continue
		}
		e := p.Volume
		if target == TargetAHT {
			if p.AHT == nil {
				continue
			}
			e = *p.AHT
		}
		a.add(v, e)
	}
	return a.result()
}
