package builtin

import "math"

// Trend smooths per-utterance sentiment scores into a trend with an
// exponentially weighted moving average whose weight decays with time, so a
// burst of short utterances does not swing it more than one long one. The
// zero value is not usable; use NewTrend. A Trend is owned by one engagement
// and is not safe for concurrent use.
type Trend struct {
	halfLifeMS float64
	value      float64
	lastMS     int64
	n          int
	history    []TrendPoint
}

// TrendPoint is the smoothed sentiment after one utterance.
type TrendPoint struct {
	AtMS   int64   `json:"at_ms"`
	Score  float64 `json:"score"`  // the utterance's own score
	Smooth float64 `json:"smooth"` // the trend after it
}

// NewTrend returns a trend with the given half-life (how long until an
// utterance's influence halves); 0 means 30 seconds.
func NewTrend(halfLifeMS int64) *Trend {
	if halfLifeMS <= 0 {
		halfLifeMS = 30_000
	}
	return &Trend{halfLifeMS: float64(halfLifeMS)}
}

// Add folds in the score (-1..1) of an utterance ending at atMS and returns
// the new point. Scores out of range are clamped; out-of-order times count
// as simultaneous.
func (t *Trend) Add(score float64, atMS int64) TrendPoint {
	if math.IsNaN(score) {
		score = 0
	}
	score = math.Max(-1, math.Min(1, score))
	if t.n == 0 {
		t.value = score
	} else {
		dt := math.Max(0, float64(atMS-t.lastMS))
		// keep at least 30 % of the past, and let a new utterance move the
		// trend at least 25 %, so the trend neither jumps nor freezes
		keep := math.Max(0.3, math.Min(0.75, math.Pow(0.5, dt/t.halfLifeMS)))
		t.value = keep*t.value + (1-keep)*score
	}
	t.n++
	t.lastMS = max(t.lastMS, atMS)
	p := TrendPoint{AtMS: atMS, Score: score, Smooth: t.value}
	t.history = append(t.history, p)
	return p
}

// Value is the current smoothed score (0 before any utterance).
func (t *Trend) Value() float64 { return t.value }

// Slope is the change of the smoothed score over the last n points (a
// negative slope means the customer is getting more upset).
func (t *Trend) Slope(n int) float64 {
	if len(t.history) < 2 || n < 1 {
		return 0
	}
	i := max(0, len(t.history)-1-n)
	return t.history[len(t.history)-1].Smooth - t.history[i].Smooth
}

// Points returns a copy of the trend's history.
func (t *Trend) Points() []TrendPoint { return append([]TrendPoint(nil), t.history...) }
