package wsstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/ingest"
)

// Subprotocols are accepted when a client asks for one: jambonz "listen"
// and FreeSWITCH mod_audio_fork.
var Subprotocols = []string{"audio.jambonz.org", "audio.drachtio.org"}

// Server accepts WebSocket media streams. It is an http.Handler; mount it
// behind the daemon's ingest-token check and call Close on shutdown.
type Server struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	opener Opener
	slots  chan struct{}

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	// +checklocks:mu
	closed bool
}

// New returns a Server that opens engagements through opener.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, opener Opener) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opener == nil {
		return nil, errors.New("wsstream: nil opener")
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
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, log: logger.With("component", "wsstream"), m: m, opener: opener,
		slots: make(chan struct{}, cfg.MaxStreams), ctx: ctx, cancel: cancel}, nil
}

// Close ends every stream (close status 1001, engagements closed with nil)
// and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Streams returns the number of connected streams.
func (s *Server) Streams() int { return len(s.slots) }

// ServeHTTP upgrades the request to a WebSocket and runs the stream until
// it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.refuse(w, http.StatusServiceUnavailable, "too_many_streams", "server shutting down")
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		s.refuse(w, http.StatusServiceUnavailable, "too_many_streams", fmt.Sprintf("at most %d streams", s.cfg.MaxStreams))
		return
	}
	// The guard refuses a frame over the limit as soon as its header
	// arrives; the library's own read limit stays as a second bound.
	ws, err := websocket.Accept(guardWriter{w, s.cfg.MaxMessageBytes}, r,
		&websocket.AcceptOptions{Subprotocols: Subprotocols, OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		s.m.refused.WithLabelValues("upgrade").Inc() // Accept wrote the response
		return
	}
	s.m.streams.Inc()
	defer s.m.streams.Dec()
	ws.SetReadLimit(s.cfg.MaxMessageBytes)
	reason, err := s.run(ws, r)
	s.m.ended.WithLabelValues(reason).Inc()
	s.log.Info("stream ended", "remote", r.RemoteAddr, "reason", reason, "err", err)
}

// legQueue bounds a two-way stream's outbound queue: 50 frames, one
// second of audio ahead of real time.
const legQueue = 50

// Reasons a stream is closed by the server from outside its read loop.
const (
	closeIdle    = iota + 1 // nothing but non-media messages for the idle timeout
	closeEnded              // the engagement ended on its own side (the hub)
	closeRequest            // the request's context ended (the daemon ended the request)
	closeHangup             // the bot hung up (Leg.Hangup) or its audio could not be written
)

// run reads messages until the stream ends and returns the end reason.
// Only media (audio, and the message that starts it) holds off the idle
// timeout: marks, keep-alive text and the like do not.
//
// The opener gets a context with the request's values (the authenticated
// caller, say), cancelled when the request ends or the server closes.
func (s *Server) run(ws *websocket.Conn, r *http.Request) (string, error) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	st := newStream(ctx, s.cfg, s.m, s.opener, r.URL.Query(), r.RemoteAddr)
	var why atomic.Int32 // why the server closed the stream, if it did
	closeFor := func(reason int32, status websocket.StatusCode, text string) {
		if why.CompareAndSwap(0, reason) {
			_ = ws.Close(status, text)
		}
	}
	lastMedia := time.Now()
	timer := time.AfterFunc(s.cfg.IdleTimeout, func() { closeFor(closeIdle, websocket.StatusPolicyViolation, "idle timeout") })
	defer timer.Stop()
	// A Twilio stream gets a leg that sends audio back; its send loop is
	// owned here and ends before run returns.
	var legs sync.WaitGroup
	defer legs.Wait()
	st.newLeg = func(sid string) *twilioLeg {
		l := newTwilioLeg(sid, legQueue, s.cfg.WriteTimeout, s.m,
			func(ctx context.Context, msg []byte) error { return ws.Write(ctx, websocket.MessageText, msg) },
			func(reason string) { closeFor(closeHangup, websocket.StatusNormalClosure, truncate(reason, 120)) })
		legs.Add(1)
		go func() { defer legs.Done(); l.run() }()
		return l
	}
	stop := context.AfterFunc(s.ctx, func() { _ = ws.Close(websocket.StatusGoingAway, "server shutting down") })
	defer stop()
	stopReq := context.AfterFunc(r.Context(), func() {
		closeFor(closeRequest, websocket.StatusPolicyViolation, "ended by the server")
	})
	defer stopReq()
	watching := false
	unwatch := make(chan struct{})
	defer close(unwatch)
	for {
		typ, data, err := ws.Read(context.Background())
		if err != nil {
			timer.Stop()
			var reason string
			switch {
			case why.Load() == closeIdle:
				reason, err = "idle_timeout", fmt.Errorf("wsstream: no media for %s", s.cfg.IdleTimeout)
			case why.Load() == closeEnded:
				reason, err = "engagement_ended", nil
			case why.Load() == closeHangup:
				reason, err = "hangup", nil
			case why.Load() == closeRequest:
				reason, err = "request_ended", fmt.Errorf("wsstream: the request ended: %w", context.Cause(r.Context()))
			case s.ctx.Err() != nil:
				reason, err = "shutdown", nil
			case errors.Is(err, errFrameTooBig):
				_ = ws.Close(websocket.StatusMessageTooBig, truncate(err.Error(), 120))
				reason = "oversized"
			case errors.Is(err, websocket.ErrMessageTooBig):
				reason, err = "oversized", fmt.Errorf("wsstream: message larger than %d bytes", s.cfg.MaxMessageBytes)
			case websocket.CloseStatus(err) == websocket.StatusNormalClosure || websocket.CloseStatus(err) == websocket.StatusGoingAway:
				reason, err = "client_closed", nil
			default:
				reason, err = "read_error", fmt.Errorf("wsstream: read: %w", err)
			}
			st.finish(err)
			return reason, err
		}
		// The idle clock does not run while a message is handled (opening
		// an engagement may wait for a recogniser).
		if !timer.Stop() && why.Load() != 0 {
			continue // the close is under way; Read returns its error
		}
		media, err := st.handle(typ, data)
		if media {
			lastMedia = time.Now()
		}
		timer.Reset(time.Until(lastMedia.Add(s.cfg.IdleTimeout)))
		if err != nil {
			timer.Stop()
			ce := &closeError{websocket.StatusInternalError, "internal", err}
			errors.As(err, &ce)
			st.finish(err)
			_ = ws.Close(ce.status, truncate(ce.Error(), 120))
			return ce.reason, err
		}
		if st.stopped {
			timer.Stop()
			st.finish(nil)
			_ = ws.Close(websocket.StatusNormalClosure, "stopped")
			return "stop", nil
		}
		if !watching && st.eng != nil {
			// The engagement is open: its end ends the stream.
			watching = true
			ended := ingest.EndedOf(st.eng)
			go func() {
				select {
				case <-ended:
					closeFor(closeEnded, websocket.StatusNormalClosure, "engagement ended")
				case <-unwatch:
				}
			}()
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// refuse answers a request that is not upgraded with an RFC 9457 problem.
func (s *Server) refuse(w http.ResponseWriter, status int, reason, detail string) {
	s.m.refused.WithLabelValues(reason).Inc()
	w.Header().Set("Content-Type", "application/problem+json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status),
		"status": status, "detail": detail, "reason": reason})
}
