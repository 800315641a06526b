package pool

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/earshot/earshot/media/stt"
)

// Engine modes.
const (
	// Revise: the local final is delivered at once and replaced when the
	// server's transcript comes (two-pass).
	Revise = "two-pass"
	// Deferred: no partials; each utterance's final is the server's
	// transcript, or the local recogniser's when the server cannot give
	// one (engine whisper-http with the local recogniser as fallback).
	Deferred = "whisper-http"
)

// pad is the audio kept around the local final's words when the
// utterance is sent, so that the server hears whole words.
const pad = 200 * time.Millisecond

// Engine combines a local streaming recogniser with the pool.
type Engine struct {
	local stt.Engine
	p     *Pool
	mode  string
}

var _ stt.Engine = (*Engine)(nil)

// NewEngine returns the two-pass (Revise) or deferred engine over local.
func NewEngine(local stt.Engine, p *Pool, mode string) (*Engine, error) {
	if mode != Revise && mode != Deferred {
		return nil, errors.New("pool: engine mode must be two-pass or whisper-http")
	}
	return &Engine{local: local, p: p, mode: mode}, nil
}

// Name implements stt.Engine.
func (e *Engine) Name() string { return e.mode }

// MaxStreams is the local recogniser's bound, which every stream needs.
func (e *Engine) MaxStreams() int {
	if m, ok := e.local.(interface{ MaxStreams() int }); ok {
		return m.MaxStreams()
	}
	return 1 << 20
}

// NewStream implements stt.Engine: a local stream, whose utterances go
// to the pool as they end.
func (e *Engine) NewStream(ctx context.Context, opts stt.StreamOptions) (stt.Stream, error) {
	ls, err := e.local.NewStream(ctx, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	return &stream{e: e, local: ls, ctx: ctx, cancel: cancel, revs: make(chan stt.Result, 64)}, nil
}

type stream struct {
	e      *Engine
	local  stt.Stream
	ctx    context.Context
	cancel context.CancelFunc

	buf      []int16 // audio of the current utterance
	bufStart int64   // stream sample index of buf[0]
	fed      int64
	nextID   uint64

	revs      chan stt.Result
	wg        sync.WaitGroup
	closeRevs sync.Once
	draining  bool
	closed    bool
}

var (
	_ stt.Reviser     = (*stream)(nil)
	_ stt.ModeSetter  = (*stream)(nil)
	_ stt.CPUReporter = (*stream)(nil)
)

func (s *stream) Write(pcm []int16) ([]stt.Result, error) {
	if s.closed {
		return nil, errors.New("pool: stream closed")
	}
	s.buf = append(s.buf, pcm...)
	s.fed += int64(len(pcm))
	if max := int(s.e.p.cfg.MaxUtterance.Seconds()*stt.Rate) * 2; len(s.buf) > max {
		// Keep the buffer bounded when the local recogniser never ends
		// an utterance: older audio is dropped (that utterance will be
		// too long to send anyway).
		drop := len(s.buf) - max
		s.buf = append(s.buf[:0], s.buf[drop:]...)
		s.bufStart += int64(drop)
	}
	res, err := s.local.Write(pcm)
	return s.finals(res, false), err
}

func (s *stream) EndUtterance() ([]stt.Result, error) {
	if s.closed {
		return nil, errors.New("pool: stream closed")
	}
	res, err := s.local.EndUtterance()
	out := s.finals(res, true)
	s.buf = s.buf[:0]
	s.bufStart = s.fed
	return out, err
}

// finals sends the utterance of each final result to the pool and
// returns the results to deliver now.
func (s *stream) finals(res []stt.Result, ended bool) []stt.Result {
	out := res[:0:0]
	for _, r := range res {
		if !r.Final {
			if s.e.mode == Revise {
				out = append(out, r)
			}
			continue
		}
		if r.Text == "" || s.draining {
			if s.e.mode == Revise || r.Text != "" {
				out = append(out, r)
			}
			continue
		}
		s.nextID++
		r.ID = s.nextID
		pcm, offMs := s.slice(r)
		if !ended {
			// The local recogniser ended an utterance inside Write: the
			// audio up to its end is done with.
			if cut := min(max(r.EndMs*stt.Rate/1000-s.bufStart, 0), int64(len(s.buf))); cut > 0 {
				s.buf = append(s.buf[:0], s.buf[cut:]...)
				s.bufStart += cut
			}
		}
		if !s.send(r, pcm, offMs) {
			// Not sent: the local final stands, now.
			if s.e.mode == Deferred {
				r.ID = 0
			}
			out = append(out, r)
			continue
		}
		if s.e.mode == Revise {
			out = append(out, r)
		}
	}
	return out
}

// slice returns a copy of the utterance's audio around the final's words,
// and its start (ms on the stream's clock).
func (s *stream) slice(r stt.Result) ([]int16, int64) {
	p := int64(pad / time.Millisecond)
	from := max((r.StartMs-p)*stt.Rate/1000-s.bufStart, 0)
	to := min((r.EndMs+p)*stt.Rate/1000-s.bufStart, int64(len(s.buf)))
	if to <= from {
		from, to = 0, int64(len(s.buf))
	}
	return append([]int16(nil), s.buf[from:to]...), (s.bufStart + from) * 1000 / stt.Rate
}

// send starts the re-recognition of one utterance, without waiting. It
// reports false when the utterance is not sent (counted).
func (s *stream) send(local stt.Result, pcm []int16, offMs int64) bool {
	p := s.e.p
	d := time.Duration(len(pcm)) * time.Second / stt.Rate
	switch {
	case d < p.cfg.MinUtterance:
		p.m.skipped.WithLabelValues("too_short").Inc()
		return false
	case d > p.cfg.MaxUtterance:
		p.m.skipped.WithLabelValues("too_long").Inc()
		return false
	}
	lease, err := p.Acquire()
	if err != nil {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		text, words, err := lease.Transcribe(s.ctx, pcm)
		r, outcome := s.decide(local, text, words, offMs, err)
		p.m.revisions.WithLabelValues(outcome).Inc()
		if outcome != "replaced" && (s.e.mode == Revise || outcome == "cancelled") {
			return
		}
		if outcome != "replaced" {
			// Deferred: the local final stands, late.
			r = local
			r.ID, r.Revises = 0, 0
		}
		select {
		case s.revs <- r:
		case <-s.ctx.Done():
		}
	}()
	return true
}

// decide turns the server's answer into the revision of local.
func (s *stream) decide(local stt.Result, text string, words []stt.Word, offMs int64, err error) (stt.Result, string) {
	switch {
	case err != nil && s.ctx.Err() != nil:
		return local, "cancelled"
	case err != nil:
		return local, "failed"
	case strings.TrimSpace(text) == "":
		return local, "empty"
	}
	r := stt.Result{Text: text, Final: true, StartMs: local.StartMs, EndMs: local.EndMs}
	for _, w := range words {
		w.StartMs += offMs
		w.EndMs += offMs
		r.Words = append(r.Words, w)
	}
	if s.e.mode == Revise {
		if sameWords(text, local.Text) {
			return local, "unchanged"
		}
		r.Revises = local.ID
	}
	return r, "replaced"
}

// sameWords compares transcripts as words, ignoring case and punctuation.
func sameWords(a, b string) bool {
	f := func(s string) string {
		return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
		}), " ")
	}
	return f(a) == f(b)
}

// Revisions implements stt.Reviser.
func (s *stream) Revisions() <-chan stt.Result { return s.revs }

// Drain implements stt.Reviser: nothing more is sent; the channel closes
// when the utterances in flight are answered or time out.
func (s *stream) Drain() {
	if s.draining {
		return
	}
	s.draining = true
	go func() {
		s.wg.Wait()
		s.closeRevs.Do(func() { close(s.revs) })
	}()
}

// SetMode implements stt.ModeSetter when the local recogniser does.
func (s *stream) SetMode(m stt.Mode) error {
	if ms, ok := s.local.(stt.ModeSetter); ok {
		return ms.SetMode(m)
	}
	return errors.New("pool: the local recogniser has no listening modes")
}

// CPUTime implements stt.CPUReporter with the local recogniser's CPU (the
// servers' is theirs).
func (s *stream) CPUTime() time.Duration {
	if c, ok := s.local.(stt.CPUReporter); ok {
		return c.CPUTime()
	}
	return 0
}

// Close abandons pending revisions and releases the local stream.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.cancel()
	s.wg.Wait() // requests return promptly once cancelled
	s.closeRevs.Do(func() { close(s.revs) })
	return s.local.Close()
}
