package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/inference/router"
	"github.com/earshot/earshot/inference/topics"
	"github.com/earshot/earshot/store"
)

// Event and result names of quality management.
const (
	// EventMetrics carries the live speaker metrics of a call.
	EventMetrics = "metrics"
	// EventQMReady says the quality-management results are stored.
	EventQMReady = "qm.ready"

	resultSpeakerMetrics = "speaker_metrics"
	resultInteraction    = "interaction_analytics"
)

// settingQM is the settings key of the quality-management settings.
const settingQM = "qm.settings"

// qmSettings are what an administrator sets for quality management.
type qmSettings struct {
	Metrics  qm.MetricsConfig `json:"metrics"`
	Callouts qm.CalloutConfig `json:"callouts"`
	// TopicInterval is how often topics are discovered again per queue;
	// TopicWindow how far back they look.
	TopicInterval Duration `json:"topic_interval"`
	TopicWindow   Duration `json:"topic_window"`
}

func defaultQMSettings() qmSettings {
	return qmSettings{Metrics: qm.DefaultMetricsConfig(), TopicInterval: Duration(24 * time.Hour), TopicWindow: Duration(7 * 24 * time.Hour)}
}

func (s qmSettings) validate() error {
	if err := s.Metrics.Validate(); err != nil {
		return &fieldError{"metrics", err.Error()}
	}
	if err := s.Callouts.Validate(); err != nil {
		var fe *qm.FieldError
		if errors.As(err, &fe) {
			return &fieldError{"callouts." + fe.Field, fe.Msg}
		}
		return err
	}
	if s.TopicInterval < Duration(time.Hour) {
		return &fieldError{"topic_interval", "topic_interval must be at least 1h"}
	}
	if s.TopicWindow < Duration(24*time.Hour) || s.TopicWindow > Duration(366*24*time.Hour) {
		return &fieldError{"topic_window", "topic_window must be within 24h..8784h"}
	}
	return nil
}

// quality computes speaker metrics, callouts, the interaction view,
// automatic evaluations and topic memberships of engagements, and keeps
// the scorecards and topic models they use.
type quality struct {
	d      *Daemon
	route  *router.Router
	eval   *qm.Evaluator
	logger *slog.Logger
	prom   *qmMetrics

	settings   atomic.Pointer[qmSettings]
	scorecards atomic.Pointer[[]*qm.Scorecard] // latest versions, archived ones included

	// discoverSem lets one topic discovery run at a time.
	discoverSem chan struct{}
	// models caches decoded topic models by ID.
	models sync.Map // uint64 -> *topicModel

	// holds are the hold states of live calls whose source signals hold.
	holdMu sync.Mutex
	holds  map[string]*holdState // +checklocks:holdMu
	now    func() time.Time      // nil: time.Now; tests set it before any call
	// origins are the media clocks of live calls fed by the pipeline:
	// engagement ID -> func() time.Time, the arrival of the first media
	// packet (zero until then).
	origins sync.Map
}

// qmMetrics are aggregates for Prometheus: by queue, never by agent.
type qmMetrics struct {
	engagements   *prometheus.CounterVec // queue, channel
	talk          *prometheus.CounterVec // queue, party
	nonTalk       *prometheus.CounterVec // queue
	interruptions *prometheus.CounterVec // queue
	callouts      *prometheus.CounterVec // queue, type
	scores        *prometheus.HistogramVec
	autoFailed    *prometheus.CounterVec // queue, scorecard
	failures      *prometheus.CounterVec // stage
	discoveries   *prometheus.CounterVec // result
}

func newQMMetrics(reg prometheus.Registerer) (*qmMetrics, error) {
	const ns, sub = "earshot", "qm"
	m := &qmMetrics{
		engagements: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "engagements_total",
			Help: "Ended engagements analysed, by queue and channel."}, []string{"queue", "channel"}),
		talk: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "talk_seconds_total",
			Help: "Talk time of ended calls, by queue and party."}, []string{"queue", "party"}),
		nonTalk: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "non_talk_seconds_total",
			Help: "Time nobody spoke in ended calls, by queue."}, []string{"queue"}),
		interruptions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "interruptions_total",
			Help: "Interruptions in ended calls, by queue."}, []string{"queue"}),
		callouts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "callouts_total",
			Help: "Callouts found in ended engagements, by queue and type."}, []string{"queue", "type"}),
		scores: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "evaluation_score",
			Help: "Automatic evaluation scores (0-100), by queue and scorecard.", Buckets: []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}},
			[]string{"queue", "scorecard"}),
		autoFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "auto_failed_total",
			Help: "Automatic evaluations failed by an auto-fail question, by queue and scorecard."}, []string{"queue", "scorecard"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "failures_total",
			Help: "Quality-management steps that failed, by stage."}, []string{"stage"}),
		discoveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "topic_discoveries_total",
			Help: "Topic discoveries by result (ok, too_few, failed, busy)."}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.engagements, m.talk, m.nonTalk, m.interruptions, m.callouts, m.scores, m.autoFailed, m.failures, m.discoveries} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("daemon: register qm metrics: %w", err)
		}
	}
	return m, nil
}

func newQuality(d *Daemon, route *router.Router, logger *slog.Logger, reg prometheus.Registerer) (*quality, error) {
	ev, err := qm.NewEvaluator(qm.DefaultEvaluatorConfig(), logger, reg)
	if err != nil {
		return nil, err
	}
	prom, err := newQMMetrics(reg)
	if err != nil {
		return nil, err
	}
	q := &quality{d: d, route: route, eval: ev, logger: logger.With("component", "qm"), prom: prom, discoverSem: make(chan struct{}, 1)}
	s := defaultQMSettings()
	if err := d.store.Setting(settingQM, &s); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	q.settings.Store(&s)
	if err := q.reloadScorecards(context.Background()); err != nil {
		return nil, err
	}
	return q, nil
}

// reloadScorecards reads the latest version of every scorecard.
func (q *quality) reloadScorecards(ctx context.Context) error {
	raws, err := q.d.store.Scorecards(ctx)
	if err != nil {
		return fmt.Errorf("daemon: load scorecards: %w", err)
	}
	out := make([]*qm.Scorecard, 0, len(raws))
	for _, raw := range raws {
		var sc qm.Scorecard
		if err := json.Unmarshal(raw, &sc); err != nil {
			return fmt.Errorf("daemon: decode scorecard: %w", err)
		}
		out = append(out, &sc)
	}
	q.scorecards.Store(&out)
	return nil
}

// scorecard returns a version of a scorecard (0: latest).
func (q *quality) scorecard(ctx context.Context, id string, version int) (*qm.Scorecard, error) {
	raw, err := q.d.store.Scorecard(ctx, id, version)
	if err != nil {
		return nil, err
	}
	var sc qm.Scorecard
	if err := json.Unmarshal(raw, &sc); err != nil {
		return nil, fmt.Errorf("daemon: decode scorecard %s: %w", id, err)
	}
	return &sc, nil
}

// Start implements hub.LiveAnalyzer: live speaker metrics of calls.
func (q *quality) Start(e *store.Engagement) hub.LiveSession {
	if e.Channel != "voice" {
		return nil
	}
	return &liveMetrics{q: q, e: e, last: -1}
}

// liveMetrics publishes a call's speaker metrics as it goes.
type liveMetrics struct {
	q     *quality
	e     *store.Engagement
	last  int64 // media time of the last metrics event, -1 before the first
	turns []qm.Turn
	dirty bool
}

// liveMetricsEvery paces metrics events on the media clock.
const liveMetricsEvery = 5000

func (s *liveMetrics) OnUtterance(ctx context.Context, conv []inference.Utterance, emit func(string, any)) {
	u := conv[len(conv)-1]
	s.turns = append(s.turns, qm.Turn{Seq: len(conv) - 1, Party: string(u.Party), StartMS: u.StartMS, EndMS: u.EndMS, Text: u.Text})
	s.dirty = true
	if s.last < 0 || u.EndMS-s.last >= liveMetricsEvery {
		s.publish(u.EndMS, emit)
	}
}

// Tick implements hub.Ticker: the silence grows while nobody speaks.
// nowMS is the engagement's age; a call fed by the pipeline is timed on
// its media clock instead (the zero of its segments' times), and not at
// all before its first media packet.
func (s *liveMetrics) Tick(ctx context.Context, nowMS int64, emit func(string, any)) {
	// Without a media clock (segments submitted through the API) the
	// figures are republished only when turns came since the last event:
	// the age is not the segments' clock, so the silence is not grown.
	grows := false
	if o, ok := s.q.origins.Load(s.e.ID); ok {
		origin := o.(func() time.Time)()
		if origin.IsZero() {
			return
		}
		nowMS = s.e.Start.Add(time.Duration(nowMS) * time.Millisecond).Sub(origin).Milliseconds()
		grows = len(s.turns) > 0
	}
	if (s.dirty || grows) && nowMS-s.last >= 2*liveMetricsEvery {
		s.publish(nowMS, emit)
	}
}

func (s *liveMetrics) publish(at int64, emit func(string, any)) {
	if !s.q.d.controls.Enabled("speaker_metrics", s.e.Queue, s.e.Agent) {
		return
	}
	cfg := s.q.settings.Load().Metrics
	hold, _ := s.q.holdsOf(s.e.ID, at, time.Time{}, false)
	// Up to at: on a tick, the silence since the last turn counts.
	m := qm.Compute(cfg, qm.MetricsInput{Channel: s.e.Channel, Turns: s.turns, Hold: hold, DurationMS: at})
	s.last, s.dirty = at, false
	emit(EventMetrics, map[string]any{"at_ms": at, "metrics": m})
}

// interactionView is the supervisor's view of one engagement.
type interactionView struct {
	Summary        qm.Summary        `json:"summary"`
	SentimentTrend []sentimentPoint  `json:"sentiment_trend"`
	NextSteps      []inference.Task  `json:"next_steps"`
	Callouts       []qm.Callout      `json:"callouts"`
	Topics         []inference.Topic `json:"topics"`
	Metrics        *qm.Metrics       `json:"metrics,omitempty"`
}

type sentimentPoint struct {
	Seq       int     `json:"seq"`
	AtMS      int64   `json:"at_ms"`
	Party     string  `json:"party"`
	Sentiment float64 `json:"sentiment"`
}

// shownView cuts from the view what belongs to features switched off for
// engagement e: the sentiment trend (sentiment), next steps and the
// summary's follow-ups (follow_up_tasks), topics (topic_detection) and
// the metrics (speaker_metrics).
func (c *Controls) shownView(e store.Engagement, v interactionView) interactionView {
	if !c.Enabled("sentiment", e.Queue, e.Agent) {
		v.SentimentTrend = []sentimentPoint{}
	}
	if !c.Enabled("follow_up_tasks", e.Queue, e.Agent) {
		v.NextSteps, v.Summary.FollowUps = []inference.Task{}, []string{}
		v.Summary.Text = strings.Join(append(append([]string{v.Summary.Reason}, v.Summary.Actions...), v.Summary.Outcome), " ")
	}
	if !c.Enabled("topic_detection", e.Queue, e.Agent) {
		v.Topics = []inference.Topic{}
	}
	if !c.Enabled("speaker_metrics", e.Queue, e.Agent) {
		v.Metrics = nil
	}
	return v
}

// OnEnd implements hub.PostAnalyzer. It runs after the analytics' post
// analysis, so the summary, tasks and disposition are stored already.
func (q *quality) OnEnd(ctx context.Context, e *store.Engagement, conv []inference.Utterance, emit func(string, any)) {
	c := q.d.controls
	on := func(f Feature) bool { return c.Enabled(f, e.Queue, e.Agent) }
	metricsOn, viewOn, qmOn, topicsOn := on("speaker_metrics"), on("interaction_analytics"), on("auto_qm"), on("topic_detection")
	f, err := q.facts(ctx, e)
	q.holdsOf(e.ID, 0, time.Time{}, true) // the call's hold state is in f now
	if err != nil {
		q.prom.failures.WithLabelValues("read").Inc()
		q.logger.Error("engagement not analysed for quality", "engagement", e.ID, "err", err)
		return
	}
	set := q.settings.Load()
	callouts := qm.Callouts(set.Callouts, set.Metrics, f.Turns, f.Metrics)
	var stored []string
	put := func(name string, v any) {
		raw, _ := json.Marshal(v)
		r := store.Result{Engagement: e.ID, Feature: name, Version: "qm", Payload: raw, CreatedAt: time.Now().UTC()}
		if err := q.d.store.PutResult(ctx, r); err != nil {
			q.prom.failures.WithLabelValues("store").Inc()
			q.logger.Error("quality result not stored", "engagement", e.ID, "result", name, "err", err)
			return
		}
		stored = append(stored, name)
	}
	q.prom.engagements.WithLabelValues(e.Queue, e.Channel).Inc()
	if metricsOn {
		put(resultSpeakerMetrics, f.Metrics)
		if e.Channel == "voice" {
			q.prom.talk.WithLabelValues(e.Queue, "agent").Add(float64(f.Metrics.Parties[qm.PartyAgent].TalkMS) / 1000)
			q.prom.talk.WithLabelValues(e.Queue, "customer").Add(float64(f.Metrics.Parties[qm.PartyCustomer].TalkMS) / 1000)
			q.prom.nonTalk.WithLabelValues(e.Queue).Add(float64(f.Metrics.NonTalkMS) / 1000)
			q.prom.interruptions.WithLabelValues(e.Queue).Add(float64(len(f.Metrics.Interruptions)))
		}
	}
	if viewOn {
		for _, co := range callouts {
			q.prom.callouts.WithLabelValues(e.Queue, co.Type).Inc()
		}
		put(resultInteraction, c.shownView(*e, q.view(ctx, e, f, callouts, metricsOn)))
	}
	var scores []float64
	if qmOn {
		for _, sc := range *q.scorecards.Load() {
			if !sc.AppliesTo(e.Queue, e.Channel) || !sc.Sampled(e.ID, e.Queue) {
				continue
			}
			ev, err := q.evaluate(ctx, sc, f, nil)
			if err != nil {
				continue
			}
			scores = append(scores, ev.Score)
			stored = append(stored, "evaluation:"+sc.ID)
		}
	}
	if topicsOn {
		q.assignTopics(ctx, e, f.Turns)
	}
	fact := qm.Fact{Engagement: e.ID, Queue: e.Queue, Agent: e.Agent, Channel: e.Channel, Start: e.Start,
		HandleMS: max(0, f.HandleMS), Disposition: f.Disposition}
	if metricsOn {
		fact.AgentTalkMS = f.Metrics.Parties[qm.PartyAgent].TalkMS
		fact.CustomerTalkMS = f.Metrics.Parties[qm.PartyCustomer].TalkMS
		fact.NonTalkMS = f.Metrics.NonTalkMS
		fact.Interruptions = len(f.Metrics.Interruptions)
		fact.SentimentStart = f.Metrics.Parties[qm.PartyCustomer].SentimentStart
		fact.SentimentEnd = f.Metrics.Parties[qm.PartyCustomer].SentimentEnd
	}
	for _, co := range callouts {
		if co.Type == qm.CalloutEscalation {
			fact.Escalated = true
		}
	}
	if len(scores) > 0 {
		var s float64
		for _, x := range scores {
			s += x
		}
		s /= float64(len(scores))
		fact.QMScore = &s
	}
	raw, _ := fact.MarshalBinary()
	if err := q.d.store.PutFact(ctx, e.ID, raw); err != nil {
		q.prom.failures.WithLabelValues("store").Inc()
		q.logger.Error("report record not stored", "engagement", e.ID, "err", err)
	}
	if len(stored) > 0 {
		emit(EventQMReady, map[string]any{"results": stored})
	}
}

// facts gathers what the engines need of an ended engagement: its stored
// segments (with word times), sentiment and intents per turn, metrics,
// tasks and disposition.
func (q *quality) facts(ctx context.Context, e *store.Engagement) (*qm.Facts, error) {
	segs, err := q.d.store.Segments(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	f := &qm.Facts{Engagement: e.ID, Queue: e.Queue, Agent: e.Agent, Channel: e.Channel, Start: e.Start}
	sent := q.route.SentimentAnalyzer()
	intents := q.route.IntentDetector()
	for _, s := range segs {
		t := qm.Turn{Seq: int(s.Seq), Party: s.Speaker, StartMS: s.StartMs, EndMS: s.EndMs, Text: s.Text}
		for _, w := range s.Words {
			t.Words = append(t.Words, qm.Word{Text: w.Text, StartMS: w.StartMs, EndMS: w.EndMs})
		}
		if sent != nil && strings.TrimSpace(s.Text) != "" {
			if r, err := sent.Sentiment(ctx, s.Text); err == nil {
				v := r.Score
				t.Sentiment = &v
			}
		}
		if intents != nil && s.Speaker == qm.PartyCustomer {
			if is, err := intents.DetectIntents(ctx, s.Text); err == nil && len(is) > 0 {
				f.Intents = append(f.Intents, qm.IntentAt{Seq: t.Seq, Name: is[0].Name})
			}
		}
		f.Turns = append(f.Turns, t)
	}
	end := q.clock()
	if full, err := q.d.store.Engagement(ctx, e.ID); err == nil && !full.End.IsZero() {
		f.HandleMS = full.End.Sub(full.Start).Milliseconds()
		end = full.End
	}
	var hold []qm.Interval
	if e.Channel == "voice" {
		hold = q.endedHolds(ctx, e, end)
	}
	durMS := int64(0)
	for _, h := range hold {
		durMS = max(durMS, h.EndMS) // a call may end on hold
	}
	f.Metrics = qm.Compute(q.settings.Load().Metrics, qm.MetricsInput{Channel: e.Channel, Turns: f.Turns, DurationMS: durMS, Hold: hold, Final: true})
	if f.HandleMS <= 0 {
		f.HandleMS = f.Metrics.DurationMS
	}
	if r, err := q.d.store.Result(ctx, e.ID, "follow_up_tasks"); err == nil {
		json.Unmarshal(r.Payload, &f.Tasks)
	}
	for _, name := range []string{resultDisposition, "recommended_disposition"} {
		if name != resultDisposition && !q.d.controls.Enabled("recommended_disposition", e.Queue, e.Agent) {
			continue // a recommendation the engagement may not show
		}
		if r, err := q.d.store.Result(ctx, e.ID, name); err == nil {
			var d struct {
				Code string `json:"code"`
			}
			if json.Unmarshal(r.Payload, &d) == nil && d.Code != "" {
				f.Disposition = d.Code
				break
			}
		}
	}
	return f, nil
}

// view builds the interaction view; the summary is a local language
// model's when one serves text generation, else the built-in one.
func (q *quality) view(ctx context.Context, e *store.Engagement, f *qm.Facts, callouts []qm.Callout, withMetrics bool) interactionView {
	v := interactionView{SentimentTrend: []sentimentPoint{}, NextSteps: f.Tasks, Callouts: callouts, Topics: []inference.Topic{}}
	if v.NextSteps == nil {
		v.NextSteps = []inference.Task{}
	}
	for _, t := range f.Turns {
		if t.Sentiment != nil {
			v.SentimentTrend = append(v.SentimentTrend, sentimentPoint{Seq: t.Seq, AtMS: t.StartMS, Party: t.Party, Sentiment: *t.Sentiment})
		}
	}
	if r, err := q.d.store.Result(ctx, e.ID, "topic_detection"); err == nil {
		json.Unmarshal(r.Payload, &v.Topics)
	}
	if withMetrics {
		m := f.Metrics
		v.Metrics = &m
	}
	in := qm.SummaryInput{Turns: f.Turns, Intent: topIntent(f.Intents), Disposition: q.dispositionName(f.Disposition), Tasks: f.Tasks,
		Callouts: callouts, Metrics: &f.Metrics}
	if gen, provider, ok := router.Lookup[inference.Generator](q.route, router.Generate); ok && q.modelAllowed(provider) {
		s, err := qm.GenerateSummary(ctx, gen, in, provider)
		if err == nil {
			v.Summary = s
			return v
		}
		q.prom.failures.WithLabelValues("summary_model").Inc()
		q.logger.Debug("model summary not used; built-in summary instead", "engagement", e.ID, "err", err)
	}
	v.Summary = qm.Summarize(in)
	return v
}

// modelAllowed reports whether a provider's model may see customer
// content: local models always, plugins' third-party models only when
// local-models-only mode is off.
func (q *quality) modelAllowed(provider string) bool {
	return !strings.HasPrefix(provider, "plugin:") || !q.d.controls.LocalModelsOnly()
}

// llm returns the language model the llm engine may ask, nil for none.
func (q *quality) llm() *qm.LLM {
	gen, provider, ok := router.Lookup[inference.Generator](q.route, router.Generate)
	if !ok || !q.modelAllowed(provider) {
		return nil
	}
	return &qm.LLM{Gen: gen, Model: provider}
}

func topIntent(is []qm.IntentAt) string {
	n := map[string]int{}
	best := ""
	for _, i := range is {
		n[i.Name]++
		if best == "" || n[i.Name] > n[best] {
			best = i.Name
		}
	}
	return best
}

func (q *quality) dispositionName(code string) string {
	if code == "" {
		return ""
	}
	for _, c := range *q.d.analytics.codes.Load() {
		if c.Code == code && c.Name != "" {
			return c.Name
		}
	}
	return code
}

// evaluate answers a scorecard for an engagement and stores the
// evaluation (replacing an earlier one of the same scorecard).
func (q *quality) evaluate(ctx context.Context, sc *qm.Scorecard, f *qm.Facts, audit *store.AuditEntry) (*qm.Evaluation, error) {
	ev := q.eval.Evaluate(ctx, sc, f, q.llm(), time.Now().UTC())
	if err := q.putEvaluation(ctx, ev, audit); err != nil {
		q.prom.failures.WithLabelValues("store").Inc()
		q.logger.Error("evaluation not stored", "engagement", f.Engagement, "scorecard", sc.ID, "err", err)
		return nil, err
	}
	q.prom.scores.WithLabelValues(f.Queue, sc.ID).Observe(ev.Score)
	if ev.AutoFailed {
		q.prom.autoFailed.WithLabelValues(f.Queue, sc.ID).Inc()
	}
	return ev, nil
}

func (q *quality) putEvaluation(ctx context.Context, ev *qm.Evaluation, audit *store.AuditEntry) error {
	content, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	summary, err := json.Marshal(ev.Summarise())
	if err != nil {
		return err
	}
	var as []store.AuditEntry
	if audit != nil {
		as = append(as, *audit)
	}
	return q.d.store.PutEvaluation(ctx, ev.Engagement, ev.Scorecard, content, summary, as...)
}

// topicModel is a decoded stored topic discovery.
type topicModel struct {
	ID        uint64
	CreatedAt time.Time
	Content   topicContent
	model     *topics.Model
}

// topicContent is the sealed part of a stored topic discovery.
type topicContent struct {
	Queues      []string    `json:"queues"`
	From        time.Time   `json:"from"`
	To          time.Time   `json:"to"`
	Texts       int         `json:"texts"`
	Engagements int         `json:"engagements"`
	Topics      []topicInfo `json:"topics"`
	Model       []byte      `json:"model"`
}

type topicInfo struct {
	ID       int          `json:"id"`
	Label    string       `json:"label"`
	Keywords []string     `json:"keywords"`
	Size     int          `json:"size"`     // utterances at discovery
	Previous int          `json:"previous"` // engagements of the period before
	Snippets []snippetRef `json:"snippets"`
	// LabelModel is the language model that wrote Label; empty: Label is
	// the topic's top keywords.
	LabelModel string `json:"label_model,omitempty"`
}

type snippetRef struct {
	Engagement string `json:"engagement"`
	Seq        int    `json:"seq"`
}

// membership is an engagement's share of a topic model.
type membership struct {
	Day    string         `json:"day"`
	Topics map[string]int `json:"topics"` // topic ID -> utterances
}

// scopeKey names a set of queues.
func scopeKey(queues []string) string {
	qs := slices.Clone(queues)
	sort.Strings(qs)
	return strings.Join(qs, ",")
}

// loadModel returns a decoded topic model, cached.
func (q *quality) loadModel(ctx context.Context, id uint64) (*topicModel, error) {
	if v, ok := q.models.Load(id); ok {
		return v.(*topicModel), nil
	}
	rec, err := q.d.store.LoadTopicModel(ctx, id)
	if err != nil {
		return nil, err
	}
	tm := &topicModel{ID: rec.ID, CreatedAt: rec.CreatedAt}
	if err := json.Unmarshal(rec.Content, &tm.Content); err != nil {
		return nil, fmt.Errorf("daemon: decode topic model %d: %w", id, err)
	}
	tm.model = &topics.Model{}
	if err := tm.model.UnmarshalBinary(tm.Content.Model); err != nil {
		return nil, err
	}
	q.models.Store(id, tm)
	return tm, nil
}

// latestModels returns the newest model of every scope, by scope.
func (q *quality) latestModels(ctx context.Context) (map[string]store.TopicModel, error) {
	all, err := q.d.store.TopicModels(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]store.TopicModel{}
	for _, m := range all { // oldest first: later ones replace
		out[m.Scope] = m
	}
	return out, nil
}

// customerTexts are the customer turns worth clustering: three words or more.
func customerTexts(turns []qm.Turn) []qm.Turn {
	var out []qm.Turn
	for _, t := range turns {
		if t.Party == qm.PartyCustomer && len(strings.Fields(t.Text)) >= 3 {
			out = append(out, t)
		}
	}
	return out
}

// assignTopics places an ended engagement in the newest topic model of
// every scope that covers its queue.
func (q *quality) assignTopics(ctx context.Context, e *store.Engagement, turns []qm.Turn) {
	latest, err := q.latestModels(ctx)
	if err != nil {
		q.prom.failures.WithLabelValues("topics").Inc()
		return
	}
	texts := customerTexts(turns)
	if len(texts) == 0 {
		return
	}
	for _, rec := range latest {
		tm, err := q.loadModel(ctx, rec.ID)
		if err != nil || !slices.Contains(tm.Content.Queues, e.Queue) {
			continue
		}
		m := membership{Day: e.Start.UTC().Format(time.DateOnly), Topics: map[string]int{}}
		for _, t := range texts {
			if id, _ := tm.model.Assign(t.Text); id >= 0 {
				m.Topics[strconv.Itoa(id)]++
			}
		}
		if len(m.Topics) == 0 {
			continue
		}
		raw, _ := json.Marshal(m)
		if err := q.d.store.PutTopicMembers(ctx, rec.ID, map[string][]byte{e.ID: raw}); err != nil {
			q.prom.failures.WithLabelValues("topics").Inc()
		}
	}
}

// maxDiscoveryEngagements bounds the engagements one discovery reads.
const maxDiscoveryEngagements = 20000

// ErrDiscoveryBusy is returned when a discovery is already running.
var errDiscoveryBusy = errors.New("daemon: a topic discovery is already running")

// discover finds the topics of the customer utterances of queues' ended
// engagements that started in [from, to), stores the model with every
// engagement's membership, and compares each topic's count with the
// period before.
func (q *quality) discover(ctx context.Context, queues []string, from, to time.Time, audit store.AuditEntry) (uint64, error) {
	select {
	case q.discoverSem <- struct{}{}:
		defer func() { <-q.discoverSem }()
	default:
		q.prom.discoveries.WithLabelValues("busy").Inc()
		return 0, errDiscoveryBusy
	}
	type text struct {
		eng string
		seq int
		day string
	}
	collect := func(from, to time.Time) ([]string, []text, map[string]bool, error) {
		var texts []string
		var refs []text
		engs := map[string]bool{}
		for _, queue := range queues {
			es, err := q.d.store.Engagements(ctx, store.EngagementFilter{Queue: queue, From: from, To: to, Limit: maxDiscoveryEngagements})
			if err != nil {
				return nil, nil, nil, err
			}
			for _, e := range es {
				if e.Status != store.StatusEnded || ctx.Err() != nil {
					continue
				}
				segs, err := q.d.store.Segments(ctx, e.ID)
				if err != nil {
					continue // purged meanwhile, or expired
				}
				for _, s := range segs {
					if s.Speaker == qm.PartyCustomer && len(strings.Fields(s.Text)) >= 3 {
						texts = append(texts, s.Text)
						refs = append(refs, text{e.ID, int(s.Seq), e.Start.UTC().Format(time.DateOnly)})
						engs[e.ID] = true
					}
				}
			}
		}
		return texts, refs, engs, ctx.Err()
	}
	texts, refs, engs, err := collect(from, to)
	if err != nil {
		q.prom.discoveries.WithLabelValues("failed").Inc()
		return 0, err
	}
	model, assign, err := topics.Discover(ctx, topics.DefaultConfig(), texts)
	if err != nil {
		if errors.Is(err, topics.ErrTooFew) {
			q.prom.discoveries.WithLabelValues("too_few").Inc()
		} else {
			q.prom.discoveries.WithLabelValues("failed").Inc()
		}
		return 0, err
	}
	content := topicContent{Queues: slices.Clone(queues), From: from.UTC(), To: to.UTC(), Texts: len(texts), Engagements: len(engs)}
	members := map[string]*membership{}
	for i, tp := range assign {
		if tp < 0 {
			continue
		}
		r := refs[i]
		m := members[r.eng]
		if m == nil {
			m = &membership{Day: r.day, Topics: map[string]int{}}
			members[r.eng] = m
		}
		m.Topics[strconv.Itoa(tp)]++
	}
	// The period before, assigned to the new topics.
	prev := make([]int, len(model.Topics))
	if ptexts, prefs, _, err := collect(from.Add(-to.Sub(from)), from); err == nil {
		seen := map[string]bool{}
		for i, t := range ptexts {
			if id, _ := model.Assign(t); id >= 0 {
				k := prefs[i].eng + "/" + strconv.Itoa(id)
				if !seen[k] {
					seen[k] = true
					prev[id]++
				}
			}
		}
	}
	labels, labeller := q.labelTopics(ctx, model, texts)
	if len(labels) > 0 {
		byID := make([]string, len(model.Topics))
		for id, l := range labels {
			if id >= 0 && id < len(byID) {
				byID[id] = l
			}
		}
		model = model.WithLabels(byID)
	}
	for _, tp := range model.Topics {
		info := topicInfo{ID: tp.ID, Label: tp.Label, Keywords: tp.Keywords, Size: tp.Size, Previous: prev[tp.ID], Snippets: []snippetRef{}}
		if l, ok := labels[tp.ID]; ok {
			info.Label, info.LabelModel = l, labeller
		}
		for _, i := range tp.Representatives {
			info.Snippets = append(info.Snippets, snippetRef{refs[i].eng, refs[i].seq})
		}
		content.Topics = append(content.Topics, info)
	}
	if content.Model, err = model.MarshalBinary(); err != nil {
		return 0, err
	}
	raw, err := json.Marshal(content)
	if err != nil {
		return 0, err
	}
	rawMembers := make(map[string][]byte, len(members))
	for id, m := range members {
		rawMembers[id], _ = json.Marshal(m)
	}
	if audit.Detail == nil {
		audit.Detail = map[string]string{}
	}
	audit.Detail["engagements"] = strconv.Itoa(len(engs))
	audit.Detail["topics"] = strconv.Itoa(len(model.Topics))
	id, err := q.d.store.PutTopicModel(ctx, store.TopicModel{Scope: scopeKey(queues), CreatedAt: time.Now().UTC(), Content: raw}, rawMembers, audit)
	if err != nil {
		q.prom.discoveries.WithLabelValues("failed").Inc()
		return 0, err
	}
	q.prom.discoveries.WithLabelValues("ok").Inc()
	q.prune(ctx, scopeKey(queues))
	q.logger.Info("topics discovered", "model", id, "queues", len(queues), "engagements", len(engs), "texts", len(texts), "topics", len(model.Topics))
	return id, nil
}

// topicLabelTimeout bounds the labelling of one discovery's topics by a
// language model.
const topicLabelTimeout = 3 * time.Minute

// labelTopics asks the language model that serves text generation, when
// there is one the controls allow, to label the model's topics from their
// keywords and representative utterances. It returns the labels it got
// by topic (the others keep their keywords) and the provider; on any
// failure, the labels got before it.
func (q *quality) labelTopics(ctx context.Context, model *topics.Model, texts []string) (map[int]string, string) {
	gen, provider, ok := router.Lookup[inference.Generator](q.route, router.Generate)
	if !ok || !q.modelAllowed(provider) || len(model.Topics) == 0 {
		return nil, ""
	}
	samples := make([]qm.TopicSample, len(model.Topics))
	for i, tp := range model.Topics {
		samples[i] = qm.TopicSample{ID: tp.ID, Keywords: tp.Keywords}
		for _, r := range tp.Representatives {
			samples[i].Examples = append(samples[i].Examples, texts[r])
		}
	}
	ctx, cancel := context.WithTimeout(ctx, topicLabelTimeout)
	defer cancel()
	labels, err := qm.GenerateTopicLabels(ctx, gen, samples)
	if err != nil {
		q.prom.failures.WithLabelValues("topic_labels").Inc()
		q.logger.Warn("topics keep keyword labels", "topics", len(samples)-len(labels), "provider", provider, "err", err)
	}
	return labels, provider
}

// keepModels is how many topic models of one scope are kept: the newest
// serves listings and assignment, the one before stays readable.
const keepModels = 2

// prune deletes the older topic models of a scope, with their
// memberships.
func (q *quality) prune(ctx context.Context, scope string) {
	all, err := q.d.store.TopicModels(ctx)
	if err != nil {
		return
	}
	var ids []uint64
	for _, m := range all {
		if m.Scope == scope {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	for _, id := range ids[:max(0, len(ids)-keepModels)] {
		if err := q.d.store.DeleteTopicModel(ctx, id, store.AuditEntry{Actor: "system", Action: "topics.prune", Target: fmt.Sprintf("topics:%d", id)}); err != nil {
			q.prom.failures.WithLabelValues("topics").Inc()
			continue
		}
		q.models.Delete(id)
	}
}

// run discovers the topics of every queue with topic detection on, each
// TopicInterval, until ctx is done.
func (q *quality) run(ctx context.Context) error {
	for {
		interval := time.Duration(q.settings.Load().TopicInterval)
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		q.rediscover(ctx)
	}
}

// rediscover runs the scheduled discovery of every queue.
func (q *quality) rediscover(ctx context.Context) {
	queues, err := q.d.store.Queues(ctx)
	if err != nil {
		return
	}
	now := time.Now().UTC()
	window := time.Duration(q.settings.Load().TopicWindow)
	for _, qu := range queues {
		if ctx.Err() != nil {
			return
		}
		if !q.d.controls.EnabledForQueue("topic_detection", qu.ID) {
			continue
		}
		_, err := q.discover(ctx, []string{qu.ID}, now.Add(-window), now,
			store.AuditEntry{Actor: "system", Action: "topics.discover", Target: "queue:" + qu.ID, Reason: "scheduled"})
		if err != nil && !errors.Is(err, topics.ErrTooFew) {
			q.logger.Warn("scheduled topic discovery failed", "queue", qu.ID, "err", err)
		}
	}
}
