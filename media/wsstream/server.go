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
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: Subprotocols, OriginPatterns: s.cfg.OriginPatterns})
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

// run reads messages until the stream ends and returns the end reason.
//
// The stream runs under the request's context: the opener sees its values
// (the authenticated caller), and when it ends (the daemon withdrew the
// caller's access) the stream closes with status 1008 and the context's
// cause as reason. Close ends it too.
func (s *Server) run(ws *websocket.Conn, r *http.Request) (string, error) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	closed := context.AfterFunc(r.Context(), func() {
		_ = ws.Close(websocket.StatusPolicyViolation, truncate(context.Cause(r.Context()).Error(), 120))
	})
	defer closed()
	st := newStream(ctx, s.cfg, s.m, s.opener, r.URL.Query(), r.RemoteAddr)
	var idle atomic.Bool
	timer := time.AfterFunc(s.cfg.IdleTimeout, func() {
		idle.Store(true)
		_ = ws.Close(websocket.StatusPolicyViolation, "idle timeout")
	})
	defer timer.Stop()
	stop := context.AfterFunc(s.ctx, func() { _ = ws.Close(websocket.StatusGoingAway, "server shutting down") })
	defer stop()
	for {
		typ, data, err := ws.Read(context.Background())
		if err != nil {
			timer.Stop()
			var reason string
			switch {
			case idle.Load():
				reason, err = "idle_timeout", fmt.Errorf("wsstream: nothing received for %s", s.cfg.IdleTimeout)
			case s.ctx.Err() != nil:
				reason, err = "shutdown", nil
			case r.Context().Err() != nil:
				reason, err = "cancelled", fmt.Errorf("wsstream: %w", context.Cause(r.Context()))
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
		if !timer.Stop() && idle.Load() {
			continue // the close is under way; Read returns its error
		}
		err = st.handle(typ, data)
		timer.Reset(s.cfg.IdleTimeout)
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
