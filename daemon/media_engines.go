package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/stt/pool"
)

// Speech-to-text engines of media.engine and media.queues.*.engine.
const (
	enginePocketSphinx = "pocketsphinx"
	// enginePocketSphinxFast is PocketSphinx with the fast search preset:
	// voice bot calls (media.voice.recognizer) and queues that name it.
	enginePocketSphinxFast = "pocketsphinx-fast"
	engineWhisperHTTP      = pool.Deferred // the servers' transcripts, PocketSphinx as fallback
	engineTwoPass          = pool.Revise   // PocketSphinx live, revised by the servers
	engineNone             = "none"
)

// QueueMediaConfig overrides media settings for one queue.
type QueueMediaConfig struct {
	// Engine replaces media.engine for the queue's engagements.
	Engine string `yaml:"engine"`
}

func validEngine(name string, servers int) error {
	switch name {
	case enginePocketSphinx, enginePocketSphinxFast, engineNone:
		return nil
	case engineWhisperHTTP, engineTwoPass:
		if servers == 0 {
			return fmt.Errorf("engine %s needs at least one server in media.whisper.servers", name)
		}
		return nil
	}
	return fmt.Errorf("engine: %q is not one of pocketsphinx, pocketsphinx-fast, whisper-http, two-pass, none", name)
}

// engines routes each stream to the engine of its queue (the stream's
// profile): every engine shares one PocketSphinx decoder pool and one
// pool of Whisper-class servers, both created on first use.
type engines struct {
	cfg    MediaConfig
	logger *slog.Logger
	reg    prometheus.Registerer
	// localOnly reports the local-models-only switch (third-party servers).
	localOnly func() bool

	once    sync.Once
	started atomic.Bool // once's engines are set (read by metrics scrapes)
	err     error
	local   *pocketsphinx.Engine
	// fast is the fast-search PocketSphinx: its own decoder pool (the
	// search is a decoder's set-up), created when a queue or bot calls use it.
	fast   *pocketsphinx.Engine
	pool   *pool.Pool
	byName map[string]stt.Engine

	// lm receives the queues' domain language models (nil: none).
	lm *lmInstaller

	// poolRun stops the servers' health checks.
	stop    context.CancelFunc
	stopped chan struct{}
}

var _ stt.Engine = (*engines)(nil)

func newEngines(cfg MediaConfig, logger *slog.Logger, reg prometheus.Registerer, localOnly func() bool) *engines {
	return &engines{cfg: cfg, logger: logger, reg: reg, localOnly: localOnly}
}

// start creates the engines (PocketSphinx loads its models: about 90 MB
// and 0.6 s per decoder, about 145 MB and 2 s with the spoken-forms
// prior's second search, the default; so a daemon that never hears audio
// skips it).
func (es *engines) start() error {
	es.once.Do(func() {
		defer es.started.Store(true)
		es.byName = map[string]stt.Engine{engineNone: silentEngine{}}
		used := map[string]bool{es.cfg.Engine: true}
		for _, q := range es.cfg.Queues {
			if q.Engine != "" {
				used[q.Engine] = true
			}
		}
		if used[enginePocketSphinx] || used[engineWhisperHTTP] || used[engineTwoPass] {
			if es.local, es.err = pocketsphinx.New(es.cfg.PocketSphinx, es.logger); es.err != nil {
				return
			}
			es.byName[enginePocketSphinx] = es.local
			if es.lm != nil {
				if es.err = es.lm.attach(es.local); es.err != nil {
					return
				}
			}
		}
		if used[enginePocketSphinxFast] || es.cfg.Voice.Recognizer == voiceRecognizerFast {
			fc := es.cfg.PocketSphinx
			// No warp selection: a stream's first final waits for its
			// first utterance to be decoded at each warp (about 0.7 s of
			// CPU per second of speech), and the voice virtual agent
			// answers that final.
			fc.Search, fc.Warm, fc.WarpSelection = pocketsphinx.SearchFast, 0, nil
			if es.fast, es.err = pocketsphinx.New(fc, es.logger); es.err != nil {
				return
			}
			es.byName[enginePocketSphinxFast] = es.fast
			if es.lm != nil {
				if es.err = es.lm.attach(es.fast); es.err != nil {
					return
				}
			}
		}
		if used[engineWhisperHTTP] || used[engineTwoPass] {
			if es.pool, es.err = pool.New(es.cfg.Whisper, es.logger, es.reg, nil); es.err != nil {
				return
			}
			es.pool.SetLocalOnly(es.localOnly)
			for _, mode := range []string{engineWhisperHTTP, engineTwoPass} {
				e, err := pool.NewEngine(es.local, es.pool, mode)
				if err != nil {
					es.err = err
					return
				}
				es.byName[mode] = e
			}
			ctx, cancel := context.WithCancel(context.Background())
			es.stop, es.stopped = cancel, make(chan struct{})
			go func() {
				defer close(es.stopped)
				es.pool.Run(ctx)
			}()
		}
	})
	return es.err
}

// CardReadings sums the PocketSphinx engines' card readings of one kind
// ("phrase", "run"; the pipeline exports them as metrics).
func (es *engines) CardReadings(kind string) (decoded, replaced int64) {
	if !es.started.Load() {
		return 0, 0
	}
	for _, e := range []*pocketsphinx.Engine{es.local, es.fast} {
		if e != nil {
			d, r := e.CardReadings(kind)
			decoded, replaced = decoded+d, replaced+r
		}
	}
	return decoded, replaced
}

// SpokenFormsReadings sums the PocketSphinx engines' utterances read
// again with the spoken-forms prior (the pipeline exports them as
// metrics).
func (es *engines) SpokenFormsReadings() (decoded, changed int64) {
	if !es.started.Load() {
		return 0, 0
	}
	for _, e := range []*pocketsphinx.Engine{es.local, es.fast} {
		if e != nil {
			d, c := e.SpokenFormsReadings()
			decoded, changed = decoded+d, changed+c
		}
	}
	return decoded, changed
}

// DecoderPool sums the PocketSphinx engines' decoders made in the
// background, those that failed, and the new streams that waited for a
// decoder to be made (the pipeline exports them as metrics).
func (es *engines) DecoderPool() (made, failed, waited int64) {
	if !es.started.Load() {
		return 0, 0, 0
	}
	for _, e := range []*pocketsphinx.Engine{es.local, es.fast} {
		if e != nil {
			m, f, w := e.DecoderPool()
			made, failed, waited = made+m, failed+f, waited+w
		}
	}
	return made, failed, waited
}

// WarpStreams sums the PocketSphinx engines' streams by the frequency
// warp chosen (the pipeline exports them as metrics).
func (es *engines) WarpStreams() map[string]int64 {
	out := map[string]int64{}
	if !es.started.Load() {
		return out
	}
	for _, e := range []*pocketsphinx.Engine{es.local, es.fast} {
		if e != nil {
			for w, n := range e.WarpStreams() {
				out[w] += n
			}
		}
	}
	return out
}

// engineFor names the engine of a queue.
func (es *engines) engineFor(queue string) string {
	if q, ok := es.cfg.Queues[queue]; ok && q.Engine != "" {
		return q.Engine
	}
	return es.cfg.Engine
}

// NewStream implements stt.Engine: opts.Profile is the queue; opts.Engine,
// when set, overrides the queue's engine.
func (es *engines) NewStream(ctx context.Context, opts stt.StreamOptions) (stt.Stream, error) {
	name := cmp.Or(opts.Engine, es.engineFor(opts.Profile))
	if err := es.start(); err != nil {
		return nil, fmt.Errorf("speech-to-text engine %s: %w", name, err)
	}
	e, ok := es.byName[name]
	if !ok {
		return nil, fmt.Errorf("speech-to-text engine %s is not configured", name)
	}
	return e.NewStream(ctx, opts)
}

// Name implements stt.Engine.
func (es *engines) Name() string { return es.cfg.Engine }

// MaxStreams bounds the pipeline by the PocketSphinx decoder pool, which
// every engine but none uses.
func (es *engines) MaxStreams() int {
	if es.cfg.Engine == engineNone && len(es.cfg.Queues) == 0 {
		return 1 << 20
	}
	return es.cfg.PocketSphinx.MaxDecoders
}

// Close stops the health checks and frees idle decoders.
func (es *engines) Close() error {
	es.once.Do(func() {}) // nothing is created after Close
	if es.stop != nil {
		es.stop()
		<-es.stopped
	}
	var errs []error
	for _, e := range []*pocketsphinx.Engine{es.local, es.fast} {
		if e != nil {
			errs = append(errs, e.Close())
		}
	}
	return errors.Join(errs...)
}
