package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin"
	"github.com/earshot/earshot/inference/builtin/intents"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/router"
	"github.com/earshot/earshot/store"
)

// Event types of the analyzers.
const (
	EventSentiment      = "sentiment"
	EventNextBestAction = "next_best_action"
	// EventNextStepWording carries a local model's wording of the top next
	// best action, after the next_best_action event.
	EventNextStepWording = "next_best_action.wording"
	EventEscalation      = "escalation"
	EventResults         = "results.ready"
)

// Settings keys of the analytics configuration an administrator edits.
const (
	settingCatalogue    = "analytics.next_best_actions"
	settingDispositions = "analytics.dispositions"
	settingIntents      = "analytics.intents"
	settingModelPrefix  = "analytics.model."
)

// analytics runs the models on live and ended engagements, keeps the
// site's catalogue and disposition codes, and trains the built-in models
// in the background. Each capability is served by whichever provider the
// router holds for it.
type analytics struct {
	d *Daemon
	// p is the built-in provider: the live analysis, the trainable models,
	// and the bottom route of every capability it implements.
	p     *builtin.Provider
	route *router.Router
	// closers are the providers to release at shutdown.
	closers  []io.Closer
	trainer  *builtin.Trainer
	logger   *slog.Logger
	failures *prometheus.CounterVec

	info *infoRetrieval
	// defaultIntentsJob is the training job of the shipped intent set
	// started at start, 0 if none.
	defaultIntentsJob uint64
	wordSem           chan struct{} // bounds next-step wordings in flight
	catalogue         atomic.Pointer[builtin.Catalogue]
	codes             atomic.Pointer[[]inference.DispositionCode]
	// attention holds the latest escalation risk of each live engagement
	// (engagement ID -> *attention), for the supervisors' ranking.
	attention sync.Map
}

func newAnalytics(d *Daemon, logger *slog.Logger, reg prometheus.Registerer) (*analytics, error) {
	p, err := builtin.New(builtin.DefaultConfig(), logger, reg)
	if err != nil {
		return nil, err
	}
	a := &analytics{d: d, p: p, info: &infoRetrieval{d: d, sem: make(chan struct{}, 64)}, wordSem: make(chan struct{}, 4), trainer: builtin.NewTrainer(context.Background()), logger: logger.With("component", "analytics"),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "analytics", Name: "failures_total",
			Help: "Analyses that failed or were skipped, by stage (live, post, store, next_step, next_step_busy)."}, []string{"stage"})}
	if err := reg.Register(a.failures); err != nil {
		return nil, fmt.Errorf("daemon: register analytics metrics: %w", err)
	}
	if a.route, err = router.New(logger, reg); err != nil {
		return nil, err
	}
	a.route.SetAll(builtin.ProviderName, p)
	if len(d.cfg.Ollama.Models) > 0 {
		gen, err := ollama.New(d.cfg.Ollama, logger, reg, ollama.FallbackFrom(p))
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, gen)
		if err := routeOllama(a.route, gen); err != nil {
			return nil, err
		}
	}
	var entries []builtin.CatalogueEntry
	if err := d.store.Setting(settingCatalogue, &entries); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	cat, err := builtin.NewCatalogue(entries)
	if err != nil {
		return nil, fmt.Errorf("daemon: stored next-best-action catalogue: %w", err)
	}
	a.catalogue.Store(cat)
	var codes []inference.DispositionCode
	if err := d.store.Setting(settingDispositions, &codes); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	a.codes.Store(&codes)
	// Trained models survive restarts.
	for _, kind := range []string{builtin.KindIntent, builtin.KindDisposition, builtin.KindSentiment} {
		var raw []byte
		if err := d.store.Setting(settingModelPrefix+kind, &raw); err == nil && len(raw) > 0 {
			if err := p.Import(kind, raw); err != nil {
				logger.Error("stored model not loaded; using the default", "kind", kind, "err", err)
			}
		}
	}
	if err := a.trainDefaultIntents(d.cfg.Analytics.DefaultIntents); err != nil {
		return nil, err
	}
	return a, nil
}

// trainDefaultIntents trains the intent detector on a shipped intent set,
// in the background, when the site has neither a stored intent model nor
// intents of its own; the model is stored, so this happens once.
func (a *analytics) trainDefaultIntents(set string) error {
	if set == "" || set == "none" || len(a.p.Intents()) > 0 {
		return nil
	}
	var own []builtin.IntentPhrases
	if err := a.d.store.Setting(settingIntents, &own); err == nil && len(own) > 0 {
		return nil // the site's intents are stored but their model is not: the site retrains
	}
	sets, err := intents.Load(set)
	if err != nil {
		return fmt.Errorf("daemon: analytics.default_intents: %w", err)
	}
	phrases := make([]builtin.IntentPhrases, len(sets))
	for i, s := range sets {
		phrases[i] = builtin.IntentPhrases{Intent: s.Intent, Phrases: s.Phrases}
	}
	a.logger.Info("training the default intent model in the background", "set", set, "intents", len(phrases))
	job, err := a.trainer.Submit(builtin.KindIntent, func(ctx context.Context) error {
		if err := a.p.TrainIntents(ctx, phrases); err != nil {
			return err
		}
		return a.saveModel(builtin.KindIntent)
	})
	a.defaultIntentsJob = job
	return err
}

// routeOllama routes the features the Ollama server has a model for to
// it; the provider falls back to the built-in models by itself when the
// server fails, and counts the fallbacks.
func routeOllama(r *router.Router, gen *ollama.Provider) error {
	for _, f := range ollama.Features {
		if !gen.Serves(f) {
			continue
		}
		var impl any = gen
		if f == ollama.FeatureGenerate {
			impl = gen.Generator(f)
		}
		if err := r.Set(router.Capability(f), ollama.ProviderName, impl); err != nil {
			return fmt.Errorf("daemon: route ollama: %w", err)
		}
	}
	return nil
}

func (a *analytics) close() {
	a.trainer.Close()
	for _, c := range a.closers {
		c.Close()
	}
}

// saveModel stores a trained model so that it is loaded at the next start.
func (a *analytics) saveModel(kind string) error {
	raw, err := a.p.Export(kind)
	if err != nil || raw == nil {
		return err
	}
	return a.d.store.PutSetting(context.Background(), settingModelPrefix+kind, raw, store.AuditEntry{Actor: "system", Action: "model.train", Target: kind})
}

// Start implements hub.LiveAnalyzer.
func (a *analytics) Start(e *store.Engagement) hub.LiveSession {
	return &liveAnalysis{a: a, e: e, live: a.p.NewLive(a.catalogue.Load(), builtin.EscalationConfig{})}
}

// liveAnalysis is the built-in live analysis of one engagement.
type liveAnalysis struct {
	a    *analytics
	e    *store.Engagement
	live *builtin.Live
	last string // last escalation level published
	// asked is the intent set info plugins were last asked about.
	asked     string
	askedOnce bool
	// worded holds the intent/action pairs already sent for wording.
	worded map[string]bool
}

// wordNextStep asks the provider routed for next-step wording, when there
// is one, to word the top recommendation for this conversation, once per
// intent and action, off the engagement's goroutine; the wording arrives
// as a later next_best_action.wording event. The catalogue's own text was
// already sent, so a slow or failing model costs the agent nothing.
func (s *liveAnalysis) wordNextStep(conv []inference.Utterance, rec builtin.Recommendation, at map[string]any, emit func(string, any)) {
	a := s.a
	worder := a.route.NextStepWorder()
	if worder == nil {
		return
	}
	key := rec.Intent + "\x00" + rec.Action
	if s.worded[key] {
		return
	}
	select {
	case a.wordSem <- struct{}{}:
	default:
		a.failures.WithLabelValues("next_step_busy").Inc()
		return // saturated: the catalogue text stands
	}
	if s.worded == nil {
		s.worded = map[string]bool{}
	}
	s.worded[key] = true
	conv = slices.Clone(conv[max(0, len(conv)-nextStepTurns):])
	go func() {
		defer func() { <-a.wordSem }()
		ns, err := worder.WordNextStep(a.d.hub.Context(), conv, rec.Action)
		if err != nil {
			a.failures.WithLabelValues("next_step").Inc()
			a.logger.Debug("next step not worded", "engagement", s.e.ID, "err", err)
			return
		}
		emit(EventNextStepWording, merge(at, map[string]any{"intent": rec.Intent, "action": rec.Action,
			"wording": ns.Wording, "provider": ns.Provider, "model": ns.Model}))
	}()
}

// nextStepTurns is how much of the conversation's end the wording sees.
const nextStepTurns = 8

func (s *liveAnalysis) OnUtterance(ctx context.Context, conv []inference.Utterance, emit func(string, any)) {
	c := s.a.d.controls
	u := conv[len(conv)-1]
	sentimentOn := c.Enabled("sentiment", s.e.Queue, s.e.Agent)
	nbaOn := c.Enabled("next_best_action", s.e.Queue, s.e.Agent)
	escOn := c.EnabledForQueue("top_escalation", s.e.Queue)
	infoOn := s.a.d.plugins != nil && c.Enabled("info_retrieval", s.e.Queue, s.e.Agent)
	if !sentimentOn && !nbaOn && !escOn && !infoOn {
		return
	}
	res, err := s.live.Segment(ctx, u)
	if err != nil {
		s.a.failures.WithLabelValues("live").Inc()
		return
	}
	at := map[string]any{"seq": len(conv) - 1, "start_ms": u.StartMS, "party": u.Party}
	if sentimentOn && res.Sentiment != nil {
		emit(EventSentiment, merge(at, map[string]any{"sentiment": res.Sentiment, "trend": res.Trend}))
	}
	if infoOn && u.Party == inference.PartyCustomer {
		// Ask on the first customer message (the customer's own cards) and
		// again whenever a new set of intents is detected.
		if key := intentKey(res.Intents); !s.askedOnce || (key != "" && key != s.asked) {
			s.askedOnce, s.asked = true, key
			s.a.info.lookup(s.e, res.Intents, nbaOn, emit)
		}
	}
	if nbaOn && len(res.NextBestActions) > 0 {
		emit(EventNextBestAction, merge(at, map[string]any{"intents": res.Intents, "actions": res.NextBestActions}))
		s.wordNextStep(conv, res.NextBestActions[0], at, emit)
	}
	if escOn {
		s.a.setAttention(s.e, res.Escalation, res.Trend)
		// Without sentiment, the risk is published as if it had none.
		risk, _ := s.a.d.controls.shownRisk(*s.e, res.Escalation)
		if risk.Level != s.last {
			s.last = risk.Level
			emit(EventEscalation, merge(at, map[string]any{"risk": risk}))
		}
	}
}

// provenanceOf names the provider and model of a result, for the stored
// version.
func provenanceOf(v any) string {
	switch r := v.(type) {
	case inference.Summary:
		return r.Provider + "/" + r.Model
	case inference.Notes:
		return r.Provider + "/" + r.Model
	case *inference.Disposition:
		return r.Provider + "/" + r.Model
	}
	return builtin.ProviderName
}

// Tick implements hub.Ticker: silences and overrunning handle time raise the
// risk even when nobody speaks.
func (s *liveAnalysis) Tick(ctx context.Context, nowMS int64, emit func(string, any)) {
	if !s.a.d.controls.EnabledForQueue("top_escalation", s.e.Queue) {
		return
	}
	r := s.live.Tick(nowMS)
	trend := 0.0
	if pts := s.live.Trend(); len(pts) > 0 {
		trend = pts[len(pts)-1].Smooth
	}
	s.a.setAttention(s.e, r, trend)
	risk, _ := s.a.d.controls.shownRisk(*s.e, r)
	if risk.Level != s.last {
		s.last = risk.Level
		emit(EventEscalation, map[string]any{"at_ms": nowMS, "risk": risk})
	}
}

func intentKey(is []inference.Intent) string {
	var names []string
	for _, i := range is {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func merge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// resultFeatures maps the post-engagement results to their features.
var resultFeatures = []Feature{"engagement_summary", "smart_notes", "follow_up_tasks", "recommended_disposition", "topic_detection"}

// OnEnd implements hub.PostAnalyzer: it computes the enabled
// post-engagement results, each with the provider routed for it, and
// stores them sealed with the engagement's key.
func (a *analytics) OnEnd(ctx context.Context, e *store.Engagement, conv []inference.Utterance, emit func(string, any)) {
	a.attention.Delete(e.ID)
	on := map[Feature]bool{}
	for _, f := range resultFeatures {
		if a.d.controls.Enabled(f, e.Queue, e.Agent) {
			on[f] = true
		}
	}
	if len(on) == 0 || len(conv) == 0 {
		return
	}
	payloads := a.postResults(ctx, e, conv, on)
	// What the agent reads after a translated chat is in their language.
	a.d.translator.forAgent(ctx, *e, payloads)
	var stored []Feature
	for _, f := range resultFeatures {
		v, ok := payloads[f]
		if !ok {
			continue
		}
		raw, _ := json.Marshal(v)
		r := store.Result{Engagement: e.ID, Feature: string(f), Version: provenanceOf(v), Payload: raw, CreatedAt: time.Now().UTC()}
		if err := a.d.store.PutResult(ctx, r); err != nil {
			a.failures.WithLabelValues("store").Inc()
			a.logger.Error("result not stored", "engagement", e.ID, "feature", f, "err", err)
			continue
		}
		stored = append(stored, f)
	}
	emit(EventResults, map[string]any{"features": stored})
	a.d.sinks.enqueue(*e, SinkEventEnded, e.ID+".ended")
}

// postResults computes the results of the features that are on. A failed
// analysis is counted and logged, and leaves out its result only.
func (a *analytics) postResults(ctx context.Context, e *store.Engagement, conv []inference.Utterance, on map[Feature]bool) map[Feature]any {
	out := map[Feature]any{}
	failed := func(f Feature, err error) {
		a.failures.WithLabelValues("post").Inc()
		a.logger.Error("post-engagement analysis failed", "engagement", e.ID, "feature", f, "err", err)
	}
	if s := a.route.Summarizer(); on["engagement_summary"] && s != nil {
		if sum, err := s.Summarize(ctx, conv); err != nil {
			failed("engagement_summary", err)
		} else {
			out["engagement_summary"] = sum
		}
	}
	if x := a.route.TaskExtractor(); on["follow_up_tasks"] && x != nil {
		if tasks, err := x.ExtractTasks(ctx, conv, e.Start); err != nil {
			failed("follow_up_tasks", err)
		} else {
			out["follow_up_tasks"] = tasks
		}
	}
	if w := a.route.NoteWriter(); on["smart_notes"] && w != nil {
		var tasks []inference.Task
		if t, ok := out["follow_up_tasks"].([]inference.Task); ok {
			tasks = t
		}
		if n, err := writeNotes(ctx, w, conv, tasks, on["follow_up_tasks"]); err != nil {
			failed("smart_notes", err)
		} else {
			out["smart_notes"] = n
		}
	}
	if c, codes := a.route.DispositionClassifier(), *a.codes.Load(); on["recommended_disposition"] && c != nil && len(codes) > 0 {
		if d, err := c.ClassifyDisposition(ctx, conv, codes); err != nil {
			failed("recommended_disposition", err)
		} else {
			out["recommended_disposition"] = &d
		}
	}
	if t := a.route.TopicDetector(); on["topic_detection"] && t != nil {
		if topics, err := t.Topics(ctx, conv, postTopics); err != nil {
			failed("topic_detection", err)
		} else {
			out["topic_detection"] = topics
		}
	}
	return out
}

// taskNotes is a note writer that drafts the note around the tasks
// already extracted.
type taskNotes interface {
	WriteNotesWithTasks(ctx context.Context, conv []inference.Utterance, tasks []inference.Task) (inference.Notes, error)
}

// writeNotes drafts the wrap-up note. When follow-up tasks are off for
// the engagement, the note says nothing of tasks: a writer that drafts
// around given tasks gets none, any other loses its follow-ups.
func writeNotes(ctx context.Context, w inference.NoteWriter, conv []inference.Utterance, tasks []inference.Task, tasksOn bool) (inference.Notes, error) {
	if tw, ok := w.(taskNotes); ok {
		return tw.WriteNotesWithTasks(ctx, conv, tasks) // tasks is nil when they are off
	}
	n, err := w.WriteNotes(ctx, conv)
	if !tasksOn {
		n.FollowUps = nil
	}
	return n, err
}

// postTopics is how many topics an engagement keeps.
const postTopics = 5

// attention is the latest escalation risk of a live engagement, for the
// supervisors' ranking.
type attention struct {
	Risk  builtin.Risk
	Trend float64
	At    time.Time
}

// escalationView is one row of the supervisors' top-escalation list.
type escalationView struct {
	Engagement string           `json:"engagement"`
	Queue      string           `json:"queue"`
	Agent      string           `json:"agent,omitempty"`
	Channel    string           `json:"channel"`
	Started    time.Time        `json:"started"`
	Score      float64          `json:"score"`
	Level      string           `json:"level"`
	Reasons    []builtin.Reason `json:"reasons"`
	// Trend is the customer's sentiment trend; absent where sentiment is
	// off for the engagement.
	Trend *float64 `json:"sentiment_trend,omitempty"`
}

// escalations ranks the live engagements of the queues p may see by risk.
func (a *analytics) escalations(p *Principal) []escalationView {
	out := []escalationView{}
	for _, l := range a.d.hub.Live() {
		e := l.Engagement()
		v, ok := a.attention.Load(e.ID)
		if !ok || !p.canSee(e) || l.Ended() {
			continue
		}
		at := v.(*attention)
		risk, sentimentOn := a.d.controls.shownRisk(e, at.Risk)
		view := escalationView{Engagement: e.ID, Queue: e.Queue, Agent: e.Agent, Channel: e.Channel,
			Started: e.Start, Score: risk.Score, Level: risk.Level, Reasons: risk.Reasons}
		if sentimentOn {
			trend := at.Trend
			view.Trend = &trend
		}
		out = append(out, view)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// setAttention records the latest escalation risk of a live engagement.
func (a *analytics) setAttention(e *store.Engagement, r builtin.Risk, trend float64) {
	a.attention.Store(e.ID, &attention{Risk: r, Trend: trend, At: time.Now()})
}

// generator returns the text generator routed for grounded answers and
// its provider's name, or nil when no provider generates text (answers
// are then extractive).
func (a *analytics) generator() (inference.Generator, string) {
	g, provider, ok := router.Lookup[inference.Generator](a.route, router.Generate)
	if !ok {
		return nil, ""
	}
	return g, provider
}
