package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/inference/topics"
	"github.com/earshot/earshot/store"
)

var (
	qaRoles      = []Role{RoleAdmin, RoleSupervisor, RoleAnalyst}
	qaAgentRoles = []Role{RoleAdmin, RoleSupervisor, RoleAnalyst, RoleAgent}
	agentOnly    = []Role{RoleAgent}
	// holdSetters may signal hold: the call control (ingest), the agent's
	// desktop, staff.
	holdSetters = []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleIngest}
)

func (d *Daemon) qmRoutes() []route {
	return []route{
		{"GET", "/api/v1/scorecards", qaAgentRoles, "Scorecards (latest versions)", d.listScorecards},
		{"POST", "/api/v1/scorecards", adminOnly, "Create a scorecard (version 1)", d.createScorecard},
		{"GET", "/api/v1/scorecards/{id}", qaAgentRoles, "A scorecard, latest or ?version=N", d.getScorecard},
		{"PUT", "/api/v1/scorecards/{id}", adminOnly, "Store a new version of a scorecard", d.putScorecard},
		{"DELETE", "/api/v1/scorecards/{id}", adminOnly, "Archive a scorecard (a new, archived version)", d.archiveScorecard},
		{"POST", "/api/v1/engagements/{id}/evaluations", qaRoles, "Evaluate an ended engagement with a scorecard now (audited)", d.evaluateEngagement},
		{"PUT", "/api/v1/engagements/{id}/hold", holdSetters, "Put a live call (or one party's stream) on hold or resume it, for sources that do not signal hold themselves (audited)", d.putHold},
		{"GET", "/api/v1/engagements/{id}/analytics", engagementReaders, "Interaction analytics view: summary, sentiment trend, next steps, callouts, topics, metrics (audited)", d.getInteraction},
		{"GET", "/api/v1/evaluations", qaAgentRoles, "Evaluations in the caller's scope (scores and status, no content); agents see their own", d.listEvaluations},
		{"GET", "/api/v1/evaluations/{id}", qaAgentRoles, "An evaluation with answers, justifications and evidence (audited)", d.getEvaluation},
		{"POST", "/api/v1/evaluations/{id}/review", qaRoles, "Accept or override answers of an evaluation", d.reviewEvaluation},
		{"POST", "/api/v1/evaluations/{id}/calibration", qaRoles, "Record an evaluator's independent answers for calibration", d.calibrateEvaluation},
		{"POST", "/api/v1/evaluations/{id}/acknowledge", agentOnly, "The agent acknowledges their evaluation", d.acknowledgeEvaluation},
		{"POST", "/api/v1/evaluations/{id}/dispute", agentOnly, "The agent disputes their evaluation, with a comment", d.disputeEvaluation},
		{"GET", "/api/v1/reports/engagements", qaRoles, "Engagement figures by queue, agent, day, week or month (JSON or CSV)", d.reportEngagements},
		{"GET", "/api/v1/reports/scores", qaAgentRoles, "QM scores rolled up by agent, queue, day, week or month (JSON or CSV); agents see their own", d.reportScores},
		{"GET", "/api/v1/reports/calibration", qaRoles, "Agreement and Cohen's kappa per question: automatic vs human, and between evaluators", d.reportCalibration},
		{"GET", "/api/v1/topics", qaRoles, "Topics of the newest discovery for the caller's queues, with counts per day and trend (audited)", d.listTopics},
		{"POST", "/api/v1/topics/discover", qaRoles, "Discover topics now for queues in the caller's scope and a period (audited)", d.discoverTopics},
		{"GET", "/api/v1/topics/{model}/{topic}", qaRoles, "One topic: snippets and the engagements in it (audited)", d.getTopic},
		{"GET", "/api/v1/settings/qm", adminOnly, "Quality-management settings: metric thresholds, callout phrases, topic schedule", d.getQMSettings},
		{"PUT", "/api/v1/settings/qm", adminOnly, "Replace the quality-management settings", d.putQMSettings},
	}
}

// qmFieldError writes a problem for a definition error naming its field.
func (d *Daemon) qmFieldError(w http.ResponseWriter, r *http.Request, err error, prefix string) {
	var fe *qm.FieldError
	var de *fieldError
	switch {
	case errors.As(err, &fe):
		d.badRequest(w, r, 400, fe.Error(), prefix+fe.Field)
	case errors.As(err, &de):
		d.badRequest(w, r, 400, de.msg, prefix+de.field)
	default:
		d.badRequest(w, r, 400, err.Error(), "")
	}
}

// known is what scorecards may refer to.
func (d *Daemon) known() qm.Known {
	k := qm.Known{Intents: map[string]bool{}, Dispositions: map[string]bool{}, Queues: map[string]bool{}}
	for _, name := range d.analytics.p.Intents() {
		k.Intents[name] = true
	}
	if len(k.Intents) == 0 {
		k.Intents = nil // no intent model yet: intent names cannot be checked
	}
	for _, c := range *d.analytics.codes.Load() {
		k.Dispositions[c.Code] = true
	}
	if len(k.Dispositions) == 0 {
		k.Dispositions = nil
	}
	if qs, err := d.store.Queues(context.Background()); err == nil {
		for _, q := range qs {
			k.Queues[q.ID] = true
		}
	}
	return k
}

func (d *Daemon) listScorecards(w http.ResponseWriter, r *http.Request, p *Principal) {
	out := []*qm.Scorecard{}
	for _, sc := range *d.quality.scorecards.Load() {
		if r.URL.Query().Get("archived") != "true" && sc.Archived {
			continue
		}
		out = append(out, sc)
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) getScorecard(w http.ResponseWriter, r *http.Request, p *Principal) {
	v := 0
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			d.badRequest(w, r, 400, "version must be a positive integer", "version")
			return
		}
		v = n
	}
	sc, err := d.quality.scorecard(r.Context(), r.PathValue("id"), v)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, sc)
}

func (d *Daemon) createScorecard(w http.ResponseWriter, r *http.Request, p *Principal) {
	sc := qm.Scorecard{Sampling: qm.Sampling{Percent: 100}}
	if !d.decodeJSON(w, r, &sc) {
		return
	}
	if _, err := d.store.Scorecard(r.Context(), sc.ID, 0); err == nil {
		writeProblemField(w, r, http.StatusConflict, "conflict", "scorecard "+sc.ID+" exists; PUT a new version", "id")
		return
	}
	d.storeScorecard(w, r, p, &sc, 1, "scorecard.create", http.StatusCreated)
}

func (d *Daemon) putScorecard(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if _, err := d.store.Scorecard(r.Context(), id, 0); err != nil {
		d.storeError(w, r, err)
		return
	}
	sc := qm.Scorecard{Sampling: qm.Sampling{Percent: 100}}
	if !d.decodeJSON(w, r, &sc) {
		return
	}
	if sc.ID == "" {
		sc.ID = id
	}
	if sc.ID != id {
		d.badRequest(w, r, 400, "id does not match the path", "id")
		return
	}
	// version, when given, is the version the edit started from.
	expect := 0
	if sc.Version > 0 {
		expect = sc.Version + 1
	}
	d.storeScorecard(w, r, p, &sc, expect, "scorecard.update", http.StatusOK)
}

func (d *Daemon) archiveScorecard(w http.ResponseWriter, r *http.Request, p *Principal) {
	sc, err := d.quality.scorecard(r.Context(), r.PathValue("id"), 0)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	sc.Archived = true
	d.storeScorecard(w, r, p, sc, 0, "scorecard.archive", http.StatusOK)
}

func (d *Daemon) storeScorecard(w http.ResponseWriter, r *http.Request, p *Principal, sc *qm.Scorecard, expect int, action string, status int) {
	if err := sc.Validate(d.known()); err != nil {
		d.qmFieldError(w, r, err, "")
		return
	}
	sc.CreatedAt, sc.CreatedBy = time.Now().UTC(), p.User.ID
	_, err := d.store.PutScorecardVersion(r.Context(), sc.ID, expect, func(v int) ([]byte, error) {
		sc.Version = v
		return json.Marshal(sc)
	}, auditEntry(r, p, action, "scorecard:"+sc.ID))
	if errors.Is(err, store.ErrVersion) {
		writeProblemField(w, r, http.StatusConflict, "conflict", err.Error(), "version")
		return
	}
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if err := d.quality.reloadScorecards(r.Context()); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, status, sc)
}

// qmEngagement loads an engagement the caller may see for a QM feature
// that is on for it; out of scope or switched off is "not found".
func (d *Daemon) qmEngagement(w http.ResponseWriter, r *http.Request, p *Principal, id string, f Feature) (store.Engagement, bool) {
	e, err := d.store.Engagement(r.Context(), id)
	if err != nil || !p.canSee(e) || !d.controls.EnabledForQueue(f, e.Queue) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such "+strings.ReplaceAll(string(f), "_", " ")+" result")
		return e, false
	}
	return e, true
}

func (d *Daemon) evaluateEngagement(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Scorecard string `json:"scorecard"`
		Version   int    `json:"version"`
	}
	// Scope first: a caller outside it learns nothing from the body's check.
	e, ok := d.qmEngagement(w, r, p, r.PathValue("id"), "auto_qm")
	if !ok {
		return
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if e.Status != store.StatusEnded {
		writeProblem(w, r, http.StatusConflict, "live", "an engagement is evaluated after it ends")
		return
	}
	sc, err := d.quality.scorecard(r.Context(), req.Scorecard, req.Version)
	if err != nil {
		d.badRequest(w, r, 400, "unknown scorecard "+req.Scorecard, "scorecard")
		return
	}
	f, err := d.quality.facts(r.Context(), &e)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	a := contentRead(r, p, e.ID, "evaluation")
	a.Action, a.Target = "evaluation.create", "scorecard:"+sc.ID
	ev, err := d.quality.evaluate(r.Context(), sc, f, &a)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ev)
}

func (d *Daemon) getInteraction(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	if !d.controls.Enabled("interaction_analytics", e.Queue, e.Agent) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "interaction analytics are off for this engagement")
		return
	}
	res, err := d.store.Result(r.Context(), e.ID, resultInteraction, contentRead(r, p, e.ID, resultInteraction))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	var v interactionView
	if err := json.Unmarshal(res.Payload, &v); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, d.controls.shownView(e, v))
}

// parseEvaluationID splits "<engagement>.<scorecard>".
func parseEvaluationID(id string) (eng, scorecard string, ok bool) {
	if len(id) < 34 || id[32] != '.' {
		return "", "", false
	}
	return id[:32], id[33:], true
}

// loadEvaluation reads an evaluation the caller may see, auditing the
// read of its content.
func (d *Daemon) loadEvaluation(w http.ResponseWriter, r *http.Request, p *Principal, action string) (*qm.Evaluation, store.Engagement, bool) {
	eng, scID, ok := parseEvaluationID(r.PathValue("id"))
	if !ok {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such evaluation")
		return nil, store.Engagement{}, false
	}
	e, ok := d.qmEngagement(w, r, p, eng, "auto_qm")
	if !ok {
		return nil, e, false
	}
	a := contentRead(r, p, e.ID, "evaluation")
	if action != "" {
		a.Action = action
	}
	raw, err := d.store.Evaluation(r.Context(), e.ID, scID, a)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeProblem(w, r, http.StatusNotFound, "not-found", "no such evaluation")
			return nil, e, false
		}
		d.storeError(w, r, err)
		return nil, e, false
	}
	var ev qm.Evaluation
	if err := json.Unmarshal(raw, &ev); err != nil {
		d.storeError(w, r, err)
		return nil, e, false
	}
	return &ev, e, true
}

func (d *Daemon) getEvaluation(w http.ResponseWriter, r *http.Request, p *Principal) {
	if ev, _, ok := d.loadEvaluation(w, r, p, ""); ok {
		writeJSON(w, 200, ev)
	}
}

// changeEvaluation loads an evaluation, applies fn and stores it with an
// audit entry of the change.
func (d *Daemon) changeEvaluation(w http.ResponseWriter, r *http.Request, p *Principal, action string, fn func(*qm.Evaluation, *qm.Scorecard, store.Engagement) error) {
	ev, e, ok := d.loadEvaluation(w, r, p, "")
	if !ok {
		return
	}
	sc, err := d.quality.scorecard(r.Context(), ev.Scorecard, ev.ScorecardVersion)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if err := fn(ev, sc, e); err != nil {
		var fe *qm.FieldError
		switch {
		case errors.As(err, &fe):
			d.badRequest(w, r, 400, fe.Error(), fe.Field)
		case errors.Is(err, qm.ErrState):
			writeProblem(w, r, http.StatusConflict, "conflict", err.Error())
		case errors.Is(err, errForbiddenAgent):
			writeProblem(w, r, http.StatusForbidden, "forbidden", err.Error())
		default:
			d.badRequest(w, r, 400, err.Error(), "")
		}
		return
	}
	a := auditEntry(r, p, action, "evaluation:"+ev.ID)
	a.Engagement = e.ID
	if err := d.quality.putEvaluation(r.Context(), ev, &a); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, ev)
}

var errForbiddenAgent = errors.New("only the engagement's agent may do this")

func (d *Daemon) reviewEvaluation(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Items   []qm.ReviewItem `json:"items"`
		Comment string          `json:"comment"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	d.changeEvaluation(w, r, p, "evaluation.review", func(ev *qm.Evaluation, sc *qm.Scorecard, _ store.Engagement) error {
		return ev.ApplyReview(sc, req.Items, p.User.ID, req.Comment, time.Now().UTC())
	})
}

func (d *Daemon) calibrateEvaluation(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Answers map[string]string `json:"answers"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if len(req.Answers) == 0 {
		d.badRequest(w, r, 400, "answers are required", "answers")
		return
	}
	d.changeEvaluation(w, r, p, "evaluation.calibrate", func(ev *qm.Evaluation, sc *qm.Scorecard, _ store.Engagement) error {
		return ev.AddCalibration(sc, p.User.ID, req.Answers, time.Now().UTC())
	})
}

func (d *Daemon) acknowledgeEvaluation(w http.ResponseWriter, r *http.Request, p *Principal) {
	d.changeEvaluation(w, r, p, "evaluation.acknowledge", func(ev *qm.Evaluation, _ *qm.Scorecard, e store.Engagement) error {
		if e.Agent != p.User.ID {
			return errForbiddenAgent
		}
		return ev.Acknowledge(p.User.ID, time.Now().UTC())
	})
}

func (d *Daemon) disputeEvaluation(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Comment string `json:"comment"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if len(req.Comment) > 4000 {
		d.badRequest(w, r, 400, "comment longer than 4000 bytes", "comment")
		return
	}
	d.changeEvaluation(w, r, p, "evaluation.dispute", func(ev *qm.Evaluation, _ *qm.Scorecard, e store.Engagement) error {
		if e.Agent != p.User.ID {
			return errForbiddenAgent
		}
		return ev.Dispute(p.User.ID, strings.TrimSpace(req.Comment), time.Now().UTC())
	})
}

// reportFilter is the common query of the reports: period, queue, agent.
type reportFilter struct {
	from, to     time.Time
	queue, agent string
	by           string
	csv          bool
}

func (d *Daemon) parseReportFilter(w http.ResponseWriter, r *http.Request, p *Principal, defBy string) (reportFilter, bool) {
	q := r.URL.Query()
	f := reportFilter{queue: q.Get("queue"), agent: q.Get("agent"), by: q.Get("group_by")}
	if f.by == "" {
		f.by = defBy
	}
	if !qm.ValidGroup(f.by) {
		d.badRequest(w, r, 400, "group_by must be queue, agent, day, week or month", "group_by")
		return f, false
	}
	if !d.parseTimes(w, r, map[string]string{"from": q.Get("from"), "to": q.Get("to")}, map[string]*time.Time{"from": &f.from, "to": &f.to}) {
		return f, false
	}
	switch q.Get("format") {
	case "", "json":
	case "csv":
		f.csv = true
	default:
		d.badRequest(w, r, 400, "format must be json or csv", "format")
		return f, false
	}
	if f.queue != "" && !p.InQueue(f.queue) && p.Role() != RoleAgent {
		writeProblem(w, r, http.StatusForbidden, "forbidden", "queue outside the caller's scope")
		return f, false
	}
	if p.Role() == RoleAgent {
		if f.agent != "" && f.agent != p.User.ID {
			writeProblem(w, r, http.StatusForbidden, "forbidden", "agents see their own scores only")
			return f, false
		}
		f.agent = p.User.ID
	}
	return f, true
}

func (f reportFilter) match(queue, agent string, start time.Time, p *Principal) bool {
	switch {
	case f.queue != "" && queue != f.queue, f.agent != "" && agent != f.agent:
		return false
	case !f.from.IsZero() && start.Before(f.from), !f.to.IsZero() && !start.Before(f.to):
		return false
	case p.Role() == RoleAgent:
		return agent == p.User.ID
	}
	return p.InQueue(queue)
}

func (d *Daemon) reportEngagements(w http.ResponseWriter, r *http.Request, p *Principal) {
	f, ok := d.parseReportFilter(w, r, p, qm.ByQueue)
	if !ok {
		return
	}
	rb := qm.NewReportBuilder(f.by, time.UTC)
	var x qm.Fact
	err := d.store.Facts(r.Context(), func(_ string, raw []byte) error {
		if err := x.UnmarshalBinary(raw); err != nil {
			return err
		}
		if f.match(x.Queue, x.Agent, x.Start, p) {
			rb.Add(&x)
		}
		return nil
	})
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	rows := rb.Rows()
	writeRows(w, f, rows, func(out io.Writer) error { return qm.WriteReportCSV(out, f.by, rows) })
}

// writeRows writes report rows as JSON, or as CSV when asked.
func writeRows(w http.ResponseWriter, f reportFilter, rows any, csv func(io.Writer) error) {
	if f.csv {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		csv(w)
		return
	}
	writeJSON(w, 200, map[string]any{"group_by": f.by, "rows": rows})
}

// parseTimes parses the RFC 3339 times given by name into their
// destinations (empty ones are left alone), writing a problem that names
// the first bad one.
func (d *Daemon) parseTimes(w http.ResponseWriter, r *http.Request, vals map[string]string, dst map[string]*time.Time) bool {
	for _, name := range []string{"from", "to"} {
		v := vals[name]
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			d.badRequest(w, r, 400, name+" must be an RFC 3339 time", name)
			return false
		}
		*dst[name] = t
	}
	return true
}

// summaries returns the evaluation summaries the filter and the caller's
// scope admit, of queues where automatic QM is on.
func (d *Daemon) summaries(ctx context.Context, f reportFilter, p *Principal, scorecard, status string) ([]qm.EvaluationSummary, error) {
	out := []qm.EvaluationSummary{}
	on := map[string]bool{}
	err := d.store.EvaluationSummaries(ctx, "", func(_, sc string, raw []byte) error {
		if scorecard != "" && sc != scorecard {
			return nil
		}
		var s qm.EvaluationSummary
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if !f.match(s.Queue, s.Agent, s.EngagementStart, p) || (status != "" && s.Status != status) {
			return nil
		}
		enabled, seen := on[s.Queue]
		if !seen {
			enabled = d.controls.EnabledForQueue("auto_qm", s.Queue)
			on[s.Queue] = enabled
		}
		if enabled {
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

func (d *Daemon) listEvaluations(w http.ResponseWriter, r *http.Request, p *Principal) {
	f, ok := d.parseReportFilter(w, r, p, qm.ByQueue)
	if !ok {
		return
	}
	q := r.URL.Query()
	out, err := d.summaries(r.Context(), f, p, q.Get("scorecard"), q.Get("status"))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].EngagementStart.After(out[j].EngagementStart) })
	for i := range out {
		// Calibration answers are other evaluators' work, not the agent's.
		if p.Role() == RoleAgent {
			out[i].Calibrations = nil
		}
	}
	if len(out) > 5000 {
		out = out[:5000]
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) reportScores(w http.ResponseWriter, r *http.Request, p *Principal) {
	f, ok := d.parseReportFilter(w, r, p, qm.ByAgent)
	if !ok {
		return
	}
	evals, err := d.summaries(r.Context(), f, p, r.URL.Query().Get("scorecard"), "")
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	rows := qm.Rollup(evals, f.by, time.UTC)
	writeRows(w, f, rows, func(out io.Writer) error { return qm.WriteRollupCSV(out, f.by, rows) })
}

func (d *Daemon) reportCalibration(w http.ResponseWriter, r *http.Request, p *Principal) {
	f, ok := d.parseReportFilter(w, r, p, qm.ByQueue)
	if !ok {
		return
	}
	id := r.URL.Query().Get("scorecard")
	sc, err := d.quality.scorecard(r.Context(), id, 0)
	if err != nil {
		d.badRequest(w, r, 400, "unknown scorecard "+id, "scorecard")
		return
	}
	evals, err := d.summaries(r.Context(), f, p, sc.ID, "")
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, qm.Calibrate(sc, evals))
}

// topicScope returns the queues a topic request covers: those named
// (each in the caller's scope), else every queue the caller may see.
func (d *Daemon) topicScope(w http.ResponseWriter, r *http.Request, p *Principal, named []string) ([]string, bool) {
	for i, q := range named {
		if !p.InQueue(q) {
			writeProblemField(w, r, http.StatusForbidden, "forbidden", "queue "+q+" is outside the caller's scope", fmt.Sprintf("queues[%d]", i))
			return nil, false
		}
	}
	if len(named) > 0 {
		return named, true
	}
	qs, err := d.store.Queues(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return nil, false
	}
	var out []string
	for _, q := range qs {
		if p.InQueue(q.ID) && d.controls.EnabledForQueue("topic_detection", q.ID) {
			out = append(out, q.ID)
		}
	}
	return out, true
}

// topicView is one topic of a listing.
type topicView struct {
	ID          int            `json:"id"`
	Label       string         `json:"label"`
	Keywords    []string       `json:"keywords"`
	Engagements int            `json:"engagements"`
	Utterances  int            `json:"utterances"`
	PerDay      map[string]int `json:"per_day"`
	Previous    int            `json:"previous"`
	Trend       string         `json:"trend"` // new, rising, falling, steady
	LabelModel  string         `json:"label_model,omitempty"`
}

func trendOf(now, prev int) string {
	switch {
	case prev == 0 && now > 0:
		return "new"
	case float64(now) > 1.2*float64(prev):
		return "rising"
	case float64(now) < 0.8*float64(prev):
		return "falling"
	}
	return "steady"
}

func (d *Daemon) listTopics(w http.ResponseWriter, r *http.Request, p *Principal) {
	queues, ok := d.topicScope(w, r, p, r.URL.Query()["queue"])
	if !ok {
		return
	}
	latest, err := d.quality.latestModels(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	rec, found := latest[scopeKey(queues)]
	if len(queues) == 0 || !found {
		writeJSON(w, 200, map[string]any{"model": nil, "queues": queues, "topics": []topicView{}})
		return
	}
	tm, err := d.quality.loadModel(r.Context(), rec.ID)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if err := d.store.AppendAudit(r.Context(), auditEntry(r, p, "content.read", fmt.Sprintf("topics:%d", rec.ID))); err != nil {
		d.storeError(w, r, err)
		return
	}
	views := make([]topicView, len(tm.Content.Topics))
	for i, t := range tm.Content.Topics {
		views[i] = topicView{ID: t.ID, Label: t.Label, Keywords: t.Keywords, PerDay: map[string]int{}, Previous: t.Previous, LabelModel: t.LabelModel}
	}
	err = d.store.TopicMembers(r.Context(), rec.ID, func(_ string, raw []byte) error {
		var m membership
		if json.Unmarshal(raw, &m) != nil {
			return nil
		}
		for k, n := range m.Topics {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 || id >= len(views) {
				continue
			}
			views[id].Engagements++
			views[id].Utterances += n
			views[id].PerDay[m.Day]++
		}
		return nil
	})
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	for i := range views {
		views[i].Trend = trendOf(views[i].Engagements, views[i].Previous)
	}
	sort.SliceStable(views, func(i, j int) bool { return views[i].Engagements > views[j].Engagements })
	writeJSON(w, 200, map[string]any{"model": rec.ID, "queues": tm.Content.Queues, "from": tm.Content.From, "to": tm.Content.To,
		"created_at": rec.CreatedAt, "topics": views})
}

func (d *Daemon) discoverTopics(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Queues []string `json:"queues"`
		From   string   `json:"from"`
		To     string   `json:"to"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	queues, ok := d.topicScope(w, r, p, req.Queues)
	if !ok {
		return
	}
	if len(queues) == 0 {
		d.badRequest(w, r, 400, "no queue with topic detection on in the caller's scope", "queues")
		return
	}
	to := time.Now().UTC()
	from := to.Add(-time.Duration(d.quality.settings.Load().TopicWindow))
	if !d.parseTimes(w, r, map[string]string{"from": req.From, "to": req.To}, map[string]*time.Time{"from": &from, "to": &to}) {
		return
	}
	if !from.Before(to) {
		d.badRequest(w, r, 400, "from must be before to", "from")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	a := auditEntry(r, p, "topics.discover", "queues:"+scopeKey(queues))
	id, err := d.quality.discover(ctx, queues, from, to, a)
	switch {
	case errors.Is(err, errDiscoveryBusy):
		w.Header().Set("Retry-After", "30")
		writeProblem(w, r, http.StatusServiceUnavailable, "busy", err.Error())
		return
	case errors.Is(err, topics.ErrTooFew):
		writeProblem(w, r, http.StatusUnprocessableEntity, "too-few", err.Error())
		return
	case err != nil:
		d.storeError(w, r, err)
		return
	}
	tm, err := d.quality.loadModel(r.Context(), id)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"model": id, "queues": queues, "from": from, "to": to,
		"engagements": tm.Content.Engagements, "texts": tm.Content.Texts, "topics": len(tm.Content.Topics)})
}

func (d *Daemon) getTopic(w http.ResponseWriter, r *http.Request, p *Principal) {
	model, err1 := strconv.ParseUint(r.PathValue("model"), 10, 64)
	topic, err2 := strconv.Atoi(r.PathValue("topic"))
	if err1 != nil || err2 != nil {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such topic")
		return
	}
	tm, err := d.quality.loadModel(r.Context(), model)
	if err != nil || topic < 0 || topic >= len(tm.Content.Topics) || !slices.ContainsFunc(tm.Content.Queues, p.InQueue) ||
		slices.ContainsFunc(tm.Content.Queues, func(q string) bool { return !p.InQueue(q) }) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such topic")
		return
	}
	info := tm.Content.Topics[topic]
	type snippet struct {
		Engagement string `json:"engagement"`
		Seq        int    `json:"seq"`
		StartMS    int64  `json:"start_ms"`
		Text       string `json:"text"`
	}
	snippets := []snippet{}
	for _, s := range info.Snippets {
		segs, err := d.store.Segments(r.Context(), s.Engagement, contentRead(r, p, s.Engagement, "topic_snippet"))
		if err != nil {
			continue // purged or expired since
		}
		for _, g := range segs {
			if int(g.Seq) == s.Seq {
				snippets = append(snippets, snippet{s.Engagement, s.Seq, g.StartMs, g.Text})
			}
		}
	}
	type member struct {
		Engagement string `json:"engagement"`
		Day        string `json:"day"`
		Utterances int    `json:"utterances"`
	}
	members := []member{}
	key := strconv.Itoa(topic)
	d.store.TopicMembers(r.Context(), model, func(eng string, raw []byte) error {
		var m membership
		if json.Unmarshal(raw, &m) == nil && m.Topics[key] > 0 && len(members) < 1000 {
			members = append(members, member{eng, m.Day, m.Topics[key]})
		}
		return nil
	})
	sort.SliceStable(members, func(i, j int) bool { return members[i].Day > members[j].Day })
	resp := map[string]any{"model": model, "id": info.ID, "label": info.Label, "keywords": info.Keywords,
		"snippets": snippets, "engagements": members}
	if info.LabelModel != "" {
		resp["label_model"] = info.LabelModel
	}
	writeJSON(w, 200, resp)
}

func (d *Daemon) getQMSettings(w http.ResponseWriter, r *http.Request, p *Principal) {
	writeJSON(w, 200, d.quality.settings.Load())
}

func (d *Daemon) putQMSettings(w http.ResponseWriter, r *http.Request, p *Principal) {
	s := defaultQMSettings()
	if !d.decodeJSON(w, r, &s) {
		return
	}
	if err := s.validate(); err != nil {
		d.qmFieldError(w, r, err, "")
		return
	}
	if err := d.store.PutSetting(r.Context(), settingQM, s, auditEntry(r, p, "settings.update", settingQM)); err != nil {
		d.storeError(w, r, err)
		return
	}
	d.quality.settings.Store(&s)
	writeJSON(w, 200, s)
}

// holdRequest puts a call, or one party's stream, on hold (true) or
// resumes it.
type holdRequest struct {
	Held  *bool  `json:"held"`
	Party string `json:"party,omitempty"` // agent or customer; empty: the whole call
}

// putHold records hold signalled through the API: by the call control or
// the agent's desktop for sources whose protocol carries no hold (WHIP,
// WebSocket streams, Twilio Media Streams, segments posted through the
// API). It takes the same path as a SIP re-INVITE: a hold event, and hold
// time in the speaker metrics, timed on the call's media clock.
func (d *Daemon) putHold(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	var req holdRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.Held == nil {
		d.badRequest(w, r, 400, "held is required (true or false)", "held")
		return
	}
	party := req.Party
	switch party {
	case qm.PartyAgent, qm.PartyCustomer:
	case "":
		party = "call"
	default:
		d.badRequest(w, r, 400, "party must be agent or customer, or absent for the whole call", "party")
		return
	}
	if e.Channel != "voice" {
		d.badRequest(w, r, 400, "hold applies to calls; this engagement is "+e.Channel, "held")
		return
	}
	l, live := d.hub.Get(e.ID)
	if !live || l.Ended() {
		writeProblem(w, r, http.StatusConflict, "not-live", "the engagement has ended")
		return
	}
	at := d.quality.hold(e.ID, d.quality.mediaOrigin(e), party, *req.Held)
	ev := map[string]any{"held": *req.Held, "at_ms": at}
	if req.Party != "" {
		ev["party"] = req.Party
	}
	l.Publish(EventHold, ev)
	action := "engagement.hold.end"
	if *req.Held {
		action = "engagement.hold.start"
	}
	a := auditEntry(r, p, action, e.ID)
	a.Engagement = e.ID
	if err := d.store.AppendAudit(r.Context(), a); err != nil {
		d.logger.Error("audit append failed", "action", action, "err", err)
	}
	writeJSON(w, 200, map[string]any{"held": *req.Held, "at_ms": at})
}
