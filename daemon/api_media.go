package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/earshot/earshot/daemon/guard"
	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/media/analyze"
	"github.com/earshot/earshot/store"
)

var ingestRoles = []Role{RoleAdmin, RoleIngest}

// queryTokenRoutes may take the token from ?access_token= when no
// Authorization header is sent: telephony platforms open WebSocket
// streams to a configured URL and cannot add headers.
var queryTokenRoutes = map[string]bool{"GET /api/v1/ingest/stream": true, "GET /api/v1/bots/{id}/chat": true,
	"GET /api/v1/bots/{id}/voice/twilio": true}

func (d *Daemon) mediaRoutes() []route {
	return []route{
		{"POST", "/api/v1/ingest/whip", ingestRoles, "WHIP: publish call audio (SDP offer in, answer out; metadata as query parameters)", d.whipCreate},
		{"PATCH", "/api/v1/ingest/whip/{id}", ingestRoles, "WHIP: trickle ICE candidates (the token that created the session only)", d.whipSession},
		{"DELETE", "/api/v1/ingest/whip/{id}", ingestRoles, "WHIP: end the session and its engagement (the token that created the session only)", d.whipSession},
		{"GET", "/api/v1/ingest/stream", ingestRoles, "WebSocket media stream (Twilio Media Streams or raw 16-bit PCM after a JSON metadata frame)", d.wsStream},
		{"POST", "/api/v1/uploads", ingestRoles, "Upload a WAV recording or a ready JSON transcript for post-call processing", d.upload},
	}
}

// wsStream runs a WebSocket media stream for as long as its caller may
// feed the stream's queue (access.go).
func (d *Daemon) wsStream(w http.ResponseWriter, r *http.Request, p *Principal) {
	// A queue in the URL is checked before the upgrade; one in the stream's
	// metadata when the stream starts (media.go).
	if q := r.URL.Query().Get("queue"); q != "" && !d.checkFeed(w, r, p, q, sourceWebSocket) {
		return
	}
	fc := &feedConn{source: sourceWebSocket}
	ctx, release := d.holdPrincipal(r.Context(), "websocket", p, ingestRoles, fc.stillFeeds)
	defer release()
	d.media.ws.ServeHTTP(w, r.WithContext(withFeedConn(ctx, fc)))
}

// whipCreate starts a WHIP session and ties it to the token that created
// it: only that token (or an administrator) may trickle to it or end it,
// and it ends when that token may no longer feed its queue.
func (d *Daemon) whipCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	fc := &feedConn{source: sourceWHIP}
	d.media.whipHandler.ServeHTTP(w, r.WithContext(withFeedConn(r.Context(), fc)))
	e := fc.engagement()
	loc := w.Header().Get("Location")
	if e == nil || loc == "" {
		return // refused; the WHIP server closed what it opened
	}
	d.media.bindWHIP(path.Base(loc), p, e)
}

// whipSession passes a PATCH or DELETE to the WHIP server when the caller
// created the session (or is an administrator); to anyone else the
// session does not exist.
func (d *Daemon) whipSession(w http.ResponseWriter, r *http.Request, p *Principal) {
	if !d.media.mayManageWHIP(r.PathValue("id"), p) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such WHIP session")
		return
	}
	d.media.whipHandler.ServeHTTP(w, r)
}

// upload transcribes an uploaded WAV file (or reads a ready transcript),
// stores it as an ended voice engagement, and runs the post-engagement
// analyzers. Metadata comes from query parameters; parties= maps WAV
// channels to parties (e.g. customer,agent); start= dates a past call.
//
// The response comes when the processing is over: the engagement is
// ended, its transcript stored in time order and its analyzers run. The
// engagement lasts as long as its audio (end = start + duration_ms, on the
// media clock); processing_ms is the wall time the processing took.
func (d *Daemon) upload(w http.ResponseWriter, r *http.Request, p *Principal) {
	began := time.Now()
	if r.ContentLength > d.cfg.Media.MaxUploadBytes {
		refuseBody(w, r)
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("upload larger than %d bytes", d.cfg.Media.MaxUploadBytes), "body")
		return
	}
	q := r.URL.Query()
	e, err := d.engagementFromQuery(q, nil)
	if err != nil {
		var fe *fieldError
		errors.As(err, &fe)
		refuseBody(w, r)
		d.badRequest(w, r, 400, fe.msg, fe.field)
		return
	}
	if !d.checkFeed(w, r, p, e.Queue, sourceUpload) {
		refuseBody(w, r)
		return
	}
	// Processing takes a while: it stops when the caller may no longer
	// feed the queue.
	ctx, release := d.holdPrincipal(r.Context(), "upload", p, ingestRoles, func(_ context.Context, fresh *Principal) error {
		return fresh.mayFeed(e.Queue, sourceUpload)
	})
	defer release()
	r = r.WithContext(ctx)
	if v := q.Get("start"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			d.badRequest(w, r, 400, "start must be an RFC 3339 time", "start")
			return
		}
		e.Start = t.UTC()
	}
	opts := analyze.Options{Source: "upload", Downmix: q.Get("downmix") == "true", Profile: e.Queue}
	if v := q.Get("parties"); v != "" {
		for _, party := range strings.Split(v, ",") {
			opts.Parties = append(opts.Parties, partyName(strings.TrimSpace(party)))
		}
	}
	// A body still arriving when access is withdrawn stops arriving.
	stopRead := context.AfterFunc(ctx, func() { _ = http.NewResponseController(w).SetReadDeadline(time.Now()) })
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, d.cfg.Media.MaxUploadBytes))
	stopRead()
	if err != nil && guard.Withdrawn(ctx) {
		writeProblem(w, r, http.StatusForbidden, "forbidden", guard.ErrWithdrawn.Error())
		return
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("upload larger than %d bytes", d.cfg.Media.MaxUploadBytes), "")
			return
		}
		d.badRequest(w, r, 400, "reading the upload: "+err.Error(), "")
		return
	}
	res, err := d.media.analyzer.Analyze(r.Context(), data, opts)
	if err != nil {
		if errors.Is(err, analyze.ErrBadInput) {
			d.badRequest(w, r, http.StatusUnprocessableEntity, err.Error(), "body")
			return
		}
		if guard.Withdrawn(ctx) {
			writeProblem(w, r, http.StatusForbidden, "forbidden", guard.ErrWithdrawn.Error())
			return
		}
		if errors.Is(err, context.Canceled) {
			return
		}
		writeProblem(w, r, http.StatusServiceUnavailable, "busy", "no recogniser free; retry later: "+err.Error())
		return
	}
	live, err := d.hub.StartAs(r.Context(), e, sourceUpload, p.Token.ID, auditEntry(r, p, "engagement.create", "queue:"+e.Queue))
	if err != nil {
		d.startError(w, r, err)
		return
	}
	var finals []store.Segment
	for _, s := range res.Segments {
		if s.Final && strings.TrimSpace(s.Text) != "" {
			finals = append(finals, storeSegment(s))
		}
	}
	n := 0
	for i, seg := range finals {
		// Wait for a commit every 128 segments, and for the last: the
		// response acknowledges a stored transcript.
		if (i+1)%128 == 0 || i == len(finals)-1 {
			err = live.SubmitWait(r.Context(), seg)
		} else if !live.Submit(seg) {
			err = hub.ErrBusy
		}
		if err != nil {
			break
		}
		n++
	}
	live.EndAt("upload", live.Engagement().Start.Add(time.Duration(res.DurationMs)*time.Millisecond))
	if err != nil && guard.Withdrawn(ctx) {
		writeProblem(w, r, http.StatusForbidden, "forbidden", guard.ErrWithdrawn.Error())
		return
	}
	if err != nil {
		d.logger.Error("upload not fully stored", "engagement", live.ID(), "stored", n, "err", err)
		writeProblem(w, r, http.StatusInternalServerError, "internal", "the transcript was not fully stored")
		return
	}
	// The engagement's goroutine stores the end and runs the analyzers; it
	// goes on if the client leaves.
	select {
	case <-live.Done():
	case <-r.Context().Done():
		return
	}
	ended, err := d.store.Engagement(r.Context(), live.ID())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/engagements/"+live.ID())
	writeJSON(w, http.StatusCreated, map[string]any{
		"engagement": ended, "kind": res.Kind, "segments": n,
		"duration_ms": res.DurationMs, "processing_ms": time.Since(began).Milliseconds(),
	})
}
