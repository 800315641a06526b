package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/jitter"
)

// call is one recorded SIP dialog.
type call struct {
	srv     *Server
	id      string
	tag     string // our To tag
	siprec  bool
	sessID  uint64
	started time.Time
	eng     ingest.Engagement
	done    chan struct{}
	// peer is what a BYE from the server needs: the client's target
	// (Contact), its From (our To), the transport and the source.
	peer dialogPeer
	// signalling is the address the INVITE came from.
	signalling netip.Addr

	mu sync.Mutex
	// +checklocks:mu
	offer *sdp.SessionDescription
	// +checklocks:mu
	streams map[string]*rtpStream // by key
	// order lists the streams in the order they were added.
	// +checklocks:mu
	order []*rtpStream
	// +checklocks:mu
	participants []Participant
	// +checklocks:mu
	version uint64
	// +checklocks:mu
	ending  bool
	readers sync.WaitGroup
	endOnce sync.Once

	// bot is set for a bot call: its leg sends the bot's audio.
	bot *botLeg
	// stop is closed when the call starts ending (the leg stops sending).
	stop chan struct{}
	// cseq numbers the server's requests in the dialog.
	cseq atomic.Uint32
	// notify receives the sipfrag status of each NOTIFY of a transfer.
	// +checklocks:mu
	notify chan int
	// byeReason is the Reason of the server's BYE (a bot's end).
	// +checklocks:mu
	byeReason string
}

// newStream binds a port pair for an offered stream.
func (c *call) newStream(st offerStream, party ingest.Party) (*rtpStream, error) {
	port, rc, cc, err := c.srv.ports.open()
	if err != nil {
		return nil, err
	}
	rs := &rtpStream{c: c, key: st.key(), label: st.label, party: party, codec: st.codecName, port: port,
		conn: rc, rtcp: cc, done: make(chan struct{}), st: st, firstDir: st.direction}
	rs.jb = jitter.New(c.srv.cfg.JitterPackets, rs.emit)
	rs.setOffer(st, c.rtpPeer(st))
	c.mu.Lock()
	c.streams[rs.key] = rs
	c.mu.Unlock()
	return rs, nil
}

func (rs *rtpStream) setOffer(st offerStream, peer *rtpPeer) {
	rs.pt.Store(uint32(st.pt))
	rs.dtmfPT.Store(int32(st.dtmfPT))
	rs.held.Store(st.held())
	rs.peer.Store(peer)
	rs.mute.Store(st.direction == "sendonly" || st.direction == "inactive")
	rs.dest.Store(destOf(st)) // latch mode: the first packet's source replaces it
}

// remove holds a stream the offer no longer carries (or carries with
// another codec: the party keeps its format) and accepts no more RTP on it.
// c.mu must be held.
func (rs *rtpStream) remove() {
	rs.held.Store(true)
	rs.peer.Store(&rtpPeer{})
	rs.st = offerStream{index: -1}
}

// rtpPeer returns where an offered stream's RTP must come from.
func (c *call) rtpPeer(st offerStream) *rtpPeer {
	return peerFor(st, c.srv.cfg.RTPSource == RTPSourceLatch, c.signalling)
}

func (c *call) startStream(rs *rtpStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ending {
		return
	}
	c.readers.Add(2)
	go func() {
		defer c.readers.Done()
		rs.read()
	}()
	go rs.discardRTCP(&c.readers)
}

// closeStreams closes every stream's sockets; releasePorts then returns
// their ports to the range once the readers are gone.
func (c *call) closeStreams() {
	c.mu.Lock()
	all := make([]*rtpStream, 0, len(c.streams))
	for _, rs := range c.streams {
		all = append(all, rs)
	}
	c.mu.Unlock()
	for _, rs := range all {
		_ = rs.conn.Close()
		_ = rs.rtcp.Close()
	}
}

func (c *call) releasePorts() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range c.streams {
		c.srv.ports.release(rs.port)
	}
}

// abandon undoes the streams of a call that was refused before its
// readers started: sockets closed, ports back in the range.
func (c *call) abandon() {
	c.closeStreams()
	c.releasePorts()
}

// answer sends 200 OK with the SDP answer for the current offer.
func (c *call) answer(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c.mu.Lock()
	accepted := map[int]answerStream{}
	for _, rs := range c.streams {
		if rs.st.index >= 0 {
			accepted[rs.st.index] = answerStream{port: rs.port, st: rs.st, bot: c.bot != nil}
		}
	}
	body := buildAnswer(c.offer, c.srv.cfg.MediaIP, c.sessID, c.version, accepted)
	c.mu.Unlock()
	res := sipmsg.NewResponseFromRequest(req, 200, "OK", body)
	if to := res.To(); to != nil && toTag(req) == "" {
		// The stack puts a random tag on responses; the dialog uses ours.
		to.Params.Remove("tag")
		to.Params.Add("tag", c.tag)
	}
	res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	contact := "<sip:earshot@" + contactHost(req, c.srv) + ">"
	if c.siprec {
		contact += ";+sip.srs"
	}
	res.AppendHeader(sipmsg.NewHeader("Contact", contact))
	res.AppendHeader(sipmsg.NewHeader("Allow", allowed))
	if err := tx.Respond(res); err != nil {
		c.srv.log.Warn("SIP answer not sent", "call_id", c.id, "err", err)
	}
}

// contactHost is the address the request reached, with its transport.
func contactHost(req *sipmsg.Request, s *Server) string {
	host := req.Destination()
	tr := strings.ToLower(req.Transport())
	if host == "" {
		switch tr {
		case "tcp":
			host = s.TCPAddr()
		default:
			host = s.UDPAddr()
		}
	}
	if tr != "" && tr != "udp" {
		host += ";transport=" + tr
	}
	return host
}

// reinvite answers a re-INVITE or UPDATE: hold and resume, added or
// removed streams, and recording metadata updates.
func (c *call) reinvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s := c.srv
	s.m.reinvites.Inc()
	if len(req.Body()) == 0 {
		c.answer(req, tx) // no offer: repeat the current answer
		return
	}
	sd, streams, md, ok := s.offerOf(req, tx, c.siprec)
	if !ok {
		return
	}
	c.mu.Lock()
	if md != nil {
		c.participants = md.participants
	}
	participants := c.participants
	c.mu.Unlock()
	var senders map[string]int
	if md != nil {
		senders = md.senders
	}
	seen := map[string]bool{}
	var added []*rtpStream
	type holdChange struct {
		party ingest.Party
		held  bool
	}
	var holds []holdChange
	for _, st := range streams {
		seen[st.key()] = true
		c.mu.Lock()
		rs := c.streams[st.key()]
		c.mu.Unlock()
		switch {
		case rs != nil && (st.port == 0 || !st.ok || st.codecName != rs.codec):
			// Removed, or switched to another codec: the party keeps its
			// format, so the stream is held from now on.
			c.mu.Lock()
			rs.remove()
			c.mu.Unlock()
		case rs != nil:
			c.mu.Lock()
			if was, now := rs.st.onHold(rs.firstDir), st.onHold(rs.firstDir); was != now && rs.st.index >= 0 {
				holds = append(holds, holdChange{rs.party, now})
			}
			rs.st = st
			c.mu.Unlock()
			rs.setOffer(st, c.rtpPeer(st))
		case st.ok && st.port != 0 && c.streamCount() >= s.cfg.MaxStreams:
			s.m.refused.WithLabelValues("too_many_streams").Inc()
			s.log.Warn("stream added by re-INVITE not accepted", "call_id", c.id, "err", fmt.Sprintf("at most %d audio streams per call", s.cfg.MaxStreams))
		case st.ok && st.port != 0:
			party := s.partyFor(c, st, participants, senders)
			nrs, err := c.newStream(st, party)
			if err != nil {
				s.log.Warn("stream added by re-INVITE not accepted", "call_id", c.id, "err", err)
				continue
			}
			p, err := c.eng.AddParty(party, codec.Format{Codec: codec.Codec(nrs.codec), SampleRate: 8000, Channels: 1}, 0)
			if err != nil {
				s.log.Warn("stream added by re-INVITE not accepted", "call_id", c.id, "party", party, "err", err)
				c.mu.Lock()
				delete(c.streams, nrs.key)
				c.mu.Unlock()
				_ = nrs.conn.Close()
				_ = nrs.rtcp.Close()
				s.ports.release(nrs.port)
				continue
			}
			nrs.p = p
			added = append(added, nrs)
		}
	}
	c.mu.Lock()
	for k, rs := range c.streams {
		if !seen[k] {
			rs.remove()
		}
	}
	c.offer = sd
	c.version++
	c.order = append(c.order, added...)
	c.mu.Unlock()
	for _, rs := range added {
		c.startStream(rs)
	}
	if md != nil {
		c.mu.Lock()
		for i := range participants {
			for _, l := range participants[i].Labels {
				if rs := c.streams["label:"+l]; rs != nil {
					participants[i].Party = rs.party
				}
			}
		}
		c.mu.Unlock()
		if r, ok := c.eng.(MetadataReceiver); ok {
			r.Participants(participants)
		}
		s.log.Info("recording metadata updated", "call_id", c.id, "participants", len(participants))
	}
	c.answer(req, tx)
	if r, ok := c.eng.(HoldReceiver); ok {
		for _, h := range holds {
			r.Hold(h.party, h.held)
		}
	}
}

// streamCount returns the number of streams the call has had (removed
// ones hold their ports until the call ends).
func (c *call) streamCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.streams)
}

// partyFor chooses the party of a stream added mid-call: the metadata's
// sender if it maps, else the first party not yet used.
func (s *Server) partyFor(c *call, st offerStream, ps []Participant, senders map[string]int) ingest.Party {
	c.mu.Lock()
	used := map[ingest.Party]bool{}
	for _, rs := range c.streams {
		used[rs.party] = true
	}
	c.mu.Unlock()
	if i, ok := senders[st.label]; ok && st.label != "" {
		if p := s.rules.match(ps[i]); p != "" && !used[p] {
			return p
		}
	}
	for _, p := range []ingest.Party{ingest.PartyCustomer, ingest.PartyAgent} {
		if !used[p] {
			return p
		}
	}
	return ingest.PartyMixed
}

// watch ends the call when its streams stop receiving RTP, when it has
// been on hold for longer than the hold timeout, or when its engagement
// ends. While the call is on hold within the limit it keeps the engagement
// alive.
func (c *call) watch() {
	cfg := c.srv.cfg
	tick := time.NewTicker(min(cfg.RTPTimeout/4, cfg.HoldTimeout/4, time.Second))
	defer tick.Stop()
	ended := ingest.EndedOf(c.eng)
	var heldSince time.Time
	for {
		var now time.Time
		select {
		case <-c.done:
			return
		case <-ended:
			c.end("engagement_ended", errEngagementEnded)
			return
		case now = <-tick.C:
		}
		c.mu.Lock()
		active, idle := 0, 0
		for _, rs := range c.streams {
			if rs.held.Load() {
				continue
			}
			active++
			last, limit := rs.lastRTP.Load(), cfg.RTPTimeout
			if last == 0 {
				last, limit = c.started.UnixNano(), cfg.SetupTimeout
			}
			if now.Sub(time.Unix(0, last)) > limit {
				idle++
			}
		}
		c.mu.Unlock()
		switch {
		case active > 0 && idle == active:
			c.end("rtp_timeout", fmt.Errorf("sip: no RTP for %s", cfg.RTPTimeout))
			return
		case active > 0:
			heldSince = time.Time{}
			continue
		case heldSince.IsZero():
			heldSince = now
		}
		if now.Sub(heldSince) > cfg.HoldTimeout {
			c.end("hold_timeout", fmt.Errorf("sip: on hold for more than %s", cfg.HoldTimeout))
			return
		}
		ingest.KeepAlive(c.eng)
	}
}

// errEngagementEnded closes the engagement of a call that its engagement's
// owner ended first.
var errEngagementEnded = errors.New("sip: the engagement ended")

// end ends the call once; the first reason wins.
func (c *call) end(reason string, cause error) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.ending = true
		c.mu.Unlock()
		close(c.stop)
		s := c.srv
		go func() {
			switch reason {
			case "bye":
			case "shutdown":
				c.sendBye(time.Second)
			default:
				c.sendBye(byeTimeout)
			}
			c.closeStreams()
			c.readers.Wait()
			c.eng.Close(cause)
			c.releasePorts()
			s.mu.Lock()
			delete(s.calls, c.id)
			s.mu.Unlock()
			<-s.slots
			s.m.calls.Dec()
			s.m.ended.WithLabelValues(reason).Inc()
			s.log.Info("call ended", "call_id", c.id, "reason", reason, "duration", time.Since(c.started).Round(time.Second))
			close(c.done)
		}()
	})
}

// dialogPeer holds the dialog state needed to send BYE.
type dialogPeer struct {
	target    sipmsg.Uri // the client's Contact (else its From URI)
	remote    sipmsg.Uri // the client's From URI
	remoteTag string
	local     sipmsg.Uri // the INVITE's To URI
	transport string
	source    string // where the INVITE came from (host:port)
}

func peerOf(req *sipmsg.Request) dialogPeer {
	p := dialogPeer{transport: req.Transport(), source: req.Source()}
	if f := req.From(); f != nil {
		p.remote, p.target = f.Address, f.Address
		p.remoteTag, _ = f.Params.Get("tag")
	}
	if ct := req.Contact(); ct != nil {
		p.target = ct.Address
	}
	if to := req.To(); to != nil {
		p.local = to.Address
	}
	return p
}

// byeTimeout bounds the wait for the answer to the server's BYE.
const byeTimeout = 4 * time.Second

// sendBye ends the dialog from the server's side (RTP timeout, shutdown),
// so that the client stops sending; best effort, logged.
func (c *call) sendBye(timeout time.Duration) {
	if c.peer.source == "" {
		return
	}
	req := c.newRequest(sipmsg.BYE)
	c.mu.Lock()
	if c.byeReason != "" {
		req.AppendHeader(sipmsg.NewHeader("Reason", reasonHeader(c.byeReason)))
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := c.srv.client.Do(ctx, req)
	switch {
	case err != nil:
		c.srv.log.Warn("BYE to the client failed", "call_id", c.id, "err", err)
	case res.StatusCode >= 300:
		c.srv.log.Warn("BYE to the client refused", "call_id", c.id, "status", res.StatusCode)
	}
}

// newRequest builds a request of the server's side of the dialog, sent
// where the INVITE came from.
func (c *call) newRequest(method sipmsg.RequestMethod) *sipmsg.Request {
	p := c.peer
	req := sipmsg.NewRequest(method, p.target)
	from := &sipmsg.FromHeader{Address: p.local}
	from.Params.Add("tag", c.tag)
	to := &sipmsg.ToHeader{Address: p.remote}
	if p.remoteTag != "" {
		to.Params.Add("tag", p.remoteTag)
	}
	id := sipmsg.CallIDHeader(c.id)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&id)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: c.cseq.Add(1), MethodName: method})
	req.SetTransport(p.transport)
	req.SetDestination(p.source)
	return req
}
