package qm

import (
	"errors"
	"fmt"
	"slices"
)

// MetricsConfig sets the thresholds of the speaker metrics.
type MetricsConfig struct {
	// BridgeMS joins a party's speech across pauses shorter than this
	// (between words, or between segments): a pause under a second inside
	// a turn is part of the talk, as a listener hears it.
	BridgeMS int64 `json:"bridge_ms"`
	// SilenceMS is the pause counted as a silence.
	SilenceMS int64 `json:"silence_ms"`
	// MinOverlapMS is the overlap a party must talk over the other for an
	// interruption; shorter overlaps are turn-taking jitter.
	MinOverlapMS int64 `json:"min_overlap_ms"`
	// OvertalkBurstMS is the overlap of one interruption that makes an
	// overtalk burst callout.
	OvertalkBurstMS int64 `json:"overtalk_burst_ms"`
}

// DefaultMetricsConfig returns the default thresholds.
func DefaultMetricsConfig() MetricsConfig {
	return MetricsConfig{BridgeMS: 1000, SilenceMS: 5000, MinOverlapMS: 300, OvertalkBurstMS: 2000}
}

// Validate checks the thresholds.
func (c MetricsConfig) Validate() error {
	switch {
	case c.BridgeMS < 0 || c.BridgeMS > 5000:
		return fmt.Errorf("qm: bridge_ms %d must be within 0..5000", c.BridgeMS)
	case c.SilenceMS < 500:
		return fmt.Errorf("qm: silence_ms %d must be at least 500", c.SilenceMS)
	case c.MinOverlapMS < 0:
		return errors.New("qm: min_overlap_ms must not be negative")
	case c.OvertalkBurstMS < c.MinOverlapMS:
		return errors.New("qm: overtalk_burst_ms must be at least min_overlap_ms")
	}
	return nil
}

// PartyMetrics are one side's figures.
type PartyMetrics struct {
	TalkMS             int64   `json:"talk_ms"`
	TalkRatio          float64 `json:"talk_ratio"` // share of the total talk time, 0..1
	Words              int     `json:"words"`
	WordsPerMinute     float64 `json:"words_per_minute"`
	LongestMonologueMS int64   `json:"longest_monologue_ms"`
	Interruptions      int     `json:"interruptions"` // times this side talked over the other
	// SentimentStart and SentimentEnd are the mean sentiment of the
	// side's turns in the first and last quarter it spoke in; Quarters
	// are the means per quarter of the engagement (nil: no turn).
	SentimentStart *float64    `json:"sentiment_start,omitempty"`
	SentimentEnd   *float64    `json:"sentiment_end,omitempty"`
	Quarters       []*float64  `json:"sentiment_quarters,omitempty"`
	Chat           *ChatTiming `json:"chat,omitempty"`
}

// ChatTiming are a chat side's message figures.
type ChatTiming struct {
	Messages int `json:"messages"`
	// The agent side's response times: first response after the
	// customer's first message, mean and longest response.
	FirstResponseMS int64 `json:"first_response_ms,omitempty"`
	MeanResponseMS  int64 `json:"mean_response_ms,omitempty"`
	MaxResponseMS   int64 `json:"max_response_ms,omitempty"`
	// WaitMS is the customer's total wait for replies.
	WaitMS int64 `json:"wait_ms,omitempty"`
}

// Interruption is one side starting to talk while the other talks.
type Interruption struct {
	AtMS      int64  `json:"at_ms"`
	By        string `json:"by"`
	Of        string `json:"of"`
	OverlapMS int64  `json:"overlap_ms"`
}

// Metrics are the speaker metrics of an engagement.
type Metrics struct {
	Channel    string                  `json:"channel"`
	DurationMS int64                   `json:"duration_ms"`
	Final      bool                    `json:"final"`
	Parties    map[string]PartyMetrics `json:"parties"`
	// NonTalkMS is the time nobody spoke (hold excluded).
	NonTalkMS        int64          `json:"non_talk_ms"`
	LongestSilenceMS int64          `json:"longest_silence_ms"`
	Silences         []Interval     `json:"silences"` // pauses of at least SilenceMS
	OverlapMS        int64          `json:"overlap_ms"`
	Interruptions    []Interruption `json:"interruptions"`
	HoldMS           int64          `json:"hold_ms"`
	Holds            []Interval     `json:"holds"` // the hold stretches within the engagement
}

// MetricsInput is what Compute needs.
type MetricsInput struct {
	Channel string // "voice" or "chat"
	Turns   []Turn
	// DurationMS is the engagement's length; 0 means up to the last turn.
	DurationMS int64
	// Hold are the stretches the source signalled the call on hold.
	Hold []Interval
	// Final marks the figures of an ended engagement.
	Final bool
}

// Compute returns the speaker metrics of an engagement.
func Compute(cfg MetricsConfig, in MetricsInput) Metrics {
	m := Metrics{Channel: in.Channel, Final: in.Final, Parties: map[string]PartyMetrics{}, Silences: []Interval{}, Interruptions: []Interruption{}, Holds: []Interval{}}
	end := in.DurationMS
	for _, t := range in.Turns {
		end = max(end, t.EndMS)
	}
	m.DurationMS = end
	hold := mergeIntervals(slices.Clone(in.Hold), 0)
	for _, h := range hold {
		if h = clip(h, 0, end); h.dur() > 0 {
			m.HoldMS += h.dur()
			m.Holds = append(m.Holds, h)
		}
	}
	sides := []string{PartyAgent, PartyCustomer}
	if in.Channel == "chat" {
		for _, s := range sides {
			m.Parties[s] = PartyMetrics{}
		}
		chatTimes(&m, in.Turns)
		sentimentQuarters(&m, in.Turns, end)
		return m
	}
	speech := map[string][]Interval{}
	words := map[string]int{}
	for _, t := range in.Turns {
		s := side(t.Party)
		if len(t.Words) > 0 {
			for _, w := range t.Words {
				speech[s] = append(speech[s], Interval{w.StartMS, w.EndMS})
			}
			words[s] += len(t.Words)
		} else {
			speech[s] = append(speech[s], Interval{t.StartMS, t.EndMS})
			words[s] += len(tokens(t.Text))
		}
	}
	for s, iv := range speech {
		speech[s] = subtract(mergeIntervals(iv, cfg.BridgeMS), hold)
	}
	var total int64
	for _, s := range sides {
		pm := PartyMetrics{Words: words[s]}
		for _, iv := range speech[s] {
			pm.TalkMS += iv.dur()
		}
		if pm.TalkMS > 0 {
			pm.WordsPerMinute = float64(pm.Words) / (float64(pm.TalkMS) / 60000)
		}
		total += pm.TalkMS
		m.Parties[s] = pm
	}
	for _, s := range sides {
		pm := m.Parties[s]
		if total > 0 {
			pm.TalkRatio = float64(pm.TalkMS) / float64(total)
		}
		other := PartyCustomer
		if s == PartyCustomer {
			other = PartyAgent
		}
		pm.LongestMonologueMS = longestMonologue(speech[s], speech[other])
		m.Parties[s] = pm
	}
	// Overlap and interruptions.
	both := intersect(speech[PartyAgent], speech[PartyCustomer])
	for _, iv := range both {
		m.OverlapMS += iv.dur()
	}
	for _, s := range sides {
		other := PartyCustomer
		if s == PartyCustomer {
			other = PartyAgent
		}
		for _, iv := range speech[s] {
			for _, o := range speech[other] {
				if o.StartMS < iv.StartMS && iv.StartMS < o.EndMS {
					ov := min(o.EndMS, iv.EndMS) - iv.StartMS
					if ov >= cfg.MinOverlapMS {
						m.Interruptions = append(m.Interruptions, Interruption{AtMS: iv.StartMS, By: s, Of: other, OverlapMS: ov})
						pm := m.Parties[s]
						pm.Interruptions++
						m.Parties[s] = pm
					}
				}
			}
		}
	}
	slices.SortFunc(m.Interruptions, func(a, b Interruption) int { return int(a.AtMS - b.AtMS) })
	// Silence: the time between 0 and end nobody speaks, hold aside.
	talk := mergeIntervals(append(slices.Clone(speech[PartyAgent]), speech[PartyCustomer]...), 0)
	gaps := subtract(subtract([]Interval{{0, end}}, talk), hold)
	for _, g := range gaps {
		m.NonTalkMS += g.dur()
		m.LongestSilenceMS = max(m.LongestSilenceMS, g.dur())
		if g.dur() >= cfg.SilenceMS {
			m.Silences = append(m.Silences, g)
		}
	}
	sentimentQuarters(&m, in.Turns, end)
	return m
}

// longestMonologue is the longest stretch of own speech, across pauses,
// during which the other side does not speak.
func longestMonologue(own, other []Interval) int64 {
	var best int64
	for i := 0; i < len(own); {
		start, stop := own[i].StartMS, own[i].EndMS
		j := i + 1
		for j < len(own) && !anyStartsIn(other, stop, own[j].StartMS) {
			stop = own[j].EndMS
			j++
		}
		best = max(best, stop-start)
		i = j
	}
	return best
}

func anyStartsIn(iv []Interval, from, to int64) bool {
	for _, x := range iv {
		if x.StartMS < to && x.EndMS > from {
			return true
		}
	}
	return false
}

func chatTimes(m *Metrics, turns []Turn) {
	var agent, cust ChatTiming
	var waitingSince int64 = -1
	var responses []int64
	for _, t := range turns {
		switch side(t.Party) {
		case PartyCustomer:
			cust.Messages++
			if waitingSince < 0 {
				waitingSince = t.StartMS
			}
		case PartyAgent:
			agent.Messages++
			if waitingSince >= 0 {
				r := max(0, t.StartMS-waitingSince)
				if len(responses) == 0 {
					agent.FirstResponseMS = r
				}
				responses = append(responses, r)
				waitingSince = -1
			}
		}
	}
	var sum int64
	for _, r := range responses {
		sum += r
		agent.MaxResponseMS = max(agent.MaxResponseMS, r)
	}
	if len(responses) > 0 {
		agent.MeanResponseMS = sum / int64(len(responses))
	}
	cust.WaitMS = sum
	pa, pc := m.Parties[PartyAgent], m.Parties[PartyCustomer]
	pa.Chat, pc.Chat = &agent, &cust
	for _, t := range turns {
		n := len(tokens(t.Text))
		if side(t.Party) == PartyAgent {
			pa.Words += n
		} else if side(t.Party) == PartyCustomer {
			pc.Words += n
		}
	}
	m.Parties[PartyAgent], m.Parties[PartyCustomer] = pa, pc
}

// sentimentQuarters fills the sentiment by quarter of the engagement and
// the start and end sentiment of each side.
func sentimentQuarters(m *Metrics, turns []Turn, end int64) {
	if end <= 0 {
		return
	}
	for _, s := range []string{PartyAgent, PartyCustomer} {
		var sum [4]float64
		var n [4]int
		for _, t := range turns {
			if side(t.Party) != s || t.Sentiment == nil {
				continue
			}
			q := min(3, int(4*t.StartMS/max(end, 1)))
			sum[q] += *t.Sentiment
			n[q]++
		}
		pm := m.Parties[s]
		pm.Quarters = make([]*float64, 4)
		for q := range 4 {
			if n[q] > 0 {
				v := sum[q] / float64(n[q])
				pm.Quarters[q] = &v
			}
		}
		for q := range 4 {
			if pm.Quarters[q] != nil {
				pm.SentimentStart = pm.Quarters[q]
				break
			}
		}
		for q := 3; q >= 0; q-- {
			if pm.Quarters[q] != nil {
				pm.SentimentEnd = pm.Quarters[q]
				break
			}
		}
		if pm.SentimentStart == nil {
			pm.Quarters = nil
		}
		m.Parties[s] = pm
	}
}

// mergeIntervals sorts iv and joins intervals less than bridge apart.
func mergeIntervals(iv []Interval, bridge int64) []Interval {
	slices.SortFunc(iv, func(a, b Interval) int {
		if a.StartMS != b.StartMS {
			return int(a.StartMS - b.StartMS)
		}
		return int(a.EndMS - b.EndMS)
	})
	var out []Interval
	for _, x := range iv {
		if x.EndMS <= x.StartMS {
			continue
		}
		if n := len(out); n > 0 && x.StartMS-out[n-1].EndMS < bridge || n > 0 && x.StartMS <= out[n-1].EndMS {
			out[n-1].EndMS = max(out[n-1].EndMS, x.EndMS)
			continue
		}
		out = append(out, x)
	}
	return out
}

// subtract removes the (sorted, disjoint) cut intervals from iv.
func subtract(iv, cut []Interval) []Interval {
	if len(cut) == 0 {
		return iv
	}
	var out []Interval
	for _, x := range iv {
		cur := x
		for _, c := range cut {
			if c.EndMS <= cur.StartMS || c.StartMS >= cur.EndMS {
				continue
			}
			if c.StartMS > cur.StartMS {
				out = append(out, Interval{cur.StartMS, c.StartMS})
			}
			cur.StartMS = c.EndMS
			if cur.StartMS >= cur.EndMS {
				break
			}
		}
		if cur.EndMS > cur.StartMS {
			out = append(out, cur)
		}
	}
	return out
}

// intersect returns the overlaps of two sorted, disjoint interval lists.
func intersect(a, b []Interval) []Interval {
	var out []Interval
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].StartMS, b[j].StartMS), min(a[i].EndMS, b[j].EndMS)
		if lo < hi {
			out = append(out, Interval{lo, hi})
		}
		if a[i].EndMS < b[j].EndMS {
			i++
		} else {
			j++
		}
	}
	return out
}

func clip(i Interval, lo, hi int64) Interval {
	return Interval{max(i.StartMS, lo), min(i.EndMS, hi)}
}

// MetricNames are the figures a scorecard rule may test, with their unit.
var MetricNames = map[string]string{
	"talk_ms": "ms", "talk_ratio": "ratio", "words_per_minute": "wpm", "longest_monologue_ms": "ms",
	"interruptions": "count", "non_talk_ms": "ms", "longest_silence_ms": "ms", "silences": "count",
	"overlap_ms": "ms", "hold_ms": "ms", "duration_ms": "ms",
	"first_response_ms": "ms", "mean_response_ms": "ms", "max_response_ms": "ms",
}

// partyMetrics are the names that need a party.
var partyMetrics = map[string]bool{"talk_ms": true, "talk_ratio": true, "words_per_minute": true,
	"longest_monologue_ms": true, "interruptions": true, "first_response_ms": true, "mean_response_ms": true, "max_response_ms": true}

// Value returns a named figure (for party figures, of party's side); ok
// is false when the engagement has no such figure (chat timings of a
// call, for example).
func (m Metrics) Value(name, party string) (float64, bool) {
	if partyMetrics[name] {
		pm, ok := m.Parties[side(party)]
		if !ok {
			return 0, false
		}
		switch name {
		case "talk_ms":
			return float64(pm.TalkMS), m.Channel != "chat"
		case "talk_ratio":
			return pm.TalkRatio, m.Channel != "chat"
		case "words_per_minute":
			return pm.WordsPerMinute, m.Channel != "chat"
		case "longest_monologue_ms":
			return float64(pm.LongestMonologueMS), m.Channel != "chat"
		case "interruptions":
			return float64(pm.Interruptions), m.Channel != "chat"
		}
		if pm.Chat == nil {
			return 0, false
		}
		switch name {
		case "first_response_ms":
			return float64(pm.Chat.FirstResponseMS), true
		case "mean_response_ms":
			return float64(pm.Chat.MeanResponseMS), true
		case "max_response_ms":
			return float64(pm.Chat.MaxResponseMS), true
		}
		return 0, false
	}
	switch name {
	case "non_talk_ms":
		return float64(m.NonTalkMS), m.Channel != "chat"
	case "longest_silence_ms":
		return float64(m.LongestSilenceMS), m.Channel != "chat"
	case "silences":
		return float64(len(m.Silences)), m.Channel != "chat"
	case "overlap_ms":
		return float64(m.OverlapMS), m.Channel != "chat"
	case "hold_ms":
		return float64(m.HoldMS), true
	case "duration_ms":
		return float64(m.DurationMS), true
	}
	return 0, false
}
