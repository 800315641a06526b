package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/forecast/chart"
	"github.com/earshot/earshot/inference/forecast/erlang"
	"github.com/earshot/earshot/store"
)

// Workforce routes. History comes from the queue's stored engagements
// (source=engagements) or travels in the request body, either as the CSV
// that forecast.ReadCSV reads (the site's ACD export, Content-Type text/csv)
// or as JSON {"points": [forecast.Point...]} (Content-Type application/json);
// settings travel in the query string, named as the CLI's flags (earshot
// forecast -h), so that a planner can move between the two. Nothing is stored
// yet: storing history and forecasts per queue belongs to the store.

// maxHistoryBody bounds a history upload: two years of 30-minute
// intervals of eight queues (an ACD export, of which the route reads
// one); a fit of it peaks at about 30 times its size in memory.
const maxHistoryBody = 8 << 20

// maxHistoryPoints bounds the history of the queue a forecast is fitted
// on: three years of 15-minute intervals. The models' time and memory grow
// with it (about 1.4 s for 43,000 points); older history adds little.
const maxHistoryPoints = 3 * 365 * 96

var forecastRoles = []Role{RoleAdmin, RoleSupervisor, RoleAnalyst}

func (d *Daemon) forecastRoutes() []route {
	fit := d.boundedFit
	return []route{
		{"POST", "/api/v1/queues/{queue}/forecast", forecastRoles, "Short-term forecast of a queue from its history (JSON, CSV or SVG chart)", fit(d.postForecast)},
		{"POST", "/api/v1/queues/{queue}/forecast/staffing", forecastRoles, "Staffing plan (Erlang C or A) for a short-term forecast of a queue", fit(d.postStaffing)},
		{"POST", "/api/v1/queues/{queue}/forecast/backtest", forecastRoles, "Rolling-origin backtest of the short-term model on a queue's history", fit(d.postBacktest)},
		{"POST", "/api/v1/queues/{queue}/forecast/longterm", forecastRoles, "Monthly forecast and FTE requirement of a queue", fit(d.postLongTerm)},
		{"POST", "/api/v1/forecast/erlang", forecastRoles, "Erlang C/A calculator for one interval", d.postErlang},
		{"GET", "/api/v1/queues/{queue}/forecasts", forecastRoles, "Stored forecasts of a queue (metadata, newest first)", d.listForecasts},
		{"GET", "/api/v1/queues/{queue}/forecasts/latest", forecastRoles, "The latest stored forecast of a queue", d.latestForecast},
	}
}

// maxFits bounds the forecast fits running at once: each reads up to
// maxHistoryBody and takes seconds of a core.
const maxFits = 2

// fitSlots holds a slot per fit running.
type fitSlots chan struct{}

// boundedFit refuses (503, before reading the body) a fit while
// maxFits others run.
func (d *Daemon) boundedFit(h func(http.ResponseWriter, *http.Request, *Principal)) func(http.ResponseWriter, *http.Request, *Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *Principal) {
		select {
		case d.fits <- struct{}{}:
			defer func() { <-d.fits }()
		default:
			refuseBody(w, r)
			w.Header().Set("Retry-After", "10")
			writeProblem(w, r, http.StatusServiceUnavailable, "busy", fmt.Sprintf("%d forecasts are being fitted; retry when one is done", maxFits))
			return
		}
		h(w, r, p)
	}
}

// paramError is a bad query parameter or flag.
type paramError struct{ field, msg string }

func (e *paramError) Error() string { return e.field + ": " + e.msg }

// forecastParams are the settings of a workforce request.
type forecastParams struct {
	queue  string
	imp    forecast.ImportOptions
	cfg    forecast.Config
	days   int
	format string
	tune   bool
}

func getFloat(q url.Values, name string, def float64) (float64, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, &paramError{name, fmt.Sprintf("not a number: %q", s)}
	}
	return v, nil
}

func getInt(q url.Values, name string, def int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, &paramError{name, fmt.Sprintf("not an integer: %q", s)}
	}
	return v, nil
}

func getDuration(q url.Values, name string, def time.Duration) (time.Duration, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, &paramError{name, fmt.Sprintf("not a duration (e.g. 20s, 30m): %q", s)}
	}
	return v, nil
}

func parseForecastParams(queue string, q url.Values) (forecastParams, error) {
	var p forecastParams
	p.queue = queue
	if !queueIDPattern.MatchString(p.queue) {
		return p, &paramError{"queue", "a queue ID is required (lower-case letters, digits, - and _)"}
	}
	var err error
	if p.imp.Step, err = getDuration(q, "step", 30*time.Minute); err != nil {
		return p, err
	}
	if !forecast.ValidStep(p.imp.Step) {
		return p, &paramError{"step", "must be 15m, 30m or 1h"}
	}
	p.imp.Location = time.UTC
	if tz := q.Get("tz"); tz != "" {
		if p.imp.Location, err = time.LoadLocation(tz); err != nil {
			return p, &paramError{"tz", fmt.Sprintf("unknown time zone %q", tz)}
		}
	}
	p.imp.Queue = p.queue
	if p.imp.Aggregate, err = forecast.ParseAggregation(q.Get("aggregate")); err != nil {
		return p, &paramError{"aggregate", "must be auto, true or false"}
	}
	p.cfg = forecast.DefaultConfig()
	p.cfg.Hours = q.Get("hours")
	if p.cfg.Holidays, err = forecast.ParseHolidays(q.Get("holidays")); err != nil {
		return p, &paramError{"holidays", err.Error()}
	}
	if t := q.Get("trend"); t != "" {
		p.cfg.Trend = t
	}
	if y := q.Get("yearly"); y != "" {
		p.cfg.Yearly = y
	}
	if err := p.cfg.Validate(); err != nil {
		field := "hours"
		if strings.Contains(err.Error(), "holidays") {
			field = "holidays"
		} else if strings.Contains(err.Error(), "trend") {
			field = "trend"
		} else if strings.Contains(err.Error(), "yearly") {
			field = "yearly"
		}
		return p, &paramError{field, err.Error()}
	}
	if p.days, err = getInt(q, "days", 28); err != nil {
		return p, err
	}
	if p.days < 1 || p.days > 366 {
		return p, &paramError{"days", "must be 1..366"}
	}
	switch q.Get("tune") {
	case "", "false":
	case "true":
		p.tune = true
	default:
		return p, &paramError{"tune", "must be true or false"}
	}
	p.format = q.Get("format")
	switch p.format {
	case "":
		p.format = "json"
	case "json", "csv", "svg":
	default:
		return p, &paramError{"format", "must be json, csv or svg"}
	}
	return p, nil
}

// staffingTarget reads an erlang.Target from query parameters.
func staffingTarget(q url.Values) (erlang.Target, forecast.StaffingOptions, error) {
	var t erlang.Target
	var o forecast.StaffingOptions
	var err error
	if t.ServiceLevel, err = getFloat(q, "sl", 0.8); err != nil {
		return t, o, err
	}
	if t.AnswerWithin, err = getDuration(q, "within", 20*time.Second); err != nil {
		return t, o, err
	}
	if t.ASA, err = getDuration(q, "asa", 0); err != nil {
		return t, o, err
	}
	if t.MaxOccupancy, err = getFloat(q, "max_occupancy", 0.85); err != nil {
		return t, o, err
	}
	if t.Shrinkage, err = getFloat(q, "shrinkage", 0.3); err != nil {
		return t, o, err
	}
	if q.Get("patience") != "auto" {
		if t.Patience, err = getDuration(q, "patience", 0); err != nil {
			return t, o, err
		}
	}
	if t.MinAgents, err = getInt(q, "min_agents", 0); err != nil {
		return t, o, err
	}
	if o.DefaultAHT, err = getDuration(q, "default_aht", 0); err != nil {
		return t, o, err
	}
	o.Quantile = q.Get("quantile")
	if err := t.Validate(); err != nil {
		return t, o, &paramError{"sl", err.Error()}
	}
	return t, o, nil
}

// backtestParams reads a backtest's settings.
func backtestParams(q url.Values) (forecast.BacktestConfig, error) {
	var bt forecast.BacktestConfig
	var err error
	if bt.Origins, err = getInt(q, "origins", 8); err != nil {
		return bt, err
	}
	if bt.HorizonDays, err = getInt(q, "horizon_days", 28); err != nil {
		return bt, err
	}
	if bt.StepDays, err = getInt(q, "step_days", 7); err != nil {
		return bt, err
	}
	if bt.Origins < 1 || bt.Origins > forecast.MaxOrigins {
		return bt, &paramError{"origins", fmt.Sprintf("must be 1..%d", forecast.MaxOrigins)}
	}
	return bt, nil
}

// longTermParams reads a long-term forecast's settings.
func longTermParams(q url.Values) (forecast.LongTermConfig, error) {
	var lt forecast.LongTermConfig
	var err error
	if lt.Months, err = getInt(q, "months", 12); err != nil {
		return lt, err
	}
	if lt.FTE.HoursPerWeek, err = getFloat(q, "hours_per_week", 0); err != nil {
		return lt, err
	}
	if lt.FTE.Shrinkage, err = getFloat(q, "shrinkage", 0); err != nil {
		return lt, err
	}
	if lt.FTE.Occupancy, err = getFloat(q, "occupancy", 0); err != nil {
		return lt, err
	}
	lt.Trend = q.Get("trend") // "linear" or "flat", valid for both models
	da, err := getDuration(q, "default_aht", 0)
	if err != nil {
		return lt, err
	}
	lt.DefaultAHT = da.Seconds()
	return lt, nil
}

// resolvePatience fills t.Patience when the request asked for
// patience=auto: the estimate from the last 90 days of history.
func resolvePatience(q url.Values, t *erlang.Target, s *forecast.Series) error {
	if q.Get("patience") != "auto" || len(s.Points) == 0 {
		return nil
	}
	p, err := s.RecentPatience(90)
	if err != nil {
		return err
	}
	t.Patience = p
	return nil
}

// storedHistory aggregates the queue's stored inbound engagements (the last
// two years, or from..to) into interval history. The store keeps no queue
// wait or abandonment yet, so every stored engagement counts as offered and
// handled, with End - Start as its handle time.
func (d *Daemon) storedHistory(r *http.Request, fp forecastParams) (*forecast.Series, error) {
	q := r.URL.Query()
	to := time.Now()
	from := to.AddDate(-2, 0, 0)
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: want RFC 3339, got %q", forecast.ErrBadInput, b.name, v)
			}
			*b.t = t
		}
	}
	list, err := d.store.Engagements(r.Context(), store.EngagementFilter{Queue: fp.queue, From: from, To: to})
	if err != nil {
		return nil, err
	}
	engs := make([]forecast.Engagement, 0, len(list))
	for _, e := range list {
		if e.Direction != "inbound" {
			continue
		}
		fe := forecast.Engagement{Queue: e.Queue, Offered: e.Start}
		if !e.End.IsZero() {
			fe.Handle = e.End.Sub(e.Start)
		}
		engs = append(engs, fe)
	}
	set, err := forecast.Aggregate(engs, fp.imp.Step, fp.imp.Location)
	if err != nil {
		return nil, err
	}
	s, ok := set[fp.queue]
	if !ok {
		return nil, fmt.Errorf("%w: queue %q has no stored inbound engagements between %s and %s", forecast.ErrTooShort, fp.queue, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return s, nil
}

// forecastInput authorises the request and reads its history, at most
// maxHistoryPoints intervals of it.
func (d *Daemon) forecastInput(w http.ResponseWriter, r *http.Request, p *Principal) (forecastParams, *forecast.Series, bool) {
	fp, s, ok := d.readHistory(w, r, p)
	if ok && len(s.Points) > maxHistoryPoints {
		d.badRequest(w, r, http.StatusUnprocessableEntity, fmt.Sprintf("a history of %d intervals; at most %d (three years of 15 minutes)",
			len(s.Points), maxHistoryPoints), "body")
		return fp, nil, false
	}
	return fp, s, ok
}

// readHistory authorises the request and reads its history.
func (d *Daemon) readHistory(w http.ResponseWriter, r *http.Request, p *Principal) (forecastParams, *forecast.Series, bool) {
	fp, err := parseForecastParams(r.PathValue("queue"), r.URL.Query())
	if err != nil {
		d.paramProblem(w, r, err)
		return fp, nil, false
	}
	if !p.InQueue(fp.queue) {
		writeProblem(w, r, http.StatusForbidden, "forbidden", "not scoped to queue "+fp.queue)
		return fp, nil, false
	}
	if d.controls != nil && !d.controls.Enabled("forecasting", fp.queue, p.User.ID) {
		writeProblem(w, r, http.StatusForbidden, "feature-disabled", "forecasting is switched off for this queue or user")
		return fp, nil, false
	}
	if src := r.URL.Query().Get("source"); src == "engagements" {
		s, err := d.storedHistory(r, fp)
		if err != nil {
			d.modelProblem(w, r, err)
			return fp, nil, false
		}
		return fp, s, true
	} else if src != "" && src != "body" {
		d.badRequest(w, r, http.StatusBadRequest, "source must be body or engagements", "source")
		return fp, nil, false
	}
	if r.ContentLength > maxHistoryBody {
		refuseBody(w, r)
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("history larger than %d bytes", maxHistoryBody), "body")
		return fp, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHistoryBody))
	if err != nil {
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("history larger than %d bytes", maxHistoryBody), "")
		return fp, nil, false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" || (ct == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))) {
		var in struct {
			Points []forecast.Point `json:"points"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			d.badRequest(w, r, http.StatusBadRequest, "history JSON: "+err.Error(), "points")
			return fp, nil, false
		}
		s := &forecast.Series{Queue: fp.queue, Step: fp.imp.Step, Location: fp.imp.Location, Points: in.Points}
		for i := range s.Points {
			s.Points[i].Start = s.Points[i].Start.In(fp.imp.Location)
		}
		if err := s.Validate(); err != nil {
			d.badRequest(w, r, http.StatusBadRequest, err.Error(), "points")
			return fp, nil, false
		}
		return fp, s, true
	}
	set, _, err := d.forecast.ImportCSV(bytes.NewReader(body), fp.imp)
	if err != nil {
		// The detail names every bad row's line and column; field names
		// the first bad column.
		field := "body"
		if re := (*forecast.RowError)(nil); errors.As(err, &re) && re.Column != "" {
			field = re.Column
		}
		d.badRequest(w, r, http.StatusBadRequest, err.Error(), field)
		return fp, nil, false
	}
	s, ok := set[fp.queue]
	if !ok {
		d.badRequest(w, r, http.StatusBadRequest, "the CSV has no rows for queue "+fp.queue, "queue")
		return fp, nil, false
	}
	return fp, s, true
}

func (d *Daemon) paramProblem(w http.ResponseWriter, r *http.Request, err error) {
	var pe *paramError
	if errors.As(err, &pe) {
		d.badRequest(w, r, http.StatusBadRequest, err.Error(), pe.field)
		return
	}
	d.badRequest(w, r, http.StatusBadRequest, err.Error(), "")
}

// modelProblem maps a forecast error to a problem.
func (d *Daemon) modelProblem(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, forecast.ErrNoAHT):
		d.badRequest(w, r, http.StatusUnprocessableEntity, err.Error(), "default_aht")
	case errors.Is(err, forecast.ErrTooShort), errors.Is(err, forecast.ErrBadInput), errors.Is(err, forecast.ErrBadConfig),
		errors.Is(err, forecast.ErrNoOpenHours), errors.Is(err, erlang.ErrBadInput):
		d.badRequest(w, r, http.StatusUnprocessableEntity, err.Error(), "")
	case errors.Is(err, erlang.ErrUnreachable):
		writeProblem(w, r, http.StatusUnprocessableEntity, "unreachable-target", err.Error())
	default:
		d.logger.Error("forecast failed", "path", r.URL.Path, "err", err)
		writeProblem(w, r, http.StatusInternalServerError, "internal", "the forecast failed")
	}
}

func (d *Daemon) fitForecast(w http.ResponseWriter, r *http.Request, p *Principal) (forecastParams, *forecast.Series, *forecast.Model, *forecast.Forecast, bool) {
	fp, s, ok := d.forecastInput(w, r, p)
	if !ok {
		return fp, nil, nil, nil, false
	}
	if fp.tune {
		cfg, _, err := forecast.Tune(s, fp.cfg, forecast.BacktestConfig{})
		if err != nil {
			d.modelProblem(w, r, err)
			return fp, nil, nil, nil, false
		}
		fp.cfg = cfg
	}
	m, err := d.forecast.Fit(s, &fp.cfg)
	if err != nil {
		d.modelProblem(w, r, err)
		return fp, nil, nil, nil, false
	}
	f, err := m.Forecast(fp.days)
	if err != nil {
		d.modelProblem(w, r, err)
		return fp, nil, nil, nil, false
	}
	return fp, s, m, f, true
}

func (d *Daemon) postForecast(w http.ResponseWriter, r *http.Request, p *Principal) {
	fp, s, m, f, ok := d.fitForecast(w, r, p)
	if !ok {
		return
	}
	// Every forecast is kept per queue with its model version, so planners
	// can compare what was predicted with what happened.
	if r.URL.Query().Get("store") != "false" {
		raw, _ := json.Marshal(f)
		sf := store.StoredForecast{Queue: fp.queue, CreatedAt: time.Now().UTC(), CreatedBy: p.User.ID, ModelVersion: f.ModelVersion, Payload: raw}
		if err := d.store.PutForecast(r.Context(), sf); err != nil {
			d.storeError(w, r, err)
			return
		}
	}
	switch fp.format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_ = forecast.WriteForecastCSV(w, f)
	case "svg":
		var b bytes.Buffer
		target := forecast.TargetVolume
		if r.URL.Query().Get("target") == "aht" {
			target = forecast.TargetAHT
		}
		compact := r.URL.Query().Get("axis") != "time"
		if err := chart.SVG(&b, s, f, chart.Options{Title: "Queue " + fp.queue, Target: target, Hours: m.Hours, Compact: compact}); err != nil {
			d.modelProblem(w, r, err)
			return
		}
		writeSVG(w, b.Bytes())
	default:
		writeJSON(w, 200, f)
	}
}

func (d *Daemon) postStaffing(w http.ResponseWriter, r *http.Request, p *Principal) {
	t, opt, err := staffingTarget(r.URL.Query())
	if err != nil {
		d.paramProblem(w, r, err)
		return
	}
	_, s, _, f, ok := d.fitForecast(w, r, p)
	if !ok {
		return
	}
	if err := resolvePatience(r.URL.Query(), &t, s); err != nil {
		d.modelProblem(w, r, err)
		return
	}
	plan, err := forecast.Staff(f, t, opt)
	if err != nil {
		d.modelProblem(w, r, err)
		return
	}
	writeJSON(w, 200, plan)
}

func (d *Daemon) postBacktest(w http.ResponseWriter, r *http.Request, p *Principal) {
	runForecastModel(d, w, r, p, backtestParams, d.forecast.Backtest)
}

func (d *Daemon) postLongTerm(w http.ResponseWriter, r *http.Request, p *Principal) {
	runForecastModel(d, w, r, p, longTermParams, d.forecast.LongTerm)
}

// runForecastModel parses a model's own parameters, reads the queue's
// history and answers with what run computes from them.
func runForecastModel[P, R any](d *Daemon, w http.ResponseWriter, r *http.Request, p *Principal,
	parse func(url.Values) (P, error), run func(*forecast.Series, *forecast.Config, P) (R, error)) {
	params, err := parse(r.URL.Query())
	if err != nil {
		d.paramProblem(w, r, err)
		return
	}
	fp, s, ok := d.forecastInput(w, r, p)
	if !ok {
		return
	}
	res, err := run(s, &fp.cfg, params)
	if err != nil {
		d.modelProblem(w, r, err)
		return
	}
	writeJSON(w, 200, res)
}

// erlangRequest is the body of the Erlang calculator.
type erlangRequest struct {
	Contacts        float64 `json:"contacts"`
	AHTSeconds      float64 `json:"aht_seconds"`
	IntervalSeconds float64 `json:"interval_seconds"`
	// IntervalMinutes is the former name of IntervalSeconds/60, still read.
	IntervalMinutes float64 `json:"interval_minutes"`
	ServiceLevel    float64 `json:"service_level"`
	AnswerWithinSec float64 `json:"answer_within_seconds"`
	ASASeconds      float64 `json:"asa_seconds"`
	MaxOccupancy    float64 `json:"max_occupancy"`
	Shrinkage       float64 `json:"shrinkage"`
	PatienceSeconds float64 `json:"patience_seconds"`
	// Agents, when set, evaluates that many agents instead of searching.
	Agents *int `json:"agents"`
}

func secs(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

func (d *Daemon) postErlang(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req erlangRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.IntervalSeconds == 0 {
		req.IntervalSeconds = 60 * req.IntervalMinutes
	}
	if req.IntervalSeconds == 0 {
		req.IntervalSeconds = 1800
	}
	in := erlang.Interval{Contacts: req.Contacts, AHT: secs(req.AHTSeconds), Length: secs(req.IntervalSeconds)}
	t := erlang.Target{ServiceLevel: req.ServiceLevel, AnswerWithin: secs(req.AnswerWithinSec), ASA: secs(req.ASASeconds),
		MaxOccupancy: req.MaxOccupancy, Shrinkage: req.Shrinkage, Patience: secs(req.PatienceSeconds)}
	var res erlang.Result
	var err error
	if req.Agents != nil {
		res, err = erlang.Evaluate(*req.Agents, in, t)
	} else {
		res, err = erlang.Staff(in, t)
	}
	if err != nil {
		d.modelProblem(w, r, err)
		return
	}
	writeJSON(w, 200, res)
}

// forecastQueue checks the queue of a stored-forecast route.
func (d *Daemon) forecastQueue(w http.ResponseWriter, r *http.Request, p *Principal) (string, bool) {
	q := r.PathValue("queue")
	if !p.InQueue(q) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such queue")
		return "", false
	}
	if !d.controls.Decide("forecasting", q, p.User.ID).On {
		writeProblem(w, r, http.StatusForbidden, "feature-off", "forecasting is off for this queue and user")
		return "", false
	}
	return q, true
}

func (d *Daemon) listForecasts(w http.ResponseWriter, r *http.Request, p *Principal) {
	q, ok := d.forecastQueue(w, r, p)
	if !ok {
		return
	}
	fs, err := d.store.Forecasts(r.Context(), q, false)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if fs == nil {
		fs = []store.StoredForecast{}
	}
	writeJSON(w, 200, fs)
}

func (d *Daemon) latestForecast(w http.ResponseWriter, r *http.Request, p *Principal) {
	q, ok := d.forecastQueue(w, r, p)
	if !ok {
		return
	}
	fs, err := d.store.Forecasts(r.Context(), q, true)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if len(fs) == 0 {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no stored forecast for this queue")
		return
	}
	writeJSON(w, 200, fs[0])
}
