package whip

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/jitter"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// maxOfferBytes bounds an SDP offer or trickle fragment.
const maxOfferBytes = 64 << 10

// gatherTimeout bounds the wait for the server's ICE candidates.
const gatherTimeout = 10 * time.Second

// Server accepts WHIP sessions. Create it with New, mount Handler, and call
// Close on shutdown.
type Server struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	api    *webrtc.API
	opener Opener

	slots chan struct{} // one per open session

	mu sync.Mutex
	// +checklocks:mu
	sessions map[string]*session
	// +checklocks:mu
	closed bool
}

// New returns a Server that opens engagements through opener.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, opener Opener) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opener == nil {
		return nil, errors.New("whip: nil opener")
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
	api, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg: cfg, log: logger.With("component", "whip"), m: m, api: api, opener: opener,
		slots: make(chan struct{}, cfg.MaxSessions), sessions: map[string]*session{},
	}, nil
}

func newAPI(cfg Config) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	for _, name := range []codec.Codec{codec.Opus, codec.PCMU, codec.PCMA} {
		c := codecParams[name]
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("whip: register codec %s: %w", c.MimeType, err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("whip: interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	if len(cfg.Interfaces) > 0 {
		allowed := map[string]bool{}
		for _, n := range cfg.Interfaces {
			allowed[n] = true
		}
		se.SetInterfaceFilter(func(name string) bool { return allowed[name] })
	}
	local, _ := ingest.ParsePrefixes(cfg.Addresses)
	if f := ipFilter(local); f != nil {
		se.SetIPFilter(f)
	}
	remote, _ := ingest.ParsePrefixes(cfg.RemoteAddresses)
	if f := ipFilter(remote); f != nil {
		se.SetRemoteIPFilter(f)
	}
	if len(cfg.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace}); err != nil {
			return nil, fmt.Errorf("whip: public_ips: %w", err)
		}
	}
	if cfg.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("whip: udp port range: %w", err)
		}
	}
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), nil
}

// Handler serves WHIP under base (e.g. "/api/v1/ingest/whip"): POST base
// creates a session, DELETE and PATCH base/{id} end it and trickle ICE
// candidates. The caller authenticates requests before they reach it.
func (s *Server) Handler(base string) http.Handler {
	base = strings.TrimSuffix(base, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) { s.post(w, r, false) })
	mux.HandleFunc("OPTIONS "+base, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Accept-Post", "application/sdp")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE "+base+"/{id}", s.delete)
	mux.HandleFunc("PATCH "+base+"/{id}", s.patch)
	return mux
}

// VoiceHandler serves two-way sessions for bot calls under base, as
// Handler does (POST base, DELETE and PATCH base/{id}): the offer must have
// one sendrecv audio track offering Opus, PCMU or PCMA (Opus is chosen when
// offered), the answer sends the bot's audio back on it in that codec, and
// the Opener's Meta carries the voice.Leg.
func (s *Server) VoiceHandler(base string) http.Handler {
	base = strings.TrimSuffix(base, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) { s.post(w, r, true) })
	mux.HandleFunc("DELETE "+base+"/{id}", s.delete)
	mux.HandleFunc("PATCH "+base+"/{id}", s.patch)
	return mux
}

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close ends every session (their sinks are closed with nil) and refuses
// new ones.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.end("shutdown", nil)
	}
	for _, ss := range all {
		<-ss.done
	}
	return nil
}

// statusCoder is implemented by Opener errors that choose their status.
type statusCoder interface {
	error
	StatusCode() int
}

func (s *Server) refuse(w http.ResponseWriter, status int, reason, detail string) {
	s.m.refused.WithLabelValues(reason).Inc()
	writeProblem(w, status, reason, detail)
}

// refuseOn answers a refused request on a session (PATCH, DELETE) with a
// problem, counted by method and reason.
func (s *Server) refuseOn(w http.ResponseWriter, r *http.Request, status int, reason, detail string) {
	s.m.sessRefused.WithLabelValues(r.Method, reason).Inc()
	writeProblem(w, status, reason, detail)
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, twoWay bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		s.refuse(w, http.StatusUnsupportedMediaType, "bad_request", "Content-Type must be application/sdp")
		return
	}
	body, err := readBody(r)
	switch {
	case errors.Is(err, errTooLarge):
		s.refuse(w, http.StatusRequestEntityTooLarge, "too_large", "SDP offer "+err.Error())
		return
	case err != nil:
		s.refuse(w, http.StatusBadRequest, "bad_request", "reading the offer: "+err.Error())
		return
	}
	if n := candidateLines(body); n > maxRemoteCandidates {
		s.refuse(w, http.StatusBadRequest, "bad_sdp", fmt.Sprintf("offer has %d ICE candidates, at most %d are accepted", n, maxRemoteCandidates))
		return
	}
	secs, err := parseOffer(body, r.URL.Query())
	switch {
	case errors.Is(err, errNoCodec):
		s.refuse(w, http.StatusUnsupportedMediaType, "unsupported_codec", err.Error())
		return
	case err != nil:
		s.refuse(w, http.StatusBadRequest, "bad_sdp", err.Error())
		return
	}
	if twoWay {
		if err := twoWayOffer(secs); err != nil {
			reason, status := "bad_sdp", http.StatusBadRequest
			if errors.Is(err, errNoCodec) {
				reason, status = "unsupported_codec", http.StatusUnsupportedMediaType
			}
			s.refuse(w, status, reason, err.Error())
			return
		}
	}
	select {
	case s.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "5")
		s.refuse(w, http.StatusServiceUnavailable, "too_many_sessions", fmt.Sprintf("at most %d WHIP sessions", s.cfg.MaxSessions))
		return
	}
	ss, answer, status, reason, err := s.start(r, body, secs, twoWay)
	if err != nil {
		<-s.slots
		s.refuse(w, status, reason, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", strings.TrimSuffix(r.URL.Path, "/")+"/"+ss.id) // base, its wildcards filled in
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer) // #nosec G705 -- an SDP answer served as application/sdp, never rendered as HTML
}

// start creates the peer connection and the session; on error it returns
// the HTTP status and refusal reason.
func (s *Server) start(r *http.Request, offer []byte, secs []audioSection, twoWay bool) (_ *session, answer string, status int, reason string, _ error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", http.StatusInternalServerError, "internal", fmt.Errorf("whip: new peer connection: %w", err)
	}
	fail := func(status int, reason string, err error) (*session, string, int, string, error) {
		_ = pc.Close()
		return nil, "", status, reason, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return fail(http.StatusBadRequest, "bad_sdp", fmt.Errorf("whip: offer rejected: %w", err))
	}
	// Answer one codec per track, the client's first supported choice, so
	// that each party's format is known before the answer is sent.
	byMid := map[string]audioSection{}
	for _, sec := range secs {
		byMid[sec.mid] = sec
	}
	for _, t := range pc.GetTransceivers() {
		if sec, ok := byMid[t.Mid()]; ok && t.Kind() == webrtc.RTPCodecTypeAudio {
			c := codecParams[sec.codecs[0]]
			c.PayloadType = webrtc.PayloadType(sec.pts[0]) // the answer keeps the offer's payload type
			if err := t.SetCodecPreferences([]webrtc.RTPCodecParameters{c}); err != nil {
				return fail(http.StatusUnsupportedMediaType, "unsupported_codec", fmt.Errorf("whip: mid %s: %w", sec.mid, err))
			}
		}
	}
	var (
		local  *webrtc.TrackLocalStaticRTP
		sender *webrtc.RTPSender
	)
	if twoWay {
		// The bot's voice: on the offer's transceiver, made sendrecv.
		if local, err = webrtc.NewTrackLocalStaticRTP(codecParams[secs[0].codecs[0]].RTPCodecCapability, "bot", "earshot"); err == nil {
			sender, err = pc.AddTrack(local)
		}
		if err != nil {
			return fail(http.StatusInternalServerError, "internal", fmt.Errorf("whip: bot track: %w", err))
		}
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(http.StatusUnsupportedMediaType, "unsupported_codec", fmt.Errorf("whip: no answer to the offer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fail(http.StatusInternalServerError, "internal", fmt.Errorf("whip: set answer: %w", err))
	}
	select {
	case <-gathered:
	case <-time.After(gatherTimeout):
		return fail(http.StatusInternalServerError, "internal", errors.New("whip: ICE gathering timed out"))
	case <-r.Context().Done():
		return fail(http.StatusServiceUnavailable, "internal", r.Context().Err())
	}
	parties := make([]ingest.Party, len(secs))
	for i, sec := range secs {
		parties[i] = sec.party
	}
	ss := &session{srv: s, id: newID(), pc: pc, remoteCands: candidateLines(offer), done: make(chan struct{}), connected: make(chan struct{})}
	meta := Meta{Query: r.URL.Query(), Parties: parties, RemoteAddr: r.RemoteAddr, Source: Source}
	if twoWay {
		if ss.leg, err = newRTPLeg(ss, local, secs[0].codecs[0]); err != nil {
			return fail(http.StatusInternalServerError, "internal", err)
		}
		meta.Leg = ss.leg
		go ss.leg.run()
		go func() { // RTCP for the sender's interceptors, until it closes
			buf := make([]byte, 1500)
			for {
				if _, _, err := sender.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	fail = func(status int, reason string, err error) (*session, string, int, string, error) {
		if ss.leg != nil {
			ss.leg.stop()
		}
		_ = pc.Close()
		return nil, "", status, reason, err
	}
	eng, err := s.opener.Open(r.Context(), meta)
	if err != nil {
		st := http.StatusBadRequest
		if sc, ok := errors.AsType[statusCoder](err); ok {
			st = sc.StatusCode()
		}
		if ingest.IsBusy(err) {
			return fail(http.StatusServiceUnavailable, "busy", err)
		}
		return fail(st, "engagement", err)
	}
	tracks := map[string]*track{}
	for _, sec := range secs {
		f := codec.Format{Codec: sec.codecs[0], SampleRate: 8000, Channels: 1}
		if f.Codec == codec.Opus {
			f.SampleRate = 48000
		}
		p, err := eng.AddParty(sec.party, f, 0)
		if err != nil {
			eng.Close(err)
			if ingest.IsBusy(err) {
				return fail(http.StatusServiceUnavailable, "busy", err)
			}
			return fail(http.StatusInternalServerError, "internal", err)
		}
		tracks[sec.mid] = &track{party: p, name: sec.party, codec: f.Codec}
	}
	ss.eng, ss.tracks = eng, tracks
	ss.lastRTP.Store(time.Now().UnixNano())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		eng.Close(errors.New("whip: server shutting down"))
		return fail(http.StatusServiceUnavailable, "internal", errors.New("whip: server shutting down"))
	}
	s.sessions[ss.id] = ss
	s.mu.Unlock()
	s.m.sessions.Inc()
	s.m.sessionsTotal.Inc()
	pc.OnTrack(ss.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			ss.connectOnce.Do(func() { close(ss.connected) })
		case webrtc.PeerConnectionStateFailed:
			go ss.end("ice_failed", errors.New("whip: connection failed"))
		case webrtc.PeerConnectionStateClosed:
			go ss.end("closed", errors.New("whip: connection closed"))
		}
	})
	go ss.watch()
	if twoWay {
		s.m.voiceCodec.WithLabelValues(string(secs[0].codecs[0])).Inc()
		s.log.Info("voice session started", "session", ss.id, "codec", secs[0].codecs[0], "remote", r.RemoteAddr)
	} else {
		s.log.Info("session started", "session", ss.id, "tracks", len(secs), "remote", r.RemoteAddr)
	}
	return ss, pc.LocalDescription().SDP, 0, "", nil
}

// End ends session id at once, as its owner's access was withdrawn, say:
// no draining, reason counted in the ended metric. It reports whether the
// session existed.
func (s *Server) End(id, reason string) bool {
	ss := s.lookup(id)
	if ss == nil {
		return false
	}
	ss.end(reason, errors.New("whip: session ended: "+reason))
	return true
}

func (s *Server) lookup(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	ss := s.lookup(r.PathValue("id"))
	if ss == nil {
		s.refuseOn(w, r, http.StatusNotFound, "not_found", "no such WHIP session")
		return
	}
	ss.end("delete", nil)
	select {
	case <-ss.done:
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusOK)
}

// patch adds trickled remote candidates (RFC 9725 section 4.3.1, RFC 8840
// fragments). ICE restarts are not supported.
func (s *Server) patch(w http.ResponseWriter, r *http.Request) {
	ss := s.lookup(r.PathValue("id"))
	if ss == nil {
		s.refuseOn(w, r, http.StatusNotFound, "not_found", "no such WHIP session")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/trickle-ice-sdpfrag" {
		s.refuseOn(w, r, http.StatusUnsupportedMediaType, "bad_request", "Content-Type must be application/trickle-ice-sdpfrag")
		return
	}
	body, err := readBody(r)
	switch {
	case errors.Is(err, errTooLarge):
		s.refuseOn(w, r, http.StatusRequestEntityTooLarge, "too_large", "SDP fragment "+err.Error())
		return
	case err != nil:
		s.refuseOn(w, r, http.StatusBadRequest, "bad_request", "reading the SDP fragment: "+err.Error())
		return
	}
	f := parseFragment(body)
	if remote := ss.pc.RemoteDescription(); remote != nil {
		ours := parseFragment([]byte(remote.SDP)).ufrags // the offer's
		for _, u := range f.ufrags {
			if !slices.Contains(ours, u) {
				s.refuseOn(w, r, http.StatusUnprocessableEntity, "ice_restart", "ICE restart is not supported")
				return
			}
		}
	}
	// Candidates are counted per session, from the offer's on: each one
	// costs connectivity checks for the session's life.
	ss.mu.Lock()
	over := ss.remoteCands+len(f.cands) > maxRemoteCandidates
	if !over {
		ss.remoteCands += len(f.cands)
	}
	ss.mu.Unlock()
	if over {
		s.refuseOn(w, r, http.StatusBadRequest, "too_many_candidates", fmt.Sprintf("at most %d ICE candidates per session", maxRemoteCandidates))
		return
	}
	for _, c := range f.cands {
		if err := ss.pc.AddICECandidate(c); err != nil {
			s.refuseOn(w, r, http.StatusBadRequest, "bad_candidate", fmt.Sprintf("candidate %q: %v", c.Candidate, err))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// session is one WHIP session: a peer connection and its engagement sink.
type session struct {
	srv       *Server
	id        string
	pc        *webrtc.PeerConnection
	eng       ingest.Engagement
	tracks    map[string]*track // by mid; fixed after start
	leg       *rtpLeg           // two-way sessions: the bot's voice
	lastRTP   atomic.Int64      // unix nanoseconds of the last RTP packet
	connected chan struct{}
	done      chan struct{}

	connectOnce sync.Once
	endOnce     sync.Once
	mu          sync.Mutex
	// +checklocks:mu
	ending bool
	// remoteCands counts the client's ICE candidates, offered and trickled.
	// +checklocks:mu
	remoteCands int
	readers     sync.WaitGroup
}

// track is one audio track of a session: its party and negotiated codec.
type track struct {
	party   ingest.Sink
	name    ingest.Party
	codec   codec.Codec
	started atomic.Bool
}

// codecParams are the server's codecs by name.
var codecParams = map[codec.Codec]webrtc.RTPCodecParameters{
	codec.Opus: {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
	codec.PCMU: {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
	codec.PCMA: {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
}

func (ss *session) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	mid := ""
	for _, t := range ss.pc.GetTransceivers() {
		if t.Receiver() == recv {
			mid = t.Mid()
		}
	}
	t, ok := ss.tracks[mid]
	if !ok || tr.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	if got, err := codec.ParseCodec(strings.TrimPrefix(strings.ToLower(tr.Codec().MimeType), "audio/")); err != nil || got != t.codec {
		ss.srv.log.Warn("track codec differs from the answer", "session", ss.id, "mid", mid, "codec", tr.Codec().MimeType)
		return
	}
	if !t.started.CompareAndSwap(false, true) {
		return // one reader per track
	}
	ss.mu.Lock()
	if ss.ending {
		ss.mu.Unlock()
		return
	}
	ss.readers.Add(1)
	ss.mu.Unlock()
	ss.srv.log.Info("track started", "session", ss.id, "mid", mid, "party", t.name, "codec", t.codec)
	go func() {
		defer ss.readers.Done()
		c, m := string(t.codec), ss.srv.m
		open := true
		// Packets dropped here (padding-only probes, oversized payloads) are
		// counted here; the sequence numbers passed on skip them, so that
		// the Party counts only packets lost in the network.
		var (
			skipped uint16
			lastOut uint16 // the last sequence number passed on
			haveOut bool
		)
		write := func(seq uint16, p *rtp.Packet) {
			if d := seq - skipped - lastOut; haveOut && (d == 0 || d >= jitter.RestartJump) {
				// The sender restarted its numbering (the reorder buffer
				// followed it): carry on from the last number passed on.
				skipped = seq - lastOut - 1
			}
			switch {
			case len(p.Payload) == 0:
				m.dropped.WithLabelValues(c, "empty").Inc()
				skipped++
			case len(p.Payload) > ss.srv.cfg.MaxPayloadBytes:
				m.dropped.WithLabelValues(c, "oversized").Inc()
				skipped++
			case open:
				// Decode errors, losses, lateness and overflow are counted
				// by the Party.
				if err := t.party.WriteRTP(seq-skipped, p.Timestamp, p.Payload); ingest.IsClosed(err) {
					open = false
				}
				lastOut, haveOut = seq-skipped, true
			}
		}
		jb := jitter.New(ss.srv.cfg.JitterPackets, write)
		for {
			if jb.Pending() > 0 {
				// Waiting for an overtaken packet: not longer than this.
				_ = tr.SetReadDeadline(time.Now().Add(jitterFlushAfter))
			} else {
				_ = tr.SetReadDeadline(time.Time{})
			}
			p, _, err := tr.ReadRTP()
			if err != nil {
				jb.Flush()
				if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
					continue
				}
				return
			}
			if len(p.Payload) > 0 {
				// Only media holds off the idle timeout, not padding-only
				// probes.
				ss.lastRTP.Store(time.Now().UnixNano())
			}
			m.packets.WithLabelValues(c).Inc()
			before := jb.Reordered
			if jb.Push(p.SequenceNumber, p) && open && len(p.Payload) > 0 && len(p.Payload) <= ss.srv.cfg.MaxPayloadBytes {
				// Late: the Party counts and drops it.
				if err := t.party.WriteRTP(p.SequenceNumber-skipped, p.Timestamp, p.Payload); ingest.IsClosed(err) {
					open = false
				}
			}
			if n := jb.Reordered - before; n > 0 {
				m.reordered.WithLabelValues(c).Add(float64(n))
			}
		}
	}()
}

// jitterFlushAfter bounds the wait for an overtaken packet when no other
// packet arrives (a loss just before a pause).
const jitterFlushAfter = 100 * time.Millisecond

// errEngagementEnded closes the engagement of a session that its
// engagement's owner ended first.
var errEngagementEnded = errors.New("whip: the engagement ended")

// watch ends the session when it does not connect, goes idle, or its
// engagement ends on its own side (ingest.Ender: the daemon's hub).
func (ss *session) watch() {
	cfg := ss.srv.cfg
	ended := ingest.EndedOf(ss.eng)
	connect := time.NewTimer(cfg.ConnectTimeout)
	defer connect.Stop()
	select {
	case <-ss.connected:
	case <-ss.done:
		return
	case <-ended:
		ss.end("engagement_ended", errEngagementEnded)
		return
	case <-connect.C:
		ss.end("connect_timeout", fmt.Errorf("whip: not connected within %s", cfg.ConnectTimeout))
		return
	}
	tick := time.NewTicker(min(cfg.IdleTimeout/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ss.done:
			return
		case <-ended:
			ss.end("engagement_ended", errEngagementEnded)
			return
		case <-tick.C:
			if idle := time.Since(time.Unix(0, ss.lastRTP.Load())); idle > cfg.IdleTimeout {
				ss.end("idle_timeout", fmt.Errorf("whip: no audio for %s", idle.Round(time.Second)))
				return
			}
		}
	}
}

// Draining: on a graceful end the tracks go on reading what the client sent
// before it ended the session (packets still buffered on a loaded server)
// until none arrived for drainQuiet, at most drainMax.
const (
	drainQuiet = 200 * time.Millisecond
	drainMax   = 5 * time.Second
)

func (ss *session) drain() {
	deadline := time.Now().Add(drainMax)
	for time.Now().Before(deadline) && time.Since(time.Unix(0, ss.lastRTP.Load())) < drainQuiet {
		time.Sleep(20 * time.Millisecond)
	}
}

// end closes the session once; the first reason wins.
func (ss *session) end(reason string, cause error) {
	ss.endOnce.Do(func() {
		ss.mu.Lock()
		ss.ending = true
		ss.mu.Unlock()
		s := ss.srv
		go func() {
			if cause == nil {
				ss.drain()
			}
			if ss.leg != nil {
				ss.leg.stop()
			}
			_ = ss.pc.Close()
			ss.readers.Wait()
			ss.eng.Close(cause)
			s.mu.Lock()
			delete(s.sessions, ss.id)
			s.mu.Unlock()
			<-s.slots
			s.m.sessions.Dec()
			s.m.ended.WithLabelValues(reason).Inc()
			s.log.Info("session ended", "session", ss.id, "reason", reason)
			close(ss.done)
		}()
	})
}

// writeProblem writes an RFC 9457 problem detail.
// maxRemoteCandidates bounds the ICE candidates a client may give a
// session, in its offer and trickled: a browser gathers a dozen or so
// (host, server-reflexive and relay, per interface and address family).
const maxRemoteCandidates = 50

// candidateLines counts the ICE candidate lines of an SDP offer or
// fragment.
func candidateLines(body []byte) int {
	n := 0
	for line := range bytes.Lines(body) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("a=candidate:")) {
			n++
		}
	}
	return n
}

// fragment is what a trickle PATCH body (RFC 8840 SDP fragment) carries:
// the ICE usernames it names and its candidates, each with the a=mid before
// it.
type fragment struct {
	ufrags []string
	cands  []webrtc.ICECandidateInit
}

// parseFragment reads an SDP fragment line by line; lines it does not use
// are ignored. Candidates are checked when they are added.
func parseFragment(body []byte) fragment {
	var f fragment
	var mid string
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.ufrags = append(f.ufrags, strings.TrimPrefix(line, "a=ice-ufrag:"))
		case strings.HasPrefix(line, "a=mid:"):
			mid = strings.TrimPrefix(line, "a=mid:")
		case strings.HasPrefix(line, "a=candidate:"):
			c := webrtc.ICECandidateInit{Candidate: strings.TrimPrefix(line, "a=")}
			if mid != "" {
				m := mid
				c.SDPMid = &m
			}
			f.cands = append(f.cands, c)
		}
	}
	return f
}

// errTooLarge is readBody's answer to a body over maxOfferBytes.
var errTooLarge = fmt.Errorf("larger than %d bytes", maxOfferBytes)

// readBody reads a request body of at most maxOfferBytes into one buffer
// (not grown by doubling); a longer one is errTooLarge, at once when its
// announced length is over.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxOfferBytes {
		return nil, errTooLarge
	}
	size := maxOfferBytes + 1
	if r.ContentLength >= 0 {
		size = int(r.ContentLength) + 1 // net/http ends the body at its length
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(r.Body, buf)
	switch {
	case n > maxOfferBytes:
		return nil, errTooLarge
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	return buf[:n], nil
}

func writeProblem(w http.ResponseWriter, status int, reason, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Type: "about:blank", Title: http.StatusText(status),
		Status: status, Detail: detail, Reason: reason})
}

// Problem is an RFC 9457 problem detail; Reason is a short machine-readable
// cause (the refusal reason of the metrics).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Reason string `json:"reason,omitempty"`
}
