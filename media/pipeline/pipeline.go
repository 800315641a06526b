package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/vad"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors returned by the pipeline.
var (
	// ErrBusy refuses a new engagement or party: the engagement limit is
	// reached, the recogniser is behind, or no recogniser is free. Map it
	// to HTTP 503 / SIP 486.
	ErrBusy = errors.New("pipeline: at capacity")
	// ErrOverflow is returned by a write when the party's queue of audio
	// waiting for the recogniser is full. The audio is not queued; the
	// loss is counted and reported in Stats.
	ErrOverflow = errors.New("pipeline: party queue full")
	// ErrClosed is returned by writes after Close.
	ErrClosed = errors.New("pipeline: engagement closed")
)

// Config configures a Pipeline.
type Config struct {
	// MaxEngagements is the number of live engagements admitted at once.
	// Set it from the measured capacity of the machine (see the package
	// benchmarks); the recogniser pool bounds it as well.
	MaxEngagements int `json:"max_engagements"`
	// MaxQueuedAudio bounds, per party, the audio waiting for the
	// recogniser. Beyond it live writes fail with ErrOverflow.
	MaxQueuedAudio time.Duration `json:"max_queued_audio"`
	// AdmitBacklog: while any party's queued audio exceeds it, new
	// engagements are refused (the recogniser is falling behind).
	AdmitBacklog time.Duration `json:"admit_backlog"`
	// PartialInterval is the minimum interval of audio between two
	// partial segments of one party (0 disables partials).
	PartialInterval time.Duration `json:"partial_interval"`
	// VAD tunes the voice activity detector.
	VAD vad.Config `json:"vad"`
	// ModeTriggers are phrases that, in one party's final segment, switch
	// the other parties' recognisers to a mode for their next utterance
	// ("digits" after "your card number"), where the recogniser has modes.
	ModeTriggers map[stt.Mode][]string `json:"mode_triggers"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	// 4 two-party engagements = 8 recogniser streams. The accurate
	// PocketSphinx search (the default) uses about 0.19 CPU-s per audio
	// second on held-out speech (TestEvalHeldOutDev, loaded machine),
	// about three times the fast search, whose figures follow: the fast
	// search uses 0.11/0.14 CPU-s per audio second on a quiet core
	// (wideband/narrowband, continuous speech; TestEvalRecognizerCPU) and
	// about 0.22 with 4-8 busy streams sharing 2 cores. On 2 cores shared
	// with other work, 6 narrowband streams of continuous speech keep up
	// with p95 final latency 0.06-0.15 s; 8 keep up without a growing
	// backlog but their p95 is 0.45-1.6 s depending on the other load.
	// Callers talk about half the time; see TestEvalConcurrentStreams.
	return Config{
		MaxEngagements:  4,
		MaxQueuedAudio:  60 * time.Second,
		AdmitBacklog:    5 * time.Second,
		PartialInterval: 500 * time.Millisecond,
		VAD:             vad.DefaultConfig(),
		ModeTriggers:    DefaultModeTriggers(),
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.MaxEngagements <= 0:
		return fmt.Errorf("pipeline: max_engagements must be positive, got %d", c.MaxEngagements)
	case c.MaxQueuedAudio < time.Second:
		return fmt.Errorf("pipeline: max_queued_audio must be at least 1s, got %s", c.MaxQueuedAudio)
	case c.AdmitBacklog <= 0 || c.AdmitBacklog > c.MaxQueuedAudio:
		return fmt.Errorf("pipeline: admit_backlog must be in (0, max_queued_audio], got %s", c.AdmitBacklog)
	case c.PartialInterval < 0:
		return fmt.Errorf("pipeline: partial_interval must not be negative")
	}
	if _, err := newTriggers(c.ModeTriggers); err != nil {
		return err
	}
	return c.VAD.Validate()
}

// Segment is one transcript segment of one party.
type Segment struct {
	EngagementID string `json:"engagement_id"`
	Party        string `json:"party"`
	// Seq increases by one per segment of the engagement (all parties).
	Seq uint64 `json:"seq"`
	// StartMs and EndMs are milliseconds on the engagement's media clock:
	// from the start of the audio for offline engagements (every party
	// starts at 0); for live ones from the arrival of the engagement's
	// first media packet, each party starting when its own first packet
	// arrived. Within a party, time follows its audio (RTP timestamps, gaps
	// filled), not the arrival of packets.
	StartMs int64      `json:"start_ms"`
	EndMs   int64      `json:"end_ms"`
	Text    string     `json:"text"`
	Words   []stt.Word `json:"words,omitempty"`
	// Final is false for partial hypotheses, which a later segment of the
	// same party (partial or final) replaces.
	Final bool `json:"final"`
	// Revises, when not zero, is the Seq of an earlier final segment of
	// the same party that this final replaces: a second recogniser's
	// better transcript of the same utterance (two-pass recognition). A
	// final is revised at most once.
	Revises uint64 `json:"revises,omitempty"`
}

// Pipeline admits engagements and runs their parties. It is safe for
// concurrent use.
type Pipeline struct {
	cfg      Config
	log      *slog.Logger
	m        *metrics
	engine   stt.Engine
	triggers triggers

	mu      sync.Mutex
	active  int                 // +checklocks:mu
	parties map[*Party]struct{} // +checklocks:mu
}

// New returns a pipeline that recognises with engine. A nil logger
// discards; reg may be nil (no metrics exported).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, engine stt.Engine) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if engine == nil {
		return nil, errors.New("pipeline: nil engine")
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if c, ok := engine.(cardContextReader); ok {
		if err := registerCardContext(reg, c); err != nil {
			return nil, err
		}
	}
	if c, ok := engine.(warpCounter); ok {
		if err := registerWarps(reg, c); err != nil {
			return nil, err
		}
	}
	if c, ok := engine.(spokenFormsReader); ok {
		if err := registerSpokenForms(reg, c); err != nil {
			return nil, err
		}
	}
	if c, ok := engine.(recogniserPool); ok {
		if err := registerRecogniserPool(reg, c); err != nil {
			return nil, err
		}
	}
	// The recogniser pool is the measured capacity's hard bound: never
	// admit more live engagements than there are recognisers.
	if c, ok := engine.(interface{ MaxStreams() int }); ok && c.MaxStreams() < cfg.MaxEngagements {
		logger.Warn("max_engagements above the recogniser pool; lowered", "max_engagements", cfg.MaxEngagements,
			"recognisers", c.MaxStreams())
		cfg.MaxEngagements = c.MaxStreams()
	}
	tr, _ := newTriggers(cfg.ModeTriggers) // checked by Validate
	return &Pipeline{cfg: cfg, log: logger.With("component", "pipeline"), m: m, engine: engine, triggers: tr,
		parties: map[*Party]struct{}{}}, nil
}

// OpenOptions describes a new engagement.
type OpenOptions struct {
	// ID is the engagement ID (copied into segments and logs).
	ID string
	// Source labels metrics: "whip", "sip", "websocket", "upload", "file".
	Source string
	// Blocking makes writes wait for queue space instead of failing with
	// ErrOverflow. Use it for files and uploads, which are read as fast as
	// the recogniser goes; never for live media.
	Blocking bool
	// Offline engagements (uploads, files) do not count against
	// MaxEngagements but still need free recognisers; all their parties
	// start at 0 on the engagement's clock.
	Offline bool
	// SegmentBuffer is the capacity of the Segments channel (default 64).
	SegmentBuffer int
	// Profile is handed to the recogniser of every party
	// (stt.StreamOptions.Profile): the engagement's queue, which picks its
	// engine and domain language model.
	Profile string
	// OwnLimit engagements are bounded by their opener's own limit (voice
	// bot calls: one party, a lighter recogniser) instead of
	// MaxEngagements, and do not count against it; the backlog check
	// still applies to them.
	OwnLimit bool
	// Engine is handed to the recogniser of every party
	// (stt.StreamOptions.Engine): a router's engine for the engagement
	// in place of its profile's; "" for the profile's.
	Engine string
	// OnSpeechStart, when set, is called from a party's worker as soon as
	// the voice activity detector opens a speech region (before any
	// recognition): a voice bot stops its prompt on it (barge-in). It must
	// not block.
	OnSpeechStart func(party string)
}

// Open admits a new engagement. It returns ErrBusy (wrapped, counted) when
// at capacity. Cancelling ctx aborts the engagement: workers stop without
// flushing and Segments is closed.
func (p *Pipeline) Open(ctx context.Context, opts OpenOptions) (*Engagement, error) {
	if opts.Source == "" {
		opts.Source = "unknown"
	}
	p.mu.Lock()
	if !opts.Offline {
		if !opts.OwnLimit && p.active >= p.cfg.MaxEngagements {
			p.mu.Unlock()
			p.m.refused.WithLabelValues("max_engagements").Inc()
			return nil, fmt.Errorf("%w: %d live engagements", ErrBusy, p.cfg.MaxEngagements)
		}
		if b := p.maxBacklogLocked(); b > p.cfg.AdmitBacklog {
			p.mu.Unlock()
			p.m.refused.WithLabelValues("backlog").Inc()
			return nil, fmt.Errorf("%w: recogniser backlog %s", ErrBusy, b.Round(time.Millisecond))
		}
		if !opts.OwnLimit {
			p.active++
		}
		p.m.active.Inc()
	}
	p.mu.Unlock()
	bufN := opts.SegmentBuffer
	if bufN <= 0 {
		bufN = 64
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &Engagement{p: p, opts: opts, ctx: ctx, cancel: cancel, out: make(chan Segment, bufN), done: make(chan struct{})}
	p.log.Debug("engagement opened", "engagement", opts.ID, "source", opts.Source)
	return e, nil
}

// Backlog returns the largest queued-audio backlog of any party.
func (p *Pipeline) Backlog() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxBacklogLocked()
}

// +checklocks:p.mu
func (p *Pipeline) maxBacklogLocked() time.Duration {
	var b time.Duration
	for pt := range p.parties {
		b = max(b, pt.q.backlog())
	}
	return b
}

func (p *Pipeline) release(e *Engagement) {
	if e.opts.Offline {
		return
	}
	if !e.opts.OwnLimit {
		p.mu.Lock()
		p.active--
		p.mu.Unlock()
	}
	p.m.active.Dec()
}

// PartyOptions describes one party's audio.
type PartyOptions struct {
	// Name labels the party ("agent", "customer", "caller", ...).
	Name string
	// Format of the payloads written to this party.
	Format codec.Format
	// Channel selects one channel of a multi-channel payload (0-based);
	// -1 downmixes all channels. Ignored for mono.
	Channel int
}

// Stats are the counters of one party.
type Stats struct {
	AudioMs        int64 // audio received, gaps excluded
	SilenceMs      int64 // silence inserted for gaps
	PacketsLost    int64
	PacketsLate    int64
	DecodeErrors   int64
	OverflowMs     int64 // audio refused with ErrOverflow
	Utterances     int64
	RecognizerTime time.Duration // wall time spent in the recogniser
	RecognizerCPU  time.Duration // recogniser thread CPU time, if the engine reports it
	RecognizedMs   int64         // audio fed to the recogniser
}

// Engagement is one admitted engagement.
type Engagement struct {
	p      *Pipeline
	opts   OpenOptions
	ctx    context.Context
	cancel context.CancelFunc
	out    chan Segment

	mu      sync.Mutex
	parties []*Party // +checklocks:mu
	closed  bool     // +checklocks:mu
	sendMu  sync.Mutex
	seq     uint64 // +checklocks:sendMu
	// origin is when the first media packet of a live engagement arrived,
	// or the start of its media clock as the ingest protocol placed it.
	originMu sync.Mutex
	origin   time.Time // +checklocks:originMu
	wg       sync.WaitGroup
	done     chan struct{}
	once     sync.Once
}

// ID returns the engagement ID.
func (e *Engagement) ID() string { return e.opts.ID }

// Heard returns how far a party's audio has been through the voice
// activity detector, as a time on the engagement's clock (Origin plus
// the audio's position), and false while the party has none. Speech
// starts and segments up to that point have been reported: a voice bot
// that waits for the caller's silence counts it on this clock, which
// lags the wall clock by the recogniser's backlog.
func (e *Engagement) Heard(party string) (time.Time, bool) {
	o := e.Origin()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, pt := range e.parties {
		if pt.opts.Name == party {
			ms := pt.heardMs.Load()
			if ms < 0 || o.IsZero() {
				return time.Time{}, false
			}
			return o.Add(time.Duration(ms) * time.Millisecond), true
		}
	}
	return time.Time{}, false
}

// Segments returns the channel of transcript segments. The pipeline closes
// it after Close (or ctx cancellation) once all parties have drained.
func (e *Engagement) Segments() <-chan Segment { return e.out }

// AddParty starts a party. It takes a recogniser from the engine and
// returns ErrBusy (wrapped) when none is free.
func (e *Engagement) AddParty(opts PartyOptions) (*Party, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	for _, pt := range e.parties {
		if pt.opts.Name == opts.Name {
			return nil, fmt.Errorf("pipeline: party %q already exists", opts.Name)
		}
	}
	dec, err := codec.NewDecoder(opts.Format)
	if err != nil {
		return nil, fmt.Errorf("pipeline: party %q: %w", opts.Name, err)
	}
	if opts.Channel >= dec.Channels() {
		return nil, fmt.Errorf("pipeline: party %q: channel %d of a %d-channel stream", opts.Name, opts.Channel, dec.Channels())
	}
	st, err := e.p.engine.NewStream(e.ctx, stt.StreamOptions{Narrowband: dec.SampleRate() <= 8000, Profile: e.opts.Profile, Engine: e.opts.Engine})
	if err != nil {
		if errors.Is(err, stt.ErrBusy) {
			e.p.m.refused.WithLabelValues("recognizer").Inc()
			return nil, fmt.Errorf("%w: %w", ErrBusy, err)
		}
		return nil, fmt.Errorf("pipeline: party %q: %w", opts.Name, err)
	}
	pt, err := newParty(e, opts, dec, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	e.parties = append(e.parties, pt)
	e.p.mu.Lock()
	e.p.parties[pt] = struct{}{}
	e.p.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		pt.run()
	}()
	return pt, nil
}

// Close ends the input of every party. It does not wait: workers drain
// their queues, emit the last final segments and then the Segments channel
// is closed. Use Wait to block until then.
func (e *Engagement) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	parties := append([]*Party(nil), e.parties...)
	e.mu.Unlock()
	for _, pt := range parties {
		pt.q.close()
	}
	go func() {
		e.wg.Wait()
		e.finish()
	}()
}

// Abort stops the engagement without draining.
func (e *Engagement) Abort() {
	e.cancel()
	e.Close()
}

// Wait blocks until the Segments channel is closed or ctx is done.
func (e *Engagement) Wait(ctx context.Context) error {
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engagement) finish() {
	e.once.Do(func() {
		e.mu.Lock()
		for _, pt := range e.parties {
			e.p.mu.Lock()
			delete(e.p.parties, pt)
			e.p.mu.Unlock()
		}
		e.mu.Unlock()
		close(e.out)
		e.p.release(e)
		e.cancel()
		close(e.done)
	})
}

// Stats returns the counters of each party by name.
func (e *Engagement) Stats() map[string]Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := make(map[string]Stats, len(e.parties))
	for _, pt := range e.parties {
		s[pt.opts.Name] = pt.stats()
	}
	return s
}

// placeOffset returns the offset (ms) on the engagement's clock of media
// lying offset after origin (wall clock): the engagement's first origin
// becomes its clock's zero. It is 0 for offline engagements, and never
// before the zero.
func (e *Engagement) placeOffset(origin time.Time, offset time.Duration) int64 {
	if e.opts.Offline {
		return 0
	}
	e.originMu.Lock()
	defer e.originMu.Unlock()
	if e.origin.IsZero() {
		e.origin = origin
	}
	return max(0, origin.Add(offset).Sub(e.origin).Milliseconds())
}

// Origin returns when the first media packet of a live engagement
// arrived: the zero of its segments' times (zero until then, and for
// offline engagements).
func (e *Engagement) Origin() time.Time {
	e.originMu.Lock()
	defer e.originMu.Unlock()
	return e.origin
}

// emit sends a segment and returns its Seq; it blocks until the consumer
// reads or ctx is done (false then).
func (e *Engagement) emit(s Segment) (uint64, bool) {
	e.sendMu.Lock() // keeps Seq in channel order across parties
	defer e.sendMu.Unlock()
	e.seq++
	s.Seq = e.seq
	s.EngagementID = e.opts.ID
	select {
	case e.out <- s:
		switch {
		case s.Revises != 0:
			e.p.m.segments.WithLabelValues("revised").Inc()
		case s.Final:
			e.p.m.segments.WithLabelValues("final").Inc()
		default:
			e.p.m.segments.WithLabelValues("partial").Inc()
		}
		return s.Seq, true
	case <-e.ctx.Done():
		return 0, false
	}
}

// modeHeard is called with every final segment: a trigger phrase in one
// party's speech (the agent asking "can I have your card number") switches
// the other parties to that mode for their next utterance.
func (e *Engagement) modeHeard(from *Party, text string) {
	m, ok := e.p.triggers.match(text)
	if !ok {
		return
	}
	e.mu.Lock()
	parties := append([]*Party(nil), e.parties...)
	e.mu.Unlock()
	for _, pt := range parties {
		if pt != from {
			pt.requestMode(m, true)
		}
	}
}
