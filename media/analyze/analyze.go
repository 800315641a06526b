// Package analyze processes a recorded engagement offline: a WAV file (any
// of the encodings media/wav accepts, each channel mapped to a party) runs
// through the same pipeline as live audio, as fast as the recogniser goes;
// a ready transcript (JSON segments) is validated and taken as is. It backs
// the upload route and `earshot analyze FILE`.
package analyze

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/wav"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrBadInput is wrapped by every error caused by the uploaded content.
var ErrBadInput = errors.New("analyze: bad input")

// Options tune one analysis.
type Options struct {
	// ID is the engagement ID given to the pipeline (default "offline").
	ID string
	// Parties maps channel i to a party name. Default: mono "speaker";
	// multi-channel "channel1", "channel2", ...
	Parties []string
	// Downmix mixes all channels into the first party instead.
	Downmix bool
	// Source labels metrics (default "upload").
	Source string
}

// Result is the outcome of an analysis.
type Result struct {
	Kind string `json:"kind"` // "audio" or "transcript"
	// Segments are the final segments in time order (start, then party),
	// numbered 1, 2, ... in it; times are ms from the start of the audio.
	Segments   []pipeline.Segment `json:"segments"`
	DurationMs int64              `json:"duration_ms"`
	// ProcessingMs is the wall time spent (audio only).
	ProcessingMs int64 `json:"processing_ms"`
	// Stats are the pipeline counters by party (audio only).
	Stats map[string]pipeline.Stats `json:"stats,omitempty"`
}

// Analyzer runs offline analyses on a pipeline.
type Analyzer struct {
	p   *pipeline.Pipeline
	log *slog.Logger
	bad *prometheus.CounterVec
}

// New returns an analyzer using p. A nil logger discards; reg may be nil.
func New(p *pipeline.Pipeline, logger *slog.Logger, reg prometheus.Registerer) (*Analyzer, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	bad := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "analyze",
		Name: "bad_input_total", Help: "Uploaded files rejected, by reason."}, []string{"reason"})
	if reg != nil {
		if err := reg.Register(bad); err != nil {
			return nil, fmt.Errorf("analyze: register metrics: %w", err)
		}
	}
	return &Analyzer{p: p, log: logger.With("component", "analyze"), bad: bad}, nil
}

func (a *Analyzer) reject(reason string, err error) error {
	a.bad.WithLabelValues(reason).Inc()
	return fmt.Errorf("%w: %w", ErrBadInput, err)
}

// Analyze sniffs data: a RIFF/WAVE file is transcribed, a JSON document
// is read as a ready transcript.
func (a *Analyzer) Analyze(ctx context.Context, data []byte, opts Options) (*Result, error) {
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		segs, err := ParseTranscript(data)
		if err != nil {
			return nil, a.reject("transcript", err)
		}
		var dur int64
		for _, s := range segs {
			dur = max(dur, s.EndMs)
		}
		return &Result{Kind: "transcript", Segments: segs, DurationMs: dur}, nil
	}
	f, err := wav.Parse(data)
	if err != nil {
		reason := "wav_other"
		switch {
		case errors.Is(err, wav.ErrNotWAV):
			reason = "not_wav"
		case errors.Is(err, wav.ErrTruncated):
			reason = "wav_truncated"
		case errors.Is(err, wav.ErrHeader):
			reason = "wav_header"
		case errors.Is(err, wav.ErrFormat):
			reason = "wav_format"
		}
		return nil, a.reject(reason, err)
	}
	return a.Audio(ctx, f, opts)
}

// Audio transcribes a parsed WAV file.
func (a *Analyzer) Audio(ctx context.Context, f *wav.File, opts Options) (*Result, error) {
	if opts.ID == "" {
		opts.ID = "offline"
	}
	if opts.Source == "" {
		opts.Source = "upload"
	}
	parties := opts.Parties
	switch {
	case opts.Downmix:
		if len(parties) == 0 {
			parties = []string{"speaker"}
		}
		parties = parties[:1]
	case len(parties) == 0 && f.Channels == 1:
		parties = []string{"speaker"}
	case len(parties) == 0:
		for i := range f.Channels {
			parties = append(parties, fmt.Sprintf("channel%d", i+1))
		}
	case len(parties) != f.Channels:
		return nil, a.reject("party_map", fmt.Errorf("%d party names for %d channels", len(parties), f.Channels))
	}
	start := time.Now()
	e, err := a.p.Open(ctx, pipeline.OpenOptions{ID: opts.ID, Source: opts.Source, Blocking: true, Offline: true})
	if err != nil {
		return nil, err
	}
	defer e.Abort()
	var ps []*pipeline.Party
	for i, name := range parties {
		ch := i
		if opts.Downmix {
			ch = -1
		}
		pt, err := e.AddParty(pipeline.PartyOptions{Name: name, Channel: ch,
			Format: codec.Format{Codec: codec.S16LE, SampleRate: f.SampleRate, Channels: f.Channels}})
		if err != nil {
			return nil, err
		}
		ps = append(ps, pt)
	}
	// Feed in 100 ms blocks from a goroutine while segments are collected.
	pcm := f.Samples()
	block := f.SampleRate / 10 * f.Channels
	feedErr := make(chan error, 1)
	go func() {
		defer e.Close()
		for off := 0; off < len(pcm); off += block {
			end := min(off+block, len(pcm))
			for _, pt := range ps {
				if err := pt.WritePCM(pcm[off:end]); err != nil {
					feedErr <- err
					return
				}
			}
		}
		feedErr <- nil
	}()
	res := &Result{Kind: "audio", DurationMs: f.DurationMs()}
	for s := range e.Segments() {
		if s.Final {
			res.Segments = append(res.Segments, s)
		}
	}
	if err := <-feedErr; err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inTimeOrder(res.Segments)
	res.ProcessingMs = time.Since(start).Milliseconds()
	res.Stats = e.Stats()
	a.log.Info("analysed", "engagement", opts.ID, "audio_ms", res.DurationMs, "processing_ms", res.ProcessingMs,
		"segments", len(res.Segments))
	return res, nil
}

// ParseTranscript reads a ready transcript: either a JSON array of
// segments or an object {"segments": [...]}. Each segment needs a party,
// text, and 0 <= start_ms <= end_ms; errors name the segment index and
// field. Segments are marked final, put in time order (ties by party,
// then as given) and numbered in it.
func ParseTranscript(b []byte) ([]pipeline.Segment, error) {
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	var segs []pipeline.Segment
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) > 0 && t[0] == '{' {
		var doc struct {
			Segments []pipeline.Segment `json:"segments"`
		}
		if err := dec(&doc); err != nil {
			return nil, fmt.Errorf("transcript: %w", err)
		}
		segs = doc.Segments
	} else if err := dec(&segs); err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	if len(segs) == 0 {
		return nil, errors.New("transcript: no segments")
	}
	for i := range segs {
		s := &segs[i]
		switch {
		case strings.TrimSpace(s.Party) == "":
			return nil, fmt.Errorf("transcript: segment %d: party is empty", i)
		case strings.TrimSpace(s.Text) == "":
			return nil, fmt.Errorf("transcript: segment %d: text is empty", i)
		case s.StartMs < 0 || s.EndMs < s.StartMs:
			return nil, fmt.Errorf("transcript: segment %d: start_ms %d / end_ms %d out of order", i, s.StartMs, s.EndMs)
		}
		for j, w := range s.Words {
			if w.StartMs < 0 || w.EndMs < w.StartMs || w.Confidence < 0 || w.Confidence > 1 {
				return nil, fmt.Errorf("transcript: segment %d: word %d: bad times or confidence", i, j)
			}
		}
		s.Final = true
		s.Seq = uint64(i + 1)
	}
	inTimeOrder(segs)
	return segs, nil
}

// inTimeOrder sorts final segments into transcript order, by start time,
// then party, then sequence (the order the pipeline emitted them, which
// follows each party's recogniser), and numbers them 1, 2, ... in it.
func inTimeOrder(segs []pipeline.Segment) {
	slices.SortStableFunc(segs, func(a, b pipeline.Segment) int {
		return cmp.Or(cmp.Compare(a.StartMs, b.StartMs), strings.Compare(a.Party, b.Party), cmp.Compare(a.Seq, b.Seq))
	})
	for i := range segs {
		segs[i].Seq = uint64(i + 1)
	}
}

// Print writes a human-readable transcript: one line per final segment.
func Print(w io.Writer, r *Result) error {
	for _, s := range r.Segments {
		if _, err := fmt.Fprintf(w, "[%s - %s] %s: %s\n", clock(s.StartMs), clock(s.EndMs), s.Party, s.Text); err != nil {
			return err
		}
	}
	return nil
}

func clock(ms int64) string {
	return fmt.Sprintf("%02d:%02d.%03d", ms/60000, ms/1000%60, ms%1000)
}
