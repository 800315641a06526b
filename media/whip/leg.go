package whip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/playout"
	"github.com/earshot/earshot/media/voice"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Two-way sessions (VoiceHandler): a browser's single sendrecv audio track
// is answered with G.711 (PCMU, else PCMA; Chromium and Firefox offer both)
// and a track of the server's own, and the engagement's Meta carries a
// voice.Leg that sends the bot's speech on it: 20 ms RTP packets paced in
// real time, one SSRC (pion's sender), sequence numbers from a random start
// increasing by one, timestamps at 8 kHz increasing by 160 within a
// talkspurt and by the time elapsed across a pause, the marker bit on the
// first packet of each talkspurt (RFC 3551 section 4.1). Opus is not sent:
// pion has no Opus encoder, and Earshot takes no new C dependency for one.

// legFrame is 20 ms at 8 kHz.
const legFrame = 160

// legQueue bounds the frames queued ahead of real time: one second.
const legQueue = 50

// rtpLeg implements voice.Leg on a two-way session's local track.
type rtpLeg struct {
	ss    *session
	track *webrtc.TrackLocalStaticRTP
	codec codec.Codec
	q     *playout.Queue
	done  chan struct{} // run returned

	seq  uint16
	ts   uint32
	last time.Time // when the last packet was sent
}

var _ voice.Leg = (*rtpLeg)(nil)

func newRTPLeg(ss *session, track *webrtc.TrackLocalStaticRTP, c codec.Codec) *rtpLeg {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return &rtpLeg{ss: ss, track: track, codec: c, q: playout.New(legFrame, legQueue), done: make(chan struct{}),
		seq: binary.BigEndian.Uint16(r[:2]), ts: binary.BigEndian.Uint32(r[2:])}
}

func (l *rtpLeg) Rate() int { return 8000 }

func (l *rtpLeg) Play(ctx context.Context, pcm []int16) error { return l.q.Play(ctx, pcm) }

// Mark's channel closes once the packets before it were sent.
func (l *rtpLeg) Mark() <-chan struct{} { return l.q.Mark() }

func (l *rtpLeg) Clear() {
	l.q.Clear()
	l.ss.srv.m.legOut.WithLabelValues("clear").Inc()
}

// Transfer: a browser call has nowhere to be transferred to.
func (l *rtpLeg) Transfer(context.Context, string) error { return voice.ErrUnsupported }

// Hangup ends the session (the browser sees the peer connection close).
func (l *rtpLeg) Hangup(_ context.Context, reason string) error {
	select {
	case <-l.q.Done():
		return voice.ErrHungUp
	default:
	}
	l.ss.end("hangup", nil)
	return nil
}

// run waits for the connection, then sends the queue until the session
// ends.
func (l *rtpLeg) run() {
	defer close(l.done)
	select {
	case <-l.ss.connected:
	case <-l.q.Done():
		return
	}
	buf := make([]byte, 0, legFrame)
	m := l.ss.srv.m
	_ = l.q.Run(func(pcm []int16, resumed bool) error {
		now := time.Now()
		if resumed && !l.last.IsZero() {
			// The RTP clock runs through the pause (ts is already one
			// frame past the last packet), in whole frames.
			if gap := now.Sub(l.last) - playout.Tick; gap > 0 {
				l.ts += uint32(gap/playout.Tick) * legFrame
			}
		}
		if l.codec == codec.PCMA {
			buf = codec.EncodeAlaw(buf[:0], pcm)
		} else {
			buf = codec.EncodeMulaw(buf[:0], pcm)
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: resumed, SequenceNumber: l.seq, Timestamp: l.ts}, Payload: buf}
		l.seq++
		l.ts += legFrame
		l.last = now
		if err := l.track.WriteRTP(p); err != nil {
			// A send that fails (the connection going away) loses this
			// packet only; the session's watch ends a dead connection.
			m.legOut.WithLabelValues("write_failed").Inc()
			return nil
		}
		m.legOut.WithLabelValues("rtp").Inc()
		return nil
	}, func(ch chan struct{}) error {
		close(ch)
		m.legOut.WithLabelValues("mark").Inc()
		return nil
	})
}

// stop ends the leg and waits for its send loop.
func (l *rtpLeg) stop() {
	l.q.Stop()
	<-l.done
}
