package wsstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/voice"
)

// Twilio bidirectional Media Streams: a Twilio stream's Meta carries a Leg
// that sends audio back to the caller as Twilio expects it, so that a bot
// can answer the call (voice.Opener). The leg sends "media" messages (base64
// 8 kHz mu-law, 20 ms each, with the stream's streamSid) paced in real
// time, "mark" messages whose echo from Twilio tells that playback reached
// them, "clear" on barge-in, and closes the WebSocket on Hangup. Twilio
// streams have no transfer: Transfer returns voice.ErrUnsupported.

// frameSamples is 20 ms at 8 kHz: one mu-law byte per sample.
const frameSamples = 160

// maxPendingMarks bounds the marks sent and not yet echoed; past it the
// oldest is released unechoed (counted).
const maxPendingMarks = 256

// legItem is one queued outbound item: a 20 ms frame or a mark.
type legItem struct {
	frame []byte        // mu-law, frameSamples bytes; nil for a mark
	mark  chan struct{} // closed when the echo arrives, or on clear
	gen   int           // the Clear generation it was queued in
}

// legSender writes one outbound message with the stream's write deadline.
type legSender func(ctx context.Context, msg []byte) error

// twilioLeg implements voice.Leg for one Twilio stream. Its send loop is
// started by the stream's owner (run) and ends with stop.
type twilioLeg struct {
	sid     string
	timeout time.Duration // write deadline of one message
	m       *metrics
	send    legSender
	hangup  func(reason string)
	queue   chan legItem
	done    chan struct{} // closed by stop: the call has ended
	stopped sync.Once

	mu sync.Mutex
	// +checklocks:mu
	rem []int16 // samples short of a whole frame, sent with the next Play
	// +checklocks:mu
	pending map[string]chan struct{} // marks sent, awaiting their echo
	// +checklocks:mu
	order []string // pending marks' names, oldest first
	// +checklocks:mu
	next int // mark counter
	// +checklocks:mu
	gen int // bumped by Clear: frames queued before it are not sent
}

var _ voice.Leg = (*twilioLeg)(nil)

func newTwilioLeg(sid string, queue int, timeout time.Duration, m *metrics, send legSender, hangup func(string)) *twilioLeg {
	return &twilioLeg{sid: sid, timeout: timeout, m: m, send: send, hangup: hangup, queue: make(chan legItem, queue),
		done: make(chan struct{}), pending: map[string]chan struct{}{}}
}

// Rate is 8 kHz: Twilio streams carry G.711 mu-law.
func (l *twilioLeg) Rate() int { return 8000 }

// Play queues pcm as 20 ms mu-law frames; a trailing part frame waits for
// the next Play (or is padded with silence by Mark).
func (l *twilioLeg) Play(ctx context.Context, pcm []int16) error {
	l.mu.Lock()
	buf := append(l.rem, pcm...)
	n := len(buf) - len(buf)%frameSamples
	l.rem = append([]int16(nil), buf[n:]...)
	gen := l.gen
	l.mu.Unlock()
	for i := 0; i < n; i += frameSamples {
		f := codec.EncodeMulaw(make([]byte, 0, frameSamples), buf[i:i+frameSamples])
		if err := l.enqueue(ctx, legItem{frame: f, gen: gen}); err != nil {
			return err
		}
	}
	return nil
}

func (l *twilioLeg) enqueue(ctx context.Context, it legItem) error {
	select {
	case <-l.done:
		return voice.ErrHungUp
	default:
	}
	select {
	case l.queue <- it:
		return nil
	case <-l.done:
		return voice.ErrHungUp
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Mark flushes a part frame (padded with silence) and queues a mark; the
// channel closes when Twilio echoes it, on Clear, or when the call ends.
func (l *twilioLeg) Mark() <-chan struct{} {
	ch := make(chan struct{})
	l.mu.Lock()
	var tail []byte
	if len(l.rem) > 0 {
		pcm := append(l.rem, make([]int16, frameSamples-len(l.rem))...)
		tail = codec.EncodeMulaw(make([]byte, 0, frameSamples), pcm)
		l.rem = nil
	}
	gen := l.gen
	l.mu.Unlock()
	// Mark has no context: it waits for queue room only while the call
	// lasts (the send loop drains the queue in real time).
	ctx := context.Background()
	if tail != nil {
		if l.enqueue(ctx, legItem{frame: tail, gen: gen}) != nil {
			close(ch)
			return ch
		}
	}
	if l.enqueue(ctx, legItem{mark: ch, gen: gen}) != nil {
		close(ch)
	}
	return ch
}

// Clear drops what is queued, tells Twilio to drop what it has buffered,
// and releases every mark.
func (l *twilioLeg) Clear() {
	l.mu.Lock()
	l.rem = nil
	l.gen++
	for _, name := range l.order {
		close(l.pending[name])
	}
	l.pending, l.order = map[string]chan struct{}{}, nil
	l.mu.Unlock()
	for {
		select {
		case it := <-l.queue:
			if it.mark != nil {
				close(it.mark)
			}
			continue
		default:
		}
		break
	}
	select {
	case <-l.done:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	b, _ := json.Marshal(map[string]any{"event": "clear", "streamSid": l.sid})
	if err := l.send(ctx, b); err == nil {
		l.m.out.WithLabelValues("clear").Inc()
	}
}

// Transfer is not possible on a media stream.
func (l *twilioLeg) Transfer(context.Context, string) error { return voice.ErrUnsupported }

// Hangup closes the WebSocket (status 1000 with reason), which ends the
// Twilio call's stream.
func (l *twilioLeg) Hangup(_ context.Context, reason string) error {
	select {
	case <-l.done:
		return voice.ErrHungUp
	default:
	}
	l.hangup(reason)
	return nil
}

// echoed handles a "mark" message; false when its name was never sent
// (or already echoed).
func (l *twilioLeg) echoed(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.pending[name]
	if !ok {
		return false
	}
	close(ch)
	delete(l.pending, name)
	for i, n := range l.order {
		if n == name {
			l.order = append(l.order[:i], l.order[i+1:]...)
			break
		}
	}
	l.m.marksEchoed.Inc()
	return true
}

// stop ends the leg: Play returns ErrHungUp and every mark is released.
func (l *twilioLeg) stop() {
	l.stopped.Do(func() {
		close(l.done)
		l.mu.Lock()
		for _, name := range l.order {
			close(l.pending[name])
		}
		l.pending, l.order = map[string]chan struct{}{}, nil
		l.mu.Unlock()
	})
}

// run sends the queue in real time, one frame every 20 ms, until stop or a
// write fails (the stream is then closed through hangup). A frame that
// falls more than three frames behind its schedule restarts the schedule
// instead of bursting to catch up.
func (l *twilioLeg) run() {
	defer l.stop()
	const tick = 20 * time.Millisecond
	var due time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var it legItem
		select {
		case it = <-l.queue:
		case <-l.done:
			// Release what is left.
			for {
				select {
				case it := <-l.queue:
					if it.mark != nil {
						close(it.mark)
					}
				default:
					return
				}
			}
		}
		l.mu.Lock()
		stale := it.gen != l.gen
		l.mu.Unlock()
		if stale { // queued before a Clear
			if it.mark != nil {
				close(it.mark)
			}
			continue
		}
		if it.mark != nil {
			l.sendMark(it.mark)
			continue
		}
		now := time.Now()
		if due.IsZero() || now.Sub(due) > 3*tick {
			due = now
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-l.done:
				timer.Stop()
				continue
			}
		}
		due = due.Add(tick)
		l.mu.Lock()
		stale = it.gen != l.gen
		l.mu.Unlock()
		if stale { // cleared while it waited for its time
			continue
		}
		if err := l.sendFrame(it.frame); err != nil {
			l.m.out.WithLabelValues("write_failed").Inc()
			l.hangup("write failed")
			return
		}
	}
}

func (l *twilioLeg) sendFrame(f []byte) error {
	b, _ := json.Marshal(map[string]any{"event": "media", "streamSid": l.sid,
		"media": map[string]string{"payload": base64.StdEncoding.EncodeToString(f)}})
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := l.send(ctx, b); err != nil {
		return err
	}
	l.m.out.WithLabelValues("media").Inc()
	return nil
}

func (l *twilioLeg) sendMark(ch chan struct{}) {
	l.mu.Lock()
	l.next++
	name := "m" + strconv.Itoa(l.next)
	if len(l.order) >= maxPendingMarks {
		old := l.order[0]
		close(l.pending[old])
		delete(l.pending, old)
		l.order = l.order[1:]
		l.m.out.WithLabelValues("mark_overflow").Inc()
	}
	l.pending[name] = ch
	l.order = append(l.order, name)
	l.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"event": "mark", "streamSid": l.sid, "mark": map[string]string{"name": name}})
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := l.send(ctx, b); err != nil {
		l.m.out.WithLabelValues("write_failed").Inc()
		l.hangup("write failed")
		return
	}
	l.m.out.WithLabelValues("mark").Inc()
}
