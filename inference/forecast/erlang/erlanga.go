package erlang

import (
	"fmt"
	"math"
	"time"
)

// evalA evaluates n agents under Erlang A (M/M/n+M): Poisson arrivals at
// rate λ, exponential service at rate μ = 1/AHT, exponential patience at rate
// γ = 1/Patience. The stationary distribution of the number in system is a
// birth-death chain; an arrival seeing k contacts queued is answered within T
// when the k+1 phases ahead of it (rates nμ + jγ) end before T and before its
// own patience runs out.
func evalA(n int, in Interval, t Target) Result {
	a := in.Traffic()
	r := Result{Traffic: a, Agents: n, Model: "erlang-a", Stable: true}
	if a == 0 {
		r.ServiceLevel = 1
		return r
	}
	mu := 1 / in.AHT.Seconds()
	lam := in.Contacts / in.Length.Seconds()
	gam := 1 / t.Patience.Seconds()
	// log π_k up to where the tail is negligible.
	logp := []float64{0}
	mx := 0.0
	for k := 1; ; k++ {
		rate := float64(min(k, n))*mu + float64(max(k-n, 0))*gam
		v := logp[k-1] + math.Log(lam/rate)
		logp = append(logp, v)
		mx = math.Max(mx, v)
		if k > n && lam < rate && v < mx-40 {
			break
		}
		if k > n+5_000_000 {
			break
		}
	}
	var z float64
	for _, v := range logp {
		z += math.Exp(v - mx)
	}
	p := func(k int) float64 { return math.Exp(logp[k]-mx) / z }
	var pw, lq, immediate float64
	for k := range logp {
		pk := p(k)
		if k < n {
			immediate += pk
		} else {
			pw += pk
			lq += float64(k-n) * pk
		}
	}
	r.PWait = pw
	r.ASA = lq / lam
	r.Abandon = gam * lq / lam
	r.Occupancy = a * (1 - r.Abandon) / math.Max(float64(n), 1)
	if n == 0 {
		r.Occupancy = 0
	}
	// Answered within T: immediately, or after waiting ≤ T without abandoning.
	qmax := len(logp) - n // queue lengths 0..qmax-1 seen on arrival
	within := immediate
	if qmax > 0 && n > 0 {
		cdf := hypoCDF(n, mu, gam, qmax, t.AnswerWithin.Seconds())
		for k := 0; k < qmax; k++ {
			// Tilting by the own patience: Π (nμ+jγ)/(nμ+(j+1)γ) over the
			// k+1 phases telescopes to nμ / (nμ + (k+1)γ).
			nm := float64(n) * mu
			within += p(n+k) * nm / (nm + float64(k+1)*gam) * cdf[k]
		}
	}
	r.ServiceLevel = math.Min(within, 1)
	return r
}

// hypoCDF returns, for k = 0..kmax-1, P(V_k <= T) where V_k is the sum of
// independent exponentials with rates nμ + jγ, j = 1..k+1 (a pure-death
// chain from k+1 to 0), by uniformisation.
func hypoCDF(n int, mu, gam float64, kmax int, T float64) []float64 {
	out := make([]float64, kmax)
	if T <= 0 {
		return out
	}
	lam := float64(n)*mu + float64(kmax)*gam // the largest rate
	lt := lam * T
	// u[j] = P(absorbed within m steps | start in state j); u[0] = 1.
	u := make([]float64, kmax+1)
	nu := make([]float64, kmax+1)
	u[0] = 1
	// Poisson(m; lt) weights, summed until the remaining mass is negligible.
	logw := -lt
	mass := 0.0
	mMax := int(lt + 12*math.Sqrt(lt) + 30)
	for m := 0; m <= mMax; m++ {
		if m > 0 {
			logw += math.Log(lt / float64(m))
			nu[0] = 1
			for j := 1; j <= kmax; j++ {
				pj := (float64(n)*mu + float64(j)*gam) / lam
				nu[j] = pj*u[j-1] + (1-pj)*u[j]
			}
			u, nu = nu, u
		}
		w := math.Exp(logw)
		mass += w
		for k := 0; k < kmax; k++ {
			out[k] += w * u[k+1]
		}
		if m > int(lt) && 1-mass < 1e-12 {
			break
		}
	}
	// Whatever Poisson mass is left corresponds to more steps than counted;
	// P(absorbed) only grows with steps, so add it as absorbed when the chain
	// is nearly surely absorbed, which keeps the CDF monotone and in [0, 1].
	for k := range out {
		out[k] = math.Min(out[k], 1)
	}
	return out
}

// Wait is one offered contact's time in queue and whether it abandoned.
type Wait struct {
	Seconds   float64
	Abandoned bool
}

// EstimatePatience estimates the mean patience of exponential customers
// from their waits: the censored-exponential maximum-likelihood estimate,
// total time waited by everyone / number who abandoned (an answered contact's
// wait is a lower bound on its patience).
func EstimatePatience(waits []Wait) (time.Duration, error) {
	var total float64
	var ab int
	for i, w := range waits {
		if w.Seconds < 0 || math.IsNaN(w.Seconds) || math.IsInf(w.Seconds, 0) {
			return 0, fmt.Errorf("%w: wait %d: %v seconds", ErrBadInput, i, w.Seconds)
		}
		total += w.Seconds
		if w.Abandoned {
			ab++
		}
	}
	if ab == 0 {
		return 0, fmt.Errorf("%w: no abandoned contact among %d: patience cannot be estimated", ErrBadInput, len(waits))
	}
	return time.Duration(total / float64(ab) * float64(time.Second)), nil
}

// EstimatePatienceAggregate estimates mean patience from interval totals:
// total seconds waited by all offered contacts / contacts abandoned.
func EstimatePatienceAggregate(totalWaitSeconds, abandoned float64) (time.Duration, error) {
	if abandoned <= 0 || totalWaitSeconds <= 0 {
		return 0, fmt.Errorf("%w: need abandoned > 0 and wait > 0, got %v and %v", ErrBadInput, abandoned, totalWaitSeconds)
	}
	return time.Duration(totalWaitSeconds / abandoned * float64(time.Second)), nil
}
