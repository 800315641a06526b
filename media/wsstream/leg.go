package wsstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/playout"
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

// legSender writes one outbound message.
type legSender func(ctx context.Context, msg []byte) error

// twilioLeg implements voice.Leg for one Twilio stream. Its send loop (run)
// is started by the stream's owner and ends with stop.
type twilioLeg struct {
	sid     string
	timeout time.Duration // write deadline of one message
	m       *metrics
	send    legSender
	hangup  func(reason string)
	q       *playout.Queue

	mu sync.Mutex
	// +checklocks:mu
	pending map[string]chan struct{} // marks sent, awaiting their echo
	// +checklocks:mu
	order []string // pending marks' names, oldest first
	// +checklocks:mu
	next int // mark counter
}

var _ voice.Leg = (*twilioLeg)(nil)

func newTwilioLeg(sid string, queue int, timeout time.Duration, m *metrics, send legSender, hangup func(string)) *twilioLeg {
	return &twilioLeg{sid: sid, timeout: timeout, m: m, send: send, hangup: hangup,
		q: playout.New(frameSamples, queue), pending: map[string]chan struct{}{}}
}

// Rate is 8 kHz: Twilio streams carry G.711 mu-law.
func (l *twilioLeg) Rate() int { return 8000 }

// Play queues pcm as 20 ms frames.
func (l *twilioLeg) Play(ctx context.Context, pcm []int16) error { return l.q.Play(ctx, pcm) }

// Mark's channel closes when Twilio echoes the mark, on Clear, or when the
// call ends.
func (l *twilioLeg) Mark() <-chan struct{} { return l.q.Mark() }

// Clear drops what is queued, tells Twilio to drop what it has buffered,
// and releases every mark.
func (l *twilioLeg) Clear() {
	l.q.Clear()
	l.release()
	select {
	case <-l.q.Done():
		return
	default:
	}
	if err := l.write(map[string]any{"event": "clear", "streamSid": l.sid}); err == nil {
		l.m.out.WithLabelValues("clear").Inc()
	}
}

// release closes the marks awaiting an echo.
func (l *twilioLeg) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range l.order {
		close(l.pending[name])
	}
	l.pending, l.order = map[string]chan struct{}{}, nil
}

// Transfer is not possible on a media stream.
func (l *twilioLeg) Transfer(context.Context, string) error { return voice.ErrUnsupported }

// Hangup closes the WebSocket (status 1000 with reason), which ends the
// Twilio call's stream.
func (l *twilioLeg) Hangup(_ context.Context, reason string) error {
	select {
	case <-l.q.Done():
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
	l.q.Stop()
	l.release()
}

// run sends the queue in real time until stop; a failed write hangs up.
func (l *twilioLeg) run() {
	defer l.stop()
	buf := make([]byte, 0, frameSamples)
	err := l.q.Run(func(pcm []int16, _ bool) error {
		buf = codec.EncodeMulaw(buf[:0], pcm)
		if err := l.write(map[string]any{"event": "media", "streamSid": l.sid,
			"media": map[string]string{"payload": base64.StdEncoding.EncodeToString(buf)}}); err != nil {
			return err
		}
		l.m.out.WithLabelValues("media").Inc()
		return nil
	}, l.sendMark)
	if err != nil {
		l.m.out.WithLabelValues("write_failed").Inc()
		l.hangup("write failed")
	}
}

func (l *twilioLeg) write(msg map[string]any) error {
	b, _ := json.Marshal(msg)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	return l.send(ctx, b)
}

func (l *twilioLeg) sendMark(ch chan struct{}) error {
	select {
	case <-l.q.Done(): // stop released the pending marks already
		close(ch)
		return nil
	default:
	}
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
	if err := l.write(map[string]any{"event": "mark", "streamSid": l.sid, "mark": map[string]string{"name": name}}); err != nil {
		return err
	}
	l.m.out.WithLabelValues("mark").Inc()
	return nil
}
