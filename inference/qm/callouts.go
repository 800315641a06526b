package qm

import (
	"fmt"
	"slices"
)

// Callout types.
const (
	CalloutEscalation       = "escalation_request"
	CalloutChurn            = "churn_threat"
	CalloutComplaint        = "complaint"
	CalloutComplianceMissed = "compliance_missing"
	CalloutCompliancePhrase = "compliance_present"
	CalloutForbidden        = "forbidden_phrase"
	CalloutSilence          = "long_silence"
	CalloutOvertalk         = "overtalk_burst"
)

// Callout is a moment of an engagement that needs a supervisor's
// attention. Seq is the turn it comes from (-1 for moments of the audio,
// such as silences).
type Callout struct {
	Type   string `json:"type"`
	AtMS   int64  `json:"at_ms"`
	EndMS  int64  `json:"end_ms,omitempty"`
	Seq    int    `json:"seq"`
	Party  string `json:"party,omitempty"`
	Reason string `json:"reason"`
}

// CompliancePhrase is a phrase a side must (or must never) say, optionally
// within the first or last seconds of the engagement.
type CompliancePhrase struct {
	Name      string   `json:"name"`
	Phrases   []string `json:"phrases"` // any of them counts
	Party     string   `json:"party"`   // agent (default) or customer
	Forbidden bool     `json:"forbidden,omitempty"`
	// WithinFirstS / WithinLastS restrict where a required phrase must be.
	WithinFirstS int `json:"within_first_s,omitempty"`
	WithinLastS  int `json:"within_last_s,omitempty"`
}

// CalloutConfig holds the site's phrase lists. Zero lists use the
// built-in English cues.
type CalloutConfig struct {
	Escalation []string           `json:"escalation,omitempty"`
	Churn      []string           `json:"churn,omitempty"`
	Complaint  []string           `json:"complaint,omitempty"`
	Compliance []CompliancePhrase `json:"compliance,omitempty"`
}

var (
	defaultEscalation = []string{"speak to a manager", "speak to your manager", "talk to a manager", "speak to a supervisor",
		"talk to a supervisor", "speak to someone senior", "escalate this", "escalate it", "your manager", "supervisor please"}
	defaultChurn = []string{"close my account", "closing my account", "cancel my account", "cancel my subscription", "switch banks",
		"switching banks", "move my money", "take my business elsewhere", "going to leave", "leave your bank", "another bank", "cancel the service"}
	defaultComplaint = []string{"make a complaint", "file a complaint", "formal complaint", "i want to complain", "unacceptable",
		"ridiculous", "disgusting", "worst service", "this is a joke", "fed up", "not good enough", "ombudsman"}
)

// Validate checks the phrase lists.
func (c CalloutConfig) Validate() error {
	for i, p := range c.Compliance {
		switch {
		case p.Name == "":
			return &FieldError{Field: fmt.Sprintf("compliance[%d].name", i), Msg: "name is required"}
		case len(p.Phrases) == 0:
			return &FieldError{Field: fmt.Sprintf("compliance[%d].phrases", i), Msg: "at least one phrase is required"}
		case p.Party != "" && p.Party != PartyAgent && p.Party != PartyCustomer:
			return &FieldError{Field: fmt.Sprintf("compliance[%d].party", i), Msg: "party must be agent or customer"}
		case p.WithinFirstS < 0 || p.WithinLastS < 0:
			return &FieldError{Field: fmt.Sprintf("compliance[%d].within_first_s", i), Msg: "must not be negative"}
		}
		for j, ph := range p.Phrases {
			if len(newPhrase(ph)) == 0 {
				return &FieldError{Field: fmt.Sprintf("compliance[%d].phrases[%d]", i, j), Msg: "phrase has no words"}
			}
		}
	}
	return nil
}

func phrases(list, def []string) []phrase {
	if len(list) == 0 {
		list = def
	}
	out := make([]phrase, 0, len(list))
	for _, s := range list {
		if p := newPhrase(s); len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// Callouts finds the moments of an engagement worth a supervisor's look.
// turnTokens may hold each turn's tokens (nil: computed here).
func Callouts(cfg CalloutConfig, mcfg MetricsConfig, turns []Turn, m Metrics) []Callout {
	out := []Callout{}
	toks := make([][]string, len(turns))
	for i, t := range turns {
		toks[i] = tokens(t.Text)
	}
	cues := []struct {
		typ, party, why string
		ps              []phrase
	}{
		{CalloutEscalation, PartyCustomer, "the customer asked for escalation", phrases(cfg.Escalation, defaultEscalation)},
		{CalloutChurn, PartyCustomer, "the customer threatened to leave", phrases(cfg.Churn, defaultChurn)},
		{CalloutComplaint, PartyCustomer, "the customer complained", phrases(cfg.Complaint, defaultComplaint)},
	}
	for _, c := range cues {
		for i, t := range turns {
			if side(t.Party) != c.party {
				continue
			}
			for _, p := range c.ps {
				if p.in(toks[i]) {
					out = append(out, Callout{Type: c.typ, AtMS: t.StartMS, EndMS: t.EndMS, Seq: t.Seq, Party: t.Party,
						Reason: fmt.Sprintf("%s (%q)", c.why, p.String())})
					break
				}
			}
		}
	}
	for _, cp := range cfg.Compliance {
		party := cp.Party
		if party == "" {
			party = PartyAgent
		}
		ps := phrases(cp.Phrases, nil)
		found := -1
		for i, t := range turns {
			if side(t.Party) != party || !within(t, cp.WithinFirstS, cp.WithinLastS, m.DurationMS) {
				continue
			}
			if slices.ContainsFunc(ps, func(p phrase) bool { return p.in(toks[i]) }) {
				found = i
				break
			}
		}
		switch {
		case cp.Forbidden && found >= 0:
			t := turns[found]
			out = append(out, Callout{Type: CalloutForbidden, AtMS: t.StartMS, EndMS: t.EndMS, Seq: t.Seq, Party: t.Party,
				Reason: fmt.Sprintf("forbidden phrase %q was said", cp.Name)})
		case !cp.Forbidden && found >= 0:
			t := turns[found]
			out = append(out, Callout{Type: CalloutCompliancePhrase, AtMS: t.StartMS, EndMS: t.EndMS, Seq: t.Seq, Party: t.Party,
				Reason: fmt.Sprintf("required phrase %q was said", cp.Name)})
		case !cp.Forbidden:
			out = append(out, Callout{Type: CalloutComplianceMissed, AtMS: 0, Seq: -1, Party: party,
				Reason: fmt.Sprintf("required phrase %q was not said%s", cp.Name, whereText(cp))})
		}
	}
	for _, s := range m.Silences {
		out = append(out, Callout{Type: CalloutSilence, AtMS: s.StartMS, EndMS: s.EndMS, Seq: -1,
			Reason: fmt.Sprintf("%.0f s of silence", float64(s.dur())/1000)})
	}
	for _, in := range m.Interruptions {
		if in.OverlapMS >= mcfg.OvertalkBurstMS {
			out = append(out, Callout{Type: CalloutOvertalk, AtMS: in.AtMS, EndMS: in.AtMS + in.OverlapMS, Seq: -1, Party: in.By,
				Reason: fmt.Sprintf("the %s talked over the %s for %.1f s", in.By, in.Of, float64(in.OverlapMS)/1000)})
		}
	}
	slices.SortStableFunc(out, func(a, b Callout) int { return int(a.AtMS - b.AtMS) })
	return out
}

func within(t Turn, firstS, lastS int, durationMS int64) bool {
	if firstS > 0 && t.StartMS > int64(firstS)*1000 {
		return false
	}
	if lastS > 0 && t.EndMS < durationMS-int64(lastS)*1000 {
		return false
	}
	return true
}

func whereText(cp CompliancePhrase) string {
	switch {
	case cp.WithinFirstS > 0:
		return fmt.Sprintf(" in the first %d s", cp.WithinFirstS)
	case cp.WithinLastS > 0:
		return fmt.Sprintf(" in the last %d s", cp.WithinLastS)
	}
	return ""
}

// FieldError is a bad value of a definition, naming its field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "qm: " + e.Field + ": " + e.Msg }
