package whip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/codec/opus"
	"github.com/earshot/earshot/media/playout"
	"github.com/earshot/earshot/media/voice"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Two-way sessions (VoiceHandler): a browser's single sendrecv audio track
// is answered with Opus when offered (Chromium and Firefox always do), else
// G.711 (PCMU, else PCMA), and a track of the server's own, and the
// engagement's Meta carries a voice.Leg that sends the bot's speech on it:
// 20 ms RTP packets paced in real time, one SSRC (pion's sender), sequence
// numbers from a random start increasing by one, timestamps on the codec's
// RTP clock (8 kHz for G.711; 48 kHz for Opus, RFC 7587) increasing by one
// frame within a talkspurt and by the time elapsed across a pause, the
// marker bit on the first packet of each talkspurt (RFC 3551 section 4.1).
// The bot speaks into an Opus leg at 16 kHz (the synthesisers' wideband
// rate; libopus codes that band and the browser decodes at 48 kHz), into a
// G.711 leg at 8 kHz.

// legQueue bounds the frames queued ahead of real time: one second.
const legQueue = 50

// legFormat is how a leg's codec is sent.
type legFormat struct {
	rate  int    // PCM rate Play takes
	frame int    // samples per 20 ms at rate
	step  uint32 // RTP timestamp increment per frame
}

func formatOf(c codec.Codec) legFormat {
	if c == codec.Opus {
		return legFormat{rate: 16000, frame: 320, step: opus.ClockStep}
	}
	return legFormat{rate: 8000, frame: 160, step: 160}
}

// rtpLeg implements voice.Leg on a two-way session's local track.
type rtpLeg struct {
	ss    *session
	track *webrtc.TrackLocalStaticRTP
	codec codec.Codec
	fmt   legFormat
	enc   *opus.Encoder // Opus legs; used by run only
	q     *playout.Queue
	done  chan struct{} // run returned

	seq  uint16
	ts   uint32
	last time.Time // when the last packet was sent
}

var _ voice.Leg = (*rtpLeg)(nil)

func newRTPLeg(ss *session, track *webrtc.TrackLocalStaticRTP, c codec.Codec) (*rtpLeg, error) {
	var r [6]byte
	_, _ = rand.Read(r[:])
	f := formatOf(c)
	l := &rtpLeg{ss: ss, track: track, codec: c, fmt: f, q: playout.New(f.frame, legQueue), done: make(chan struct{}),
		seq: binary.BigEndian.Uint16(r[:2]), ts: binary.BigEndian.Uint32(r[2:])}
	if c == codec.Opus {
		cfg := opus.DefaultConfig()
		cfg.SampleRate = f.rate
		enc, err := opus.NewEncoder(cfg)
		if err != nil {
			return nil, fmt.Errorf("whip: bot voice: %w", err)
		}
		l.enc = enc
	}
	return l, nil
}

func (l *rtpLeg) Rate() int { return l.fmt.rate }

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
	if l.enc != nil {
		defer l.enc.Close()
	}
	select {
	case <-l.ss.connected:
	case <-l.q.Done():
		return
	}
	buf := make([]byte, 0, opus.MaxPacket)
	m := l.ss.srv.m
	_ = l.q.Run(func(pcm []int16, resumed bool) error {
		now := time.Now()
		if resumed && !l.last.IsZero() {
			// The RTP clock runs through the pause (ts is already one
			// frame past the last packet), in whole frames.
			if gap := now.Sub(l.last) - playout.Tick; gap > 0 {
				l.ts += uint32(gap/playout.Tick) * l.fmt.step
			}
		}
		switch l.codec {
		case codec.Opus:
			var err error
			if buf, err = l.enc.Encode(buf[:0], pcm); err != nil {
				// Cannot happen with whole frames; lose the frame, count it.
				m.legOut.WithLabelValues("encode_failed").Inc()
				l.ts += l.fmt.step
				return nil
			}
		case codec.PCMA:
			buf = codec.EncodeAlaw(buf[:0], pcm)
		default:
			buf = codec.EncodeMulaw(buf[:0], pcm)
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: resumed, SequenceNumber: l.seq, Timestamp: l.ts}, Payload: buf}
		l.seq++
		l.ts += l.fmt.step
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
