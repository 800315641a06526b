package daemon

import (
	"encoding/json"
	"slices"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin"
	"github.com/earshot/earshot/store"
)

// The rule of this file: an analyzer may use another feature's model
// internally, but no output (event, result, escalation, preview, sink
// event) reveals the result of a feature that is off for the engagement.
// Outputs are cut when they are computed and again when they are read, so
// that switching a feature off also hides what it computed before.

// eventFeatures maps the live events that carry a feature's result to the
// feature. queueLevel features are computed for the queue, whatever the
// engagement's agent holds (supervisors see them).
var eventFeatures = map[string]struct {
	f          Feature
	queueLevel bool
}{
	EventSentiment:       {"sentiment", false},
	EventNextBestAction:  {"next_best_action", false},
	EventNextStepWording: {"next_best_action", false},
	EventEscalation:      {"top_escalation", true},
	EventKBSuggestions:   {"kb_retrieval", false},
	EventInfoCards:       {"info_retrieval", false},
	EventLanguage:        {"auto_translate", false},
}

// ShowEvent implements hub.Controls: an event that carries the result of
// a feature switched off for engagement e is not shown, nor an escalation
// whose reasons came from the sentiment while sentiment is off.
func (c *Controls) ShowEvent(ev hub.Event, e *store.Engagement) bool {
	ef, ok := eventFeatures[ev.Type]
	switch {
	case !ok:
		return true
	case ef.queueLevel && !c.EnabledForQueue(ef.f, e.Queue):
		return false
	case !ef.queueLevel && !c.Enabled(ef.f, e.Queue, e.Agent):
		return false
	case ev.Type == EventEscalation && !c.Enabled("sentiment", e.Queue, e.Agent):
		var data struct{ Risk builtin.Risk }
		if json.Unmarshal(ev.Data, &data) != nil {
			return false
		}
		return !slices.ContainsFunc(data.Risk.Reasons, func(r builtin.Reason) bool {
			return slices.Contains(builtin.SentimentReasons, r.Code)
		})
	}
	return true
}

// shownRisk is an escalation risk as engagement e may show it: without
// the reasons drawn from the sentiment when sentiment is off for e.
func (c *Controls) shownRisk(e store.Engagement, r builtin.Risk) (risk builtin.Risk, sentimentOn bool) {
	if c.Enabled("sentiment", e.Queue, e.Agent) {
		return r, true
	}
	return r.Without(builtin.SentimentReasons...), false
}

// Results that agents save rather than models compute.
const (
	resultNotes       = "notes"
	resultDisposition = "disposition"
)

// resultFeature is the feature that governs a stored result.
func resultFeature(name string) Feature {
	switch name {
	case resultNotes:
		return "smart_notes"
	case resultDisposition:
		return "recommended_disposition"
	}
	return Feature(name)
}

// shownResults are the stored results of engagement e as its readers may
// see them: the results of features switched off are left out (what the
// agent saved always stays), and the draft note drops its follow-ups when
// follow-up tasks are off.
func (c *Controls) shownResults(e store.Engagement, rs []store.Result) []store.Result {
	out := make([]store.Result, 0, len(rs))
	for _, r := range rs {
		saved := r.Feature == resultNotes || r.Feature == resultDisposition
		if !saved && !c.Enabled(resultFeature(r.Feature), e.Queue, e.Agent) {
			continue
		}
		if r.Feature == "smart_notes" && !c.Enabled("follow_up_tasks", e.Queue, e.Agent) {
			var n inference.Notes
			if json.Unmarshal(r.Payload, &n) != nil {
				continue
			}
			n.FollowUps = nil
			r.Payload, _ = json.Marshal(n)
		}
		out = append(out, r)
	}
	return out
}
