package sip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/voice"
)

// frameSamples is one 20 ms G.711 packet at 8 kHz.
const frameSamples = 160

// legQueueFrames bounds the audio queued on a bot call's leg (2 s): Play
// blocks beyond it.
const legQueueFrames = 100

// botLeg is a bot call's way back to the caller: the bot's audio paced as
// 20 ms RTP packets from the stream's own port to the caller's RTP
// address, REFER for hand-over and BYE to end.
type botLeg struct {
	c  *call
	rs *rtpStream

	ssrc uint32
	wake chan struct{} // Play waits on it for queue space

	mu sync.Mutex
	// +checklocks:mu
	frames [][]int16
	// +checklocks:mu
	partial []int16
	// queued and sent count frames; marks wait for sent to reach theirs.
	// +checklocks:mu
	queued, sent int64
	// +checklocks:mu
	marks []legMark
}

type legMark struct {
	at int64
	ch chan struct{}
}

var _ voice.Leg = (*botLeg)(nil)

func newBotLeg(c *call, rs *rtpStream) *botLeg {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &botLeg{c: c, rs: rs, ssrc: binary.BigEndian.Uint32(b[:]), wake: make(chan struct{}, 1)}
}

func (l *botLeg) Rate() int { return 8000 }

// Play queues pcm in 20 ms frames (a last part frame waits for more audio
// or for Mark).
func (l *botLeg) Play(ctx context.Context, pcm []int16) error {
	for {
		select {
		case <-l.c.stop:
			return voice.ErrHungUp
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		l.mu.Lock()
		for len(l.frames) < legQueueFrames && len(l.partial)+len(pcm) >= frameSamples {
			n := frameSamples - len(l.partial)
			f := make([]int16, 0, frameSamples)
			f = append(append(f, l.partial...), pcm[:n]...)
			l.partial, pcm = l.partial[:0], pcm[n:]
			l.frames = append(l.frames, f)
			l.queued++
		}
		if len(pcm) < frameSamples-len(l.partial) {
			l.partial = append(l.partial, pcm...)
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-l.c.stop:
			return voice.ErrHungUp
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Mark pads a part frame with silence and returns a channel closed once
// everything queued so far has been sent (or cleared).
func (l *botLeg) Mark() <-chan struct{} {
	ch := make(chan struct{})
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		f := make([]int16, frameSamples)
		copy(f, l.partial)
		l.partial = l.partial[:0]
		l.frames = append(l.frames, f)
		l.queued++
	}
	if l.sent >= l.queued {
		close(ch)
		return ch
	}
	l.marks = append(l.marks, legMark{at: l.queued, ch: ch})
	return ch
}

// Clear drops the queued audio: the next 20 ms tick sends nothing.
func (l *botLeg) Clear() {
	l.mu.Lock()
	l.frames, l.partial = nil, l.partial[:0]
	l.sent = l.queued
	l.releaseMarks()
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// releaseMarks closes the marks that are due. l.mu must be held.
func (l *botLeg) releaseMarks() {
	keep := l.marks[:0]
	for _, m := range l.marks {
		if l.sent >= m.at {
			close(m.ch)
		} else {
			keep = append(keep, m)
		}
	}
	l.marks = keep
}

// next takes the frame to send now, if any.
func (l *botLeg) next() []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.frames) == 0 {
		return nil
	}
	f := l.frames[0]
	l.frames[0] = nil
	l.frames = l.frames[1:]
	l.sent++
	l.releaseMarks()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return f
}

// send paces the queued frames every 20 ms until the call stops. The RTP
// timestamp follows the sampling clock (it advances through silences),
// the sequence number counts packets, and the marker bit flags the first
// packet of each talk spurt (RFC 3551 section 4.1).
func (l *botLeg) send() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var b [4]byte
	_, _ = rand.Read(b[:])
	seq := binary.BigEndian.Uint16(b[:2])
	ts := binary.BigEndian.Uint32(b[:])
	talking := false
	buf := make([]byte, 0, frameSamples)
	pkt := make([]byte, 0, 12+frameSamples)
	for {
		select {
		case <-l.c.stop:
			return
		case <-tick.C:
		}
		ts += frameSamples
		f := l.next()
		if f == nil {
			talking = false
			continue
		}
		if l.rs.mute.Load() {
			continue // the caller holds the call: nothing is sent
		}
		dst := l.rs.dest.Load()
		if dst == nil || !dst.IsValid() {
			continue
		}
		if l.rs.codec == "pcma" {
			buf = codec.EncodeAlaw(buf[:0], f)
		} else {
			buf = codec.EncodeMulaw(buf[:0], f)
		}
		h := rtp.Header{Version: 2, Marker: !talking, PayloadType: uint8(l.rs.pt.Load()), SequenceNumber: seq, Timestamp: ts, SSRC: l.ssrc}
		talking = true
		seq++
		hb, err := h.Marshal()
		if err != nil {
			continue
		}
		pkt = append(append(pkt[:0], hb...), buf...)
		if _, err := l.rs.conn.WriteToUDPAddrPort(pkt, *dst); err != nil {
			l.c.srv.m.sent.WithLabelValues("error").Inc()
			continue
		}
		l.c.srv.m.sent.WithLabelValues("ok").Inc()
	}
}

// Transfer sends REFER (RFC 3515) to target in the call's dialog and waits
// for the NOTIFY whose sipfrag reports the transferee's final answer. A
// 2xx ends the call (BYE).
func (l *botLeg) Transfer(ctx context.Context, target string) error {
	c := l.c
	if !strings.HasPrefix(target, "sip:") && !strings.HasPrefix(target, "sips:") && !strings.HasPrefix(target, "tel:") {
		return fmt.Errorf("sip: transfer: target %q is not a SIP or tel URI", target)
	}
	c.mu.Lock()
	c.notify = make(chan int, 8)
	notify := c.notify
	c.mu.Unlock()
	req := c.newRequest(sipmsg.REFER)
	req.AppendHeader(sipmsg.NewHeader("Refer-To", "<"+target+">"))
	req.AppendHeader(sipmsg.NewHeader("Referred-By", "<"+c.peer.local.String()+">"))
	req.AppendHeader(sipmsg.NewHeader("Contact", "<sip:earshot@"+c.srv.contactFor(c.peer.transport)+">"))
	res, err := c.srv.client.Do(ctx, req)
	if err != nil {
		c.srv.m.transfers.WithLabelValues("error").Inc()
		return fmt.Errorf("sip: transfer: REFER: %w", err)
	}
	if res.StatusCode >= 300 {
		c.srv.m.transfers.WithLabelValues("refused").Inc()
		return fmt.Errorf("sip: transfer: REFER refused with %d", res.StatusCode)
	}
	for {
		select {
		case <-ctx.Done():
			c.srv.m.transfers.WithLabelValues("timeout").Inc()
			return fmt.Errorf("sip: transfer: no final NOTIFY: %w", ctx.Err())
		case <-c.stop:
			c.srv.m.transfers.WithLabelValues("accepted").Inc()
			return nil // the caller hung up on the transferor: done
		case st := <-notify:
			switch {
			case st < 200:
				continue
			case st < 300:
				c.srv.m.transfers.WithLabelValues("accepted").Inc()
				c.hangupReason("transferred")
				c.end("transferred", nil)
				return nil
			default:
				c.srv.m.transfers.WithLabelValues("refused").Inc()
				return fmt.Errorf("sip: transfer: the target answered %d", st)
			}
		}
	}
}

// Hangup ends the call with BYE carrying a Reason header (RFC 3326).
func (l *botLeg) Hangup(_ context.Context, reason string) error {
	l.c.hangupReason(reason)
	l.c.end("bot_ended", nil)
	return nil
}

// hangupReason sets the Reason of the server's BYE.
func (c *call) hangupReason(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byeReason == "" {
		c.byeReason = reason
	}
}

// reasonHeader is an RFC 3326 Reason header value for a bot's reason (a
// token: anything else is replaced).
func reasonHeader(reason string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.', r == ' ':
			return r
		}
		return '_'
	}, reason)
	if len(clean) > 64 {
		clean = clean[:64]
	}
	return `SIP ;cause=200 ;text="` + clean + `"`
}

// sipfragStatus reads the status code of a NOTIFY's message/sipfrag body
// ("SIP/2.0 200 OK"); 0 if it has none.
func sipfragStatus(body []byte) int {
	line, _, _ := strings.Cut(string(body), "\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/") {
		return 0
	}
	n := 0
	for _, r := range f[1] {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int(r-'0')
	}
	if n < 100 || n > 699 {
		return 0
	}
	return n
}

// destOf is where a stream's bot audio goes per its offer.
func destOf(st offerStream) *netip.AddrPort {
	a, err := netip.ParseAddr(st.addr)
	if err != nil || a.IsUnspecified() || st.port <= 0 || st.port > 65535 {
		return &netip.AddrPort{}
	}
	ap := netip.AddrPortFrom(a.Unmap(), uint16(st.port))
	return &ap
}
