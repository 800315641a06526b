package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference/builtin"
	"github.com/earshot/earshot/media/stt/lm"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// DomainLMConfig configures the queues' domain language models.
type DomainLMConfig struct {
	// Enabled builds a model per queue from the site's text (knowledge-base
	// articles of the queue and of every queue, the intents' training
	// phrases, the site vocabulary) and interpolates it with the general
	// model for the queue's calls.
	Enabled bool `yaml:"enabled"`
	// Weight of the domain model in the interpolation (0..1).
	Weight float64 `yaml:"weight"`
	// Build: rebuild interval, pruning, versions kept.
	Build lm.Config `yaml:"build"`
}

// DefaultDomainLMConfig returns the defaults: off until a site turns it on
// (it changes what its recogniser hears).
func DefaultDomainLMConfig() DomainLMConfig {
	return DomainLMConfig{Weight: 0.5, Build: lm.DefaultConfig()}
}

// Validate checks the configuration.
func (c DomainLMConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	if c.Weight <= 0 || c.Weight >= 1 {
		return fmt.Errorf("domain_lm.weight must be in (0, 1), got %v", c.Weight)
	}
	return c.Build.Validate()
}

// lmSource is the site's text per queue, read from the store.
type lmSource struct {
	d     *Daemon
	vocab []string
}

func (s lmSource) Profiles(ctx context.Context) ([]string, error) {
	qs, err := s.d.store.Queues(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.ID
	}
	return out, nil
}

func (s lmSource) Text(ctx context.Context, queue string) ([]string, error) {
	arts, err := s.d.store.Articles(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(arts, func(i, j int) bool { return arts[i].ID < arts[j].ID })
	var docs []string
	for _, a := range arts {
		if a.Queue == "" || a.Queue == queue {
			docs = append(docs, a.Title, a.Body)
		}
	}
	var intents []builtin.IntentPhrases
	if err := s.d.store.Setting(settingIntents, &intents); err == nil {
		sort.Slice(intents, func(i, j int) bool { return intents[i].Intent < intents[j].Intent })
		for _, in := range intents {
			docs = append(docs, strings.Join(in.Phrases, "\n"))
		}
	}
	if len(s.vocab) > 0 {
		docs = append(docs, strings.Join(s.vocab, "\n"))
	}
	return docs, nil
}

// lmInstaller hands built models to the PocketSphinx engine, keeping them
// until the engine exists (it is created on the first call).
type lmInstaller struct {
	weight float64
	mu     sync.Mutex
	engs   []*pocketsphinx.Engine // +checklocks:mu
	built  map[string]lm.Built    // +checklocks:mu
}

func (i *lmInstaller) Install(profile string, b lm.Built) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.built == nil {
		i.built = map[string]lm.Built{}
	}
	i.built[profile] = b
	var errs []error
	for _, e := range i.engs {
		errs = append(errs, e.SetDomainLM(profile, pocketsphinx.DomainLM{Path: b.Path, Version: b.Version, Weight: i.weight}))
	}
	return errors.Join(errs...)
}

// attach gives an engine every model built so far, and the ones built
// after.
func (i *lmInstaller) attach(e *pocketsphinx.Engine) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.engs = append(i.engs, e)
	for _, p := range slices.Sorted(maps.Keys(i.built)) {
		b := i.built[p]
		if err := e.SetDomainLM(p, pocketsphinx.DomainLM{Path: b.Path, Version: b.Version, Weight: i.weight}); err != nil {
			return err
		}
	}
	return nil
}

// lmRunner runs the domain language model builds in the background.
type lmRunner struct {
	m    *lm.Manager
	stop context.CancelFunc
	done chan struct{}
}

func startLM(d *Daemon, cfg MediaConfig, es *engines, logger *slog.Logger, reg prometheus.Registerer) (*lmRunner, error) {
	vocab := slices.Sorted(maps.Keys(cfg.PocketSphinx.Vocabulary))
	inst := &lmInstaller{weight: cfg.DomainLM.Weight}
	m, err := lm.NewManager(cfg.DomainLM.Build, logger, reg, lmSource{d: d, vocab: vocab}, inst, pocketsphinx.Known(cfg.PocketSphinx))
	if err != nil {
		return nil, err
	}
	es.lm = inst
	ctx, cancel := context.WithCancel(context.Background())
	r := &lmRunner{m: m, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		m.Run(ctx)
	}()
	return r, nil
}

func (r *lmRunner) close() {
	if r != nil {
		r.stop()
		<-r.done
	}
}

// lmChanged says the site's text changed: the queues' models are checked
// now rather than at the next interval.
func (m *mediaRouter) lmChanged() {
	if m != nil && m.lm != nil {
		m.lm.m.Trigger()
	}
}
