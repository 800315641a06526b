package builtin

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/earshot/earshot/inference"
)

// EscalationConfig sets what the escalation scorer compares against.
type EscalationConfig struct {
	// UsualHandleTime is the queue's usual (e.g. median) handle time; 0
	// disables the duration factor.
	UsualHandleTime time.Duration `json:"usual_handle_time"`
	// LongSilence is the gap between utterances counted as a long silence;
	// 0 means 20 seconds.
	LongSilence time.Duration `json:"long_silence"`
}

// Reason is one reason an engagement needs attention, with its share of the
// risk.
type Reason struct {
	Code   string  `json:"code"`   // escalation_phrase, negative_trend, sentiment_drop, long_silence, over_handle_time
	Text   string  `json:"text"`   // for supervisors; never quotes the customer
	Weight float64 `json:"weight"` // contribution to the score
	AtMS   int64   `json:"at_ms"`  // offset of the evidence
}

// Risk is an engagement's escalation risk after an utterance.
type Risk struct {
	Score   float64  `json:"score"` // 0..1
	Level   string   `json:"level"` // "low", "medium", "high"
	Reasons []Reason `json:"reasons"`
}

// escalationPhrases are what customers say before escalating, grouped by
// reason, matched on lowercased word sequences.
var escalationPhrases = []struct {
	code, text string
	weight     float64
	phrases    []string
}{
	{"asks_for_manager", "customer asked for a manager or supervisor", 0.45, []string{
		"speak to a manager", "speak to your manager", "talk to a manager", "talk to your manager",
		"speak to a supervisor", "talk to a supervisor", "get me a manager", "get me your manager",
		"your supervisor", "someone more senior", "speak to someone else", "the manager", "escalate this",
	}},
	{"threatens_to_leave", "customer threatened to cancel or leave", 0.45, []string{
		"close my account", "cancel my account", "cancel my card", "switch banks", "switching banks",
		"move my money", "take my business elsewhere", "going to leave", "leave the bank",
		"cancel everything", "close all my accounts", "another bank",
	}},
	{"threatens_action", "customer mentioned a formal complaint, the regulator or legal action", 0.5, []string{
		"ombudsman", "regulator", "my lawyer", "my solicitor", "legal action", "sue you", "take you to court",
		"formal complaint", "make a complaint", "report you", "social media", "the press",
	}},
	{"repeated_contact", "customer says the issue is unresolved after earlier contacts", 0.25, []string{
		"called three times", "called twice", "called before", "third time", "second time",
		"every time i call", "still not fixed", "still not resolved", "nobody called back", "no one called back",
		"keep getting passed", "passed around",
	}},
}

// Escalation scores one live engagement's escalation risk from the
// customer's sentiment trajectory, escalation phrases, long silences and
// the duration against the queue's usual handle time. It is owned by one
// engagement and is not safe for concurrent use.
type Escalation struct {
	cfg         EscalationConfig
	trend       *Trend
	phrases     map[string]Reason // code -> first evidence
	silences    int
	lastEnd     int64
	lastSilence int64
	minTrend    float64
	maxTrend    float64
	nCust       int
	risk        Risk
}

// NewEscalation returns a scorer for one engagement.
func NewEscalation(cfg EscalationConfig) *Escalation {
	if cfg.LongSilence <= 0 {
		cfg.LongSilence = 20 * time.Second
	}
	return &Escalation{cfg: cfg, trend: NewTrend(45_000), phrases: map[string]Reason{}, lastEnd: -1}
}

// Observe folds in a final utterance and, for a customer utterance, its
// sentiment, and returns the updated risk.
func (e *Escalation) Observe(u inference.Utterance, s inference.Sentiment) Risk {
	if e.lastEnd >= 0 && u.StartMS-e.lastEnd >= e.cfg.LongSilence.Milliseconds() && e.lastSilence != e.lastEnd {
		e.silences++
		e.lastSilence = e.lastEnd
	}
	e.lastEnd = max(e.lastEnd, u.EndMS)
	if u.Party == inference.PartyCustomer {
		e.nCust++
		v := e.trend.Add(s.Score, u.EndMS).Smooth
		if e.nCust == 1 {
			e.minTrend, e.maxTrend = v, v
		}
		e.minTrend = math.Min(e.minTrend, v)
		e.maxTrend = math.Max(e.maxTrend, v)
		ws := words(u.Text)
		for _, g := range escalationPhrases {
			if _, seen := e.phrases[g.code]; seen {
				continue
			}
			for _, ph := range g.phrases {
				if containsPhrase(ws, ph) {
					e.phrases[g.code] = Reason{Code: g.code, Text: g.text, Weight: g.weight, AtMS: u.StartMS}
					break
				}
			}
		}
	}
	e.risk = e.score(u.EndMS)
	return e.risk
}

// Tick re-scores the engagement at nowMS with no new utterance, so an
// ongoing silence or an overrun of the usual handle time raises the risk
// while nobody speaks (call it every few seconds). A silence counted here is
// not counted again when the next utterance arrives.
func (e *Escalation) Tick(nowMS int64) Risk {
	if e.lastEnd >= 0 && nowMS-e.lastEnd >= e.cfg.LongSilence.Milliseconds() && e.lastSilence != e.lastEnd {
		e.silences++
		e.lastSilence = e.lastEnd
	}
	e.risk = e.score(nowMS)
	return e.risk
}

// Risk returns the latest risk.
func (e *Escalation) Risk() Risk { return e.risk }

// Trend exposes the customer's sentiment trend the scorer keeps.
func (e *Escalation) Trend() *Trend { return e.trend }

func (e *Escalation) score(nowMS int64) Risk {
	var rs []Reason
	for _, r := range e.phrases {
		rs = append(rs, r)
	}
	if e.nCust > 0 {
		v := e.trend.Value()
		if v < -0.2 {
			w := math.Min(0.4, (-v-0.2)*0.8+0.1)
			rs = append(rs, Reason{Code: "negative_trend", Text: fmt.Sprintf("customer sentiment is negative (trend %.2f)", v), Weight: w, AtMS: nowMS})
		}
		if drop := e.maxTrend - v; drop > 0.4 && e.nCust >= 3 {
			rs = append(rs, Reason{Code: "sentiment_drop", Text: fmt.Sprintf("customer sentiment fell by %.2f during the engagement", drop), Weight: math.Min(0.25, drop*0.25), AtMS: nowMS})
		}
	}
	if e.silences > 0 {
		rs = append(rs, Reason{Code: "long_silence", Text: fmt.Sprintf("%d long silence(s) of %v or more", e.silences, e.cfg.LongSilence), Weight: math.Min(0.3, 0.1*float64(e.silences)), AtMS: e.lastSilence})
	}
	if h := e.cfg.UsualHandleTime; h > 0 {
		if ratio := float64(nowMS) / float64(h.Milliseconds()); ratio > 1.2 {
			rs = append(rs, Reason{Code: "over_handle_time", Text: fmt.Sprintf("engagement at %.1fx the queue's usual handle time", ratio), Weight: math.Min(0.3, (ratio-1)*0.2), AtMS: nowMS})
		}
	}
	return riskOf(rs)
}

// SentimentReasons are the reason codes drawn from the customer's
// sentiment.
var SentimentReasons = []string{"negative_trend", "sentiment_drop"}

// Without returns the risk as if the reasons with the given codes had not
// been found: they are left out of the reasons, the score and the level.
// An escalation shown where sentiment is switched off uses it with
// SentimentReasons, so that it reveals nothing of the sentiment.
func (r Risk) Without(codes ...string) Risk {
	kept := make([]Reason, 0, len(r.Reasons))
	for _, x := range r.Reasons {
		if !slices.Contains(codes, x.Code) {
			kept = append(kept, x)
		}
	}
	return riskOf(kept)
}

// riskOf combines reasons as independent evidence, 1 - prod(1 - weight),
// and orders them by weight.
func riskOf(rs []Reason) Risk {
	keep := 1.0
	for _, r := range rs {
		keep *= 1 - r.Weight
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Weight != rs[j].Weight {
			return rs[i].Weight > rs[j].Weight
		}
		return rs[i].Code < rs[j].Code
	})
	score := math.Round((1-keep)*1000) / 1000
	level := "low"
	switch {
	case score >= 0.6:
		level = "high"
	case score >= 0.3:
		level = "medium"
	}
	return Risk{Score: score, Level: level, Reasons: rs}
}

// ReasonSummary joins the reasons' texts for a supervisor's list.
func (r Risk) ReasonSummary() string {
	var parts []string
	for _, x := range r.Reasons {
		parts = append(parts, x.Text)
	}
	return strings.Join(parts, "; ")
}
