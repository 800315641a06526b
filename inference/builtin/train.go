package builtin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// Model kinds that can be trained, exported and imported.
const (
	KindIntent      = "intent"
	KindDisposition = "disposition"
	KindSentiment   = "sentiment"
)

// ErrBusy is returned by Trainer.Submit when a training job is already
// running or queued.
var ErrBusy = errors.New("builtin: a training job is already running")

// JobStatus is the state of a background training job.
type JobStatus struct {
	ID       uint64    `json:"id"`
	Kind     string    `json:"kind"`
	State    string    `json:"state"` // "running", "done", "failed"
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
}

// Trainer runs training jobs in the background, one at a time (training
// uses every core it is given); the provider swaps each new model in
// atomically when its job succeeds. Close waits for a running job.
type Trainer struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	nextID uint64               // +checklocks:mu
	busy   bool                 // +checklocks:mu
	jobs   map[uint64]JobStatus // +checklocks:mu
}

// NewTrainer returns a trainer; cancelling ctx or calling Close stops
// accepting jobs.
func NewTrainer(ctx context.Context) *Trainer {
	ctx, cancel := context.WithCancel(ctx)
	return &Trainer{ctx: ctx, cancel: cancel, jobs: map[uint64]JobStatus{}}
}

// Submit starts fn (for example a closure calling Provider.TrainIntents) in
// the background and returns its job ID, or ErrBusy.
func (t *Trainer) Submit(kind string, fn func(ctx context.Context) error) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return 0, fmt.Errorf("builtin: trainer closed: %w", t.ctx.Err())
	}
	if t.busy {
		return 0, ErrBusy
	}
	t.busy = true
	t.nextID++
	id := t.nextID
	t.jobs[id] = JobStatus{ID: id, Kind: kind, State: "running", Started: time.Now()}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := fn(t.ctx)
		t.mu.Lock()
		defer t.mu.Unlock()
		st := t.jobs[id]
		st.Finished = time.Now()
		st.State = "done"
		if err != nil {
			st.State, st.Error = "failed", err.Error()
		}
		t.jobs[id] = st
		t.busy = false
	}()
	return id, nil
}

// Status returns a job's status.
func (t *Trainer) Status(id uint64) (JobStatus, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.jobs[id]
	return s, ok
}

// Close cancels the trainer's context and waits for a running job (the
// model being trained is then discarded).
func (t *Trainer) Close() {
	t.cancel()
	t.wg.Wait()
}

// Export serialises the trained model of a kind, for storage; it returns
// (nil, nil) when that kind has no trained model (the shipped default is
// in use).
func (p *Provider) Export(kind string) ([]byte, error) {
	var m *textclass.Model
	switch kind {
	case KindIntent:
		m = p.intents.Load().model
	case KindDisposition:
		m = p.disposition.Load().model
	case KindSentiment:
		m = p.sentiment.Load().trained
	default:
		return nil, fmt.Errorf("builtin: export: unknown model kind %q", kind)
	}
	if m == nil {
		return nil, nil
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("builtin: export %s: %w", kind, err)
	}
	return b, nil
}

// Import loads a model written by Export and swaps it in atomically.
// Invalid data is rejected and the current model stays in use.
func (p *Provider) Import(kind string, data []byte) error {
	var m textclass.Model
	if err := m.UnmarshalBinary(data); err != nil {
		p.metrics.badInput.WithLabelValues("model_import").Inc()
		return fmt.Errorf("builtin: import %s: %w", kind, err)
	}
	switch kind {
	case KindIntent:
		p.intents.Store(&intentModel{model: &m, version: p.intents.Load().version + 1})
	case KindDisposition:
		p.disposition.Store(&dispositionModel{model: &m, version: p.disposition.Load().version + 1, n: m.Examples})
	case KindSentiment:
		for _, l := range m.Labels {
			if !sentimentLabels[l] {
				p.metrics.badInput.WithLabelValues("model_import").Inc()
				return fmt.Errorf("builtin: import sentiment: label %q is not a sentiment", l)
			}
		}
		cur := p.sentiment.Load()
		p.sentiment.Store(&sentimentModel{lex: cur.lex, trained: &m, name: "sentiment-linear@1"})
	default:
		return fmt.Errorf("builtin: import: unknown model kind %q", kind)
	}
	return nil
}
