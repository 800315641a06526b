//go:build eval

package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <pocketsphinx.h>
*/
import "C"

import (
	"context"
	"math"

	"github.com/earshot/earshot/media/stt"
)

// WarpTrace holds, for a wideband stream's first free-speech utterances,
// the scores every warp's decoder gives them decoded in a row as a new
// stream (decodeUtt): Path[k][j] and Ascr[k][j] are utterance k+1's best
// path's score and its acoustic score with warp Warps[j] (math.MinInt64
// when no decoder was free or the utterance had no path), Frames[k] its
// 10 ms frames. The development evaluation compares selection rules on
// it without rerunning the calls.
type WarpTrace struct {
	ID     string
	Warps  []float64
	Path   [][]int64
	Ascr   [][]int64
	Frames []int64
}

type warpTraceKey struct{}

type warpTraceOpts struct {
	id   string
	utts int
	sink func(WarpTrace)
}

// WithWarpTrace returns ctx with which the engine's streams report a
// WarpTrace of their first utts utterances to sink when they close.
func WithWarpTrace(ctx context.Context, id string, utts int, sink func(WarpTrace)) context.Context {
	return context.WithValue(ctx, warpTraceKey{}, warpTraceOpts{id, utts, sink})
}

type warpTracer struct {
	opts   warpTraceOpts
	cur    []int16
	n      int       // utterances scored
	shadow []*shadow // one per warp, held until the last utterance scored
	tr     WarpTrace
}

type shadow struct {
	d         *decoder
	fed, last int64
	ok        bool // no error so far
}

func newWarpTracer(ctx context.Context) *warpTracer {
	o, ok := ctx.Value(warpTraceKey{}).(warpTraceOpts)
	if !ok {
		return nil
	}
	return &warpTracer{opts: o, tr: WarpTrace{ID: o.id}}
}

func (t *warpTracer) add(pcm []int16) {
	if t != nil && t.n < t.opts.utts {
		t.cur = append(t.cur, pcm...)
	}
}

// uttEnd scores the utterance just ended on a decoder of each warp that
// heard the earlier ones (decoder thread of s.d, after the utterance
// ended).
func (t *warpTracer) uttEnd(s *stream) {
	if t == nil {
		return
	}
	u := t.cur
	t.cur = nil
	if t.n >= t.opts.utts || s.d.profile != wideband || s.d.search != s.base || len(u) == 0 {
		return
	}
	if t.n == 0 {
		t.tr.Warps = append([]float64{1}, s.e.cfg.WarpSelection...)
		for j := range t.tr.Warps {
			sh := &shadow{ok: true}
			if b, err := s.e.acquire(wideband, j, 0); err == nil {
				b.do(func() { _, err = s.e.prepare(b, s.lmProfile, s.lm, int(ms(s.baseCMNEvery))) })
				sh.d = b
				sh.ok = err == nil
			}
			t.shadow = append(t.shadow, sh)
		}
	}
	t.n++
	t.tr.Frames = append(t.tr.Frames, int64(len(u))/(stt.Rate/100))
	path := make([]int64, len(t.shadow))
	ascr := make([]int64, len(t.shadow))
	for j, sh := range t.shadow {
		path[j], ascr[j] = math.MinInt64, math.MinInt64
		if sh.d == nil || !sh.ok {
			continue
		}
		var p, a int64
		var ok bool
		var err error
		sh.d.do(func() {
			if p, ok, err = s.decodeUtt(sh.d, u, &sh.fed, &sh.last); err == nil {
				a = sh.d.acousticScore()
			}
		})
		sh.ok = err == nil
		if sh.ok && ok {
			path[j], ascr[j] = p, a
		}
	}
	t.tr.Path = append(t.tr.Path, path)
	t.tr.Ascr = append(t.tr.Ascr, ascr)
	if t.n >= t.opts.utts {
		t.release(s.e)
	}
}

func (t *warpTracer) release(e *Engine) {
	for _, sh := range t.shadow {
		if sh.d != nil {
			e.put(sh.d)
			sh.d = nil
		}
	}
}

func (t *warpTracer) done(e *Engine) {
	if t == nil {
		return
	}
	t.release(e)
	if len(t.tr.Path) > 0 {
		t.opts.sink(t.tr)
	}
}

// acousticScore returns the sum of the acoustic scores of the last
// utterance's best path's segments (decoder thread).
func (d *decoder) acousticScore() int64 {
	var sum int64
	for it := C.ps_seg_iter(d.ps); it != nil; it = C.ps_seg_next(it) {
		var ascr, lscr, lback C.int32
		C.ps_seg_prob(it, &ascr, &lscr, &lback)
		sum += int64(ascr)
	}
	return sum
}
