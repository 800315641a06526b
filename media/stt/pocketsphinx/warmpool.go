package pocketsphinx

import (
	"sync"
	"sync/atomic"
)

// Making a decoder takes seconds (about 2-3 s with the spoken-forms
// prior's second search), and a new stream that finds no free decoder
// of its kind makes one on its caller's path: on the live path that is
// call setup (a SIP INVITE or a WHIP offer is answered after NewStream),
// so the second call of a burst would wait that long in silence. The
// pool therefore keeps Config.Warm free decoders of each kind a new
// stream takes made ahead, in the background:
//
//   - the kinds are the unwarped decoders of the two profiles, the ones
//     NewStream takes (a warp's decoder is taken only by a stream's warp
//     trial, after its first utterance, and is made there when needed);
//     wideband from the start (New makes its Warm decoders), narrowband
//     once a narrowband stream has been opened, so a site that takes
//     8 kHz calls gets warm narrowband decoders and one that never does
//     does not hold them;
//   - whenever a new stream takes a decoder (after it made its own, if
//     it had to: two decoders made at once on two cores would slow the
//     caller's), and whenever one comes back to the pool, a kind with
//     fewer than Warm free decoders (counting the one being made) gets
//     one made, the kind last taken first;
//   - one decoder is made at a time (each takes a core for seconds while
//     live streams are decoded), counted in the pool from its start so
//     that MaxDecoders bounds the decoders made and being made; when the
//     pool is full, a free decoder beyond its kind's warm ones (a warp's,
//     a profile's surplus) is closed to make room, as a new stream would
//     do on its own path;
//   - a new stream that finds no free decoder of its kind while one is
//     being made in the background waits for it (it is ready sooner than
//     one made from the start), one stream per decoder being made;
//   - a failure is logged and counted and stops the top-up until the
//     next stream is opened or decoder returned (no retry loop on a
//     broken model or a full memory); callers make their own decoder
//     as before.
//
// Close waits for the decoder being made and closes it.
type warmPool struct {
	e *Engine
	// The fields below are guarded by e.mu.
	seenNarrow bool    // a narrowband stream has been opened
	last       profile // the profile last taken, topped up first
	making     [2]int  // decoders being made in the background, by profile
	claimed    [2]int  // new streams waiting for them, by profile
	running    bool    // the top-up goroutine runs
	off        bool    // no top-up (the benchmark's baseline)
	wg         sync.WaitGroup
	// Counters since the engine started (DecoderPool).
	made, failed, waits atomic.Int64
}

// DecoderPool returns how many decoders were made in the background to
// keep Config.Warm free ones ready (made), how many of those failed, and
// how many new streams waited for a decoder to be made, on their own path
// or in the background (waited: when it grows, calls waited seconds to be
// answered, and a larger warm would have spared them), since the engine
// started.
func (e *Engine) DecoderPool() (made, failed, waited int64) {
	return e.warm.made.Load(), e.warm.failed.Load(), e.warm.waits.Load()
}

// makingLocked is the number of decoders being made in the background.
func (w *warmPool) makingLocked() int { return w.making[0] + w.making[1] }

// takenLocked records that a new stream of profile p took a free
// decoder, and starts the top-up.
func (w *warmPool) takenLocked(p profile) {
	w.seenLocked(p)
	w.startLocked()
}

// seenLocked records that a new stream of profile p took or is making a
// decoder.
func (w *warmPool) seenLocked(p profile) {
	if p == narrowband {
		w.seenNarrow = true
	}
	w.last = p
}

// claimLocked reports whether a new stream wanting a decoder of slot k
// should wait for the one being made in the background, and if so claims
// it; unclaimLocked after the wait.
func (w *warmPool) claimLocked(k int) bool {
	if k > int(narrowband) || w.making[k] <= w.claimed[k] {
		return false
	}
	w.claimed[k]++
	return true
}

func (w *warmPool) unclaimLocked(k int) { w.claimed[k]-- }

// targetLocked is the number of free decoders kept ready in slot k.
func (w *warmPool) targetLocked(k int) int {
	switch {
	case k == int(wideband), k == int(narrowband) && w.seenNarrow:
		return w.e.cfg.Warm
	}
	return 0
}

// startLocked starts the top-up goroutine when a kind is short of warm
// decoders and none is being made. The first decoder's place is taken
// here, under the caller's lock, so that the caller's view of the pool
// already counts it.
func (w *warmPool) startLocked() {
	e := w.e
	if w.running || w.off || e.closed || e.cfg.Warm == 0 {
		return
	}
	p, evict, ok := w.nextLocked()
	if !ok {
		return
	}
	w.running = true
	w.wg.Add(1)
	go w.run(p, evict)
}

// nextLocked picks the profile to make a decoder of and takes its place
// in the pool (total, making): the one last taken first. When the pool
// is full it takes a free decoder beyond its kind's warm ones out of the
// pool (evict), for the caller to close.
func (w *warmPool) nextLocked() (p profile, evict *decoder, ok bool) {
	e := w.e
	for _, q := range []profile{w.last, 1 - w.last} {
		k := slot(q, 0)
		if len(e.free[k])+w.making[q] >= w.targetLocked(k) {
			continue
		}
		if e.total >= e.cfg.MaxDecoders {
			for o := range e.free {
				if n := len(e.free[o]); n > w.targetLocked(o) {
					evict = e.free[o][n-1]
					e.free[o] = e.free[o][:n-1]
					e.total--
					break
				}
			}
			if evict == nil {
				return 0, nil, false
			}
		}
		e.total++
		w.making[q]++
		return q, evict, true
	}
	return 0, nil, false
}

// run makes decoders of profile p, and then of whatever nextLocked picks,
// until every kind has its warm decoders, the pool is full, a decoder
// fails or the engine is closed.
func (w *warmPool) run(p profile, evict *decoder) {
	defer w.wg.Done()
	e := w.e
	for {
		if evict != nil {
			evict.close()
		}
		d, err := e.newPoolDecoder(p, 0)
		e.mu.Lock()
		w.making[p]--
		switch {
		case err != nil:
			e.total--
			w.failed.Add(1)
			e.log.Warn("warm decoder not made; new streams make their own", "profile", p, "err", err)
		case e.closed:
			e.total--
		default:
			e.free[slot(p, 0)] = append(e.free[slot(p, 0)], d)
			w.made.Add(1)
		}
		e.cond.Broadcast()
		var ok bool
		if err == nil && !e.closed {
			p, evict, ok = w.nextLocked()
		}
		if !ok {
			w.running = false
			closed := e.closed
			e.mu.Unlock()
			if closed && d != nil {
				d.close()
			}
			return
		}
		e.mu.Unlock()
	}
}

// wait waits for the top-up goroutine to end (after Close: it ends after
// the decoder it is making) and reports whether it was running.
func (w *warmPool) wait() bool {
	w.e.mu.Lock()
	running := w.running
	w.e.mu.Unlock()
	w.wg.Wait()
	return running
}
