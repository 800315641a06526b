package translate

import "math"

// LanguageState is an engagement's customer language as it settles over
// the customer's first messages. It is plain data, stored with the
// engagement; Observe and Set return the next state.
type LanguageState struct {
	// Lang is the settled language, or "" while undecided.
	Lang Lang `json:"lang,omitempty"`
	// Source tells where Lang came from: "detected", "customer" (chosen
	// by the customer or an agent), or "queue" (fixed by the queue).
	Source string `json:"source,omitempty"`
	// Evidence sums, per language, the log-posteriors of the messages seen
	// while undecided.
	Evidence map[Lang]float64 `json:"evidence,omitempty"`
	// Messages counts the messages observed.
	Messages int `json:"messages"`
	// Streak counts consecutive reliable messages in Challenger, a
	// language other than Lang.
	Challenger Lang `json:"challenger,omitempty"`
	Streak     int  `json:"streak,omitempty"`
}

// Sources of a settled language.
const (
	SourceDetected = "detected"
	SourceCustomer = "customer"
	SourceQueue    = "queue"
)

// Settler decides an engagement's customer language. The zero value is not
// usable; use DefaultSettler.
type Settler struct {
	// Margin is the lead in summed log-posterior that settles a language:
	// one confident message of ordinary length reaches it, a few
	// hesitant ones do too.
	Margin float64
	// MaxMessages settles on the leader after this many messages with
	// letters, whatever its lead.
	MaxMessages int
	// SwitchAfter consecutive reliable messages in another language change
	// a detected language: the customer switched.
	SwitchAfter int
}

// DefaultSettler returns the defaults: a lead of 3 (posterior odds of about
// 20 to 1), at most 3 messages, a switch after 2 messages.
func DefaultSettler() Settler { return Settler{Margin: 3, MaxMessages: 3, SwitchAfter: 2} }

// Fixed returns the state of an engagement whose queue fixes its language.
func Fixed(l Lang) LanguageState { return LanguageState{Lang: l, Source: SourceQueue} }

// Set returns s with the language the customer (or an agent on their
// behalf) chose; detection no longer changes it, unless the queue fixed it.
func (Settler) Set(s LanguageState, l Lang) LanguageState {
	if s.Source == SourceQueue {
		return s
	}
	return LanguageState{Lang: l, Source: SourceCustomer, Messages: s.Messages}
}

// Observe returns s updated with the identification of one customer
// message.
func (st Settler) Observe(s LanguageState, d Detection) LanguageState {
	if d.Lang == "" {
		return s // too little text to say anything
	}
	s.Messages++
	switch s.Source {
	case SourceQueue, SourceCustomer:
		return s
	case SourceDetected:
		if !d.Reliable || d.Lang == s.Lang {
			s.Challenger, s.Streak = "", 0
			return s
		}
		if d.Lang == s.Challenger {
			s.Streak++
		} else {
			s.Challenger, s.Streak = d.Lang, 1
		}
		if s.Streak >= st.SwitchAfter {
			return LanguageState{Lang: d.Lang, Source: SourceDetected, Messages: s.Messages}
		}
		return s
	}
	if s.Evidence == nil {
		s.Evidence = map[Lang]float64{}
	}
	for _, r := range d.Ranked {
		s.Evidence[r.Lang] += math.Log(max(r.P, 1e-9))
	}
	var best, second Lang
	for l, v := range s.Evidence {
		switch {
		case best == "" || v > s.Evidence[best] || (v == s.Evidence[best] && l < best):
			best, second = l, best
		case second == "" || v > s.Evidence[second] || (v == s.Evidence[second] && l < second):
			second = l
		}
	}
	lead := math.Inf(1)
	if second != "" {
		lead = s.Evidence[best] - s.Evidence[second]
	}
	if lead >= st.Margin || s.Messages >= st.MaxMessages {
		return LanguageState{Lang: best, Source: SourceDetected, Messages: s.Messages}
	}
	return s
}
