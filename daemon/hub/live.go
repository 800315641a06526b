package hub

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/store"
)

// input is one item of an engagement's inbox.
type input struct {
	seg      store.Segment
	received time.Time
	// ack, when set, receives the result of storing a final segment.
	ack chan<- error
	// rid is the key of the segment in the redactor (0: none).
	rid uint64
	// message marks a chat message: it is timed when the engagement
	// takes it, so that time order is the order of acceptance.
	message bool
}

// inboxSize bounds each engagement's queue of segments not yet handled.
const inboxSize = 1024

// maxRun bounds the final segments stored in one group commit.
const maxRun = 256

// Live is one live engagement. Its methods are safe for concurrent use;
// the ingest side calls Submit, Touch and End, readers call Since.
type Live struct {
	hub       *Hub
	eng       store.Engagement
	source    string // the ingest path Start was given; for the hub's limits
	holder    string
	endc      chan string
	endOnce   sync.Once
	done      chan struct{}
	lastMedia atomic.Int64
	// endAt, when set (Unix ns), is the end time to store instead of the
	// time the engagement ends (see EndAt).
	endAt atomic.Int64

	mu sync.Mutex
	// inbox is the queue of input not yet handled; nil once the
	// engagement ended, so that an ended engagement kept for its readers
	// does not hold inboxSize inputs of memory.
	// +checklocks:mu
	inbox chan input
	// +checklocks:mu
	events []Event
	// +checklocks:mu
	nextID uint64
	// +checklocks:mu
	notify chan struct{}
	// +checklocks:mu
	ended time.Time
}

func newLive(h *Hub, e store.Engagement) *Live {
	l := &Live{hub: h, eng: e, inbox: make(chan input, inboxSize), endc: make(chan string, 1),
		done: make(chan struct{}), nextID: 1, notify: make(chan struct{})}
	l.lastMedia.Store(time.Now().UnixNano())
	return l
}

// Engagement returns the engagement as it was started.
func (l *Live) Engagement() store.Engagement { return l.eng }

// ID is the engagement's ID.
func (l *Live) ID() string { return l.eng.ID }

// Touch records that media arrived, holding off the media timeout (and,
// for a chat, the idle timeout; every submitted message touches it).
func (l *Live) Touch() { l.lastMedia.Store(time.Now().UnixNano()) }

// Submit queues a transcript segment without blocking. A full inbox drops
// the segment and counts it; it returns false then, or after End.
func (l *Live) Submit(seg store.Segment) bool {
	return l.submit(input{seg: seg, received: time.Now()})
}

// SubmitWait queues a final segment and waits until it is committed to
// the store (or ctx is done): what the API acknowledges survives a crash.
func (l *Live) SubmitWait(ctx context.Context, seg store.Segment) error {
	seg.Final = true
	ack := make(chan error, 1)
	if !l.submit(input{seg: seg, received: time.Now(), ack: ack}) {
		if l.Ended() {
			return ErrNotLive
		}
		return ErrBusy
	}
	select {
	case err := <-ack:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SubmitMessage is SubmitWait for a chat message: its time is set when
// the engagement takes it, milliseconds from the start and strictly after
// the previous message, so that two messages sent within a millisecond
// keep their order in the transcript.
func (l *Live) SubmitMessage(ctx context.Context, seg store.Segment) error {
	seg.Final = true
	ack := make(chan error, 1)
	if !l.submit(input{seg: seg, received: time.Now(), ack: ack, message: true}) {
		if l.Ended() {
			return ErrNotLive
		}
		return ErrBusy
	}
	select {
	case err := <-ack:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Live) submit(in input) bool {
	l.mu.Lock()
	inbox, ended := l.inbox, !l.ended.IsZero()
	l.mu.Unlock()
	if ended {
		return false
	}
	select {
	case inbox <- in:
		if l.eng.Channel == "chat" {
			l.Touch()
		}
		return true
	default:
		kind := "partial"
		if in.seg.Final {
			kind = "final"
			l.hub.logger.Warn("engagement inbox full; final segment dropped", "engagement", l.eng.ID)
		}
		l.hub.metrics.dropped.WithLabelValues(kind).Inc()
		return false
	}
}

// End ends the engagement after the inputs already queued; it is safe to
// call more than once.
func (l *Live) End(reason string) {
	l.endOnce.Do(func() { l.endc <- reason })
}

// EndAt ends the engagement like End and stores at as its end time
// instead of the time it ends: an upload lasts as long as its audio, not
// as long as its processing.
func (l *Live) EndAt(reason string, at time.Time) {
	l.endAt.CompareAndSwap(0, at.UnixNano())
	l.End(reason)
}

// Done is closed when the engagement's goroutine has stored everything and
// run the post-engagement analyzers.
func (l *Live) Done() <-chan struct{} { return l.done }

// Ended reports whether the engagement has ended.
func (l *Live) Ended() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.ended.IsZero()
}

func (l *Live) endedAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// Publish appends an event of type typ with data (encoded as JSON) to the
// engagement's stream and wakes every reader. Events are kept in memory
// only (the stored record is the transcript and the results), up to the
// hub's event buffer.
func (l *Live) Publish(typ string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		l.hub.logger.Error("event not encodable", "engagement", l.eng.ID, "type", typ, "err", err)
		return
	}
	l.mu.Lock()
	ev := Event{ID: l.nextID, Type: typ, Time: time.Now().UTC(), Data: raw}
	l.nextID++
	l.events = append(l.events, ev)
	if max := l.hub.cfg.EventBuffer; len(l.events) > max {
		l.events = append(l.events[:0:0], l.events[len(l.events)-max:]...)
	}
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
	l.hub.metrics.events.WithLabelValues(typ).Inc()
}

// Since returns the events after ID after, a channel closed when more
// arrive, whether the stream is complete (ended, and nothing follows), and
// whether events between after and the first returned were lost to the
// buffer bound.
func (l *Live) Since(after uint64) (evs []Event, more <-chan struct{}, complete, gap bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.events) && l.events[i].ID <= after {
		i++
	}
	evs = append(evs, l.events[i:]...)
	// Written so that after near the top of uint64 cannot overflow.
	gap = len(evs) > 0 && evs[0].ID-1 > after
	complete = !l.ended.IsZero() && l.finished()
	return evs, l.notify, complete, gap
}

// finished reports whether the goroutine has exited (no more events).
func (l *Live) finished() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// run is the engagement's goroutine: it owns seq and conv.
func (l *Live) run() {
	h := l.hub
	ctx := h.ctx
	l.mu.Lock()
	inbox := l.inbox // this goroutine lets it go at the end
	l.mu.Unlock()
	var (
		seq      uint32
		conv     []inference.Utterance
		sessions []LiveSession
		red      SegmentRedactor
		// held are final segments the redactor holds back, by key;
		// storedSeq maps the keys of recently stored ones to their seq,
		// for revisions.
		held      = map[uint64]input{}
		storedSeq = map[uint64]uint32{}
		nextRID   uint64
		// lastMessageMs is the time of the last chat message taken.
		lastMessageMs int64 = -1
	)
	if h.redaction != nil {
		red = h.redaction.Open(&l.eng, l.source)
	}
	for _, a := range h.live {
		if sess := a.Start(&l.eng); sess != nil {
			sessions = append(sessions, sess)
		}
	}
	defer func() {
		// Wake readers a last time so they see the stream complete.
		l.mu.Lock()
		close(l.done)
		close(l.notify)
		l.notify = make(chan struct{})
		l.mu.Unlock()
	}()
	emit := l.Publish
	if red != nil {
		// Analyzers' outputs may not carry a value the transcript lost.
		emit = func(typ string, data any) { l.Publish(typ, redactData(data, red.Output)) }
	}
	// flush stores a run of final segments in one group commit, then
	// publishes them and runs the live analyzers on each.
	flush := func(run []input) {
		if len(run) == 0 {
			return
		}
		segs := make([]store.Segment, len(run))
		for i, in := range run {
			segs[i] = in.seg
			segs[i].Engagement = l.eng.ID
			segs[i].Seq = seq + uint32(i)
		}
		err := h.store.AppendBatch(ctx, segs)
		for _, in := range run {
			if in.ack != nil {
				in.ack <- err
			}
		}
		if err != nil {
			h.logger.Error("final segments not stored", "engagement", l.eng.ID, "first_seq", seq, "count", len(segs), "err", err)
			return
		}
		for i, in := range run {
			if in.rid != 0 {
				storedSeq[in.rid] = segs[i].Seq
				delete(storedSeq, in.rid-64) // keep the recent ones only
			}
		}
		seq += uint32(len(segs))
		for i, seg := range segs {
			h.metrics.storeDelay.Observe(time.Since(run[i].received).Seconds())
			l.Publish(EventTranscriptFinal, seg)
			u := inference.Utterance{Party: inference.Party(seg.Speaker), Text: seg.TextIn(h.cfg.AnalysisLanguage), StartMS: seg.StartMs, EndMS: seg.EndMs}
			conv = append(conv, u)
			for _, sess := range sessions {
				sess.OnUtterance(ctx, conv, emit)
			}
		}
	}
	// release adds the segments the redactor let go to run; a revision of
	// a stored segment is published at once.
	release := func(run []input, rs []Redacted) []input {
		for _, r := range rs {
			if r.Revised {
				s, ok := storedSeq[r.ID]
				if !ok {
					continue
				}
				r.Seg.Engagement, r.Seg.Seq = l.eng.ID, s
				h.metrics.revised.Inc()
				l.Publish(EventTranscriptRevised, r.Seg)
				continue
			}
			in, ok := held[r.ID]
			if !ok {
				continue
			}
			delete(held, r.ID)
			in.seg = r.Seg
			run = append(run, in)
		}
		return run
	}
	// handle takes one input and whatever else is already queued, keeping
	// their order: partials are published between runs of finals.
	handle := func(first input) {
		var run []input
		next := first
		for n := 0; ; n++ {
			if next.message {
				at := max(next.received.Sub(l.eng.Start).Milliseconds(), lastMessageMs+1, 0)
				next.seg.StartMs, next.seg.EndMs, lastMessageMs = at, at, at
			}
			switch {
			case next.seg.Final && red != nil:
				nextRID++
				next.rid = nextRID
				held[nextRID] = next
				// Acknowledged input (chat, uploads) is not held: the
				// caller waits for it.
				run = release(run, red.Final(nextRID, next.seg, next.ack == nil, time.Now()))
			case next.seg.Final:
				run = append(run, next)
			default:
				flush(run)
				run = run[:0]
				p := next.seg
				if red != nil {
					p = red.Partial(p)
				}
				p.Engagement = l.eng.ID
				l.Publish(EventTranscriptPartial, p)
			}
			if n == maxRun {
				break
			}
			select {
			case next = <-inbox:
				continue
			default:
			}
			break
		}
		flush(run)
	}
	var reason string
	tick := time.NewTicker(TickInterval)
	defer tick.Stop()
	// holdTimer fires when a segment the redactor holds is due.
	holdTimer := time.NewTimer(time.Hour)
	holdTimer.Stop()
	defer holdTimer.Stop()
	arm := func() {
		if red == nil {
			return
		}
		if at, ok := red.Deadline(); ok {
			holdTimer.Reset(time.Until(at))
		}
	}
loop:
	for {
		select {
		case in := <-inbox:
			handle(in)
			arm()
		case now := <-holdTimer.C:
			flush(release(nil, red.Expire(now)))
			arm()
		case now := <-tick.C:
			for _, sess := range sessions {
				if t, ok := sess.(Ticker); ok {
					t.Tick(ctx, now.Sub(l.eng.Start).Milliseconds(), emit)
				}
			}
		case reason = <-l.endc:
			break loop
		}
	}
	// Mark ended first so that new input is refused, then drain and let
	// the inbox go.
	l.mu.Lock()
	l.ended = time.Now().UTC()
	l.inbox = nil
	l.mu.Unlock()
	for {
		select {
		case in := <-inbox:
			handle(in)
			continue
		default:
		}
		break
	}
	ended := map[string]any{"reason": reason, "segments": seq}
	if red != nil {
		flush(release(nil, red.Flush()))
		ended["redactions"] = red.Counts()
	}
	end := time.Now().UTC()
	if ns := l.endAt.Load(); ns != 0 {
		end = time.Unix(0, ns).UTC()
	}
	// The end is stored even as the hub stops.
	if err := h.store.EndEngagement(context.WithoutCancel(ctx), l.eng.ID, end); err != nil {
		h.logger.Error("engagement end not stored", "engagement", l.eng.ID, "err", err)
	}
	h.metrics.ended.WithLabelValues(reason).Inc()
	h.retire(l)
	ended["segments"] = seq
	l.Publish(EventEnded, ended)
	// The post-engagement analyzers read the conversation in time order,
	// as the store returns it, not in the order the recognisers finished.
	slices.SortStableFunc(conv, func(a, b inference.Utterance) int {
		return cmp.Or(cmp.Compare(a.StartMS, b.StartMS), strings.Compare(string(a.Party), string(b.Party)))
	})
	for _, a := range h.post {
		a.OnEnd(ctx, &l.eng, conv, emit)
	}
	h.logger.Info("engagement ended", "engagement", l.eng.ID, "reason", reason, "segments", seq)
}
