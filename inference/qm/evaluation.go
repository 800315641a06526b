package qm

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Evaluation statuses.
const (
	StatusAuto         = "auto"         // answered automatically, not reviewed
	StatusReviewed     = "reviewed"     // an evaluator accepted or overrode the answers
	StatusAcknowledged = "acknowledged" // the agent acknowledged it
	StatusDisputed     = "disputed"     // the agent disputed it; awaiting another review
)

// Evidence points at the moment of the transcript an answer rests on.
type Evidence struct {
	Seq     int    `json:"seq"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Quote   string `json:"quote,omitempty"`
}

// Answer is one question's answer: the automatic one, and the human
// review of it.
type Answer struct {
	Question      string     `json:"question"`
	Value         string     `json:"value"` // yes, no, na, or 1..5; "" when unanswered (manual)
	Engine        string     `json:"engine"`
	Justification string     `json:"justification"`
	Evidence      []Evidence `json:"evidence"`
	Confidence    float64    `json:"confidence,omitempty"`
	// FellBack names the engine that failed before Engine answered.
	FellBack string `json:"fell_back,omitempty"`
	// Auto is the automatic answer kept when a reviewer overrides it.
	Auto string `json:"auto,omitempty"`
	// Review is the evaluator's verdict: accepted or overridden.
	Review *Review `json:"review,omitempty"`
}

// Review is an evaluator's verdict on one answer.
type Review struct {
	Action  string    `json:"action"` // accept or override
	Comment string    `json:"comment,omitempty"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Final is the answer that counts: the reviewer's when overridden.
func (a Answer) Final() string { return a.Value }

// Event is one step of an evaluation's history.
type Event struct {
	Action  string    `json:"action"` // created, reviewed, acknowledged, disputed
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// Evaluation is one scorecard applied to one engagement.
type Evaluation struct {
	ID               string    `json:"id"` // engagement ID "." scorecard ID
	Engagement       string    `json:"engagement"`
	Scorecard        string    `json:"scorecard"`
	ScorecardVersion int       `json:"scorecard_version"`
	Queue            string    `json:"queue"`
	Agent            string    `json:"agent,omitempty"`
	Channel          string    `json:"channel"`
	EngagementStart  time.Time `json:"engagement_start"`
	Status           string    `json:"status"`
	Answers          []Answer  `json:"answers"`
	Score            float64   `json:"score"` // 0..100
	AutoFailed       bool      `json:"auto_failed"`
	Passed           bool      `json:"passed"`
	// Calibrations are other evaluators' independent answers, for
	// agreement between evaluators.
	Calibrations []Calibration `json:"calibrations,omitempty"`
	History      []Event       `json:"history"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// Calibration is one evaluator's independent answers to an evaluation.
type Calibration struct {
	By      string            `json:"by"`
	At      time.Time         `json:"at"`
	Answers map[string]string `json:"answers"` // question ID -> value
}

// EvaluationID is the ID of the evaluation of an engagement by a scorecard.
func EvaluationID(engagement, scorecard string) string { return engagement + "." + scorecard }

// Rescore computes the evaluation's score from its answers: each question
// scores yes 1, no 0, or (v-1)/4 on a scale, n.a. and unanswered questions
// left out; sections average their questions by weight, the scorecard its
// sections by weight; an auto-fail question answered no (or 1-2) scores
// the evaluation 0.
func (e *Evaluation) Rescore(sc *Scorecard) {
	vals := map[string]string{}
	for _, a := range e.Answers {
		vals[a.Question] = a.Value
	}
	var total, wsum float64
	e.AutoFailed = false
	for _, sec := range sc.Sections {
		var s, w float64
		for _, q := range sec.Questions {
			v, ok := vals[q.ID]
			if !ok {
				continue
			}
			x, counts := questionScore(q.Type, v)
			if !counts {
				continue
			}
			if q.AutoFail && x < 0.5 {
				e.AutoFailed = true
			}
			s += x * q.Weight
			w += q.Weight
		}
		if w > 0 {
			total += s / w * sec.Weight
			wsum += sec.Weight
		}
	}
	e.Score = 0
	if wsum > 0 && !e.AutoFailed {
		e.Score = 100 * total / wsum
	}
	e.Passed = !e.AutoFailed && wsum > 0 && e.Score >= sc.PassScore
}

func questionScore(typ, v string) (float64, bool) {
	switch {
	case v == "" || v == AnswerNA:
		return 0, false
	case typ == TypeYesNo && v == AnswerYes:
		return 1, true
	case typ == TypeYesNo && v == AnswerNo:
		return 0, true
	case typ == TypeScale15:
		n, err := strconv.Atoi(v)
		if err == nil && n >= 1 && n <= 5 {
			return float64(n-1) / 4, true
		}
	}
	return 0, false
}

// ValidAnswer reports whether v answers question q.
func ValidAnswer(q Question, v string) bool {
	if v == AnswerNA {
		return q.AllowNA
	}
	_, ok := questionScore(q.Type, v)
	return ok
}

// ReviewItem is an evaluator's verdict on one question.
type ReviewItem struct {
	Question string `json:"question"`
	Action   string `json:"action"`          // accept or override
	Value    string `json:"value,omitempty"` // the new answer for override
	Comment  string `json:"comment,omitempty"`
}

// Errors of the review flows.
var (
	ErrState = errors.New("qm: evaluation is not in a state that allows this")
)

// ApplyReview records an evaluator's review: each item accepts or
// overrides one answer (an override needs a comment). Questions not named
// keep their answers. A disputed evaluation is re-reviewed the same way.
func (e *Evaluation) ApplyReview(sc *Scorecard, items []ReviewItem, by, comment string, now time.Time) error {
	if e.Status == StatusAcknowledged {
		return fmt.Errorf("%w: acknowledged evaluations are closed", ErrState)
	}
	qs := map[string]Question{}
	for _, q := range sc.Questions() {
		qs[q.ID] = q
	}
	idx := map[string]int{}
	for i, a := range e.Answers {
		idx[a.Question] = i
	}
	seen := map[string]bool{}
	for i, it := range items {
		field := fmt.Sprintf("items[%d]", i)
		q, ok := qs[it.Question]
		if !ok {
			return &FieldError{Field: field + ".question", Msg: fmt.Sprintf("unknown question %q", it.Question)}
		}
		if seen[it.Question] {
			return &FieldError{Field: field + ".question", Msg: fmt.Sprintf("question %q reviewed twice", it.Question)}
		}
		seen[it.Question] = true
		j, ok := idx[it.Question]
		if !ok {
			e.Answers = append(e.Answers, Answer{Question: it.Question, Engine: EngineManual, Evidence: []Evidence{}})
			j = len(e.Answers) - 1
			idx[it.Question] = j
		}
		a := &e.Answers[j]
		switch it.Action {
		case "accept":
			if a.Value == "" {
				return &FieldError{Field: field + ".action", Msg: "an unanswered question needs override with a value"}
			}
		case "override":
			if !ValidAnswer(q, it.Value) {
				return &FieldError{Field: field + ".value", Msg: fmt.Sprintf("%q does not answer a %s question", it.Value, q.Type)}
			}
			if len(it.Comment) == 0 {
				return &FieldError{Field: field + ".comment", Msg: "an override needs a comment"}
			}
			if a.Auto == "" {
				a.Auto = a.Value
				if a.Auto == "" {
					a.Auto = "-" // unanswered before the review
				}
			}
			a.Value = it.Value
		default:
			return &FieldError{Field: field + ".action", Msg: "action must be accept or override"}
		}
		if len(it.Comment) > 4000 {
			return &FieldError{Field: field + ".comment", Msg: "comment longer than 4000 bytes"}
		}
		a.Review = &Review{Action: it.Action, Comment: it.Comment, By: by, At: now}
	}
	e.Status = StatusReviewed
	e.History = append(e.History, Event{Action: "reviewed", By: by, At: now, Comment: comment})
	e.UpdatedAt = now
	e.Rescore(sc)
	return nil
}

// Acknowledge records the agent's acknowledgement.
func (e *Evaluation) Acknowledge(by string, now time.Time) error {
	if e.Status == StatusAcknowledged || e.Status == StatusDisputed {
		return fmt.Errorf("%w: evaluation is %s", ErrState, e.Status)
	}
	e.Status = StatusAcknowledged
	e.History = append(e.History, Event{Action: "acknowledged", By: by, At: now})
	e.UpdatedAt = now
	return nil
}

// Dispute records the agent's dispute; it needs a comment and sends the
// evaluation back for review.
func (e *Evaluation) Dispute(by, comment string, now time.Time) error {
	if comment == "" {
		return &FieldError{Field: "comment", Msg: "a dispute needs a comment"}
	}
	if e.Status == StatusAcknowledged || e.Status == StatusDisputed {
		return fmt.Errorf("%w: evaluation is %s", ErrState, e.Status)
	}
	e.Status = StatusDisputed
	e.History = append(e.History, Event{Action: "disputed", By: by, At: now, Comment: comment})
	e.UpdatedAt = now
	return nil
}

// AddCalibration records an evaluator's independent answers, replacing
// that evaluator's earlier ones.
func (e *Evaluation) AddCalibration(sc *Scorecard, by string, answers map[string]string, now time.Time) error {
	qs := map[string]Question{}
	for _, q := range sc.Questions() {
		qs[q.ID] = q
	}
	for id, v := range answers {
		q, ok := qs[id]
		if !ok {
			return &FieldError{Field: "answers." + id, Msg: fmt.Sprintf("unknown question %q", id)}
		}
		if !ValidAnswer(q, v) {
			return &FieldError{Field: "answers." + id, Msg: fmt.Sprintf("%q does not answer a %s question", v, q.Type)}
		}
	}
	e.Calibrations = slices.DeleteFunc(e.Calibrations, func(c Calibration) bool { return c.By == by })
	e.Calibrations = append(e.Calibrations, Calibration{By: by, At: now, Answers: answers})
	e.UpdatedAt = now
	return nil
}

// EvaluationSummary is an evaluation without content: what roll-ups, listings and
// reports need.
type EvaluationSummary struct {
	ID               string    `json:"id"`
	Engagement       string    `json:"engagement"`
	Scorecard        string    `json:"scorecard"`
	ScorecardVersion int       `json:"scorecard_version"`
	Queue            string    `json:"queue"`
	Agent            string    `json:"agent,omitempty"`
	Channel          string    `json:"channel"`
	EngagementStart  time.Time `json:"engagement_start"`
	Status           string    `json:"status"`
	Score            float64   `json:"score"`
	AutoFailed       bool      `json:"auto_failed"`
	Passed           bool      `json:"passed"`
	UpdatedAt        time.Time `json:"updated_at"`
	// Answers are the final answer values by question (no evidence, no
	// comments), and Auto the automatic ones where a reviewer changed
	// them: what calibration needs.
	Answers  map[string]string `json:"answers"`
	Auto     map[string]string `json:"auto,omitempty"`
	Reviewed map[string]bool   `json:"reviewed,omitempty"`
	// Calibrations are other evaluators' answer values.
	Calibrations []Calibration `json:"calibrations,omitempty"`
}

// Summarise returns the content-free summary of the evaluation.
func (e *Evaluation) Summarise() EvaluationSummary {
	s := EvaluationSummary{ID: e.ID, Engagement: e.Engagement, Scorecard: e.Scorecard, ScorecardVersion: e.ScorecardVersion,
		Queue: e.Queue, Agent: e.Agent, Channel: e.Channel, EngagementStart: e.EngagementStart, Status: e.Status, Score: e.Score,
		AutoFailed: e.AutoFailed, Passed: e.Passed, UpdatedAt: e.UpdatedAt, Answers: map[string]string{}, Calibrations: e.Calibrations}
	for _, a := range e.Answers {
		s.Answers[a.Question] = a.Value
		if a.Review != nil {
			if s.Reviewed == nil {
				s.Reviewed, s.Auto = map[string]bool{}, map[string]string{}
			}
			s.Reviewed[a.Question] = true
			auto := a.Value
			if a.Auto != "" {
				auto = a.Auto
			}
			s.Auto[a.Question] = auto
		}
	}
	return s
}
