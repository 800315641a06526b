package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/forecast/erlang"
	"github.com/earshot/earshot/inference/wfm"
	"github.com/earshot/earshot/inference/wfm/chart"
	"github.com/earshot/earshot/store"
)

// Workforce management routes: rosters, rules and schedules are stored
// (sealed: rosters and schedules hold staff's personal data) and every
// read of a roster or schedule is audited. A caller sees a document only
// when scoped to every queue it covers, with forecasting on for them.
// Schedules are made from each queue's latest stored forecast (POST
// /api/v1/queues/{queue}/forecast stores one), intraday from the queue's
// own engagements of today.

var wfmRoles = forecastRoles

// maxScheduleBudget bounds the optimiser's time per request.
const maxScheduleBudget = 5 * time.Minute

func (d *Daemon) wfmRoutes() []route {
	return []route{
		{"GET", "/api/v1/wfm/rosters", wfmRoles, "Rosters of the caller's queues (IDs, queues, agent counts)", d.listRosters},
		{"GET", "/api/v1/wfm/rosters/{id}", wfmRoles, "A roster (JSON, or CSV with format=csv); the read is audited", d.getRoster},
		{"PUT", "/api/v1/wfm/rosters/{id}", wfmRoles, "Store a roster: JSON, or CSV (text/csv, or any body not starting with {; bad rows named by line and column)", d.putRoster},
		{"DELETE", "/api/v1/wfm/rosters/{id}", wfmRoles, "Delete a roster", d.deleteRoster},
		{"GET", "/api/v1/wfm/rules/{id}", wfmRoles, "Scheduling rules", d.getRules},
		{"PUT", "/api/v1/wfm/rules/{id}", wfmRoles, "Store scheduling rules (JSON; fields left out keep their defaults)", d.putRules},
		{"GET", "/api/v1/wfm/schedules", wfmRoles, "Schedules of the caller's queues (IDs, periods, figures)", d.listSchedules},
		{"POST", "/api/v1/wfm/schedules", wfmRoles, "Make and store a schedule of a roster from the queues' latest stored forecasts", d.createSchedule},
		{"GET", "/api/v1/wfm/schedules/{id}", wfmRoles, "A schedule (JSON, CSV, or SVG: coverage or each agent's week); the read is audited", d.getSchedule},
		{"DELETE", "/api/v1/wfm/schedules/{id}", wfmRoles, "Delete a schedule", d.deleteSchedule},
		{"GET", "/api/v1/wfm/schedules/{id}/intraday", wfmRoles, "The rest of today: re-forecast from today's engagements, the gap per interval and ranked adjustments", d.scheduleIntraday},
		{"POST", "/api/v1/wfm/schedules/{id}/what-if", wfmRoles, "Staffing, cost and the schedule's coverage under changed volume, handle time, service level or shrinkage", d.scheduleWhatIf},
	}
}

// scheduleDoc is a stored schedule: the problem it was made for (a
// snapshot of the roster and rules), the staffing target and the result.
type scheduleDoc struct {
	ID       string                   `json:"id"`
	Roster   string                   `json:"roster"`
	Rules    string                   `json:"rules"`
	After    string                   `json:"after,omitempty"`
	Target   erlang.Target            `json:"target"`
	Staffing forecast.StaffingOptions `json:"staffing"`
	Problem  wfm.Problem              `json:"problem"`
	Schedule *wfm.Schedule            `json:"schedule"`
}

func (doc *scheduleDoc) queues() []string {
	var qs []string
	for _, dm := range doc.Problem.Demand {
		qs = append(qs, dm.Queue)
	}
	return qs
}

func viewWFM(r store.WFMRecord) api.WFMRecord {
	return api.WFMRecord{Kind: r.Kind, ID: r.ID, Queues: r.Queues, UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy, Summary: r.Summary}
}

// wfmScope reports whether the caller may use documents of queues: scoped
// to each, with forecasting on. It answers 404 for queues out of scope
// (the document's existence is not disclosed) and 403 for a feature off.
func (d *Daemon) wfmScope(w http.ResponseWriter, r *http.Request, p *Principal, queues []string) bool {
	for _, q := range queues {
		if !p.InQueue(q) {
			writeProblem(w, r, http.StatusNotFound, "not-found", "no such document among your queues")
			return false
		}
		if !d.controls.Decide("forecasting", q, p.User.ID).On {
			writeProblem(w, r, http.StatusForbidden, "feature-off", "forecasting is off for queue "+q+" and this user")
			return false
		}
	}
	return true
}

// wfmID reads and checks the {id} of a workforce route.
func (d *Daemon) wfmID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !queueIDPattern.MatchString(id) {
		d.badRequest(w, r, http.StatusBadRequest, "an ID is 1-64 lower-case letters, digits, - and _", "id")
		return "", false
	}
	return id, true
}

// wfmProblem maps an error of package wfm (or forecast) to a problem.
func (d *Daemon) wfmProblem(w http.ResponseWriter, r *http.Request, err error) {
	var fe *wfm.FieldError
	var re *wfm.RowError
	switch {
	case errors.As(err, &re):
		d.badRequest(w, r, http.StatusBadRequest, err.Error(), re.Column)
	case errors.As(err, &fe):
		d.badRequest(w, r, http.StatusBadRequest, err.Error(), fe.Field)
	case errors.Is(err, wfm.ErrBadInput):
		d.badRequest(w, r, http.StatusBadRequest, err.Error(), "")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExists):
		d.storeError(w, r, err)
	default:
		d.modelProblem(w, r, err)
	}
}

func (d *Daemon) listWFM(w http.ResponseWriter, r *http.Request, p *Principal, kind string) {
	list, err := d.store.WFMList(r.Context(), kind)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	out := []api.WFMRecord{}
	for _, rec := range list {
		if !slices.ContainsFunc(rec.Queues, func(q string) bool { return !p.InQueue(q) }) {
			out = append(out, viewWFM(rec))
		}
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) listRosters(w http.ResponseWriter, r *http.Request, p *Principal) {
	d.listWFM(w, r, p, store.WFMRoster)
}

func (d *Daemon) listSchedules(w http.ResponseWriter, r *http.Request, p *Principal) {
	d.listWFM(w, r, p, store.WFMSchedule)
}

// loadWFM reads a document the caller may see, auditing the read when
// action is set.
func (d *Daemon) loadWFM(w http.ResponseWriter, r *http.Request, p *Principal, kind, action string) (store.WFMRecord, bool) {
	id, ok := d.wfmID(w, r)
	if !ok {
		return store.WFMRecord{}, false
	}
	rec, err := d.store.WFM(r.Context(), kind, id)
	if err != nil {
		d.storeError(w, r, err)
		return rec, false
	}
	if !d.wfmScope(w, r, p, rec.Queues) {
		return rec, false
	}
	if action != "" {
		if err := d.store.AppendAudit(r.Context(), auditEntry(r, p, action, id)); err != nil {
			d.storeError(w, r, err)
			return rec, false
		}
	}
	return rec, true
}

func (d *Daemon) getRoster(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := d.loadWFM(w, r, p, store.WFMRoster, "wfm.roster.read")
	if !ok {
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		var ros wfm.Roster
		if err := json.Unmarshal(rec.Payload, &ros); err != nil {
			d.storeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_ = wfm.WriteRosterCSV(w, &ros)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rec.Payload)
}

func (d *Daemon) putRoster(w http.ResponseWriter, r *http.Request, p *Principal) {
	id, ok := d.wfmID(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHistoryBody))
	if err != nil {
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("roster larger than %d bytes", maxHistoryBody), "")
		return
	}
	var ros *wfm.Roster
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" || (ct == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))) {
		ros = &wfm.Roster{}
		err = wfm.DecodeStrict(body, ros)
		if err == nil {
			err = ros.Validate()
		}
	} else {
		ros, err = d.wfm.ImportRoster(bytes.NewReader(body))
	}
	if err != nil {
		d.wfmProblem(w, r, err)
		return
	}
	var queues []string
	for i, a := range ros.Agents {
		for j, q := range a.Skills {
			if slices.Contains(queues, q) {
				continue
			}
			if _, err := d.store.Queue(q); err != nil {
				d.badRequest(w, r, http.StatusBadRequest, fmt.Sprintf("agent %s: no queue %q", a.ID, q), fmt.Sprintf("agents[%d].skills[%d]", i, j))
				return
			}
			queues = append(queues, q)
		}
	}
	slices.Sort(queues)
	if !d.wfmWritable(w, r, p, store.WFMRoster, id, queues) {
		return
	}
	raw, _ := json.Marshal(ros)
	rec := store.WFMRecord{Kind: store.WFMRoster, ID: id, Queues: queues, UpdatedAt: time.Now().UTC(), UpdatedBy: p.User.ID,
		Summary: map[string]string{"agents": strconv.Itoa(len(ros.Agents))}, Payload: raw}
	if err := d.store.PutWFM(r.Context(), rec, auditEntry(r, p, "wfm.roster.put", id)); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, viewWFM(rec))
}

// wfmWritable checks that the caller may write a document covering queues
// and, when one is stored under the ID, may replace it.
func (d *Daemon) wfmWritable(w http.ResponseWriter, r *http.Request, p *Principal, kind, id string, queues []string) bool {
	for _, q := range queues {
		if !p.InQueue(q) {
			writeProblem(w, r, http.StatusForbidden, "forbidden", "not scoped to queue "+q)
			return false
		}
	}
	old, err := d.store.WFM(r.Context(), kind, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		d.storeError(w, r, err)
		return false
	default:
		for _, q := range old.Queues {
			if !p.InQueue(q) {
				writeProblem(w, r, http.StatusForbidden, "forbidden", "the stored "+kind+" covers queue "+q+", outside your scope")
				return false
			}
		}
	}
	return d.wfmScope(w, r, p, queues)
}

func (d *Daemon) deleteWFM(w http.ResponseWriter, r *http.Request, p *Principal, kind string) {
	rec, ok := d.loadWFM(w, r, p, kind, "")
	if !ok {
		return
	}
	if err := d.store.DeleteWFM(r.Context(), kind, rec.ID, auditEntry(r, p, "wfm."+kind+".delete", rec.ID)); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Daemon) deleteRoster(w http.ResponseWriter, r *http.Request, p *Principal) {
	d.deleteWFM(w, r, p, store.WFMRoster)
}

func (d *Daemon) deleteSchedule(w http.ResponseWriter, r *http.Request, p *Principal) {
	d.deleteWFM(w, r, p, store.WFMSchedule)
}

func (d *Daemon) getRules(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := d.loadWFM(w, r, p, store.WFMRules, "")
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rec.Payload)
}

func (d *Daemon) putRules(w http.ResponseWriter, r *http.Request, p *Principal) {
	id, ok := d.wfmID(w, r)
	if !ok {
		return
	}
	rules, err := wfm.ReadRules(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		d.wfmProblem(w, r, err)
		return
	}
	raw, _ := json.Marshal(rules)
	rec := store.WFMRecord{Kind: store.WFMRules, ID: id, UpdatedAt: time.Now().UTC(), UpdatedBy: p.User.ID,
		Summary: map[string]string{"shifts": strconv.Itoa(len(rules.Shifts))}, Payload: raw}
	if err := d.store.PutWFM(r.Context(), rec, auditEntry(r, p, "wfm.rules.put", id)); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, viewWFM(rec))
}

// durationField parses an optional duration member of a request.
func durationField(s, field string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, &paramError{field, fmt.Sprintf("not a duration (e.g. 20s, 30m): %q", s)}
	}
	return v, nil
}

// latestForecast is a queue's latest stored forecast.
func (d *Daemon) latestStoredForecast(ctx context.Context, queue string) (*forecast.Forecast, error) {
	fs, err := d.store.Forecasts(ctx, queue, true)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, &paramError{"queues", "queue " + queue + " has no stored forecast: run one first (POST /api/v1/queues/" + queue + "/forecast, earshot forecast)"}
	}
	var f forecast.Forecast
	if err := json.Unmarshal(fs[0].Payload, &f); err != nil {
		return nil, fmt.Errorf("daemon: stored forecast of %s: %w", queue, err)
	}
	return &f, nil
}

// forecastCovers refuses a forecast that does not cover from to to
// (local midnights), naming field.
func forecastCovers(f *forecast.Forecast, from, to time.Time, field string) error {
	if n := len(f.Points); n == 0 || f.Points[0].Start.After(from) || f.Points[n-1].Start.Add(f.Step).Before(to) {
		return &paramError{field, fmt.Sprintf("the latest forecast of queue %s covers %s to %s, not the whole of %s to %s: forecast further first",
			f.Queue, f.Origin.Format(time.DateOnly), f.Origin.AddDate(0, 0, f.Days).Format(time.DateOnly), from.Format(time.DateOnly), to.Format(time.DateOnly))}
	}
	return nil
}

// demandFor staffs each forecast and maps it onto the period; a forecast
// that does not reach the period's end is refused.
func demandFor(per wfm.Period, fcs []*forecast.Forecast, t erlang.Target, opt forecast.StaffingOptions) ([]wfm.Demand, error) {
	var out []wfm.Demand
	for _, f := range fcs {
		if err := forecastCovers(f, per.Start, per.End(), "start"); err != nil {
			return nil, err
		}
		plan, err := forecast.Staff(f, t, opt)
		if err != nil {
			return nil, err
		}
		dm, err := wfm.DemandFromPlan(plan, f.Step, per)
		if err != nil {
			return nil, err
		}
		out = append(out, dm)
	}
	return out, nil
}

func (d *Daemon) createSchedule(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.WFMScheduleRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	doc, budget, err := d.scheduleInput(r, p, &req)
	if err != nil {
		if pe := (*paramError)(nil); errors.As(err, &pe) {
			d.paramProblem(w, r, err)
		} else {
			d.wfmProblem(w, r, err)
		}
		return
	}
	if !d.wfmWritable(w, r, p, store.WFMSchedule, doc.ID, doc.queues()) {
		return
	}
	cfg := d.wfm.Config()
	cfg.Seed, cfg.TimeBudget = req.Seed, wfm.Duration(budget)
	s, err := d.wfm.Schedule(r.Context(), &doc.Problem, &cfg)
	if err != nil {
		d.wfmProblem(w, r, err)
		return
	}
	doc.Schedule = s
	raw, _ := json.Marshal(doc)
	per := doc.Problem.Period
	rec := store.WFMRecord{Kind: store.WFMSchedule, ID: doc.ID, Queues: doc.queues(), UpdatedAt: time.Now().UTC(), UpdatedBy: p.User.ID,
		Summary: map[string]string{"roster": doc.Roster, "start": per.Start.Format(time.DateOnly), "days": strconv.Itoa(per.Days),
			"shifts": strconv.Itoa(len(s.Shifts)), "under": strconv.FormatFloat(s.Stats.Under, 'f', 1, 64), "over": strconv.FormatFloat(s.Stats.Over, 'f', 1, 64)},
		Payload: raw}
	if err := d.store.PutWFM(r.Context(), rec, auditEntry(r, p, "wfm.schedule.create", doc.ID)); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/wfm/schedules/"+doc.ID)
	writeJSON(w, http.StatusCreated, doc)
}

// scheduleInput builds a schedule's problem from the request and the
// stored roster, rules and forecasts.
func (d *Daemon) scheduleInput(r *http.Request, p *Principal, req *api.WFMScheduleRequest) (*scheduleDoc, time.Duration, error) {
	ctx := r.Context()
	doc := &scheduleDoc{ID: req.ID, Roster: req.Roster, Rules: req.Rules}
	if doc.ID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		doc.ID = "s-" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(b[:])
	}
	if !queueIDPattern.MatchString(doc.ID) {
		return nil, 0, &paramError{"id", "1-64 lower-case letters, digits, - and _"}
	}
	if !queueIDPattern.MatchString(req.Roster) {
		return nil, 0, &paramError{"roster", "the ID of a stored roster is required"}
	}
	rosRec, err := d.store.WFM(ctx, store.WFMRoster, req.Roster)
	if errors.Is(err, store.ErrNotFound) || (err == nil && slices.ContainsFunc(rosRec.Queues, func(q string) bool { return !p.InQueue(q) })) {
		return nil, 0, &paramError{"roster", "no roster " + req.Roster + " among your queues"}
	} else if err != nil {
		return nil, 0, err
	}
	if err := json.Unmarshal(rosRec.Payload, &doc.Problem.Roster); err != nil {
		return nil, 0, err
	}
	doc.Problem.Rules = wfm.DefaultRules()
	if req.Rules != "" {
		rec, err := d.store.WFM(ctx, store.WFMRules, req.Rules)
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, &paramError{"rules", "no rules " + req.Rules}
		} else if err != nil {
			return nil, 0, err
		}
		if err := json.Unmarshal(rec.Payload, &doc.Problem.Rules); err != nil {
			return nil, 0, err
		}
	} else {
		doc.Rules = "default"
	}
	queues := req.Queues
	if len(queues) == 0 {
		queues = rosRec.Queues
	}
	loc := time.UTC
	if req.Zone != "" {
		if loc, err = time.LoadLocation(req.Zone); err != nil {
			return nil, 0, &paramError{"zone", fmt.Sprintf("unknown time zone %q", req.Zone)}
		}
	}
	start, err := time.ParseInLocation(time.DateOnly, req.Start, loc)
	if err != nil {
		return nil, 0, &paramError{"start", "the first day as YYYY-MM-DD is required"}
	}
	t := erlang.Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, Shrinkage: 0.3, MaxOccupancy: 0.85}
	if req.ServiceLevel != 0 {
		t.ServiceLevel = req.ServiceLevel
	}
	if req.MaxOccupancy != 0 {
		t.MaxOccupancy = req.MaxOccupancy
	}
	if req.Shrinkage != nil {
		t.Shrinkage = *req.Shrinkage
	}
	if t.AnswerWithin, err = durationField(req.AnswerWithin, "answer_within", t.AnswerWithin); err != nil {
		return nil, 0, err
	}
	if t.Patience, err = durationField(req.Patience, "patience", 0); err != nil {
		return nil, 0, err
	}
	if err := t.Validate(); err != nil {
		return nil, 0, &paramError{"service_level", err.Error()}
	}
	opt := forecast.StaffingOptions{}
	if opt.DefaultAHT, err = durationField(req.DefaultAHT, "default_aht", 0); err != nil {
		return nil, 0, err
	}
	budget, err := durationField(req.TimeBudget, "time_budget", 30*time.Second)
	if err != nil {
		return nil, 0, err
	}
	if budget <= 0 || budget > maxScheduleBudget {
		return nil, 0, &paramError{"time_budget", "must be in (0, 5m]"}
	}
	var fcs []*forecast.Forecast
	for _, q := range queues {
		if !queueIDPattern.MatchString(q) {
			return nil, 0, &paramError{"queues", fmt.Sprintf("%q is not a queue ID", q)}
		}
		f, err := d.latestStoredForecast(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		fcs = append(fcs, f)
	}
	if len(fcs) == 0 {
		return nil, 0, &paramError{"queues", "the roster covers no queue"}
	}
	step := fcs[0].Step
	if step > 30*time.Minute {
		step = 30 * time.Minute
	}
	if step, err = durationField(req.Step, "step", step); err != nil {
		return nil, 0, err
	}
	doc.Problem.Period = wfm.NewPeriod(start, loc, req.Days, step)
	if err := doc.Problem.Period.Validate(); err != nil {
		return nil, 0, err
	}
	if doc.Problem.Demand, err = demandFor(doc.Problem.Period, fcs, t, opt); err != nil {
		return nil, 0, err
	}
	if req.After != "" {
		if doc.Problem.Prior, err = d.priorWork(ctx, p, req.After, &doc.Problem); err != nil {
			return nil, 0, err
		}
		doc.After = req.After
	}
	doc.Target, doc.Staffing = t, opt
	return doc, budget, doc.Problem.Validate()
}

// priorWork is what the roster's agents worked in the stored schedule id
// just before prob's period.
func (d *Daemon) priorWork(ctx context.Context, p *Principal, id string, prob *wfm.Problem) ([]wfm.Prior, error) {
	if !queueIDPattern.MatchString(id) {
		return nil, &paramError{"after", "not a schedule ID"}
	}
	rec, err := d.store.WFM(ctx, store.WFMSchedule, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && slices.ContainsFunc(rec.Queues, func(q string) bool { return !p.InQueue(q) })) {
		return nil, &paramError{"after", "no schedule " + id + " among your queues"}
	} else if err != nil {
		return nil, err
	}
	var prev scheduleDoc
	if err := json.Unmarshal(rec.Payload, &prev); err != nil {
		return nil, err
	}
	if prev.Schedule == nil || !prev.Problem.Period.Start.Before(prob.Period.Start) {
		return nil, &paramError{"after", "schedule " + id + " does not start before this one"}
	}
	onRoster := map[string]bool{}
	for _, a := range prob.Roster.Agents {
		onRoster[a.ID] = true
	}
	var out []wfm.Prior
	for _, pr := range wfm.PriorFrom(prev.Schedule, prob.Period) {
		if onRoster[pr.Agent] {
			out = append(out, pr)
		}
	}
	return out, nil
}

// loadSchedule reads a stored schedule the caller may see, auditing the
// read.
func (d *Daemon) loadSchedule(w http.ResponseWriter, r *http.Request, p *Principal) (*scheduleDoc, bool) {
	rec, ok := d.loadWFM(w, r, p, store.WFMSchedule, "wfm.schedule.read")
	if !ok {
		return nil, false
	}
	var doc scheduleDoc
	if err := json.Unmarshal(rec.Payload, &doc); err != nil {
		d.storeError(w, r, err)
		return nil, false
	}
	return &doc, true
}

func (d *Daemon) getSchedule(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" && format != "svg" {
		d.badRequest(w, r, http.StatusBadRequest, "format must be json, csv or svg", "format")
		return
	}
	doc, ok := d.loadSchedule(w, r, p)
	if !ok {
		return
	}
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_ = wfm.WriteScheduleCSV(w, doc.Schedule)
	case "svg":
		var b bytes.Buffer
		var err error
		switch q.Get("chart") {
		case "", "coverage":
			var cov *wfm.Coverage
			if cov, err = wfm.Evaluate(&doc.Problem, doc.Schedule); err == nil {
				err = chart.Coverage(&b, cov, doc.Problem.Period.Step, chart.Options{Title: "Schedule " + doc.ID, Queue: q.Get("queue"), Compact: q.Get("axis") != "time"})
			}
		case "week":
			week, perr := strconv.Atoi(q.Get("week"))
			if q.Get("week") == "" {
				week, perr = 1, nil
			}
			if perr != nil {
				d.badRequest(w, r, http.StatusBadRequest, "week must be a number from 1", "week")
				return
			}
			err = chart.Week(&b, doc.Schedule, week-1, nil, chart.Options{})
		default:
			d.badRequest(w, r, http.StatusBadRequest, "chart must be coverage or week", "chart")
			return
		}
		if err != nil {
			d.badRequest(w, r, http.StatusBadRequest, err.Error(), "")
			return
		}
		writeSVG(w, b.Bytes())
	default:
		writeJSON(w, 200, doc)
	}
}

// intradayAnswer is the answer of the intraday route.
type intradayAnswer struct {
	Reforecast []queueReforecast `json:"reforecast"`
	*wfm.Intraday
}

type queueReforecast struct {
	Queue    string  `json:"queue"`
	Factor   float64 `json:"factor"`
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
}

// todaysArrivals counts the queue's inbound engagements of now's day per
// interval of step, in loc.
func (d *Daemon) todaysArrivals(ctx context.Context, queue string, now time.Time, step time.Duration, loc *time.Location) (map[int64]float64, error) {
	n := now.In(loc)
	day := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc)
	list, err := d.store.Engagements(ctx, store.EngagementFilter{Queue: queue, From: day, To: now})
	if err != nil {
		return nil, err
	}
	var engs []forecast.Engagement
	for _, e := range list {
		if e.Direction == "inbound" || e.Direction == "" {
			engs = append(engs, forecast.Engagement{Queue: queue, Offered: e.Start})
		}
	}
	out := map[int64]float64{}
	set, err := forecast.Aggregate(engs, step, loc)
	if err != nil {
		return nil, err
	}
	if s := set[queue]; s != nil {
		for _, pt := range s.Points {
			out[pt.Start.Unix()] = pt.Offered
		}
	}
	return out, nil
}

func (d *Daemon) scheduleIntraday(w http.ResponseWriter, r *http.Request, p *Principal) {
	now := time.Now()
	if v := r.URL.Query().Get("now"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			d.badRequest(w, r, http.StatusBadRequest, "now: want RFC 3339", "now")
			return
		}
		now = t
	}
	var opt wfm.IntradayOptions
	for _, f := range []struct {
		name string
		to   *wfm.Duration
	}{{"max_overtime", &opt.MaxOvertime}, {"max_time_off", &opt.MaxTimeOff}, {"max_call_in", &opt.MaxCallIn}} {
		v, err := durationField(r.URL.Query().Get(f.name), f.name, 0)
		if err != nil {
			d.paramProblem(w, r, err)
			return
		}
		*f.to = wfm.Duration(v)
	}
	if v := r.URL.Query().Get("max_adjustments"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			d.badRequest(w, r, http.StatusBadRequest, "max_adjustments: want a whole number", "max_adjustments")
			return
		}
		opt.MaxAdjustments = n
	}
	doc, ok := d.loadSchedule(w, r, p)
	if !ok {
		return
	}
	per := doc.Problem.Period
	if now.Before(per.Start) || !now.Before(per.End()) {
		d.badRequest(w, r, http.StatusUnprocessableEntity, fmt.Sprintf("now (%s) is outside the schedule's period", now.Format(time.RFC3339)), "now")
		return
	}
	loc := per.Start.Location()
	ans := intradayAnswer{}
	prob := doc.Problem
	prob.Demand = slices.Clone(prob.Demand)
	// Only today is re-forecast: the latest forecast must cover today, and
	// the other days keep the demand the schedule was made for.
	day := 0
	for per.Day(day+1).Compare(now) <= 0 {
		day++
	}
	today := wfm.Period{Start: per.Day(day), Days: 1, Step: per.Step}
	first := int(today.Start.Sub(per.Start) / per.Step)
	for i, dm := range prob.Demand {
		f, err := d.latestStoredForecast(r.Context(), dm.Queue)
		if err == nil {
			err = forecastCovers(f, today.Start, today.End(), "now")
		}
		if err != nil {
			d.paramProblem(w, r, err)
			return
		}
		seen, err := d.todaysArrivals(r.Context(), dm.Queue, now, f.Step, loc)
		if err != nil {
			d.storeError(w, r, err)
			return
		}
		rf, err := wfm.ReforecastDay(f, seen, now, wfm.DefaultReforecastConfig())
		if err != nil {
			d.wfmProblem(w, r, err)
			return
		}
		ans.Reforecast = append(ans.Reforecast, queueReforecast{Queue: dm.Queue, Factor: rf.Factor, Observed: rf.Observed, Expected: rf.Expected})
		dms, err := demandFor(today, []*forecast.Forecast{rf.Forecast}, doc.Target, doc.Staffing)
		if err != nil {
			d.paramProblem(w, r, err)
			return
		}
		agents := slices.Clone(dm.Agents)
		copy(agents[first:], dms[0].Agents)
		prob.Demand[i].Agents = agents
	}
	in, err := d.wfm.Intraday(&prob, doc.Schedule, now, opt)
	if err != nil {
		d.wfmProblem(w, r, err)
		return
	}
	ans.Intraday = in
	writeJSON(w, 200, ans)
}

func (d *Daemon) scheduleWhatIf(w http.ResponseWriter, r *http.Request, p *Principal) {
	var sc wfm.Scenario
	if !d.decodeJSON(w, r, &sc) {
		return
	}
	doc, ok := d.loadSchedule(w, r, p)
	if !ok {
		return
	}
	var fcs []*forecast.Forecast
	per := doc.Problem.Period
	for _, q := range doc.queues() {
		f, err := d.latestStoredForecast(r.Context(), q)
		if err == nil {
			err = forecastCovers(f, per.Start, per.End(), "id")
		}
		if err != nil {
			d.paramProblem(w, r, err)
			return
		}
		fcs = append(fcs, f)
	}
	res, err := d.wfm.WhatIf(wfm.WhatIfInput{Forecasts: fcs, Target: doc.Target, Staffing: doc.Staffing, Scenario: sc, Problem: &doc.Problem, Schedule: doc.Schedule})
	if err != nil {
		d.wfmProblem(w, r, err)
		return
	}
	res.Demand = nil // the scenario's demand per interval is long; coverage says what matters
	writeJSON(w, 200, res)
}
