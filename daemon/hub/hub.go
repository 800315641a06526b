package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/store"
)

// Event types the hub itself publishes. Analyzers add their own.
const (
	EventTranscriptPartial = "transcript.partial"
	EventTranscriptFinal   = "transcript.final"
	EventEnded             = "engagement.ended"
)

// Event is one entry of an engagement's event stream. IDs start at 1 and
// increase by one per engagement, so a reader resumes with Last-Event-ID.
type Event struct {
	ID   uint64          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

// ErrBusy is returned when the hub holds its maximum of live engagements,
// or an engagement's inbox is full.
var ErrBusy = errors.New("hub: too many live engagements")

// The limits an engagement can be refused by (LimitError.Limit), which are
// also the reasons of the refused metric.
const (
	LimitTotal  = "capacity"     // the appliance's max_live
	LimitSource = "source_limit" // the source's share
	LimitHolder = "token_limit"  // one token's share
)

// LimitError is Start's refusal over one of the hub's limits; it matches
// ErrBusy. Its text says which limit was hit.
type LimitError struct {
	Limit string // LimitTotal, LimitSource or LimitHolder
	Key   string // the source, for LimitSource
	Max   int
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitSource:
		return fmt.Sprintf("source %s holds its maximum of %d live engagements", e.Key, e.Max)
	case LimitHolder:
		return fmt.Sprintf("the token holds its maximum of %d live engagements", e.Max)
	}
	return fmt.Sprintf("the appliance holds its maximum of %d live engagements", e.Max)
}

// Is makes a LimitError match ErrBusy.
func (e *LimitError) Is(target error) bool { return target == ErrBusy }

// ErrNotLive is returned for input to an engagement that has ended.
var ErrNotLive = errors.New("hub: engagement is not live")

// Store is what the hub needs of the store: creating and ending
// engagements, the group commit of final segments (with their unredacted
// originals where redaction keeps a copy), and the stored transcript for
// readers of an engagement no longer in memory.
type Store interface {
	CreateEngagement(ctx context.Context, e store.Engagement, audit ...store.AuditEntry) (store.Engagement, error)
	AppendBatch(ctx context.Context, segs []store.Segment) error
	// AppendRedacted is AppendBatch that also keeps, sealed under a key of
	// their own, the unredacted originals of segments redaction changed.
	AppendRedacted(ctx context.Context, segs, originals []store.Segment, keepDays int) error
	EndEngagement(ctx context.Context, id string, end time.Time) error
	Segments(ctx context.Context, id string, audit ...store.AuditEntry) ([]store.Segment, error)
}

// Controls decides, at the moment an event is written to a reader,
// whether it may be shown: an event that carries the result of a feature
// switched off for the engagement is not, even when it was published
// before the switch. It is called on the readers' goroutines and must not
// modify ev.
type Controls interface {
	ShowEvent(ev Event, e *store.Engagement) bool
}

// LiveAnalyzer analyses live engagements. Start is called on the
// engagement's goroutine when it goes live; the session it returns (nil
// for none) is owned by that goroutine.
type LiveAnalyzer interface {
	Start(e *store.Engagement) LiveSession
}

// LiveSession runs on every final utterance of one live engagement, in
// order, on the engagement's goroutine, with the conversation so far. It
// must be fast: it delays the engagement's next segment. It decides its
// features itself and publishes results with emit, which is safe to call
// from other goroutines for as long as the hub runs.
type LiveSession interface {
	OnUtterance(ctx context.Context, conv []inference.Utterance, emit func(typ string, data any))
}

// Ticker is a LiveSession that also wants the passing of time while
// nobody speaks (long silences, handle time running over); Tick runs on
// the engagement's goroutine every TickInterval with the engagement's age.
type Ticker interface {
	Tick(ctx context.Context, nowMS int64, emit func(typ string, data any))
}

// TickInterval paces Ticker sessions.
const TickInterval = 2 * time.Second

// PostAnalyzer runs once when an engagement ends, after its last segment
// is stored, on the engagement's goroutine, and may take longer (local
// language models). It decides its features itself.
type PostAnalyzer interface {
	OnEnd(ctx context.Context, e *store.Engagement, conv []inference.Utterance, emit func(typ string, data any))
}

// Hub owns the live state of every engagement: one goroutine per live
// engagement consumes its inputs in order, stores final segments through
// the store's group commit, runs the live analyzers and publishes events.
type Hub struct {
	cfg      Config
	store    Store
	controls Controls
	logger   *slog.Logger
	metrics  *metrics

	// live, post and redaction are set before the first Start and only
	// read after.
	live      []LiveAnalyzer
	post      []PostAnalyzer
	redaction Redaction

	ctx    context.Context // cancelled when the hub has shut down
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// +checklocks:mu
	engagements map[string]*Live
	// pending counts slots reserved by Starts waiting for the store.
	// +checklocks:mu
	pending int
	// bySource and byHolder count live and pending engagements per source
	// and per holder, for their limits.
	// +checklocks:mu
	bySource map[string]int
	// +checklocks:mu
	byHolder map[string]int
	// recent keeps ended engagements for a while so that readers can
	// resume their streams and see post-engagement results.
	// +checklocks:mu
	recent map[string]*Live
	// +checklocks:mu
	closed bool
}

// New returns a hub. A nil logger discards logs; a nil reg registers no
// metrics. Add the analyzers before the first Start.
func New(cfg Config, st Store, controls Controls, logger *slog.Logger, reg prometheus.Registerer) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st == nil || controls == nil {
		return nil, errors.New("hub: a store and controls are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{cfg: cfg, store: st, controls: controls, logger: logger.With("component", "hub"), metrics: m,
		ctx: ctx, cancel: cancel, engagements: map[string]*Live{}, recent: map[string]*Live{},
		bySource: map[string]int{}, byHolder: map[string]int{}}, nil
}

// AddLive adds live analyzers; call it before the first Start.
func (h *Hub) AddLive(a ...LiveAnalyzer) { h.live = append(h.live, a...) }

// AddPost adds post-engagement analyzers; call it before the first Start.
func (h *Hub) AddPost(a ...PostAnalyzer) { h.post = append(h.post, a...) }

// Context is cancelled once the hub has shut down and every engagement
// has stored what it held. Work an analyzer starts on behalf of an
// engagement off its goroutine runs under it.
func (h *Hub) Context() context.Context { return h.ctx }

// CountRefused counts an engagement a media source refused before asking
// the hub (reason: invalid metadata, for example).
func (h *Hub) CountRefused(reason string) { h.metrics.refused.WithLabelValues(reason).Inc() }

// Start creates an engagement in the store and makes it live. source
// names the ingest path (whip, sip, websocket, upload, api) for metrics
// and its limit.
func (h *Hub) Start(ctx context.Context, e store.Engagement, source string, audit ...store.AuditEntry) (*Live, error) {
	return h.StartAs(ctx, e, source, "", audit...)
}

// StartAs is Start for an engagement started by holder (an API token's
// ID; "" for none, as for SIP calls), which counts against the holder's
// limit as well as the source's and the appliance's. A refusal is a
// *LimitError naming the limit, counted with it as reason.
func (h *Hub) StartAs(ctx context.Context, e store.Engagement, source, holder string, audit ...store.AuditEntry) (*Live, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrBusy
	}
	var refused *LimitError
	switch {
	case len(h.engagements)+h.pending >= h.cfg.MaxLive:
		refused = &LimitError{Limit: LimitTotal, Max: h.cfg.MaxLive}
	case h.bySource[source] >= h.cfg.sourceLimit(source):
		refused = &LimitError{Limit: LimitSource, Key: source, Max: h.cfg.sourceLimit(source)}
	case holder != "" && h.byHolder[holder] >= h.cfg.holderLimit():
		refused = &LimitError{Limit: LimitHolder, Max: h.cfg.holderLimit()}
	}
	if refused != nil {
		h.mu.Unlock()
		h.metrics.refused.WithLabelValues(refused.Limit).Inc()
		return nil, refused
	}
	h.pending++ // the slot is held while the store writes
	h.unsafeCount(source, holder, 1)
	h.mu.Unlock()

	if e.Start.IsZero() {
		e.Start = time.Now().UTC()
	}
	e.Status = store.StatusLive
	created, err := h.store.CreateEngagement(ctx, e, audit...)
	h.mu.Lock()
	h.pending--
	if err != nil {
		h.unsafeCount(source, holder, -1)
		h.mu.Unlock()
		h.metrics.refused.WithLabelValues("invalid").Inc()
		return nil, err
	}
	l := newLive(h, created)
	l.source, l.holder = source, holder
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

// unsafeCount adds d to the counts of source and holder. Caller holds mu.
func (h *Hub) unsafeCount(source, holder string, d int) {
	if h.bySource[source] += d; h.bySource[source] <= 0 {
		delete(h.bySource, source)
	}
	if holder == "" {
		return
	}
	if h.byHolder[holder] += d; h.byHolder[holder] <= 0 {
		delete(h.byHolder, holder)
	}
}

// Get returns a live or recently ended engagement.
func (h *Hub) Get(id string) (*Live, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.engagements[id]; ok {
		return l, true
	}
	l, ok := h.recent[id]
	return l, ok
}

// Live returns the engagements that are live now, in no order.
func (h *Hub) Live() []*Live {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Live, 0, len(h.engagements))
	for _, l := range h.engagements {
		out = append(out, l)
	}
	return out
}

// LiveCount is the number of live engagements.
func (h *Hub) LiveCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.engagements)
}

// ForgetEnded drops from memory the ended engagements for which gone
// reports true (purged ones, say): their events are no longer served, and
// readers get what the store still holds. It returns how many it dropped.
func (h *Hub) ForgetEnded(gone func(id string) bool) int {
	h.mu.Lock()
	ids := make([]string, 0, len(h.recent))
	for id := range h.recent {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	n := 0
	for _, id := range ids {
		if gone(id) {
			h.mu.Lock()
			if _, ok := h.recent[id]; ok {
				delete(h.recent, id)
				n++
			}
			h.mu.Unlock()
		}
	}
	return n
}

func (h *Hub) retire(l *Live) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.engagements, l.eng.ID)
	h.unsafeCount(l.source, l.holder, -1)
	h.recent[l.eng.ID] = l
	h.metrics.live.Set(float64(len(h.engagements)))
}

// Run ends engagements whose media stopped and forgets old ended ones,
// until ctx is done. The owner calls Shutdown afterwards, once ingest has
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
	h.mu.Lock()
	var stale, idle []*Live
	for _, l := range h.engagements {
		quiet := now.Sub(time.Unix(0, l.lastMedia.Load()))
		switch {
		case l.eng.Channel == "voice" && quiet > h.cfg.MediaTimeout:
			stale = append(stale, l)
		case l.eng.Channel == "chat" && quiet > h.cfg.ChatIdleTimeout:
			idle = append(idle, l)
		}
	}
	for id, l := range h.recent {
		if now.Sub(l.endedAt()) > h.cfg.EndedRetention {
			delete(h.recent, id)
		}
	}
	h.mu.Unlock()
	for _, l := range stale {
		l.End("media_timeout")
	}
	for _, l := range idle {
		l.End("idle_timeout")
	}
}

// Shutdown refuses new engagements, ends every live one and waits for
// their goroutines to store what they hold and run the post-engagement
// analyzers; then it cancels Context. It is idempotent.
func (h *Hub) Shutdown() {
	h.mu.Lock()
	h.closed = true
	all := make([]*Live, 0, len(h.engagements))
	for _, l := range h.engagements {
		all = append(all, l)
	}
	h.mu.Unlock()
	for _, l := range all {
		l.End("shutdown")
	}
	h.wg.Wait()
	h.cancel()
}
