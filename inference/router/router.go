// Package router routes each inference capability (summaries, notes,
// tasks, dispositions, keywords, topics, sentiment, intents, generation,
// next-step wording, embeddings) to the provider that serves it: the
// built-in models by default, a local Ollama server or a model plugin
// where configured. Callers ask the router for a capability's interface
// and never branch on providers, so a new provider or engine plugs in by
// adding a route.
//
// Routes are layered: the route set last wins, and removing it uncovers
// the one below (a model plugin switched off hands its capabilities back
// to Ollama or the built-in models). A Router is safe for concurrent use;
// lookups do not lock.
package router

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
)

// Capability names one routable capability.
type Capability string

// The capabilities, each with the interface its provider implements.
const (
	Summary     Capability = "summary"     // inference.Summarizer
	Notes       Capability = "notes"       // inference.NoteWriter
	Tasks       Capability = "tasks"       // inference.TaskExtractor
	Disposition Capability = "disposition" // inference.DispositionClassifier
	Keywords    Capability = "keywords"    // inference.KeywordExtractor
	Topics      Capability = "topics"      // inference.TopicDetector
	Sentiment   Capability = "sentiment"   // inference.SentimentAnalyzer
	Intents     Capability = "intents"     // inference.IntentDetector
	Generate    Capability = "generate"    // inference.Generator
	NextStep    Capability = "next_step"   // inference.NextStepWorder
	Embed       Capability = "embed"       // inference.Embedder
)

// Capabilities lists every capability in a stable order.
var Capabilities = []Capability{Summary, Notes, Tasks, Disposition, Keywords, Topics, Sentiment, Intents, Generate, NextStep, Embed}

func implements[T any](v any) bool { _, ok := v.(T); return ok }

// interfaces checks that an implementation serves a capability.
var interfaces = map[Capability]func(any) bool{
	Summary:     implements[inference.Summarizer],
	Notes:       implements[inference.NoteWriter],
	Tasks:       implements[inference.TaskExtractor],
	Disposition: implements[inference.DispositionClassifier],
	Keywords:    implements[inference.KeywordExtractor],
	Topics:      implements[inference.TopicDetector],
	Sentiment:   implements[inference.SentimentAnalyzer],
	Intents:     implements[inference.IntentDetector],
	Generate:    implements[inference.Generator],
	NextStep:    implements[inference.NextStepWorder],
	Embed:       implements[inference.Embedder],
}

// Route is the provider serving one capability now.
type Route struct {
	Capability Capability `json:"capability"`
	Provider   string     `json:"provider"`
}

// layer is one provider's implementation of a capability.
type layer struct {
	provider string
	impl     any
}

// table maps each capability to its layers, the serving one last. It is
// never modified once published.
type table map[Capability][]layer

// Router holds the routes.
type Router struct {
	log   *slog.Logger
	gauge *prometheus.GaugeVec

	mu sync.Mutex // serialises writers; readers load cur
	// cur is replaced as a whole on every change.
	cur atomic.Pointer[table]
}

// New returns a router with no routes. A nil logger discards logs; a nil
// reg registers no metrics.
func New(logger *slog.Logger, reg prometheus.Registerer) (*Router, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{log: logger.With("component", "inference.router"),
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "inference", Name: "route",
			Help: "1 for the provider serving each capability."}, []string{"capability", "provider"})}
	if reg != nil {
		if err := reg.Register(r.gauge); err != nil {
			return nil, fmt.Errorf("router: register metrics: %w", err)
		}
	}
	r.cur.Store(&table{})
	return r, nil
}

// Set routes capability c to impl, served by provider, above the routes
// already there; a provider set again replaces its own layer. impl must
// implement the capability's interface.
func (r *Router) Set(c Capability, provider string, impl any) error {
	check, ok := interfaces[c]
	switch {
	case !ok:
		return fmt.Errorf("router: unknown capability %q", c)
	case provider == "":
		return fmt.Errorf("router: %s: provider name is empty", c)
	case impl == nil || !check(impl):
		return fmt.Errorf("router: %s: provider %s (%T) does not implement the capability", c, provider, impl)
	}
	r.update(func(t table) {
		t[c] = append(slices.DeleteFunc(t[c], func(l layer) bool { return l.provider == provider }), layer{provider, impl})
	})
	return nil
}

// SetAll routes every capability impl implements to it and returns them.
func (r *Router) SetAll(provider string, impl any) []Capability {
	var set []Capability
	for _, c := range Capabilities {
		if interfaces[c](impl) && r.Set(c, provider, impl) == nil {
			set = append(set, c)
		}
	}
	return set
}

// Remove takes provider's routes away, from every capability when none is
// given; the layers below serve again.
func (r *Router) Remove(provider string, cs ...Capability) {
	if len(cs) == 0 {
		cs = Capabilities
	}
	r.update(func(t table) {
		for _, c := range cs {
			t[c] = slices.DeleteFunc(t[c], func(l layer) bool { return l.provider == provider })
			if len(t[c]) == 0 {
				delete(t, c)
			}
		}
	})
}

// update applies fn to a copy of the table and publishes it.
func (r *Router) update(fn func(table)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.cur.Load()
	next := make(table, len(old))
	for c, ls := range old {
		next[c] = slices.Clone(ls)
	}
	fn(next)
	r.cur.Store(&next)
	r.gauge.Reset()
	for c, ls := range next {
		top := ls[len(ls)-1]
		r.gauge.WithLabelValues(string(c), top.provider).Set(1)
		if prev := old[c]; len(prev) == 0 || prev[len(prev)-1].provider != top.provider {
			r.log.Info("capability routed", "capability", c, "provider", top.provider)
		}
	}
}

func (r *Router) top(c Capability) (layer, bool) {
	ls := (*r.cur.Load())[c]
	if len(ls) == 0 {
		return layer{}, false
	}
	return ls[len(ls)-1], true
}

// Lookup returns the implementation serving c as a T and its provider;
// ok is false when c has no route (or its provider is not a T).
func Lookup[T any](r *Router, c Capability) (impl T, provider string, ok bool) {
	l, found := r.top(c)
	if !found {
		return impl, "", false
	}
	impl, ok = l.impl.(T)
	return impl, l.provider, ok
}

// Provider names the provider serving c, "" when none does.
func (r *Router) Provider(c Capability) string {
	l, _ := r.top(c)
	return l.provider
}

// Routes lists the serving provider of every routed capability, in the
// order of Capabilities.
func (r *Router) Routes() []Route {
	var out []Route
	for _, c := range Capabilities {
		if l, ok := r.top(c); ok {
			out = append(out, Route{c, l.provider})
		}
	}
	return out
}

func get[T any](r *Router, c Capability) T {
	v, _, _ := Lookup[T](r, c)
	return v
}

// Summarizer serves Summary; nil when unrouted.
func (r *Router) Summarizer() inference.Summarizer { return get[inference.Summarizer](r, Summary) }

// NoteWriter serves Notes; nil when unrouted.
func (r *Router) NoteWriter() inference.NoteWriter { return get[inference.NoteWriter](r, Notes) }

// TaskExtractor serves Tasks; nil when unrouted.
func (r *Router) TaskExtractor() inference.TaskExtractor {
	return get[inference.TaskExtractor](r, Tasks)
}

// DispositionClassifier serves Disposition; nil when unrouted.
func (r *Router) DispositionClassifier() inference.DispositionClassifier {
	return get[inference.DispositionClassifier](r, Disposition)
}

// KeywordExtractor serves Keywords; nil when unrouted.
func (r *Router) KeywordExtractor() inference.KeywordExtractor {
	return get[inference.KeywordExtractor](r, Keywords)
}

// TopicDetector serves Topics; nil when unrouted.
func (r *Router) TopicDetector() inference.TopicDetector {
	return get[inference.TopicDetector](r, Topics)
}

// SentimentAnalyzer serves Sentiment; nil when unrouted.
func (r *Router) SentimentAnalyzer() inference.SentimentAnalyzer {
	return get[inference.SentimentAnalyzer](r, Sentiment)
}

// IntentDetector serves Intents; nil when unrouted.
func (r *Router) IntentDetector() inference.IntentDetector {
	return get[inference.IntentDetector](r, Intents)
}

// Generator serves Generate; nil when unrouted.
func (r *Router) Generator() inference.Generator { return get[inference.Generator](r, Generate) }

// NextStepWorder serves NextStep; nil when unrouted.
func (r *Router) NextStepWorder() inference.NextStepWorder {
	return get[inference.NextStepWorder](r, NextStep)
}

// Embedder serves Embed; nil when unrouted.
func (r *Router) Embedder() inference.Embedder { return get[inference.Embedder](r, Embed) }
