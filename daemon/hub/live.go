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
	// ack, when set, receives the result of storing a final segment (or
	// of an assignment).
	ack chan<- error
	// assign, when set, makes this user the engagement's agent instead of
	// carrying a segment (see Assign).
	assign string
	// rid is the key of the segment in the redactor (0: none).
	rid uint64
	// key is the submitter's name for a final segment it may revise
	// (0: none); revise marks seg as the revision of the final with key.
	key    uint64
	revise bool
	// original is the segment before redaction, when the redaction
	// policy keeps a sealed copy of what it changed.
	original *store.Segment
	// message marks a chat message: it is timed when the engagement
	// takes it, so that time order is the order of acceptance.
	message bool
}

// keyedFinal is where a final segment that may be revised was put.
type keyedFinal struct {
	seq  uint32
	conv int // index in the conversation; -1 until published
}

// inboxSize bounds each engagement's queue of segments not yet handled;
// chats (messages, not streams of partials) get chatInboxSize, which keeps
// a live chat small in memory (virtual-agent widgets hold thousands).
const (
	inboxSize     = 1024
	chatInboxSize = 64
)

// maxRun bounds the final segments stored in one group commit.
const maxRun = 256

// Live is one live engagement. Its methods are safe for concurrent use;
// the ingest side calls Submit, Touch and End, readers call Since.
type Live struct {
	hub     *Hub
	eng     store.Engagement
	source  string // the ingest path Start was given; for the hub's limits
	holder  string
	endc    chan string
	endOnce sync.Once
	// stopped is closed when the engagement stops taking input.
	stopped   chan struct{}
	done      chan struct{}
	lastMedia atomic.Int64
	// endAt, when set (Unix ns), is the end time to store instead of the
	// time the engagement ends (see EndAt).
	endAt atomic.Int64
	// paymentStep is set while a payment step is active (see
	// SetPaymentStep).
	paymentStep atomic.Bool

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
	size := inboxSize
	if e.Channel == "chat" {
		size = chatInboxSize
	}
	l := &Live{hub: h, eng: e, inbox: make(chan input, size), endc: make(chan string, 1),
		stopped: make(chan struct{}), done: make(chan struct{}), nextID: 1, notify: make(chan struct{})}
	l.lastMedia.Store(time.Now().UnixNano())
	return l
}

// Engagement returns the engagement as it was started, with the agent
// Assign set since.
func (l *Live) Engagement() store.Engagement {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eng
}

// Assign makes agent the engagement's agent (a chat a virtual agent handed
// over, taken by a member of staff), in order with the engagement's
// inputs: the live analyzers decide their features for the new agent from
// the next utterance on. It returns once applied (or when ctx is done);
// the caller stores the change.
func (l *Live) Assign(ctx context.Context, agent string) error {
	return l.submitAcked(ctx, input{assign: agent, received: time.Now()})
}

// submitAcked queues ins in order and waits until the engagement has
// applied every one (or ctx is done). Queued together, final segments
// usually share one group commit. An input that cannot be queued ends the
// queuing; the error is the first one met.
func (l *Live) submitAcked(ctx context.Context, ins ...input) error {
	acks := make([]chan error, 0, len(ins))
	var err error
	for _, in := range ins {
		ack := make(chan error, 1)
		in.ack = ack
		if !l.submit(in) {
			err = ErrBusy
			if l.Ended() {
				err = ErrNotLive
			}
			break
		}
		acks = append(acks, ack)
	}
	for _, ack := range acks {
		select {
		case e := <-ack:
			if err == nil {
				err = e
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

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

// SubmitKeyed is Submit for a final segment that the submitter may revise
// later (see Revise): key, not zero and unique within the engagement,
// names it.
func (l *Live) SubmitKeyed(key uint64, seg store.Segment) bool {
	return l.submit(input{seg: seg, received: time.Now(), key: key})
}

// Revise replaces the final segment submitted with key by seg (a second
// recogniser's better transcript of the same utterance): it is stored in
// its place (same Seq, stored once, marked Revised), published as a
// transcript.final event with the same seq, and the live analyzers run
// on the revised utterance with the conversation up to it. With
// redaction on, the revision is redacted like the analyzers' texts; one
// that comes while redaction still holds the original replaces it before
// it is stored. A revision whose original was never stored (dropped, or
// unknown key) is stored as a new final segment. Like Submit it does not
// block.
func (l *Live) Revise(key uint64, seg store.Segment) bool {
	seg.Final = true
	return l.submit(input{seg: seg, received: time.Now(), key: key, revise: true})
}

// SubmitWait queues a final segment and waits until it is committed to
// the store (or ctx is done): what the API acknowledges survives a crash.
func (l *Live) SubmitWait(ctx context.Context, seg store.Segment) error {
	seg.Final = true
	return l.submitAcked(ctx, input{seg: seg, received: time.Now()})
}

// SubmitMessage is SubmitWait for a chat message: its time is set when
// the engagement takes it, milliseconds from the start and strictly after
// the previous message, so that two messages sent within a millisecond
// keep their order in the transcript.
func (l *Live) SubmitMessage(ctx context.Context, seg store.Segment) error {
	return l.SubmitMessages(ctx, seg)
}

// SubmitMessages is SubmitMessage for several messages of one sender at
// once (a virtual agent's turn), in order: queued together, they usually
// share one group commit. It returns once all are stored, or the first
// error.
func (l *Live) SubmitMessages(ctx context.Context, segs ...store.Segment) error {
	ins := make([]input, len(segs))
	for i, seg := range segs {
		seg.Final = true
		ins[i] = input{seg: seg, received: time.Now(), message: true}
	}
	return l.submitAcked(ctx, ins...)
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

// Stopped is closed as soon as the engagement has ended and takes no more
// input, before its last segments are stored and the post-engagement
// analyzers run (Done): an ingest session watches it to end its call or
// stream when the hub ends the engagement.
func (l *Live) Stopped() <-chan struct{} { return l.stopped }

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
		// keyed maps the submitter's keys of final segments to their
		// Seq and their place in conv, for revisions; heldRev are
		// revisions of segments the redactor still holds, by key.
		keyed   = map[uint64]keyedFinal{}
		heldRev = map[uint64]store.Segment{}
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
	// publishes them and runs the live analyzers on each. A revision takes
	// the Seq of the segment it replaces.
	flush := func(run []input) {
		if len(run) == 0 {
			return
		}
		segs := make([]store.Segment, len(run))
		revised := make([]bool, len(run))
		var originals []store.Segment
		next := seq
		for i, in := range run {
			segs[i] = in.seg
			segs[i].Engagement = l.eng.ID
			if k, ok := keyed[in.key]; ok && in.revise && in.key != 0 {
				segs[i].Seq, segs[i].Revised, revised[i] = k.seq, true, true
			} else {
				segs[i].Seq = next
				if in.key != 0 {
					keyed[in.key] = keyedFinal{seq: next, conv: -1}
				}
				next++
			}
			if in.original != nil {
				o := *in.original
				o.Engagement, o.Seq, o.Final = l.eng.ID, segs[i].Seq, true
				originals = append(originals, o)
			}
		}
		var err error
		if len(originals) > 0 {
			err = h.store.AppendRedacted(ctx, segs, originals, red.OriginalDays())
		} else {
			err = h.store.AppendBatch(ctx, segs)
		}
		for _, in := range run {
			if in.ack != nil {
				in.ack <- err
			}
		}
		if err != nil {
			h.logger.Error("final segments not stored", "engagement", l.eng.ID, "first_seq", seq, "count", len(segs), "err", err)
			for i, in := range run {
				if in.key != 0 && !revised[i] {
					delete(keyed, in.key) // its Seq will be reused
				}
			}
			return
		}
		for i, in := range run {
			if in.rid != 0 {
				storedSeq[in.rid] = segs[i].Seq
				delete(storedSeq, in.rid-64) // keep the recent ones only
			}
		}
		seq = next
		for i, seg := range segs {
			h.metrics.storeDelay.Observe(time.Since(run[i].received).Seconds())
			l.Publish(EventTranscriptFinal, seg)
			u := inference.Utterance{Party: inference.Party(seg.Speaker), Text: seg.TextIn(h.cfg.AnalysisLanguage), StartMS: seg.StartMs, EndMS: seg.EndMs}
			at := len(conv)
			if revised[i] {
				h.metrics.revised.Inc()
			}
			if k := keyed[run[i].key]; revised[i] && k.conv >= 0 {
				at = k.conv
				conv[at] = u
			} else {
				conv = append(conv, u)
				if run[i].key != 0 {
					keyed[run[i].key] = keyedFinal{seq: seg.Seq, conv: at}
				}
			}
			// The analyzers see the conversation up to this utterance.
			upTo := conv[: at+1 : at+1]
			for _, sess := range sessions {
				sess.OnUtterance(ctx, upTo, emit)
			}
		}
	}
	// redactRevision redacts a revision's text as the redactor redacts
	// analyzers' texts; its words go when the text changed.
	redactRevision := func(seg store.Segment) store.Segment {
		if red == nil {
			return seg
		}
		if t := red.Output(seg.Text); t != seg.Text {
			seg.Text, seg.Words = t, nil
		}
		return seg
	}
	// storeRevision replaces a stored segment whose redaction grew (the
	// store keeps the last write of a sequence number), with its original
	// when the policy keeps a copy.
	storeRevision := func(r Redacted) {
		var err error
		if r.Original != nil {
			o := *r.Original
			o.Engagement, o.Seq, o.Final = l.eng.ID, r.Seg.Seq, true
			err = h.store.AppendRedacted(ctx, []store.Segment{r.Seg}, []store.Segment{o}, red.OriginalDays())
		} else {
			err = h.store.AppendBatch(ctx, []store.Segment{r.Seg})
		}
		if err != nil {
			h.logger.Error("revised segment not stored", "engagement", l.eng.ID, "seq", r.Seg.Seq, "err", err)
		}
	}
	// release adds the segments the redactor let go to run; a revision of
	// a stored segment is stored and published at once.
	release := func(run []input, rs []Redacted) []input {
		for _, r := range rs {
			if r.Revised {
				s, ok := storedSeq[r.ID]
				if !ok {
					continue
				}
				r.Seg.Engagement, r.Seg.Seq, r.Seg.Final = l.eng.ID, s, true
				storeRevision(r)
				// conv holds one utterance per stored segment, by seq:
				// later analyzer calls and the post analyzers read the
				// revision.
				if int(s) < len(conv) {
					conv[s].Text = r.Seg.TextIn(h.cfg.AnalysisLanguage)
				}
				h.metrics.revised.Inc()
				l.Publish(EventTranscriptRevised, r.Seg)
				continue
			}
			in, ok := held[r.ID]
			if !ok {
				continue
			}
			delete(held, r.ID)
			in.seg, in.original = r.Seg, r.Original
			if rev, ok := heldRev[in.key]; ok && in.key != 0 {
				// Revised while held: stored once, with the revision.
				delete(heldRev, in.key)
				in.seg, in.revise = rev, false
				in.seg.Revised = true
			}
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
			heldOriginal := false
			if next.revise && red != nil {
				for _, h := range held {
					heldOriginal = heldOriginal || (h.key == next.key && next.key != 0)
				}
			}
			switch {
			case next.assign != "":
				flush(run)
				run = run[:0]
				l.mu.Lock()
				l.eng.Agent = next.assign
				l.mu.Unlock()
				next.ack <- nil
			case next.seg.Final && next.revise && heldOriginal:
				heldRev[next.key] = redactRevision(next.seg)
			case next.seg.Final && next.revise:
				next.seg = redactRevision(next.seg)
				run = append(run, next)
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
	close(l.stopped)
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
