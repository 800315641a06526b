package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/store"
)

// Event types on an engagement's stream. Analyzers add their own.
const (
	EventTranscriptPartial = "transcript.partial"
	EventTranscriptFinal   = "transcript.final"
	EventEnded             = "engagement.ended"
)

// Event is one entry of an engagement's event stream. IDs start at 1 and
// increase by one per engagement, so a client resumes with Last-Event-ID.
type Event struct {
	ID   uint64          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

// ErrBusy is returned when the hub holds its maximum of live engagements.
var ErrBusy = errors.New("daemon: too many live engagements")

// ErrNotLive is returned for input to an engagement that has ended.
var ErrNotLive = errors.New("daemon: engagement is not live")

// liveAnalyzer analyses live engagements. Start is called when an
// engagement goes live; the session it returns is owned by the
// engagement's goroutine.
type liveAnalyzer interface {
	Start(e *store.Engagement) liveSession
}

// liveSession runs on every final utterance of one live engagement, in
// order, on the engagement's goroutine. It must be fast: it delays the
// engagement's next segment. It checks its features with the hub's
// Controls and publishes results with emit.
type liveSession interface {
	OnUtterance(ctx context.Context, conv []inference.Utterance, emit func(typ string, data any))
}

// ticker is a liveSession that also wants the passing of time while
// nobody speaks (long silences, handle time running over); Tick runs on
// the engagement's goroutine every tickInterval with the engagement's age.
type ticker interface {
	Tick(ctx context.Context, nowMS int64, emit func(typ string, data any))
}

// tickInterval paces ticker sessions.
const tickInterval = 2 * time.Second

// postAnalyzer runs once when an engagement ends, after its last segment
// is stored, on the engagement's goroutine, and may take longer (local
// language models). It checks its features itself.
type postAnalyzer interface {
	OnEnd(ctx context.Context, e *store.Engagement, conv []inference.Utterance, emit func(typ string, data any))
}

type hubMetrics struct {
	live       prometheus.Gauge
	started    *prometheus.CounterVec
	refused    *prometheus.CounterVec
	ended      *prometheus.CounterVec
	events     *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	storeDelay prometheus.Histogram
}

func newHubMetrics(reg prometheus.Registerer) (*hubMetrics, error) {
	m := &hubMetrics{
		live: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "engagements", Name: "live",
			Help: "Live engagements held by the hub."}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "started_total",
			Help: "Engagements started, by source."}, []string{"source"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "refused_total",
			Help: "Engagements refused, by reason (capacity, invalid, store)."}, []string{"reason"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "ended_total",
			Help: "Engagements ended, by reason."}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "events_total",
			Help: "Events published on engagement streams, by type."}, []string{"type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "engagements", Name: "inputs_dropped_total",
			Help: "Inputs dropped because an engagement's inbox was full, by kind (partial, final)."}, []string{"kind"}),
		storeDelay: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "earshot", Subsystem: "engagements", Name: "segment_commit_seconds",
			Help: "Time from a final segment reaching the hub to its group commit.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 12)}),
	}
	for _, c := range []prometheus.Collector{m.live, m.started, m.refused, m.ended, m.events, m.dropped, m.storeDelay} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("daemon: register hub metrics: %w", err)
		}
	}
	return m, nil
}

// Hub owns the live state of every engagement: one goroutine per live
// engagement consumes its inputs in order, stores final segments through
// the store's group commit, runs the live analyzers and publishes events.
type Hub struct {
	cfg      EngagementsConfig
	store    *store.Store
	controls *Controls
	logger   *slog.Logger
	metrics  *hubMetrics
	live     []liveAnalyzer
	post     []postAnalyzer

	ctx    context.Context // cancelled when the hub stops
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// +checklocks:mu
	engagements map[string]*Live
	// recent keeps ended engagements for a while so that clients can
	// resume their streams and see post-engagement results.
	// +checklocks:mu
	recent map[string]*Live
	// +checklocks:mu
	closed bool
}

// recentTTL is how long an ended engagement's events stay in memory.
const recentTTL = 10 * time.Minute

func newHub(cfg EngagementsConfig, st *store.Store, controls *Controls, logger *slog.Logger, reg prometheus.Registerer) (*Hub, error) {
	m, err := newHubMetrics(reg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{cfg: cfg, store: st, controls: controls, logger: logger.With("component", "hub"), metrics: m,
		ctx: ctx, cancel: cancel, engagements: map[string]*Live{}, recent: map[string]*Live{}}, nil
}

// Start creates an engagement in the store and makes it live. source
// names the ingest path (whip, sip, websocket, upload, api) for metrics.
func (h *Hub) Start(ctx context.Context, e store.Engagement, source string, audit ...store.AuditEntry) (*Live, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrBusy
	}
	if len(h.engagements) >= h.cfg.MaxLive {
		h.mu.Unlock()
		h.metrics.refused.WithLabelValues("capacity").Inc()
		return nil, ErrBusy
	}
	// Reserve the slot while the store writes.
	placeholder := &Live{}
	key := fmt.Sprintf("pending-%p", placeholder)
	h.engagements[key] = placeholder
	h.mu.Unlock()

	if e.Start.IsZero() {
		e.Start = time.Now().UTC()
	}
	e.Status = store.StatusLive
	created, err := h.store.CreateEngagement(ctx, e, audit...)
	h.mu.Lock()
	delete(h.engagements, key)
	if err != nil {
		h.mu.Unlock()
		h.metrics.refused.WithLabelValues("invalid").Inc()
		return nil, err
	}
	l := newLive(h, created)
	h.engagements[created.ID] = l
	h.metrics.live.Set(float64(len(h.engagements)))
	h.wg.Add(1)
	h.mu.Unlock()
	h.metrics.started.WithLabelValues(source).Inc()
	go func() {
		defer h.wg.Done()
		l.run()
	}()
	return l, nil
}

// Get returns a live or recently ended engagement.
func (h *Hub) Get(id string) (*Live, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.engagements[id]; ok && l.hub != nil {
		return l, true
	}
	l, ok := h.recent[id]
	return l, ok
}

// LiveCount is the number of live engagements.
func (h *Hub) LiveCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.engagements)
}

func (h *Hub) retire(l *Live) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.engagements, l.eng.ID)
	h.recent[l.eng.ID] = l
	h.metrics.live.Set(float64(len(h.engagements)))
}

// Run ends engagements whose media stopped and forgets old ended ones,
// until ctx is done. The daemon calls shutdown afterwards, once ingest has
// stopped.
func (h *Hub) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			h.tick(now)
		}
	}
}

func (h *Hub) tick(now time.Time) {
	timeout := time.Duration(h.cfg.MediaTimeout)
	h.mu.Lock()
	var stale []*Live
	for _, l := range h.engagements {
		if l.hub == nil || l.eng.Channel != "voice" {
			continue
		}
		if now.Sub(time.Unix(0, l.lastMedia.Load())) > timeout {
			stale = append(stale, l)
		}
	}
	for id, l := range h.recent {
		if now.Sub(l.endedAt()) > recentTTL {
			delete(h.recent, id)
		}
	}
	h.mu.Unlock()
	for _, l := range stale {
		l.End("media_timeout")
	}
}

// shutdown ends every live engagement and waits for their goroutines to
// store what they hold. It is idempotent.
func (h *Hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	var all []*Live
	for _, l := range h.engagements {
		if l.hub != nil {
			all = append(all, l)
		}
	}
	h.mu.Unlock()
	for _, l := range all {
		l.End("shutdown")
	}
	h.wg.Wait()
	h.cancel()
}

// input is one item of an engagement's inbox.
type input struct {
	seg      store.Segment
	received time.Time
	// ack, when set, receives the result of storing a final segment.
	ack chan<- error
}

// inboxSize bounds each engagement's queue of segments not yet handled.
const inboxSize = 1024

// maxRun bounds the final segments stored in one group commit.
const maxRun = 256

// Live is one live engagement. Its methods are safe for concurrent use;
// the ingest side calls Submit, Touch and End, readers call Subscribe.
type Live struct {
	hub       *Hub
	eng       store.Engagement
	inbox     chan input
	endc      chan string
	endOnce   sync.Once
	done      chan struct{}
	lastMedia atomic.Int64
	// attention is the latest escalation risk, set by the live analysis.
	attention atomic.Pointer[attention]

	mu sync.Mutex
	// +checklocks:mu
	events []Event
	// +checklocks:mu
	nextID uint64
	// +checklocks:mu
	notify chan struct{}
	// +checklocks:mu
	ended time.Time
}

func newLive(h *Hub, e store.Engagement) *Live {
	l := &Live{hub: h, eng: e, inbox: make(chan input, inboxSize), endc: make(chan string, 1),
		done: make(chan struct{}), nextID: 1, notify: make(chan struct{})}
	l.lastMedia.Store(time.Now().UnixNano())
	return l
}

// Engagement returns the engagement as it was started.
func (l *Live) Engagement() store.Engagement { return l.eng }

// ID is the engagement's ID.
func (l *Live) ID() string { return l.eng.ID }

// Touch records that media arrived, holding off the media timeout.
func (l *Live) Touch() { l.lastMedia.Store(time.Now().UnixNano()) }

// Submit queues a transcript segment without blocking. A full inbox drops
// the segment and counts it; it returns false then, or after End.
func (l *Live) Submit(seg store.Segment) bool {
	return l.submit(input{seg: seg, received: time.Now()})
}

// SubmitWait queues a final segment and waits until it is committed to
// the store (or ctx is done): what the API acknowledges survives a crash.
func (l *Live) SubmitWait(ctx context.Context, seg store.Segment) error {
	seg.Final = true
	ack := make(chan error, 1)
	if !l.submit(input{seg: seg, received: time.Now(), ack: ack}) {
		if l.Ended() {
			return ErrNotLive
		}
		return ErrBusy
	}
	select {
	case err := <-ack:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Live) submit(in input) bool {
	if l.Ended() {
		return false
	}
	select {
	case l.inbox <- in:
		return true
	default:
		kind := "partial"
		if in.seg.Final {
			kind = "final"
			l.hub.logger.Warn("engagement inbox full; final segment dropped", "engagement", l.eng.ID)
		}
		l.hub.metrics.dropped.WithLabelValues(kind).Inc()
		return false
	}
}

// End ends the engagement after the inputs already queued; it is safe to
// call more than once.
func (l *Live) End(reason string) {
	l.endOnce.Do(func() { l.endc <- reason })
}

// Done is closed when the engagement's goroutine has stored everything and
// run the post-engagement analyzers.
func (l *Live) Done() <-chan struct{} { return l.done }

// Ended reports whether the engagement has ended.
func (l *Live) Ended() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.ended.IsZero()
}

func (l *Live) endedAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// publish appends an event and wakes every subscriber.
func (l *Live) publish(typ string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		l.hub.logger.Error("event not encodable", "engagement", l.eng.ID, "type", typ, "err", err)
		return
	}
	l.mu.Lock()
	ev := Event{ID: l.nextID, Type: typ, Time: time.Now().UTC(), Data: raw}
	l.nextID++
	l.events = append(l.events, ev)
	if max := l.hub.cfg.EventBuffer; len(l.events) > max {
		l.events = append(l.events[:0:0], l.events[len(l.events)-max:]...)
	}
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
	l.hub.metrics.events.WithLabelValues(typ).Inc()
}

// Since returns the events after ID after, a channel closed when more
// arrive, whether the stream is complete (ended, and nothing follows), and
// whether events between after and the first returned were lost to the
// buffer bound.
func (l *Live) Since(after uint64) (evs []Event, more <-chan struct{}, complete, gap bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.events) && l.events[i].ID <= after {
		i++
	}
	evs = append(evs, l.events[i:]...)
	gap = len(l.events) > 0 && l.events[0].ID > after+1
	complete = !l.ended.IsZero() && l.finished()
	return evs, l.notify, complete, gap
}

// finished reports whether the goroutine has exited (no more events).
func (l *Live) finished() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// run is the engagement's goroutine: it owns seq and conv.
func (l *Live) run() {
	h := l.hub
	ctx := h.ctx
	var (
		seq      uint32
		conv     []inference.Utterance
		sessions []liveSession
	)
	for _, a := range h.live {
		if sess := a.Start(&l.eng); sess != nil {
			sessions = append(sessions, sess)
		}
	}
	defer func() {
		// Wake subscribers a last time so they see the stream complete.
		l.mu.Lock()
		close(l.done)
		close(l.notify)
		l.notify = make(chan struct{})
		l.mu.Unlock()
	}()
	emit := func(typ string, data any) { l.publish(typ, data) }
	// flush stores a run of final segments in one group commit, then
	// publishes them and runs the live analyzers on each.
	flush := func(run []input) {
		if len(run) == 0 {
			return
		}
		segs := make([]store.Segment, len(run))
		for i, in := range run {
			segs[i] = in.seg
			segs[i].Engagement = l.eng.ID
			segs[i].Seq = seq + uint32(i)
		}
		err := h.store.AppendBatch(ctx, segs)
		for _, in := range run {
			if in.ack != nil {
				in.ack <- err
			}
		}
		if err != nil {
			h.logger.Error("final segments not stored", "engagement", l.eng.ID, "first_seq", seq, "count", len(segs), "err", err)
			return
		}
		seq += uint32(len(segs))
		for i, seg := range segs {
			h.metrics.storeDelay.Observe(time.Since(run[i].received).Seconds())
			l.publish(EventTranscriptFinal, seg)
			u := inference.Utterance{Party: inference.Party(seg.Speaker), Text: seg.Text, StartMS: seg.StartMs, EndMS: seg.EndMs}
			conv = append(conv, u)
			for _, sess := range sessions {
				sess.OnUtterance(ctx, conv, emit)
			}
		}
	}
	// handle takes one input and whatever else is already queued, keeping
	// their order: partials are published between runs of finals.
	handle := func(first input) {
		var run []input
		next := first
		for n := 0; ; n++ {
			if next.seg.Final {
				run = append(run, next)
			} else {
				flush(run)
				run = run[:0]
				p := next.seg
				p.Engagement = l.eng.ID
				l.publish(EventTranscriptPartial, p)
			}
			if n == maxRun {
				break
			}
			select {
			case next = <-l.inbox:
				continue
			default:
			}
			break
		}
		flush(run)
	}
	var reason string
	tick := time.NewTicker(tickInterval)
	defer tick.Stop()
loop:
	for {
		select {
		case in := <-l.inbox:
			handle(in)
		case now := <-tick.C:
			for _, sess := range sessions {
				if t, ok := sess.(ticker); ok {
					t.Tick(ctx, now.Sub(l.eng.Start).Milliseconds(), emit)
				}
			}
		case reason = <-l.endc:
			break loop
		}
	}
	// Mark ended first so that new input is refused, then drain.
	l.mu.Lock()
	l.ended = time.Now().UTC()
	l.mu.Unlock()
	for {
		select {
		case in := <-l.inbox:
			handle(in)
			continue
		default:
		}
		break
	}
	if err := h.store.EndEngagement(context.WithoutCancel(ctx), l.eng.ID, time.Now().UTC()); err != nil {
		h.logger.Error("engagement end not stored", "engagement", l.eng.ID, "err", err)
	}
	h.metrics.ended.WithLabelValues(reason).Inc()
	h.retire(l)
	l.publish(EventEnded, map[string]any{"reason": reason, "segments": seq})
	for _, a := range h.post {
		a.OnEnd(ctx, &l.eng, conv, emit)
	}
	h.logger.Info("engagement ended", "engagement", l.eng.ID, "reason", reason, "segments", seq)
}
