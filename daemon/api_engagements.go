package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/daemon/guard"
	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/store"
)

// engagementRequest is the body of engagement creation.
type engagementRequest struct {
	Account     string `json:"account"`
	Queue       string `json:"queue"`
	Agent       string `json:"agent"`
	CustomerRef string `json:"customer_ref"`
	Channel     string `json:"channel"`   // voice or chat
	Direction   string `json:"direction"` // inbound or outbound
}

// messageRequest is one chat message.
type messageRequest struct {
	Sender string `json:"sender"` // customer, agent or bot
	Text   string `json:"text"`
}

// maxMessageBytes bounds one chat message.
const maxMessageBytes = 16 << 10

var (
	engagementReaders = []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst}
	liveReaders       = []Role{RoleAdmin, RoleSupervisor, RoleAgent}
	engagementWriters = []Role{RoleAdmin, RoleIngest}
	messageWriters    = []Role{RoleAdmin, RoleIngest, RoleAgent}
)

func (d *Daemon) engagementRoutes() []route {
	return []route{
		{"POST", "/api/v1/engagements", engagementWriters, "Start an engagement", d.createEngagement},
		{"GET", "/api/v1/engagements", engagementReaders, "List engagements in the caller's scope", d.listEngagements},
		{"GET", "/api/v1/engagements/{id}", engagementReaders, "Get an engagement (customer reference included; audited)", d.getEngagement},
		{"POST", "/api/v1/engagements/{id}/end", engagementWriters, "End a live engagement", d.endEngagement},
		{"GET", "/api/v1/engagements/{id}/events", liveReaders, "Server-sent events of an engagement (resumable with Last-Event-ID; audited)", d.engagementEvents},
		{"GET", "/api/v1/engagements/{id}/transcript", engagementReaders, "Stored final transcript segments (audited)", d.engagementTranscript},
		{"POST", "/api/v1/engagements/{id}/messages", messageWriters, "Add a chat message; acknowledged once stored", d.postMessage},
		{"PUT", "/api/v1/engagements/{id}/language", messageWriters, "Set a live chat's customer language (the customer's choice, or an agent's on their behalf)", d.setChatLanguage},
	}
}

// canSee reports whether p may read engagement e: admins everything,
// supervisors, analysts and compliance officers their queues, agents their
// own engagements. (What each role may read of it is the route's roles.)
func (p *Principal) canSee(e store.Engagement) bool {
	switch p.Role() {
	case RoleAdmin:
		return true
	case RoleSupervisor, RoleAnalyst, RoleCompliance:
		return p.InQueue(e.Queue)
	case RoleAgent:
		return e.Agent != "" && e.Agent == p.User.ID
	}
	return false
}

// lookupEngagement loads the engagement of the path and checks the caller
// may see it. Engagements outside the caller's scope are reported as not
// found, so that their existence is not revealed.
func (d *Daemon) lookupEngagement(w http.ResponseWriter, r *http.Request, p *Principal) (store.Engagement, bool) {
	id := r.PathValue("id")
	var e store.Engagement
	if l, ok := d.hub.Get(id); ok {
		e = l.Engagement()
	} else {
		var err error
		if e, err = d.store.Engagement(r.Context(), id); err != nil {
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrBadID) {
				writeProblem(w, r, http.StatusNotFound, "not-found", "no such engagement")
				return e, false
			}
			d.storeError(w, r, err)
			return e, false
		}
	}
	// Media sources reach the engagements they may feed through the API;
	// staff those they may see.
	if p.Role() == RoleIngest && p.mayFeed(e.Queue, sourceAPI) != nil || p.Role() != RoleIngest && !p.canSee(e) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such engagement")
		return e, false
	}
	return e, true
}

// checkFeed refuses (403, naming the queue) an engagement the caller may
// not start or feed through source.
func (d *Daemon) checkFeed(w http.ResponseWriter, r *http.Request, p *Principal, queue, source string) bool {
	if err := p.mayFeed(queue, source); err != nil {
		d.metrics.authFails.WithLabelValues("ingest_scope").Inc()
		writeProblemField(w, r, http.StatusForbidden, "forbidden", "queue "+queue+" through "+source+" is "+err.Error(), "queue")
		return false
	}
	return true
}

// contentRead is the audit entry of a read of customer content.
func contentRead(r *http.Request, p *Principal, engagement, feature string) store.AuditEntry {
	e := auditEntry(r, p, "content.read", r.Pattern)
	e.Engagement, e.Feature = engagement, feature
	return e
}

func (d *Daemon) createEngagement(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req engagementRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if req.Direction == "" {
		req.Direction = "inbound"
	}
	e, ok := d.checkEngagementRequest(w, r, req)
	if !ok || !d.checkFeed(w, r, p, e.Queue, sourceAPI) {
		return
	}
	l, err := d.hub.StartAs(r.Context(), e, sourceAPI, p.Token.ID, auditEntry(r, p, "engagement.create", "queue:"+e.Queue))
	if err != nil {
		d.startError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/engagements/"+l.ID())
	writeJSON(w, http.StatusCreated, l.Engagement())
}

// checkEngagementRequest validates engagement metadata of an API request,
// writing a problem naming the field when it is bad.
func (d *Daemon) checkEngagementRequest(w http.ResponseWriter, r *http.Request, req engagementRequest) (store.Engagement, bool) {
	e, err := d.validateEngagement(req)
	if err != nil {
		var fe *fieldError
		errors.As(err, &fe)
		d.badRequest(w, r, 400, fe.msg, fe.field)
		return e, false
	}
	return e, true
}

// validateEngagement checks engagement metadata from any ingest path and
// turns it into a store.Engagement; errors are *fieldError.
func (d *Daemon) validateEngagement(req engagementRequest) (store.Engagement, error) {
	e := store.Engagement{Account: req.Account, Queue: req.Queue, Agent: req.Agent, CustomerRef: req.CustomerRef,
		Channel: req.Channel, Direction: req.Direction}
	bad := func(field, msg string) (store.Engagement, error) { return e, &fieldError{field, msg} }
	if e.Queue == "" {
		return bad("queue", "queue is required")
	}
	if _, err := d.store.Queue(e.Queue); err != nil {
		return bad("queue", "unknown queue "+e.Queue)
	}
	if e.Agent != "" {
		// The agent gets to read the engagement: only someone who handles
		// the queue's contacts may be named (one text, whether the user
		// does not exist or is not of the queue).
		u, err := d.store.User(e.Agent)
		handles := err == nil && !u.Disabled && (u.Role == string(RoleAdmin) ||
			(u.Role == string(RoleAgent) || u.Role == string(RoleSupervisor)) && slices.Contains(u.Queues, e.Queue))
		if !handles {
			return bad("agent", "agent "+e.Agent+" does not handle queue "+e.Queue)
		}
	}
	if len(e.CustomerRef) > 256 {
		return bad("customer_ref", "customer_ref longer than 256 bytes")
	}
	if e.Channel != "voice" && e.Channel != "chat" {
		return bad("channel", "channel must be voice or chat")
	}
	if e.Direction != "inbound" && e.Direction != "outbound" {
		return bad("direction", "direction must be inbound or outbound")
	}
	return e, nil
}

func (d *Daemon) startError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, hub.ErrBusy) {
		// The detail names the limit hit (the appliance's, the source's or
		// the token's); the refusal is counted with it as reason.
		detail := "the appliance holds its maximum of live engagements"
		var le *hub.LimitError
		if errors.As(err, &le) {
			detail = le.Error()
		}
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, "busy", detail)
		return
	}
	d.badRequest(w, r, 400, err.Error(), "")
}

func (d *Daemon) listEngagements(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := r.URL.Query()
	f := store.EngagementFilter{Queue: q.Get("queue"), Agent: q.Get("agent"), Limit: 500}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				d.badRequest(w, r, 400, tf.name+" must be an RFC 3339 time", tf.name)
				return
			}
			*tf.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 5000 {
			d.badRequest(w, r, 400, "limit must be between 1 and 5000", "limit")
			return
		}
		f.Limit = n
	}
	switch p.Role() {
	case RoleAgent:
		if f.Agent != "" && f.Agent != p.User.ID {
			writeProblem(w, r, http.StatusForbidden, "forbidden", "agents list their own engagements only")
			return
		}
		f.Agent = p.User.ID
	case RoleSupervisor, RoleAnalyst:
		if f.Queue != "" && !p.InQueue(f.Queue) {
			writeProblem(w, r, http.StatusForbidden, "forbidden", "queue outside the caller's scope")
			return
		}
	}
	all, err := d.store.Engagements(r.Context(), f)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	out := []store.Engagement{}
	for _, e := range all {
		if p.canSee(e) {
			out = append(out, e)
		}
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) getEngagement(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	full, err := d.store.Engagement(r.Context(), e.ID, contentRead(r, p, e.ID, "engagement"))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, full)
}

func (d *Daemon) endEngagement(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	l, live := d.hub.Get(e.ID)
	if !live || l.Ended() {
		writeProblem(w, r, http.StatusConflict, "not-live", "the engagement has already ended")
		return
	}
	l.End("api")
	writeJSON(w, http.StatusAccepted, map[string]string{"id": e.ID, "status": "ending"})
}

func (d *Daemon) engagementTranscript(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	segs, err := d.store.Segments(r.Context(), e.ID, contentRead(r, p, e.ID, "transcript"))
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	if segs == nil {
		segs = []store.Segment{}
	}
	writeJSON(w, 200, map[string]any{"engagement": e.ID, "segments": segs})
}

func (d *Daemon) postMessage(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	var req messageRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if p.Role() == RoleAgent && req.Sender != "agent" {
		writeProblem(w, r, http.StatusForbidden, "forbidden", "agents send messages as agent")
		return
	}
	switch {
	case req.Sender != "customer" && req.Sender != "agent" && req.Sender != "bot":
		d.badRequest(w, r, 400, "sender must be customer, agent or bot", "sender")
		return
	case strings.TrimSpace(req.Text) == "":
		d.badRequest(w, r, 400, "text must not be empty", "text")
		return
	case len(req.Text) > maxMessageBytes:
		d.badRequest(w, r, 400, fmt.Sprintf("text longer than %d bytes", maxMessageBytes), "text")
		return
	case !utf8.ValidString(req.Text):
		d.badRequest(w, r, 400, "text is not valid UTF-8", "text")
		return
	}
	l, live := d.hub.Get(e.ID)
	if !live || l.Ended() {
		writeProblem(w, r, http.StatusConflict, "not-live", "the engagement has ended")
		return
	}
	finish := func(stored bool) {}
	if key := r.Header.Get(idemHeader); key != "" {
		if len(key) > idemMaxLen {
			d.badRequest(w, r, 400, fmt.Sprintf("%s longer than %d characters", idemHeader, idemMaxLen), idemHeader)
			return
		}
		scoped := e.ID + "\x00" + p.Token.ID + "\x00" + key
		ent, first, mismatch, err := d.idem.begin(r.Context(), scoped, []byte(req.Sender+"\x00"+req.Text))
		switch {
		case err != nil:
			return // the client went away while waiting for the same post
		case mismatch:
			d.badRequest(w, r, 422, idemHeader+" was used for another message", idemHeader)
			return
		case !first:
			w.Header().Set(idemReplayed, "true")
			writeJSON(w, http.StatusCreated, map[string]any{"engagement": e.ID, "stored": true})
			return
		}
		finish = func(stored bool) { d.idem.finish(scoped, ent, stored) }
	}
	stored := false
	defer func() { finish(stored) }()
	// The engagement sets the message's time when it takes it.
	seg := store.Segment{Speaker: req.Sender, Text: req.Text, Final: true}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	seg = d.translated(ctx, e, seg)
	if err := l.SubmitMessage(ctx, seg); err != nil {
		if errors.Is(err, hub.ErrNotLive) {
			writeProblem(w, r, http.StatusConflict, "not-live", "the engagement has ended")
			return
		}
		if errors.Is(err, hub.ErrBusy) {
			writeProblem(w, r, http.StatusServiceUnavailable, "busy", "the engagement's queue is full; retry")
			return
		}
		d.storeError(w, r, err)
		return
	}
	stored = true
	writeJSON(w, http.StatusCreated, map[string]any{"engagement": e.ID, "stored": true})
}

// engagementEvents streams an engagement's events as server-sent events,
// resumable with Last-Event-ID (or ?last_event_id=).
func (d *Daemon) engagementEvents(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	after, field, err := hub.LastEventID(r)
	if err != nil {
		d.badRequest(w, r, 400, err.Error(), field)
		return
	}
	if err := d.store.AppendAudit(r.Context(), contentRead(r, p, e.ID, "events")); err != nil {
		d.storeError(w, r, err)
		return
	}
	// The stream ends at the stop signal (requests in flight otherwise
	// keep their context until the shutdown deadline: see Serve), and as
	// soon as the reader may no longer read it (access.go).
	ctx, release := d.holdPrincipal(r.Context(), "events", p, liveReaders, d.stillSees(e.ID))
	defer release()
	defer context.AfterFunc(d.streams, release)()
	if err := d.hub.ServeEvents(w, r.WithContext(ctx), e, after); err != nil {
		writeProblem(w, r, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	if guard.Withdrawn(ctx) {
		fmt.Fprintf(w, "event: error\ndata: {\"detail\":%q}\n\n", guard.ErrWithdrawn.Error())
		http.NewResponseController(w).Flush()
	}
}
