package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin"
	"github.com/earshot/earshot/inference/builtin/intents"
	"github.com/earshot/earshot/inference/ollama"
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

// analytics runs the built-in models on live and ended engagements, keeps
// the site's catalogue and disposition codes, and trains models in the
// background.
type analytics struct {
	d *Daemon
	p *builtin.Provider
	// gen serves the generative features through a local Ollama server,
	// falling back to p; nil when no feature has an Ollama model.
	gen      *ollama.Provider
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
	if len(d.cfg.Ollama.Models) > 0 {
		if a.gen, err = ollama.New(d.cfg.Ollama, logger, reg, ollama.FallbackFrom(p)); err != nil {
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

func (a *analytics) close() {
	a.trainer.Close()
	if a.gen != nil {
		a.gen.Close()
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

// Start implements liveAnalyzer.
func (a *analytics) Start(e *store.Engagement) liveSession {
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

// wordNextStep asks the local Ollama model of feature next_step, when one
// is configured, to word the top recommendation for this conversation,
// once per intent and action, off the engagement's goroutine; the wording
// arrives as a later next_best_action.wording event. The catalogue's own
// text was already sent, so a slow or failing model costs the agent
// nothing.
func (s *liveAnalysis) wordNextStep(conv []inference.Utterance, rec builtin.Recommendation, at map[string]any, emit func(string, any)) {
	a := s.a
	if a.gen == nil || !a.gen.Serves(ollama.FeatureNextStep) {
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
		ns, err := a.gen.WordNextStep(a.d.hub.ctx, conv, rec.Action)
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
			s.a.info.lookup(s.e, res.Intents, emit)
		}
	}
	if nbaOn && len(res.NextBestActions) > 0 {
		emit(EventNextBestAction, merge(at, map[string]any{"intents": res.Intents, "actions": res.NextBestActions}))
		s.wordNextStep(conv, res.NextBestActions[0], at, emit)
	}
	if escOn {
		if l, ok := s.a.d.hub.Get(s.e.ID); ok {
			l.setAttention(res.Escalation, res.Trend)
		}
		if res.Escalation.Level != s.last {
			s.last = res.Escalation.Level
			emit(EventEscalation, merge(at, map[string]any{"risk": res.Escalation}))
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

// Tick implements ticker: silences and overrunning handle time raise the
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
	if l, ok := s.a.d.hub.Get(s.e.ID); ok {
		l.setAttention(r, trend)
	}
	if r.Level != s.last {
		s.last = r.Level
		emit(EventEscalation, map[string]any{"at_ms": nowMS, "risk": r})
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

// OnEnd implements postAnalyzer: it computes the enabled post-engagement
// results and stores them sealed with the engagement's key.
func (a *analytics) OnEnd(ctx context.Context, e *store.Engagement, conv []inference.Utterance, emit func(string, any)) {
	var on []Feature
	for _, f := range resultFeatures {
		if a.d.controls.Enabled(f, e.Queue, e.Agent) {
			on = append(on, f)
		}
	}
	if len(on) == 0 || len(conv) == 0 {
		return
	}
	codes := *a.codes.Load()
	res, err := a.p.PostEngagement(ctx, conv, e.Start, codes)
	if err == nil && a.gen != nil {
		err = a.generative(ctx, e, conv, codes, &res)
	}
	if err != nil {
		a.failures.WithLabelValues("post").Inc()
		a.logger.Error("post-engagement analysis failed", "engagement", e.ID, "err", err)
		return
	}
	payloads := map[Feature]any{
		"engagement_summary": res.Summary, "smart_notes": res.Notes, "follow_up_tasks": res.Tasks,
		"topic_detection": res.Topics,
	}
	if res.Disposition != nil {
		payloads["recommended_disposition"] = res.Disposition
	}
	var stored []Feature
	for _, f := range on {
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

// generative replaces the built-in results with the local language
// model's for the features that have an Ollama model; the provider falls
// back to the built-in models by itself when the server fails.
func (a *analytics) generative(ctx context.Context, e *store.Engagement, conv []inference.Utterance, codes []inference.DispositionCode, res *builtin.PostResult) error {
	var err error
	if a.gen.Serves(ollama.FeatureSummary) {
		if res.Summary, err = a.gen.Summarize(ctx, conv); err != nil {
			return err
		}
	}
	if a.gen.Serves(ollama.FeatureNotes) {
		if res.Notes, err = a.gen.WriteNotes(ctx, conv); err != nil {
			return err
		}
	}
	if a.gen.Serves(ollama.FeatureTasks) {
		if res.Tasks, err = a.gen.ExtractTasks(ctx, conv, e.Start); err != nil {
			return err
		}
	}
	if a.gen.Serves(ollama.FeatureDisposition) && len(codes) > 0 {
		d, err := a.gen.ClassifyDisposition(ctx, conv, codes)
		if err != nil {
			return err
		}
		res.Disposition = &d
	}
	return nil
}

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
	Trend      float64          `json:"sentiment_trend"`
}

// escalations ranks the live engagements of the queues p may see by risk.
func (h *Hub) escalations(p *Principal) []escalationView {
	h.mu.Lock()
	var lives []*Live
	for _, l := range h.engagements {
		if l.hub != nil && p.canSee(l.eng) {
			lives = append(lives, l)
		}
	}
	h.mu.Unlock()
	out := []escalationView{}
	for _, l := range lives {
		at := l.attention.Load()
		if at == nil || l.Ended() {
			continue
		}
		out = append(out, escalationView{Engagement: l.eng.ID, Queue: l.eng.Queue, Agent: l.eng.Agent, Channel: l.eng.Channel,
			Started: l.eng.Start, Score: at.Risk.Score, Level: at.Risk.Level, Reasons: at.Risk.Reasons, Trend: at.Trend})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

func (l *Live) setAttention(r builtin.Risk, trend float64) {
	l.attention.Store(&attention{Risk: r, Trend: trend, At: time.Now()})
}
