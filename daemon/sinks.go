package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/plugins"
	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/store"
)

// Sink event types.
const (
	// SinkEventEnded: the engagement ended and its analysis is stored.
	SinkEventEnded = "engagement.ended"
	// SinkEventWrapUp: the agent saved the wrap-up note or disposition.
	SinkEventWrapUp = "engagement.wrapped_up"
)

// sinkOutbox delivers engagement events to the enabled sink plugins
// through the store's outbox: an event is queued for every enabled sink
// (IDs only), survives restarts, and is delivered with the content the
// engagement has at delivery time, minimised by the host to the plugin's
// approved scopes. Failures are retried with backoff; events that used up
// their attempts stay as dead until an administrator retries them.
type sinkOutbox struct {
	d    *Daemon
	cfg  SinksConfig
	log  *slog.Logger
	wake chan struct{}

	deliveries *prometheus.CounterVec // plugin, result

	wg     sync.WaitGroup // delivery goroutines
	busyMu sync.Mutex
	busy   map[string]bool // plugins with a delivery goroutine; +checklocks:busyMu
}

func newSinkOutbox(d *Daemon, cfg SinksConfig, logger *slog.Logger, reg prometheus.Registerer) (*sinkOutbox, error) {
	o := &sinkOutbox{d: d, cfg: cfg, log: logger.With("component", "sinks"), wake: make(chan struct{}, 1), busy: map[string]bool{},
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "sinks", Name: "deliveries_total",
			Help: "Sink event delivery attempts, by plugin and result (ok, retry, dead, dropped).",
		}, []string{"plugin", "result"}),
	}
	// counts reads the outbox at scrape time: it holds small entries, and
	// only while sinks are behind.
	counts := func(deadOnly bool) float64 {
		all, err := d.store.Outbox(context.Background(), false, time.Time{}, 0)
		if err != nil {
			return -1
		}
		n := 0
		for _, e := range all {
			if e.Dead || !deadOnly {
				n++
			}
		}
		return float64(n)
	}
	outbox := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "earshot", Subsystem: "sinks", Name: "outbox_events",
		Help: "Events in the sink outbox, waiting or dead.",
	}, func() float64 { return counts(false) })
	dead := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "earshot", Subsystem: "sinks", Name: "outbox_dead_events",
		Help: "Events in the sink outbox that used up their attempts and wait for an administrator.",
	}, func() float64 { return counts(true) })
	for _, c := range []prometheus.Collector{o.deliveries, outbox, dead} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("daemon: register sink metrics: %w", err)
		}
	}
	return o, nil
}

// enqueue queues one event of engagement e for every enabled sink plugin.
// eventID is unique per event; sinks deduplicate on it.
func (o *sinkOutbox) enqueue(e store.Engagement, typ, eventID string) {
	if o.d.plugins == nil {
		return
	}
	sinks := o.d.plugins.Enabled(o.d.hub.Context(), sdk.KindSink)
	if len(sinks) == 0 {
		return
	}
	now := time.Now().UTC()
	entries := make([]store.OutboxEntry, len(sinks))
	for i, name := range sinks {
		entries[i] = store.OutboxEntry{Plugin: name, EventID: eventID, Type: typ, Engagement: e.ID, Created: now, NextAt: now}
	}
	if _, err := o.d.store.Enqueue(context.Background(), entries...); err != nil {
		o.log.Error("sink events not queued", "engagement", e.ID, "type", typ, "err", err)
		return
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run delivers due events until ctx is done, then waits for the
// deliveries under way (they stop at ctx's end).
func (o *sinkOutbox) run(ctx context.Context) error {
	defer o.wg.Wait()
	t := time.NewTicker(time.Duration(o.cfg.PollInterval))
	defer t.Stop()
	for {
		o.deliverDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-o.wake:
		}
	}
}

// deliverDue starts one goroutine per plugin with due events, in queue
// order, for the plugins not still busy with earlier ones: a slow or
// hanging sink holds up only its own events.
func (o *sinkOutbox) deliverDue(ctx context.Context) {
	isBusy := func(plugin string) bool {
		o.busyMu.Lock()
		defer o.busyMu.Unlock()
		return o.busy[plugin]
	}
	due, err := o.d.store.DueOutbox(ctx, time.Now().UTC(), 256, isBusy)
	if err != nil {
		o.log.Error("sink outbox unreadable", "err", err)
		return
	}
	byPlugin := map[string][]store.OutboxEntry{}
	for _, e := range due {
		byPlugin[e.Plugin] = append(byPlugin[e.Plugin], e)
	}
	o.busyMu.Lock()
	defer o.busyMu.Unlock()
	for name, entries := range byPlugin {
		o.busy[name] = true
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			for _, e := range entries {
				if ctx.Err() != nil {
					break
				}
				o.deliver(ctx, name, e)
			}
			o.busyMu.Lock()
			delete(o.busy, name)
			o.busyMu.Unlock()
			select { // more of its events may be due
			case o.wake <- struct{}{}:
			default:
			}
		}()
	}
}

func (o *sinkOutbox) deliver(ctx context.Context, name string, entry store.OutboxEntry) {
	scopes, err := o.d.plugins.Granted(ctx, name)
	var ev sdk.Event
	if err == nil {
		ev, err = o.event(ctx, entry, scopes)
	}
	if err == nil {
		err = o.d.plugins.Deliver(ctx, name, ev)
	}
	if ctx.Err() != nil {
		return // shutting down: the entry stays due
	}
	switch {
	case err == nil:
		o.deliveries.WithLabelValues(name, "ok").Inc()
		o.remove(entry)
		return
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrPurged),
		errors.Is(err, plugins.ErrUnknownPlugin), errors.Is(err, plugins.ErrKindNotServed):
		// The engagement is gone or the plugin cannot take it: nothing to
		// retry.
		o.deliveries.WithLabelValues(name, "dropped").Inc()
		o.log.Warn("sink event dropped", "plugin", name, "engagement", entry.Engagement, "type", entry.Type, "reason", errorClass(err))
		o.remove(entry)
		return
	}
	entry.Attempts++
	entry.LastError = errorClass(err)
	if entry.Attempts >= o.cfg.MaxAttempts {
		entry.Dead = true
		o.deliveries.WithLabelValues(name, "dead").Inc()
		o.log.Error("sink event dead after its last attempt; retry it with POST /api/v1/sinks/retry",
			"plugin", name, "engagement", entry.Engagement, "type", entry.Type, "attempts", entry.Attempts, "reason", entry.LastError)
	} else {
		entry.NextAt = time.Now().UTC().Add(o.backoff(entry.Attempts))
		o.deliveries.WithLabelValues(name, "retry").Inc()
		o.log.Warn("sink delivery failed; will retry", "plugin", name, "engagement", entry.Engagement,
			"type", entry.Type, "attempts", entry.Attempts, "next", entry.NextAt, "reason", entry.LastError)
	}
	if err := o.d.store.UpdateOutbox(context.WithoutCancel(ctx), entry); err != nil {
		o.log.Error("sink outbox not updated", "err", err)
	}
}

func (o *sinkOutbox) remove(entry store.OutboxEntry) {
	if err := o.d.store.DeleteOutbox(context.Background(), entry.Seq); err != nil {
		o.log.Error("sink outbox not updated", "err", err)
	}
}

func (o *sinkOutbox) backoff(attempts int) time.Duration {
	d := time.Duration(o.cfg.RetryMin)
	for i := 1; i < attempts && d < time.Duration(o.cfg.RetryMax); i++ {
		d *= 2
	}
	return min(d, time.Duration(o.cfg.RetryMax))
}

// errorClass names a delivery failure without the plugin's message, which
// might quote content.
func errorClass(err error) string {
	var re *sdk.RemoteError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, plugins.ErrDisabled):
		return "disabled"
	case errors.Is(err, plugins.ErrCircuitOpen):
		return "breaker_open"
	case errors.Is(err, plugins.ErrBusy):
		return "busy"
	case errors.Is(err, store.ErrNotFound):
		return "engagement_not_found"
	case errors.Is(err, store.ErrPurged):
		return "engagement_purged"
	case errors.Is(err, plugins.ErrUnknownPlugin):
		return "plugin_uninstalled"
	case errors.Is(err, plugins.ErrKindNotServed):
		return "not_a_sink"
	case errors.As(err, &re):
		if re.Transport() {
			return "unavailable"
		}
		return "rejected:" + re.Code.String()
	}
	return "error"
}

// event builds the sink event from what the store holds now, reading
// (and decrypting) only what the granted scopes let the plugin receive;
// the host minimises the engagement again on the way out.
func (o *sinkOutbox) event(ctx context.Context, entry store.OutboxEntry, scopes []sdk.Scope) (sdk.Event, error) {
	e, err := o.d.store.Engagement(ctx, entry.Engagement)
	if err != nil {
		return sdk.Event{}, err
	}
	var segs []store.Segment
	if slices.Contains(scopes, sdk.ScopeTranscript) {
		if segs, err = o.d.store.Segments(ctx, e.ID); err != nil {
			return sdk.Event{}, err
		}
	}
	var results []store.Result
	if slices.Contains(scopes, sdk.ScopeSummary) || slices.Contains(scopes, sdk.ScopeResults) {
		if results, err = o.d.store.Results(ctx, e.ID); err != nil {
			return sdk.Event{}, err
		}
	}
	eng := sdk.Engagement{EngagementID: e.ID, Channel: e.Channel, CustomerRef: e.CustomerRef}
	for _, s := range segs {
		eng.Transcript = append(eng.Transcript, sdk.Segment{Speaker: s.Speaker,
			Start: time.Duration(s.StartMs) * time.Millisecond, End: time.Duration(s.EndMs) * time.Millisecond, Text: s.Text})
	}
	// As in the results API: a feature switched off hides what it
	// computed, from sinks too; saved wrap-up always goes.
	for _, r := range o.d.controls.shownResults(e, results) {
		if r.Feature == "engagement_summary" {
			var s struct{ Text string }
			if json.Unmarshal(r.Payload, &s) == nil {
				eng.Summary = s.Text
			}
			continue
		}
		if eng.Results == nil {
			eng.Results = map[string]string{}
		}
		eng.Results[r.Feature] = string(r.Payload)
	}
	return sdk.Event{ID: entry.EventID, Type: entry.Type, Time: entry.Created, Engagement: eng}, nil
}

// sinkRoutes lets an administrator see and retry the outbox.
func (d *Daemon) sinkRoutes() []route {
	return []route{
		{"GET", "/api/v1/sinks/outbox", adminOnly, "Events waiting for or failed delivery to sink plugins (IDs and counts only)", d.listOutbox},
		{"POST", "/api/v1/sinks/retry", adminOnly, "Retry the dead sink events, of one plugin (?plugin=) or all", d.retrySinks},
	}
}

func (d *Daemon) listOutbox(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := d.store.Outbox(r.Context(), false, time.Time{}, 0)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	type entry struct {
		store.OutboxEntry
		Seq string `json:"seq"`
	}
	out := make([]entry, len(all))
	for i, e := range all {
		out[i] = entry{e, strconv.FormatUint(e.Seq, 10)}
	}
	writeJSON(w, 200, map[string]any{"events": out})
}

func (d *Daemon) retrySinks(w http.ResponseWriter, r *http.Request, p *Principal) {
	plugin := r.URL.Query().Get("plugin")
	n, err := d.store.RetryDead(r.Context(), plugin, time.Now().UTC(), auditEntry(r, p, "sinks.retry", plugin))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	select {
	case d.sinks.wake <- struct{}{}:
	default:
	}
	writeJSON(w, 200, map[string]int{"retried": n})
}
