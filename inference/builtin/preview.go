package builtin

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// PastEngagement is what the preview needs of one previous engagement of the
// same customer: its date and stored results. A reader who may not read
// the engagement itself gets no verbatim content from it: the caller then
// leaves Summary and OpenTasks empty and gives only Topics (intent names,
// which the site defines) and the number of open tasks.
type PastEngagement struct {
	ID          string    `json:"id"`
	Start       time.Time `json:"start"`
	Summary     string    `json:"summary"`
	Disposition string    `json:"disposition,omitempty"` // code name
	Sentiment   float64   `json:"sentiment"`             // final trend, -1..1
	OpenTasks   []string  `json:"open_tasks,omitempty"`
	// Topics name what the engagement was about when Summary is empty.
	Topics []string `json:"topics,omitempty"`
	// HiddenTasks counts open tasks whose text the reader may not see.
	HiddenTasks int `json:"hidden_tasks,omitempty"`
}

// Preview is a short summary of a customer's previous engagements, shown to
// an agent before accepting.
type Preview struct {
	Text       string   `json:"text"`
	Count      int      `json:"count"`
	OpenTasks  []string `json:"open_tasks,omitempty"`
	Provenance string   `json:"provenance"`
}

// EngagementPreview summarises up to the last three of past (any order),
// newest first: when, why (the summary's first sentence), how it ended, and
// the customer's mood; open tasks are listed. now is used for "N days ago".
func EngagementPreview(past []PastEngagement, now time.Time) Preview {
	pv := Preview{Count: len(past), Provenance: ProviderName + "/preview@1"}
	if len(past) == 0 {
		pv.Text = "No previous engagements."
		return pv
	}
	sorted := append([]PastEngagement(nil), past...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start.After(sorted[j].Start) })
	var b strings.Builder
	hidden := 0
	fmt.Fprintf(&b, "%d previous engagement(s).", len(past))
	for i, e := range sorted {
		if i == 3 {
			break
		}
		days := int(now.Sub(e.Start).Hours() / 24)
		when := fmt.Sprintf("%d days ago", days)
		switch days {
		case 0:
			when = "today"
		case 1:
			when = "yesterday"
		}
		switch {
		case e.Summary != "":
			fmt.Fprintf(&b, " %s: %s", when, firstSentence(e.Summary))
		case len(e.Topics) > 0:
			fmt.Fprintf(&b, " %s: about %s", when, strings.Join(e.Topics, ", "))
		default:
			fmt.Fprintf(&b, " %s: an engagement", when)
		}
		if e.Disposition != "" {
			fmt.Fprintf(&b, " [%s]", e.Disposition)
		}
		switch {
		case e.Sentiment <= -0.3:
			b.WriteString(" (customer was upset)")
		case e.Sentiment >= 0.3:
			b.WriteString(" (customer was satisfied)")
		}
		b.WriteString(".")
		pv.OpenTasks = append(pv.OpenTasks, e.OpenTasks...)
		hidden += e.HiddenTasks
	}
	if len(pv.OpenTasks) > 0 {
		fmt.Fprintf(&b, " Open follow-ups: %s.", strings.Join(pv.OpenTasks, "; "))
	}
	if hidden > 0 {
		fmt.Fprintf(&b, " %d more open follow-up(s) in engagements handled by others.", hidden)
	}
	pv.Text = b.String()
	return pv
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if (s[i] == '.' || s[i] == '!' || s[i] == '?') && (i+1 == len(s) || s[i+1] == ' ') {
			return strings.TrimRight(s[:i], ".!?")
		}
	}
	return strings.TrimRight(truncate(s, 160), ".!?")
}
