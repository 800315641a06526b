package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/earshot/earshot/daemon/console"
)

// route is one operation of the API. Every route is registered from the
// table that routes() returns, which is also what the authorisation matrix
// test and the OpenAPI coverage test walk.
type route struct {
	Method  string
	Pattern string // net/http ServeMux pattern, e.g. /api/v1/queues/{id}
	// Roles that may call the route; nil means no authentication.
	Roles   []Role
	Summary string
	Handle  func(w http.ResponseWriter, r *http.Request, p *Principal)
}

func (d *Daemon) routes() []route {
	var rs []route
	rs = append(rs, d.systemRoutes()...)
	rs = append(rs, d.directoryRoutes()...)
	rs = append(rs, d.signInRoutes()...)
	rs = append(rs, d.featureRoutes()...)
	rs = append(rs, d.engagementRoutes()...)
	rs = append(rs, d.redactionRoutes()...)
	rs = append(rs, d.storeRoutes()...)
	rs = append(rs, d.mediaRoutes()...)
	rs = append(rs, d.analyticsRoutes()...)
	rs = append(rs, d.pluginRoutes()...)
	rs = append(rs, d.kbRoutes()...)
	rs = append(rs, d.skillRoutes()...)
	rs = append(rs, d.forecastRoutes()...)
	rs = append(rs, d.wfmRoutes()...)
	rs = append(rs, d.sinkRoutes()...)
	rs = append(rs, d.qmRoutes()...)
	rs = append(rs, d.botRoutes()...)
	rs = append(rs, d.doctorRoutes()...)
	return rs
}

func (d *Daemon) systemRoutes() []route {
	return []route{
		{"GET", "/healthz", nil, "Liveness: the process serves HTTP", func(w http.ResponseWriter, r *http.Request, _ *Principal) {
			writeJSON(w, 200, map[string]string{"status": "ok"})
		}},
		{"GET", "/readyz", nil, "Readiness: the store is open and the daemon accepts work", func(w http.ResponseWriter, r *http.Request, _ *Principal) {
			if !d.ready.Load() {
				writeProblem(w, r, http.StatusServiceUnavailable, "not-ready", "the daemon is starting or stopping")
				return
			}
			writeJSON(w, 200, map[string]string{"status": "ready"})
		}},
		{"GET", "/metrics", nil, "Prometheus metrics", func(w http.ResponseWriter, r *http.Request, _ *Principal) {
			d.metricsHandler.ServeHTTP(w, r)
		}},
		{"GET", "/api/v1/openapi.json", nil, "This API's OpenAPI 3.1 document", func(w http.ResponseWriter, r *http.Request, _ *Principal) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openAPIDoc)
		}},
		{"GET", "/api/v1/version", nil, "Version of the daemon", func(w http.ResponseWriter, r *http.Request, _ *Principal) {
			writeJSON(w, 200, map[string]string{"version": Version})
		}},
		{"GET", "/api/v1/whoami", AllRoles, "The caller's user, role and queues", func(w http.ResponseWriter, r *http.Request, p *Principal) {
			writeJSON(w, 200, map[string]any{"user": viewUser(p.User), "token_id": p.Token.ID})
		}},
	}
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = 200
	}
	return s.ResponseWriter.Write(b)
}

// Flush lets streaming handlers (server-sent events) flush through the
// recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// handler builds the API's HTTP handler from the route table.
func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range d.routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, d.wrap(rt))
	}
	mux.Handle("GET /console/", console.Handler("/console/"))
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.metrics.requests.WithLabelValues("unmatched", r.Method, "404").Inc()
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such route")
	})
	return mux
}

func (d *Daemon) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			// A panic is a bug: counted, logged once with its route, and
			// answered 500 when nothing was written yet. An aborted
			// handler (http.ErrAbortHandler) goes on up to net/http.
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				d.metrics.panics.WithLabelValues(rt.Pattern).Inc()
				d.logger.Error("handler panic", "route", rt.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.code == 0 {
					writeProblem(rec, r, http.StatusInternalServerError, "internal", "internal error; see the daemon's log")
				}
			}
			code := rec.code
			if code == 0 {
				code = 200
			}
			d.metrics.requests.WithLabelValues(rt.Pattern, r.Method, fmt.Sprint(code)).Inc()
			if code < 400 && principalRoutes[rt.Method+" "+rt.Pattern] {
				d.changes.Notify() // long-lived connections re-check (watch.go)
			}
			d.metrics.latency.WithLabelValues(rt.Pattern).Observe(time.Since(start).Seconds())
		}()
		var p *Principal
		if rt.Roles != nil {
			var reason string
			p, reason = authenticate(d.store, r, time.Now(), queryTokenRoutes[rt.Method+" "+rt.Pattern])
			if p == nil {
				// The reason is counted, never told: a caller does not learn
				// whether a token it holds was revoked, expired or belongs to
				// a disabled user.
				d.metrics.authFails.WithLabelValues(reason).Inc()
				rec.Header().Set("WWW-Authenticate", `Bearer realm="earshot"`)
				refuseBody(rec, r)
				writeProblem(rec, r, http.StatusUnauthorized, "unauthenticated", "a valid bearer token is required")
				return
			}
			if !slices.Contains(rt.Roles, p.Role()) {
				d.metrics.authFails.WithLabelValues("forbidden").Inc()
				refuseBody(rec, r)
				writeProblem(rec, r, http.StatusForbidden, "forbidden", "role "+string(p.Role())+" may not call this route")
				return
			}
			r = r.WithContext(contextWithPrincipal(r.Context(), p))
		}
		rt.Handle(rec, r, p)
		if rec.code < 300 && rt.changesAccess(r.Method) {
			d.guard.Changed()
		}
	})
}

// refuseBody marks the response to a request refused before its body was
// read: the connection closes after the response instead of waiting for
// the rest of a body nobody will use. net/http would otherwise drain up to
// 256 KiB of it at whatever pace the client sends; a client sending at
// network speed gets refuseGrace to finish (so that it reads the answer
// rather than a reset), a trickling one is cut off then.
func refuseBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(refuseGrace))
	}
}

// refuseGrace bounds how long a refused request's body is read.
const refuseGrace = time.Second

// maxBody bounds JSON request bodies.
const maxBody = 1 << 20

// jsonMediaType reports whether a Content-Type names JSON:
// application/json or a +json type such as application/merge-patch+json.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeJSON decodes the request body strictly into v. On failure it writes
// a problem naming the field and returns false.
//
// A body must be sent as JSON (415 otherwise): a text/plain body is what a
// browser may send across origins without asking first.
func (d *Daemon) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength != 0 && !jsonMediaType(r.Header.Get("Content-Type")) {
		refuseBody(w, r)
		d.badRequest(w, r, http.StatusUnsupportedMediaType, "send the body as application/json", "Content-Type")
		return false
	}
	if r.ContentLength > maxBody {
		refuseBody(w, r)
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody), "body")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON value")
	}
	if err == nil {
		return true
	}
	field := ""
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		field = te.Field
		err = fmt.Errorf("field %q: expected %s, got %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		err = fmt.Errorf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &mbe):
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody), "body")
		return false
	case errors.Is(err, io.EOF):
		err = errors.New("empty body; a JSON object is required")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		err = fmt.Errorf("unknown field %q", field)
	}
	d.badRequest(w, r, http.StatusBadRequest, err.Error(), field)
	return false
}

// badRequest writes a problem for bad input and counts it.
func (d *Daemon) badRequest(w http.ResponseWriter, r *http.Request, status int, detail, field string) {
	d.metrics.badInput.WithLabelValues(r.Pattern).Inc()
	writeProblemField(w, r, status, "bad-request", detail, field)
}

func newMetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
