// Package playout paces a bot's audio to a caller: the bounded queue of
// 20 ms frames and marks behind a two-way protocol's voice.Leg (Twilio
// bidirectional Media Streams, WebRTC). The protocol supplies how a frame
// and a mark are sent; the queue supplies real-time pacing, back-pressure
// on Play, Clear (barge-in) and the end of the call.
package playout

import (
	"context"
	"sync"
	"time"

	"github.com/earshot/earshot/media/voice"
)

// Tick is the frame duration.
const Tick = 20 * time.Millisecond

// maxLate is how far the sender may fall behind its schedule and catch up
// by sending frames back to back; later than that, the schedule restarts
// (a late wake-up never bursts more than this to the caller).
const maxLate = 3 * Tick

type item struct {
	frame []int16       // FrameSamples samples; nil for a mark
	mark  chan struct{} // a mark: closed once sent (or by the protocol later)
	gen   int           // the Clear generation it was queued in
}

// Queue is one call's outbound audio. Play, Mark, Clear and Stop are safe
// for concurrent use; Run is called once, by the protocol's owner.
type Queue struct {
	samples int // per frame
	items   chan item
	done    chan struct{}
	once    sync.Once

	mu sync.Mutex
	// +checklocks:mu
	rem []int16 // samples short of a whole frame
	// +checklocks:mu
	gen int
}

// New returns a queue of frames of samples each (20 ms at the leg's rate),
// holding at most depth frames and marks ahead of real time.
func New(samples, depth int) *Queue {
	return &Queue{samples: samples, items: make(chan item, depth), done: make(chan struct{})}
}

// Done is closed by Stop.
func (q *Queue) Done() <-chan struct{} { return q.done }

// Play queues pcm in whole frames; a trailing part frame waits for the
// next Play (or Mark, which pads it with silence). It blocks while the
// queue is full and returns ctx.Err() or voice.ErrHungUp after Stop.
func (q *Queue) Play(ctx context.Context, pcm []int16) error {
	q.mu.Lock()
	buf := append(q.rem, pcm...)
	n := len(buf) - len(buf)%q.samples
	q.rem = append([]int16(nil), buf[n:]...)
	gen := q.gen
	q.mu.Unlock()
	for i := 0; i < n; i += q.samples {
		if err := q.put(ctx, item{frame: buf[i : i+q.samples : i+q.samples], gen: gen}); err != nil {
			return err
		}
	}
	return nil
}

func (q *Queue) put(ctx context.Context, it item) error {
	select {
	case <-q.done:
		return voice.ErrHungUp
	default:
	}
	select {
	case q.items <- it:
		return nil
	case <-q.done:
		return voice.ErrHungUp
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Mark queues a mark behind everything played so far (a part frame is
// padded with silence and sent first). The returned channel is what Run
// hands to its mark function; it is closed by then, by Clear, or by Stop.
func (q *Queue) Mark() chan struct{} {
	ch := make(chan struct{})
	q.mu.Lock()
	var tail []int16
	if len(q.rem) > 0 {
		tail = append(q.rem, make([]int16, q.samples-len(q.rem))...)
		q.rem = nil
	}
	gen := q.gen
	q.mu.Unlock()
	// Mark has no context: it waits for room only while the call lasts
	// (Run drains the queue in real time).
	ctx := context.Background()
	if tail != nil && q.put(ctx, item{frame: tail, gen: gen}) != nil {
		close(ch)
		return ch
	}
	if q.put(ctx, item{mark: ch, gen: gen}) != nil {
		close(ch)
	}
	return ch
}

// Clear drops what is queued (marks in it are closed): nothing queued
// before the call is sent after it, including frames a blocked Play is
// still queueing.
func (q *Queue) Clear() {
	q.mu.Lock()
	q.rem = nil
	q.gen++
	q.mu.Unlock()
	q.drain()
}

func (q *Queue) drain() {
	for {
		select {
		case it := <-q.items:
			if it.mark != nil {
				close(it.mark)
			}
		default:
			return
		}
	}
}

// Stop ends the call: Play returns voice.ErrHungUp and Run returns.
func (q *Queue) Stop() { q.once.Do(func() { close(q.done) }) }

// stale reports whether an item was queued before the last Clear.
func (q *Queue) stale(it item) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return it.gen != q.gen
}

// Run sends the queue until Stop or a send error (returned): each frame
// through frame, one every Tick; resumed tells that the queue ran dry
// before it (a new talkspurt). A mark goes to mark once every frame
// before it was sent; mark may close it at once or later (on an echo).
// Marks left when Run returns are closed.
func (q *Queue) Run(frame func(pcm []int16, resumed bool) error, mark func(ch chan struct{}) error) error {
	defer func() {
		q.Stop()
		q.drain()
	}()
	var due time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var it item
		waited := false // the queue had run dry
		select {
		case it = <-q.items:
		default:
			waited = true
			select {
			case it = <-q.items:
			case <-q.done:
				return nil
			}
		}
		if q.stale(it) {
			if it.mark != nil {
				close(it.mark)
			}
			continue
		}
		if it.mark != nil {
			if err := mark(it.mark); err != nil {
				return err
			}
			continue
		}
		now := time.Now()
		// A new talkspurt: the first frame, or one that came after its
		// time with the queue dry. A sender that is merely late (a slow
		// wake-up) carries on in the same talkspurt.
		resumed := due.IsZero() || waited && now.After(due)
		if resumed || now.Sub(due) > maxLate {
			due = now
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-q.done:
				timer.Stop()
				return nil
			}
		}
		due = due.Add(Tick)
		if q.stale(it) { // cleared while it waited for its time
			continue
		}
		if err := frame(it.frame, resumed); err != nil {
			return err
		}
	}
}
