package daemon

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/inference/kb"
	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/store"
)

// Event types of the virtual agent. bot.message and bot.position are
// what the customer sees (with agents' messages); bot.handover carries
// the collected slots to staff.
const (
	EventBotMessage       = "bot.message"
	EventBotHandover      = "bot.handover"
	EventBotPosition      = "bot.position"
	EventHandoverAccepted = "handover.accepted"
)

// featureVirtualAgent is the feature that switches bots per queue.
const featureVirtualAgent Feature = "virtual_agent"

// resultVirtualAgent is the stored result of a bot conversation.
const resultVirtualAgent = "virtual_agent"

// Flags of a bot conversation's engagement (IDs, no content).
const (
	flagBotPrefix     = "bot:"
	flagVersionPrefix = "bot_version:"
	flagHandover      = "handover"
)

// botService runs the virtual agents: their engines (one per published
// version, trained once), the live conversations, the hand-over queues.
// It is the hub's live and post analyzer for bot conversations.
type botService struct {
	d       *Daemon
	log     *slog.Logger
	metrics *bot.Metrics
	m       *botMetrics
	// assistant serves the admin assists.
	assistant *bot.Assistant
	limits    *chatLimits

	mu sync.Mutex
	// engines: "bot@version" -> the engine being built or built.
	// +checklocks:mu
	engines map[string]*engineEntry
	// convs: engagement ID -> live conversation.
	// +checklocks:mu
	convs map[string]*conversation
	// waiting: queue -> conversations handed over and not yet taken, in
	// order of arrival.
	// +checklocks:mu
	waiting map[string][]*conversation

	wg sync.WaitGroup // the conversations' and background publishes' goroutines

	publishes publishJobs // background publishes (bots_publish.go)

	// trials are the test conversations with drafts (api_bots_try.go).
	trials *bot.Trials
}

type engineEntry struct {
	ready chan struct{}
	e     *bot.Engine
	err   error
}

type botMetrics struct {
	refused     *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	dropped     prometheus.Counter
	live        prometheus.GaugeFunc
	waiting     prometheus.GaugeFunc
}

func newBotService(d *Daemon, logger *slog.Logger, reg prometheus.Registerer) (*botService, error) {
	bm, err := bot.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	b := &botService{d: d, log: logger.With("component", "bots"), metrics: bm, engines: map[string]*engineEntry{},
		convs: map[string]*conversation{}, waiting: map[string][]*conversation{}, limits: newChatLimits(),
		trials: bot.NewTrials(maxBotTrials, botTrialIdle)}
	b.m = &botMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "bot", Name: "chat_refused_total",
			Help: "Chat connections and conversations refused, by reason (origin, key, unpublished, feature_off, rate, capacity, auth)."}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "bot", Name: "messages_refused_total",
			Help: "Customer messages refused, by reason (rate_client, rate_bot, too_long, empty, malformed)."}, []string{"reason"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "bot", Name: "messages_dropped_total",
			Help: "Customer messages a bot could not take because its conversation's queue was full."}),
	}
	b.m.live = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "bot", Name: "conversations_live",
		Help: "Live bot conversations."}, func() float64 { b.mu.Lock(); defer b.mu.Unlock(); return float64(len(b.convs)) })
	b.m.waiting = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "bot", Name: "handovers_waiting",
		Help: "Bot conversations handed over and waiting for an agent."}, func() float64 {
		b.mu.Lock()
		defer b.mu.Unlock()
		n := 0
		for _, q := range b.waiting {
			n += len(q)
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{b.m.refused, b.m.rateLimited, b.m.dropped, b.m.live, b.m.waiting} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("daemon: register bot metrics: %w", err)
		}
	}
	gen, _ := d.analytics.generator()
	b.assistant = &bot.Assistant{Generator: gen, Topics: bot.Clusters{}}
	return b, nil
}

// run warms the engines of the published bots, then ends with ctx.
func (b *botService) run(ctx context.Context) error {
	bots, err := b.d.store.Bots(ctx)
	if err != nil {
		return fmt.Errorf("daemon: load bots: %w", err)
	}
	for _, bt := range bots {
		if bt.Published == 0 || ctx.Err() != nil {
			continue
		}
		if _, err := b.engine(ctx, bt.ID, bt.Published); err != nil && ctx.Err() == nil {
			b.log.Error("bot not loaded", "bot", bt.ID, "version", bt.Published, "err", err)
		}
	}
	<-ctx.Done()
	return nil
}

// close waits for the conversations' goroutines (the hub has ended every
// engagement by then).
func (b *botService) close() { b.wg.Wait() }

func (b *botService) deps(queue string) bot.Deps {
	gen, _ := b.d.analytics.generator()
	return bot.Deps{Skills: botSkills{b}, Knowledge: botKnowledge{d: b.d, queue: queue}, Generator: gen, Logger: b.log, Metrics: b.metrics}
}

// env is what definitions are validated against at publish.
func (b *botService) env() bot.Env {
	gen, _ := b.d.analytics.generator()
	return bot.Env{
		QueueExists:  func(q string) bool { _, err := b.d.store.Queue(q); return err == nil },
		CheckSkill:   b.checkSkill,
		HasGenerator: gen != nil,
	}
}

// checkSkill reports why plugin's skill cannot run for a bot, or nil.
func (b *botService) checkSkill(ctx context.Context, plugin, skill string) error {
	if !slices.Contains(b.d.plugins.Enabled(ctx, sdk.KindSkill), plugin) {
		return fmt.Errorf("plugin %s is not an installed skill plugin that an administrator enabled and approved", plugin)
	}
	sk, err := b.d.plugins.Skills(ctx, plugin)
	if err != nil {
		return fmt.Errorf("plugin %s does not answer: %w", plugin, err)
	}
	var names []string
	for _, s := range sk {
		if s.Name == skill {
			return nil
		}
		names = append(names, s.Name)
	}
	return fmt.Errorf("plugin %s offers no skill %q (it offers %s)", plugin, skill, strings.Join(names, ", "))
}

// engine returns the engine of a published version, building it on first
// use (concurrent callers wait for the same build).
func (b *botService) engine(ctx context.Context, id string, version int) (*bot.Engine, error) {
	key := id + "@" + strconv.Itoa(version)
	b.mu.Lock()
	ent, ok := b.engines[key]
	if !ok {
		ent = &engineEntry{ready: make(chan struct{})}
		b.engines[key] = ent
		b.mu.Unlock()
		ent.e, ent.err = b.build(id, version)
		close(ent.ready)
		if ent.err != nil {
			b.mu.Lock()
			delete(b.engines, key)
			b.mu.Unlock()
		}
	} else {
		b.mu.Unlock()
	}
	select {
	case <-ent.ready:
		return ent.e, ent.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *botService) build(id string, version int) (*bot.Engine, error) {
	v, err := b.d.store.BotVersion(id, version)
	if err != nil {
		return nil, err
	}
	def, err := bot.Decode(v.Definition, bot.JSON)
	if err != nil {
		return nil, err
	}
	// A published version loads as it was published: a skill plugin
	// removed since fails its calls (to their error branch) instead.
	env := b.env()
	env.CheckSkill, env.QueueExists = nil, nil
	e, _, err := bot.NewEngine(b.d.hub.Context(), bot.DefaultConfig(), def, version, env, b.deps(def.Queue))
	return e, err
}

// forget drops the cached engines of a bot (after it is deleted).
func (b *botService) forget(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.engines {
		if strings.HasPrefix(k, id+"@") {
			delete(b.engines, k)
		}
	}
}

// Errors of starting a conversation.
var (
	errBotNotPublished = errors.New("the bot has no published version")
	errBotFeatureOff   = errors.New("the virtual agent is switched off for the bot's queue")
)

// conversation is one live bot conversation: its engagement, its session
// and the goroutine that drives the session.
type conversation struct {
	svc     *botService
	bot     string
	version int
	queue   string
	live    *hub.Live
	sess    *bot.Session // owned by run, read by finish after done
	inbox   chan customerMessage
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	// resume is the SHA-256 of the secret a widget reconnects with.
	resume string
	// widget: started from the web widget (counts against its limits).
	widget bool
	// voice: a bot call, driven by the voice runtime (voice.go) rather
	// than by run.
	voice bool

	lastActivity atomic.Int64 // unix ns of the customer's last message
	active       atomic.Bool  // the bot still answers

	mu sync.Mutex
	// +checklocks:mu
	handover *bot.Handover
	// +checklocks:mu
	handedAt time.Time
	// +checklocks:mu
	agent string
	// +checklocks:mu
	position int
}

type customerMessage struct {
	text string
	at   time.Time
}

// conversationInbox bounds the customer messages waiting for the bot.
const conversationInbox = 16

// startRequest is the optional metadata of a new conversation.
type startRequest struct {
	CustomerRef string `json:"customer_ref"`
	Account     string `json:"account"`
}

// start begins a conversation with bot id's live version: an engagement
// in the bot's queue (channel chat) and the bot's greeting.
func (b *botService) start(ctx context.Context, id, source string, req startRequest, widget bool, audit store.AuditEntry) (*conversation, error) {
	rec, err := b.d.store.Bot(id)
	if err != nil {
		return nil, err
	}
	if rec.Published == 0 {
		return nil, errBotNotPublished
	}
	e, err := b.engine(ctx, id, rec.Published)
	if err != nil {
		return nil, err
	}
	def := e.Definition()
	if !b.d.controls.EnabledForQueue(featureVirtualAgent, def.Queue) {
		return nil, errBotFeatureOff
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	engID := hex.EncodeToString(raw[:])
	now := time.Now()
	cctx, cancel := context.WithCancel(b.d.hub.Context())
	c := &conversation{svc: b, bot: id, version: rec.Published, queue: def.Queue, inbox: make(chan customerMessage, conversationInbox),
		ctx: cctx, cancel: cancel, done: make(chan struct{}), widget: widget}
	c.sess = e.NewSession(engID, now)
	c.lastActivity.Store(now.UnixNano())
	c.active.Store(true)
	b.mu.Lock()
	b.convs[engID] = c
	b.mu.Unlock()
	eng := store.Engagement{ID: engID, Account: req.Account, Queue: def.Queue, CustomerRef: req.CustomerRef, Channel: "chat",
		Direction: "inbound", Start: now.UTC(), Flags: []string{flagBotPrefix + id, flagVersionPrefix + strconv.Itoa(rec.Published)}}
	audit.Action, audit.Target = "bot.conversation.start", "bot:"+id
	audit.Engagement = engID
	l, err := b.d.hub.Start(ctx, eng, "bot_"+source, audit)
	if err != nil {
		b.mu.Lock()
		delete(b.convs, engID)
		b.mu.Unlock()
		cancel()
		return nil, err
	}
	c.live = l
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		c.run()
	}()
	return c, nil
}

func (b *botService) conv(id string) *conversation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.convs[id]
}

// run drives the session: the greeting, then one turn per customer
// message, until the engagement ends.
func (c *conversation) run() {
	defer close(c.done)
	c.deliver(c.sess.Greeting())
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.inbox:
			if !c.active.Load() {
				continue
			}
			var t bot.Turn
			if !c.svc.d.controls.EnabledForQueue(featureVirtualAgent, c.queue) {
				t = c.sess.Handover("virtual_agent_off", c.sess.Unavailable())
			} else {
				t = c.sess.Handle(c.ctx, bot.Input{Text: m.text, Time: m.at, Agentic: true})
			}
			c.deliver(t)
		}
	}
}

// botMessage is the data of a bot.message event.
type botMessage struct {
	Text      string         `json:"text"`
	Kind      string         `json:"kind"`
	Choices   []string       `json:"choices,omitempty"`
	Citations []bot.Citation `json:"citations,omitempty"`
}

// deliver stores and publishes a turn's messages, then acts on its
// hand-over or end.
func (c *conversation) deliver(t bot.Turn) {
	// The engagement times each message when it takes it. A bot designed
	// in one language serves a chat in another. The turn's messages are
	// stored together (one group commit, as a rule), then published.
	segs := make([]store.Segment, len(t.Messages))
	for i, m := range t.Messages {
		segs[i] = c.svc.d.translated(c.ctx, c.live.Engagement(), store.Segment{Speaker: string(inference.PartyBot), Text: m.Text})
	}
	if len(segs) > 0 {
		if err := c.live.SubmitMessages(c.ctx, segs...); err != nil {
			if c.ctx.Err() == nil && !errors.Is(err, hub.ErrNotLive) {
				c.svc.log.Error("bot messages not stored", "engagement", c.live.ID(), "count", len(segs), "err", err)
			}
			return
		}
	}
	for i, m := range t.Messages {
		c.live.Publish(EventBotMessage, botMessage{Text: customerView(segs[i]), Kind: m.Kind, Choices: m.Choices, Citations: m.Citations})
	}
	switch {
	case t.Handover != nil:
		c.active.Store(false)
		c.svc.handedOver(c, t.Handover)
	case t.End != "":
		c.active.Store(false)
		c.live.End("bot")
	}
}

// enqueue hands a customer message to the bot without blocking.
func (c *conversation) enqueue(text string, at time.Time) {
	c.lastActivity.Store(at.UnixNano())
	if !c.active.Load() {
		return
	}
	select {
	case c.inbox <- customerMessage{text: text, at: at}:
	default:
		c.svc.m.dropped.Inc()
	}
}

// handedOver queues a conversation for the humans of its queue and tells
// the customer their place.
func (b *botService) handedOver(c *conversation, h *bot.Handover) {
	e := c.live.Engagement()
	flags := append(slices.Clone(e.Flags), flagHandover)
	if err := b.d.store.SetFlags(context.WithoutCancel(c.ctx), e.ID, flags); err != nil {
		b.log.Error("hand-over flag not stored", "engagement", e.ID, "err", err)
	}
	b.mu.Lock()
	c.mu.Lock()
	c.handover, c.handedAt = h, time.Now().UTC()
	c.mu.Unlock()
	b.waiting[c.queue] = append(b.waiting[c.queue], c)
	pos := len(b.waiting[c.queue])
	b.mu.Unlock()
	c.live.Publish(EventBotHandover, map[string]any{"bot": c.bot, "version": c.version, "reason": h.Reason, "intent": h.Intent, "slots": h.Slots})
	c.mu.Lock()
	c.position = pos
	c.mu.Unlock()
	seg := b.d.translated(c.ctx, c.live.Engagement(), store.Segment{Speaker: string(inference.PartyBot), Text: c.sess.PositionMessage(pos)})
	if err := c.live.SubmitMessage(c.ctx, seg); err == nil {
		c.live.Publish(EventBotMessage, botMessage{Text: customerView(seg), Kind: "position"})
	}
	c.live.Publish(EventBotPosition, map[string]int{"position": pos})
}

// reposition tells the waiting customers of queue their new places; call
// it without b.mu.
func (b *botService) reposition(queue string) {
	b.mu.Lock()
	list := slices.Clone(b.waiting[queue])
	b.mu.Unlock()
	for i, c := range list {
		c.mu.Lock()
		changed := c.position != i+1
		c.position = i + 1
		c.mu.Unlock()
		if changed {
			c.live.Publish(EventBotPosition, map[string]int{"position": i + 1})
		}
	}
}

// unqueue removes c from its queue's waiting list.
func (b *botService) unqueue(c *conversation) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.waiting[c.queue]
	i := slices.Index(q, c)
	if i < 0 {
		return false
	}
	b.waiting[c.queue] = slices.Delete(q, i, i+1)
	return true
}

// Errors of taking a hand-over.
var (
	errNotWaiting = errors.New("the conversation is not waiting for an agent")
)

// accept gives a waiting conversation to agent.
func (b *botService) accept(ctx context.Context, c *conversation, agent store.User, audit store.AuditEntry) error {
	if !b.unqueue(c) {
		return errNotWaiting
	}
	audit.Action, audit.Target, audit.Engagement = "handover.accept", "user:"+agent.ID, c.live.ID()
	if err := b.d.store.AssignAgent(ctx, c.live.ID(), agent.ID, audit); err != nil {
		b.requeue(c)
		return err
	}
	if err := c.live.Assign(ctx, agent.ID); err != nil {
		return err
	}
	c.mu.Lock()
	c.agent = agent.ID
	c.mu.Unlock()
	name := agent.DisplayName
	if name == "" {
		name = "An agent"
	}
	c.live.Publish(EventHandoverAccepted, map[string]string{"agent_name": name})
	b.reposition(c.queue)
	return nil
}

func (b *botService) requeue(c *conversation) {
	b.mu.Lock()
	b.waiting[c.queue] = append([]*conversation{c}, b.waiting[c.queue]...)
	b.mu.Unlock()
}

// Start implements hub.LiveAnalyzer for bot conversations.
func (b *botService) Start(e *store.Engagement) hub.LiveSession {
	if botFlag(e.Flags) == "" {
		return nil
	}
	return &botLive{b: b, id: e.ID}
}

func botFlag(flags []string) string {
	for _, f := range flags {
		if id, ok := strings.CutPrefix(f, flagBotPrefix); ok {
			return id
		}
	}
	return ""
}

// botLive routes a bot conversation's customer messages to its bot.
type botLive struct {
	b  *botService
	id string
}

func (s *botLive) OnUtterance(_ context.Context, conv []inference.Utterance, _ func(string, any)) {
	u := conv[len(conv)-1]
	if u.Party != inference.PartyCustomer {
		return
	}
	if c := s.b.conv(s.id); c != nil && !c.voice {
		c.enqueue(u.Text, time.Now())
	}
}

// Tick implements hub.Ticker: a conversation the customer left ends after
// the bot's idle timeout (twice that while waiting for an agent).
func (s *botLive) Tick(_ context.Context, _ int64, _ func(string, any)) {
	c := s.b.conv(s.id)
	if c == nil || c.voice {
		return // a call ends with the call
	}
	c.mu.Lock()
	waiting, taken := c.handover != nil && c.agent == "", c.agent != ""
	c.mu.Unlock()
	if taken {
		return
	}
	idle := time.Duration(c.sess.Engine().Definition().Settings.IdleTimeout)
	if waiting {
		idle *= 2
	}
	if time.Since(time.Unix(0, c.lastActivity.Load())) > idle {
		c.live.End("idle")
	}
}

// virtualAgentResult is the stored result of a bot conversation (sealed:
// it holds the collected slots and the messages the bot did not
// understand).
type virtualAgentResult struct {
	Stats    bot.Stats       `json:"stats"`
	Handover *bot.Handover   `json:"handover,omitempty"`
	Slots    []bot.SlotValue `json:"slots"`
	Coach    []bot.CoachItem `json:"coach,omitempty"`
	Agent    string          `json:"agent,omitempty"`
}

// OnEnd implements hub.PostAnalyzer: it stops the conversation and stores
// its result.
func (b *botService) OnEnd(ctx context.Context, e *store.Engagement, _ []inference.Utterance, _ func(string, any)) {
	b.mu.Lock()
	c := b.convs[e.ID]
	delete(b.convs, e.ID)
	b.mu.Unlock()
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
	wasWaiting := b.unqueue(c)
	st := c.sess.Finish(time.Now())
	c.mu.Lock()
	res := virtualAgentResult{Stats: st, Handover: c.handover, Slots: c.sess.Slots(), Coach: c.sess.Coach(), Agent: c.agent}
	c.mu.Unlock()
	raw, _ := json.Marshal(res)
	if err := b.d.store.PutResult(context.WithoutCancel(ctx), store.Result{Engagement: e.ID, Feature: resultVirtualAgent,
		Version: fmt.Sprintf("%s@%d", c.bot, c.version), Payload: raw}); err != nil {
		b.log.Error("bot conversation result not stored", "engagement", e.ID, "err", err)
	}
	if wasWaiting {
		b.reposition(c.queue)
	}
}

// botSkills runs bots' skills through the plugin host: approved scopes
// only, the hand-over audited by the host, the call audited here with its
// result, bounded by the skill's timeout.
type botSkills struct{ b *botService }

func (s botSkills) RunSkill(ctx context.Context, call bot.SkillCall) (bot.SkillResult, error) {
	d := s.b.d
	eng := sdk.Engagement{EngagementID: call.Conversation, Channel: "chat"}
	if c := s.b.conv(call.Conversation); c != nil {
		eng.CustomerRef = c.live.Engagement().CustomerRef
	}
	res, err := d.plugins.Invoke(ctx, call.Plugin, sdk.InvokeRequest{Skill: call.Skill, InputJSON: string(call.Input), Engagement: eng})
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if ctx.Err() != nil {
			outcome = "timeout"
		}
	}
	a := store.AuditEntry{Actor: "bot:" + call.Bot, Action: "bot.skill", Target: call.Plugin + "/" + call.Skill, Engagement: call.Conversation,
		Detail: map[string]string{"skill": call.Name, "result": outcome}}
	if aerr := d.store.AppendAudit(context.WithoutCancel(ctx), a); aerr != nil {
		s.b.log.Error("audit append failed", "action", "bot.skill", "err", aerr)
	}
	if err != nil {
		return bot.SkillResult{}, err
	}
	out := bot.SkillResult{Message: res.Message}
	if res.ResultJSON != "" {
		var m map[string]any
		if json.Unmarshal([]byte(res.ResultJSON), &m) == nil {
			out.Result = m
		}
	}
	return out, nil
}

// botKnowledge answers a bot's questions from the articles of its queue
// and those for every queue.
type botKnowledge struct {
	d     *Daemon
	queue string
}

func (k botKnowledge) Answer(ctx context.Context, q string) (bot.KBAnswer, error) {
	opts := kb.AnswerOptions{Scope: kb.QueueScope(k.queue)}
	opts.Generator, opts.Model = k.d.analytics.generator()
	a, err := k.d.kb.idx.Answer(ctx, q, opts)
	if err != nil {
		return bot.KBAnswer{}, err
	}
	out := bot.KBAnswer{Text: a.Text, Generated: a.Generated}
	for _, c := range a.Citations {
		out.Citations = append(out.Citations, bot.Citation{ArticleID: c.ArticleID, Title: c.Title})
	}
	return out, nil
}

// newWidgetKey returns a fresh public key for a bot's widget.
func newWidgetKey() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return "pk_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// newResumeSecret returns a secret a widget reconnects with, and its hash.
func newResumeSecret() (secret, hash string) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hex.EncodeToString(store.HashSecret(secret))
}
