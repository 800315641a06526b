package sip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/voice"
)

// Server is a SIP user agent server recording the calls it is sent. Create
// it with New, then Listen (optional: Run listens) and Run; Close ends every
// call.
type Server struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	opener Opener
	// bots opens the engagements of bot calls (SetBotOpener).
	bots   voice.Opener
	allow  []netip.Prefix
	rules  partyRules
	ports  *ports
	secret [32]byte // signs digest nonces
	nonces *nonces
	// dummyPassword is checked for unknown digest users, as if they had
	// one.
	dummyPassword string
	slots         chan struct{}
	tcpConns      *connLimiter

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client // sends BYE when the server ends a call

	lnMu sync.Mutex
	// +checklocks:lnMu
	udp net.PacketConn
	// +checklocks:lnMu
	tcp net.Listener
	// +checklocks:lnMu
	tls net.Listener

	mu sync.Mutex
	// +checklocks:mu
	calls map[string]*call
	// starting holds the Call-IDs of INVITEs being answered, with the
	// source (host:port) each came from.
	// +checklocks:mu
	starting map[string]string
	// +checklocks:mu
	closed bool
	// +checklocks:mu
	runCtx context.Context
}

// New returns a Server that opens engagements through opener.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, opener Opener) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opener == nil {
		return nil, errors.New("sip: nil opener")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: logger.With("component", "sip"), m: m, opener: opener,
		slots: make(chan struct{}, cfg.MaxCalls), calls: map[string]*call{}, starting: map[string]string{},
		runCtx: context.Background(), nonces: newNonces(), dummyPassword: newTag()}
	s.tcpConns = newConnLimiter(s)
	s.allow, _ = ingest.ParsePrefixes(cfg.AllowedSources)
	if len(s.allow) == 0 {
		s.allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	s.rules.agent, _ = compilePatterns(cfg.AgentPatterns)
	s.rules.customer, _ = compilePatterns(cfg.CustomerPatterns)
	s.ports = newPorts(netip.MustParseAddr(cfg.MediaIP), cfg.RTPPortMin, cfg.RTPPortMax)
	_, _ = rand.Read(s.secret[:])
	// The SIP stack logs message contents on some errors: it gets no
	// logger; the server logs call ids and counts itself.
	quiet := slog.New(slog.DiscardHandler)
	s.ua, err = sipgo.NewUA(sipgo.WithUserAgent("earshot"),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(quiet), sipmsg.WithTransportLayerReadFilter(s.filter)),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(quiet)))
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	if s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(quiet)); err != nil {
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	if s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientLogger(quiet)); err != nil {
		return nil, fmt.Errorf("sip: client: %w", err)
	}
	// Every request passes the source filter first.
	s.srv.OnInvite(s.guarded(s.onInvite))
	s.srv.OnUpdate(s.guarded(s.onUpdate))
	s.srv.OnAck(s.guarded(func(*sipmsg.Request, sipmsg.ServerTransaction) {}))
	s.srv.OnBye(s.guarded(s.onBye))
	s.srv.OnNotify(s.guarded(s.onNotify))
	s.srv.OnCancel(s.guarded(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist", "unknown_dialog", nil)
	}))
	s.srv.OnOptions(s.guarded(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sipmsg.NewHeader("Allow", allowed))
		res.AppendHeader(sipmsg.NewHeader("Supported", "siprec"))
		_ = tx.Respond(res)
	}))
	s.srv.OnNoRoute(s.guarded(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		s.respond(req, tx, 405, "Method Not Allowed", "method_not_allowed", nil, sipmsg.NewHeader("Allow", allowed))
	}))
	return s, nil
}

// allowed lists the methods the server answers.
const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, NOTIFY"

// guarded applies the source filter to a request handler: a request from
// outside the allowed sources gets 403 (an ACK, which has no response, is
// dropped), counted either way.
func (s *Server) guarded(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if s.allowedSource(req) {
			h(req, tx)
			return
		}
		if req.Method == sipmsg.ACK || tx == nil {
			s.m.refused.WithLabelValues("forbidden_source").Inc()
			return
		}
		s.refuseSource(req, tx)
	}
}

// filter drops (and counts) UDP datagrams that are not SIP messages before
// the stack sees them.
func (s *Server) filter(p sipmsg.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.HasPrefix(strings.ToLower(p.Transport), "udp") {
		return data, nil
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return data, nil // keep-alive
	}
	if _, err := sipmsg.ParseMessage(data); err != nil {
		if len(data) >= int(sipmsg.TransportBufferReadSize) {
			s.tooLargeDatagram(p, data)
			return nil, nil
		}
		s.m.malformed.Inc()
		// The parser's error quotes the message: only its size is logged.
		s.log.Warn("malformed SIP message dropped", "remote", p.RemoteAddr.String(), "bytes", len(data))
		return nil, nil
	}
	return data, nil
}

// tooLargeDatagram answers a datagram the stack's read buffer cut short
// (the message was larger) with 513 Message Too Large, if it comes from an
// allowed source and its headers arrived.
func (s *Server) tooLargeDatagram(p sipmsg.TransportReadProps, data []byte) {
	s.m.refused.WithLabelValues("too_large").Inc()
	sc := msgScanner{limit: len(data) - 1}
	sc.feed(data)
	ans := tooLargeResponse(sc.start, sc.lines, len(data))
	s.log.Warn("SIP request refused", "status", 513, "reason", "too_large", "remote", p.RemoteAddr.String(),
		"call_id", sc.callID(), "answered", ans != nil, "limit", len(data))
	ap, err := netip.ParseAddrPort(p.RemoteAddr.String())
	if ans == nil || err != nil || !s.allowed(ap.Addr()) {
		return
	}
	s.lnMu.Lock()
	udp := s.udp
	s.lnMu.Unlock()
	if udp != nil {
		_, _ = udp.WriteTo(ans, p.RemoteAddr)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// Listen binds the configured SIP addresses; Run calls it if needed.
func (s *Server) Listen() error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.udp != nil || s.tcp != nil || s.tls != nil {
		return nil
	}
	fail := func(err error) error {
		for _, c := range []interface{ Close() error }{s.udp, s.tcp, s.tls} {
			if c != nil && !isNilCloser(c) {
				_ = c.Close()
			}
		}
		s.udp, s.tcp, s.tls = nil, nil, nil
		return err
	}
	var err error
	if s.cfg.UDP != "" {
		if s.udp, err = net.ListenPacket("udp", s.cfg.UDP); err != nil {
			return fail(fmt.Errorf("sip: listen udp %s: %w", s.cfg.UDP, err))
		}
	}
	if s.cfg.TCP != "" {
		ln, err := net.Listen("tcp", s.cfg.TCP)
		if err != nil {
			return fail(fmt.Errorf("sip: listen tcp %s: %w", s.cfg.TCP, err))
		}
		s.tcp = s.streamListener(s.tcpConns.wrap(ln))
	}
	if s.cfg.TLS != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fail(fmt.Errorf("sip: tls certificate: %w", err))
		}
		ln, err := net.Listen("tcp", s.cfg.TLS)
		if err != nil {
			return fail(fmt.Errorf("sip: listen tls %s: %w", s.cfg.TLS, err))
		}
		s.tls = s.streamListener(tls.NewListener(s.tcpConns.wrap(ln),
			&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}
	return nil
}

func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case net.PacketConn:
		return v == nil
	case net.Listener:
		return v == nil
	}
	return false
}

// UDPAddr and TCPAddr return the bound SIP addresses ("" when disabled or
// not listening yet).
func (s *Server) UDPAddr() string {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.udp == nil {
		return ""
	}
	return s.udp.LocalAddr().String()
}

func (s *Server) TCPAddr() string {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.tcp == nil {
		return ""
	}
	return s.tcp.Addr().String()
}

// Run serves SIP until ctx is done, then closes the listeners and ends
// every call (Close).
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	s.lnMu.Lock()
	udp, tcp, tl := s.udp, s.tcp, s.tls
	s.lnMu.Unlock()
	errc := make(chan error, 3)
	if udp != nil {
		go func() { errc <- s.srv.ServeUDP(udp) }()
	}
	if tcp != nil {
		go func() { errc <- s.srv.ServeTCP(tcp) }()
	}
	if tl != nil {
		go func() { errc <- s.srv.ServeTLS(tl) }()
	}
	s.log.Info("SIP listening", "udp", s.UDPAddr(), "tcp", s.TCPAddr(), "rtp_ports", fmt.Sprintf("%d-%d", s.cfg.RTPPortMin, s.cfg.RTPPortMax))
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if err != nil {
			err = fmt.Errorf("sip: serve: %w", err)
		}
	}
	for _, c := range []interface{ Close() error }{udp, tcp, tl} {
		if c != nil && !isNilCloser(c) {
			_ = c.Close()
		}
	}
	_ = s.Close()
	return err
}

// Calls returns the number of calls in progress.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Close ends every call (their engagements are closed with nil) and
// refuses new ones. The listeners close when Run's context is done.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.end("shutdown", nil)
	}
	for _, c := range all {
		<-c.done
	}
	_ = s.ua.Close()
	return nil
}

// allowed reports whether a source address is in the allowed networks.
func (s *Server) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) allowedSource(req *sipmsg.Request) bool {
	ap, err := netip.ParseAddrPort(req.Source())
	return err == nil && s.allowed(ap.Addr())
}

func (s *Server) refuseSource(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.respond(req, tx, 403, "Forbidden", "forbidden_source", nil)
}

// respond sends a final response; a refusal (status >= 300) is counted
// and logged with its reason.
func (s *Server) respond(req *sipmsg.Request, tx sipmsg.ServerTransaction, status int, phrase, reason string, cause error, hdrs ...sipmsg.Header) {
	res := sipmsg.NewResponseFromRequest(req, status, phrase, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if cause != nil && status >= 300 {
		// Warning (RFC 3261 20.43) carries the cause to the client.
		res.AppendHeader(sipmsg.NewHeader("Warning", `399 earshot "`+strings.ReplaceAll(firstLine(cause.Error()), `"`, `'`)+`"`))
	}
	if status >= 300 {
		s.m.refused.WithLabelValues(reason).Inc()
		attrs := []any{"method", string(req.Method), "status", status, "reason", reason, "remote", req.Source(), "call_id", callID(req)}
		if cause != nil {
			attrs = append(attrs, "err", firstLine(cause.Error()))
		}
		s.log.Warn("SIP request refused", attrs...)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Warn("SIP response not sent", "call_id", callID(req), "err", err)
	}
}

func callID(req *sipmsg.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func toTag(req *sipmsg.Request) string {
	if h := req.To(); h != nil {
		if t, ok := h.Params.Get("tag"); ok {
			return t
		}
	}
	return ""
}

func (s *Server) lookup(id string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func fromTag(req *sipmsg.Request) string {
	if h := req.From(); h != nil {
		if t, ok := h.Params.Get("tag"); ok {
			return t
		}
	}
	return ""
}

// inDialog reports whether a request belongs to the call's dialog: its
// Call-ID (the lookup), our To tag and the client's From tag (RFC 3261
// section 12.2.2).
func (c *call) inDialog(req *sipmsg.Request) bool {
	return c != nil && toTag(req) == c.tag && fromTag(req) == c.peer.remoteTag
}

func (s *Server) onBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := s.lookup(callID(req))
	if !c.inDialog(req) {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist", "unknown_dialog", nil)
		return
	}
	s.respond(req, tx, 200, "OK", "", nil)
	c.end("bye", nil)
}

// onNotify takes the NOTIFYs of a bot call's transfer (RFC 3515 section
// 2.4.4): their message/sipfrag body carries the transferee's status.
func (s *Server) onNotify(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := s.lookup(callID(req))
	if !c.inDialog(req) || c.bot == nil {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist", "unknown_dialog", nil)
		return
	}
	s.respond(req, tx, 200, "OK", "", nil)
	st := sipfragStatus(req.Body())
	c.mu.Lock()
	ch := c.notify
	c.mu.Unlock()
	if ch != nil && st != 0 {
		select {
		case ch <- st:
		default:
		}
	}
}

// SetBotOpener makes the server answer calls to the Config.Bots users as
// bot calls, opened through o. Call it before Run.
func (s *Server) SetBotOpener(o voice.Opener) { s.bots = o }

// contactFor is the server's address for a transport.
func (s *Server) contactFor(transport string) string {
	if strings.EqualFold(transport, "tcp") {
		return s.TCPAddr() + ";transport=tcp"
	}
	return s.UDPAddr()
}

func (s *Server) onUpdate(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := s.lookup(callID(req))
	if !c.inDialog(req) {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist", "unknown_dialog", nil)
		return
	}
	c.reinvite(req, tx)
}

// isSIPREC reports a recording session request (RFC 7866 section 6.1.1).
func isSIPREC(req *sipmsg.Request) bool {
	for _, h := range req.GetHeaders("Require") {
		for _, v := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(v), "siprec") {
				return true
			}
		}
	}
	if h := req.Contact(); h != nil && h.Params.Has("+sip.src") {
		return true
	}
	return false
}

// sipStatuser is implemented by Opener errors that choose a SIP status.
type sipStatuser interface {
	error
	SIPStatus() int
}

type statusCoder interface {
	error
	StatusCode() int
}

// openStatus maps an Opener or AddParty error to a SIP response.
func openStatus(err error) (int, string, string) {
	if ingest.IsBusy(err) {
		return 486, "Busy Here", "busy"
	}
	if sc, ok := errors.AsType[sipStatuser](err); ok {
		return sc.SIPStatus(), reasonPhrase(sc.SIPStatus()), "engagement"
	}
	if sc, ok := errors.AsType[statusCoder](err); ok {
		switch c := sc.StatusCode(); {
		case c == 403:
			return 403, "Forbidden", "engagement"
		case c >= 400 && c < 500:
			return 400, "Bad Request", "engagement"
		}
	}
	return 500, "Server Internal Error", "engagement"
}

func reasonPhrase(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 503:
		return "Service Unavailable"
	}
	return "Error"
}

func (s *Server) onInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	id := callID(req)
	if toTag(req) != "" {
		c := s.lookup(id)
		if !c.inDialog(req) {
			s.respond(req, tx, 481, "Call/Transaction Does Not Exist", "unknown_dialog", nil)
			return
		}
		c.reinvite(req, tx)
		return
	}
	if !s.authorize(req, tx) {
		return
	}
	if !s.reserve(id, req.Source()) {
		s.respond(req, tx, 482, "Loop Detected", "duplicate_call", errors.New("sip: a call with this Call-ID is in progress"))
		return
	}
	defer s.unreserve(id)
	s.start(req, tx)
}

// reserve claims a Call-ID for a new call from source; false if a call
// with it is in progress or being answered.
func (s *Server) reserve(id, source string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.starting[id]; busy || s.calls[id] != nil {
		return false
	}
	s.starting[id] = source
	return true
}

func (s *Server) unreserve(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.starting, id)
}

// offerOf reads the offer of an INVITE (or re-INVITE); ok false after it
// sent the refusal.
func (s *Server) offerOf(req *sipmsg.Request, tx sipmsg.ServerTransaction, siprec bool) (*sdp.SessionDescription, []offerStream, *metadata, bool) {
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	body, err := splitBody(ct, req.Body())
	if err != nil {
		switch {
		case errors.Is(err, errMediaType):
			s.respond(req, tx, 415, "Unsupported Media Type", "unsupported_body", err, sipmsg.NewHeader("Accept", "application/sdp, multipart/mixed"))
		default:
			s.respond(req, tx, 400, "Bad Request", "bad_body", err)
		}
		return nil, nil, nil, false
	}
	sd, streams, err := parseOffer(body.sdp)
	if err != nil {
		if errors.Is(err, errNoAudio) {
			s.respond(req, tx, 488, "Not Acceptable Here", "not_acceptable", err)
		} else {
			s.respond(req, tx, 400, "Bad Request", "bad_body", err)
		}
		return nil, nil, nil, false
	}
	var md *metadata
	if body.metadata != nil {
		labels := map[string]bool{}
		for _, st := range streams {
			if st.label != "" {
				labels[st.label] = true
			}
		}
		if md, err = parseMetadata(body.metadata, labels); err != nil {
			s.respond(req, tx, 400, "Bad Request", "bad_body", err)
			return nil, nil, nil, false
		}
	}
	return sd, streams, md, true
}

// start answers a new INVITE; false if it was refused. A refusal gives
// back whatever the call had taken (its slot, its ports) before it is
// sent, so that a client that retries at once finds them free.
func (s *Server) start(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	id := callID(req)
	siprec := isSIPREC(req)
	sd, streams, md, ok := s.offerOf(req, tx, siprec)
	if !ok {
		return false
	}
	var accept []offerStream
	for _, st := range streams {
		if st.ok && st.port != 0 {
			accept = append(accept, st)
		}
	}
	if len(accept) == 0 {
		s.respond(req, tx, 488, "Not Acceptable Here", "not_acceptable", fmt.Errorf("%w: no audio stream offers PCMU or PCMA over RTP/AVP", errNoAudio))
		return false
	}
	botID := ""
	if s.bots != nil && !siprec {
		botID = s.cfg.Bots[req.Recipient.User]
	}
	if botID != "" {
		accept = accept[:1] // a bot talks on one stream
	}
	if len(accept) > s.cfg.MaxStreams {
		s.respond(req, tx, 488, "Not Acceptable Here", "too_many_streams",
			fmt.Errorf("sip: %d audio streams offered, at most %d per call", len(accept), s.cfg.MaxStreams))
		return false
	}
	from, to := "", ""
	if h := req.From(); h != nil {
		from = aorOf(h.Address.String())
	}
	if h := req.To(); h != nil {
		to = aorOf(h.Address.String())
	}
	meta := Meta{CallID: id, SIPREC: siprec, From: from, To: to, RemoteAddr: req.Source(), Source: Source, Fields: map[string]string{}}
	var parties []ingest.Party
	switch {
	case botID != "":
		parties = []ingest.Party{ingest.PartyCustomer}
		meta.Participants = []Participant{{ID: "from", AoR: from}, {ID: "to", AoR: to}}
	case md != nil:
		meta.SessionID = md.sessionID
		meta.Participants = md.participants
		parties = s.rules.assign(accept, md.participants, md.senders)
	case len(accept) == 1 && !siprec:
		parties = []ingest.Party{ingest.Party(s.cfg.SingleParty)}
		meta.Participants = []Participant{{ID: "from", AoR: from}, {ID: "to", AoR: to}}
	default:
		parties = s.rules.assign(accept, nil, nil)
	}
	for i := range meta.Participants {
		for j, st := range accept {
			for _, l := range meta.Participants[i].Labels {
				if l == st.label {
					meta.Participants[i].Party = parties[j]
				}
			}
		}
	}
	meta.Parties = parties
	for h, k := range s.cfg.Headers {
		if v := req.GetHeader(h); v != nil && strings.TrimSpace(v.Value()) != "" {
			meta.Fields[k] = strings.TrimSpace(v.Value())
		}
	}
	c := &call{srv: s, id: id, tag: newTag(), siprec: siprec, offer: sd, streams: map[string]*rtpStream{},
		started: time.Now(), done: make(chan struct{}), stop: make(chan struct{}), sessID: randUint(), participants: meta.Participants, peer: peerOf(req)}
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		c.signalling = ap.Addr().Unmap()
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.respond(req, tx, 503, "Service Unavailable", "too_many_calls", fmt.Errorf("sip: at most %d calls", s.cfg.MaxCalls),
			sipmsg.NewHeader("Retry-After", "5"))
		return false
	}
	// Every refusal from here on returns the slot and the streams' ports.
	fail := func(status int, phrase, reason string, err error) bool {
		c.abandon()
		<-s.slots
		s.respond(req, tx, status, phrase, reason, err)
		return false
	}
	for i, st := range accept {
		rs, err := c.newStream(st, parties[i])
		if err != nil {
			return fail(503, "Service Unavailable", "no_ports", err)
		}
		c.order = append(c.order, rs)
	}
	s.mu.Lock()
	ctx := s.runCtx
	s.mu.Unlock()
	var eng ingest.Engagement
	var err error
	if botID != "" {
		c.bot = newBotLeg(c, c.order[0])
		eng, err = s.bots.OpenBot(ctx, voice.Call{Bot: botID, Source: Source, Caller: from, Leg: c.bot})
	} else {
		eng, err = s.opener.Open(ctx, meta)
	}
	if err != nil {
		st, phrase, reason := openStatus(err)
		return fail(st, phrase, reason, err)
	}
	c.eng = eng
	for _, rs := range c.order {
		p, err := eng.AddParty(rs.party, codec.Format{Codec: codec.Codec(rs.codec), SampleRate: 8000, Channels: 1}, 0)
		if err != nil {
			eng.Close(err)
			st, phrase, reason := openStatus(err)
			if reason == "engagement" {
				st, phrase, reason = 500, "Server Internal Error", "internal"
			}
			return fail(st, phrase, reason, err)
		}
		rs.p = p
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		eng.Close(errors.New("sip: server shutting down"))
		return fail(503, "Service Unavailable", "internal", errors.New("sip: server shutting down"))
	}
	s.calls[id] = c
	s.mu.Unlock()
	kind := "plain"
	switch {
	case siprec:
		kind = "siprec"
	case c.bot != nil:
		kind = "bot"
	}
	s.m.calls.Inc()
	s.m.callsTotal.WithLabelValues(kind).Inc()
	for _, rs := range c.order {
		c.startStream(rs)
	}
	go c.watch()
	s.log.Info("call started", "call_id", id, "kind", kind, "streams", len(c.order), "remote", req.Source())
	c.answer(req, tx)
	if c.bot != nil {
		c.mu.Lock()
		if !c.ending {
			c.readers.Add(1)
			go func() {
				defer c.readers.Done()
				c.bot.send()
			}()
		}
		c.mu.Unlock()
	}
	return true
}

func newTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func randUint() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 2
}
