package sip

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/jitter"
)

// flushAfter releases the reorder buffer when no packet arrived for this
// long (a lost packet is not waited for longer).
const flushAfter = 60 * time.Millisecond

// dtmfDigits are the RFC 4733 events 0-15.
const dtmfDigits = "0123456789*#ABCD"

// rtpStream receives one audio stream of a call on its own UDP port.
type rtpStream struct {
	c      *call
	key    string
	label  string
	party  ingest.Party
	p      ingest.Sink
	codec  string
	port   int
	conn   *net.UDPConn
	rtcp   *net.UDPConn
	held   atomic.Bool
	pt     atomic.Uint32 // audio payload type
	dtmfPT atomic.Int32  // telephone-event payload type or -1
	// lastRTP is the unix nanoseconds of the last accepted packet; 0 before
	// the first.
	lastRTP atomic.Int64
	done    chan struct{}
	st      offerStream // the current offer of the stream; index -1 when removed
	// peer is where the stream's RTP must come from, per the current offer.
	peer atomic.Pointer[rtpPeer]
	// firstDir is the direction of the stream's first offer.
	firstDir string
	// Bot calls: dest is where the bot's audio goes (the offer's address,
	// or the latched source); mute while the caller holds the call.
	dest atomic.Pointer[netip.AddrPort]
	mute atomic.Bool

	// reader goroutine state
	curPeer     *rtpPeer       // the peer latched is for
	latched     netip.AddrPort // latch mode: the source latched to
	ssrc        uint32
	haveSSRC    bool
	seqOff      uint16
	tsOff       uint32
	lastOutSeq  uint16 // rebased sequence of the last packet pushed
	lastOutTS   uint32
	lastDur     uint32
	jb          *jitter.Buffer[packet] // keyed by rebased sequence number
	pushed      bool                   // a packet went to the jitter buffer
	emittedSeq  uint16
	haveEmitted bool
	audioSeq    uint16
	closed      bool // the Party is gone
	dtmf        dtmfState
	ptWarned    bool
}

type packet struct {
	seq, origSeq uint16
	ts           uint32
	pt           uint8
	payload      []byte
	arrived      time.Time
}

// dtmfState follows RFC 4733 events: one event per timestamp, reported
// once, at its end packet or when the next event starts.
type dtmfState struct {
	have     bool
	ts       uint32
	event    byte
	reported bool
}

func (d *dtmfState) packet(ts uint32, payload []byte, report func(string)) bool {
	if len(payload) < 4 {
		return false
	}
	ev, end := payload[0], payload[1]&0x80 != 0
	if !d.have || ts != d.ts {
		d.finish(report)
		*d = dtmfState{have: true, ts: ts, event: ev}
	}
	if end && !d.reported {
		d.reported = true
		if int(d.event) < len(dtmfDigits) {
			report(dtmfDigits[d.event : d.event+1])
		}
	}
	return true
}

func (d *dtmfState) finish(report func(string)) {
	if d.have && !d.reported {
		d.reported = true
		if int(d.event) < len(dtmfDigits) {
			report(dtmfDigits[d.event : d.event+1])
		}
	}
}

// rtpPeer is where a stream accepts RTP from: the address and port its
// offer names, or in latch mode the offer's address and the port of the
// first valid packet from it, latched once per offer.
type rtpPeer struct {
	addr netip.Addr // invalid: nothing is accepted (a held stream's 0.0.0.0)
	port uint16     // 0: latch the port of the first valid packet
}

// peerFor returns the peer of an offered stream. An offer whose connection
// address is not an IP address (a host name) names the signalling source's
// address, with the port latched.
func peerFor(st offerStream, latch bool, signalling netip.Addr) *rtpPeer {
	a, err := netip.ParseAddr(st.addr)
	switch {
	case err != nil:
		return &rtpPeer{addr: signalling.Unmap()}
	case a.IsUnspecified():
		return &rtpPeer{}
	case latch || st.port <= 0 || st.port > 65535:
		return &rtpPeer{addr: a.Unmap()}
	}
	return &rtpPeer{addr: a.Unmap(), port: uint16(st.port)}
}

// fromPeer reports whether a packet from `from` comes from the stream's
// peer; latch is true when it would latch the peer's port.
func (s *rtpStream) fromPeer(from netip.AddrPort) (ok, latch bool) {
	p := s.peer.Load()
	if p != s.curPeer {
		s.curPeer, s.latched = p, netip.AddrPort{} // a new offer: latch again
	}
	if p == nil || !p.addr.IsValid() || from.Addr().Unmap() != p.addr {
		return false, false
	}
	switch {
	case p.port != 0:
		return from.Port() == p.port, false
	case s.latched.IsValid():
		return from == s.latched, false
	}
	return true, true
}

// read is the stream's reader goroutine.
func (s *rtpStream) read() {
	defer close(s.done)
	buf := make([]byte, 2048)
	for {
		if s.jb.Pending() > 0 {
			_ = s.conn.SetReadDeadline(time.Now().Add(flushAfter))
		} else {
			_ = s.conn.SetReadDeadline(time.Time{})
		}
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				s.jb.Flush()
				continue
			}
			s.jb.Flush()
			s.dtmf.finish(s.reportDTMF)
			return
		}
		s.packet(buf[:n], from, time.Now())
	}
}

// packet takes one datagram that arrived from `from` at now: it is
// dropped and counted, or goes to the reorder buffer.
func (s *rtpStream) packet(b []byte, from netip.AddrPort, now time.Time) {
	srv := s.c.srv
	m := srv.m
	if len(b) < 12 || b[0]>>6 != 2 {
		m.dropped.WithLabelValues("malformed").Inc()
		return
	}
	if pt := b[1] & 0x7f; pt >= 72 && pt <= 76 {
		m.rtcp.Inc() // RTCP multiplexed on the RTP port
		return
	}
	if !srv.allowed(from.Addr()) {
		m.dropped.WithLabelValues("source_not_allowed").Inc()
		return
	}
	ok, latch := s.fromPeer(from)
	if !ok {
		m.dropped.WithLabelValues("unexpected_source").Inc()
		return
	}
	var h rtp.Packet
	if err := h.Unmarshal(b); err != nil {
		m.dropped.WithLabelValues("malformed").Inc()
		return
	}
	pt := h.PayloadType
	isDTMF := int32(pt) == s.dtmfPT.Load()
	switch {
	case uint32(pt) == s.pt.Load() || isDTMF:
	case pt == ptCN:
		m.dropped.WithLabelValues("comfort_noise").Inc()
		return
	default:
		m.dropped.WithLabelValues("payload_type").Inc()
		if !s.ptWarned {
			s.ptWarned = true
			srv.log.Warn("RTP with an unnegotiated payload type dropped", "call", s.c.id, "stream", s.key, "payload_type", pt)
		}
		return
	}
	switch {
	case len(h.Payload) == 0:
		m.dropped.WithLabelValues("empty").Inc()
		return
	case len(h.Payload) > srv.cfg.MaxPayloadBytes:
		m.dropped.WithLabelValues("oversized").Inc()
		return
	}
	if latch {
		s.latched = from
		s.dest.Store(&from)
		srv.log.Info("RTP source latched", "call", s.c.id, "stream", s.key)
	}
	s.lastRTP.Store(now.UnixNano())
	m.packets.WithLabelValues(s.codec).Inc()
	if !s.haveSSRC || h.SSRC != s.ssrc {
		if s.haveSSRC {
			// A new source: flush the old one and continue its numbering.
			s.jb.Flush()
			m.ssrcChanges.Inc()
			s.seqOff = s.lastOutSeq + 1 - h.SequenceNumber
			s.tsOff = s.lastOutTS + s.lastDur - h.Timestamp
		}
		s.ssrc, s.haveSSRC = h.SSRC, true
	}
	p := packet{seq: h.SequenceNumber + s.seqOff, origSeq: h.SequenceNumber, ts: h.Timestamp + s.tsOff,
		pt: pt, payload: append([]byte(nil), h.Payload...), arrived: now}
	if !isDTMF {
		if d := p.ts - s.lastOutTS; int16(p.seq-s.lastOutSeq) == 1 && d > 0 && d < 8000 {
			s.lastDur = d
		} else if s.lastDur == 0 {
			s.lastDur = uint32(len(p.payload))
		}
	}
	if int16(p.seq-s.lastOutSeq) > 0 || !s.pushed {
		s.lastOutSeq, s.lastOutTS = p.seq, p.ts
	}
	s.pushed = true
	if s.jb.Push(p.seq, p) {
		m.dropped.WithLabelValues("late").Inc()
	}
}

// emit hands one in-order packet to the party or the DTMF decoder.
func (s *rtpStream) emit(_ uint16, p packet) {
	gap := uint16(0)
	if d := p.seq - s.emittedSeq; s.haveEmitted && d >= 1 && d < jitter.RestartJump {
		gap = d - 1
	} // else the stream restarted its numbering: nothing was lost
	s.haveEmitted, s.emittedSeq = true, p.seq
	if int32(p.pt) == s.dtmfPT.Load() {
		s.audioSeq += gap
		if !s.dtmf.packet(p.ts, p.payload, s.reportDTMF) {
			s.c.srv.m.dropped.WithLabelValues("malformed").Inc()
		}
		return
	}
	s.audioSeq += gap + 1
	if s.closed {
		return
	}
	// Decode errors, losses and overflow are counted by the Party.
	if err := s.p.WriteRTP(s.audioSeq, p.ts, p.payload); ingest.IsClosed(err) {
		s.closed = true
	}
	s.c.srv.m.delay.Observe(time.Since(p.arrived).Seconds())
}

func (s *rtpStream) reportDTMF(digit string) {
	s.c.srv.m.dtmf.Inc()
	if r, ok := s.c.eng.(ingest.DTMFReceiver); ok {
		r.DTMF(s.party, digit)
	}
}

// discardRTCP reads and counts RTCP on the stream's odd port.
func (s *rtpStream) discardRTCP(wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.rtcp.ReadFromUDPAddrPort(buf); err != nil {
			return
		}
		s.c.srv.m.rtcp.Inc()
	}
}
