package daemon

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference/bot/slots"
	"github.com/earshot/earshot/store"
)

// The chat protocol, one JSON object per WebSocket text message, shared by
// chat clients (GET /api/v1/bots/{id}/chat, a staff or ingest token) and
// the web widget (GET /chat/{bot}/ws, the bot's public key).
//
// Client to server:
//
//	{"type":"message","text":"I lost my card"}
//	{"type":"end"}                        the customer leaves
//
// Server to client:
//
//	{"type":"session","conversation":"<id>","resume":"<secret>"}
//	{"type":"message","id":7,"from":"bot"|"agent"|"customer","text":"…","kind":"prompt","choices":["Yes","No"],"citations":[…]}
//	                                      (the customer's own messages come back once stored)
//	{"type":"position","position":2}      place in the human queue
//	{"type":"agent_joined","agent_name":"Ana"}
//	{"type":"error","code":"rate_limited"|"too_long"|"empty"|"malformed","detail":"…"}
//	{"type":"ended"}                      then the server closes
//
// A widget reconnects to its conversation with ?resume=<secret>&after=<id>.

// chatFrame is a server-to-client message.
type chatFrame struct {
	Type         string   `json:"type"`
	ID           uint64   `json:"id,omitempty"`
	From         string   `json:"from,omitempty"`
	Text         string   `json:"text,omitempty"`
	Kind         string   `json:"kind,omitempty"`
	Choices      []string `json:"choices,omitempty"`
	Citations    any      `json:"citations,omitempty"`
	Position     int      `json:"position,omitempty"`
	AgentName    string   `json:"agent_name,omitempty"`
	Conversation string   `json:"conversation,omitempty"`
	Resume       string   `json:"resume,omitempty"`
	Code         string   `json:"code,omitempty"`
	Detail       string   `json:"detail,omitempty"`
}

// customerFrame is what the customer may see of an event; nil for
// nothing (staff events: sentiment, suggestions, the hand-over's slots).
func customerFrame(ev hub.Event) *chatFrame {
	switch ev.Type {
	case EventBotMessage:
		var m botMessage
		if json.Unmarshal(ev.Data, &m) != nil {
			return nil
		}
		f := &chatFrame{Type: "message", ID: ev.ID, From: "bot", Text: m.Text, Kind: m.Kind, Choices: m.Choices}
		if len(m.Citations) > 0 {
			f.Citations = m.Citations
		}
		return f
	case hub.EventTranscriptFinal:
		var s store.Segment
		if json.Unmarshal(ev.Data, &s) != nil || (s.Speaker != "agent" && s.Speaker != "customer") {
			return nil
		}
		// The customer's own messages come back once stored: the
		// acknowledgement, and the log a reloaded page rebuilds.
		text := s.Text
		if s.Speaker == "agent" {
			text = customerView(s) // in the customer's language
		}
		return &chatFrame{Type: "message", ID: ev.ID, From: s.Speaker, Text: text}
	case EventBotPosition:
		var p struct{ Position int }
		if json.Unmarshal(ev.Data, &p) != nil {
			return nil
		}
		return &chatFrame{Type: "position", ID: ev.ID, Position: p.Position}
	case EventHandoverAccepted:
		var a struct {
			AgentName string `json:"agent_name"`
		}
		json.Unmarshal(ev.Data, &a)
		return &chatFrame{Type: "agent_joined", ID: ev.ID, AgentName: a.AgentName}
	}
	return nil
}

// clientFrame is a client-to-server message.
type clientFrame struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// chatSession is one chat connection of a conversation.
type chatSession struct {
	b       *botService
	ws      *websocket.Conn
	c       *conversation
	client  *tokenBucket
	botRate *tokenBucket
	// maxChars bounds one message.
	maxChars int
	// recheck reports why the connection may no longer go on, or nil.
	recheck func(ctx context.Context) error
	// after is the last event the client has.
	after uint64
	// violations counts messages refused for rate in the current minute.
	violations int
	windowEnd  time.Time
}

// maxViolations is how many rate-limited messages a client may send in a
// minute before the connection is closed.
const maxViolations = 20

func (s *chatSession) send(ctx context.Context, f chatFrame) error {
	raw, _ := json.Marshal(f)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.ws.Write(wctx, websocket.MessageText, raw)
}

// serve runs the connection until the conversation ends, the client goes,
// the daemon stops, or a re-check fails.
func (s *chatSession) serve(ctx context.Context, resume string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ws.SetReadLimit(64 << 10)
	if err := s.send(ctx, chatFrame{Type: "session", Conversation: s.c.live.ID(), Resume: resume}); err != nil {
		return
	}
	readErr := make(chan error, 1)
	go func() { readErr <- s.read(ctx) }()
	tick := time.NewTicker(recheckInterval)
	defer tick.Stop()
	l := s.c.live
	for {
		evs, more, complete, _ := l.Since(s.after)
		for _, ev := range evs {
			s.after = ev.ID
			if f := customerFrame(ev); f != nil {
				if err := s.send(ctx, *f); err != nil {
					return
				}
			}
		}
		if complete {
			s.send(ctx, chatFrame{Type: "ended"})
			s.ws.Close(websocket.StatusNormalClosure, "conversation ended")
			return
		}
		select {
		case <-more:
		case err := <-readErr:
			var ce websocket.CloseError
			if errors.As(err, &ce) || ctx.Err() != nil || errors.Is(err, errClientEnded) {
				s.ws.CloseNow()
				return
			}
			var closeErr *chatCloseError
			if errors.As(err, &closeErr) {
				s.send(ctx, chatFrame{Type: "error", Code: closeErr.code, Detail: closeErr.detail})
				s.ws.Close(closeErr.status, closeErr.code)
				return
			}
			s.ws.CloseNow()
			return
		case <-s.b.d.changes.C():
			if !s.alive(ctx) {
				return
			}
		case <-tick.C:
			if !s.alive(ctx) {
				return
			}
		case <-s.b.d.streams.Done():
			s.ws.Close(websocket.StatusGoingAway, "daemon stopping")
			return
		case <-ctx.Done():
			return
		}
	}
}

// alive re-checks the connection's principal; false means it was closed.
func (s *chatSession) alive(ctx context.Context) bool {
	if err := s.recheck(ctx); err != nil {
		s.b.m.refused.WithLabelValues("recheck").Inc()
		s.send(ctx, chatFrame{Type: "error", Code: "revoked", Detail: err.Error()})
		s.ws.Close(websocket.StatusPolicyViolation, "access revoked")
		return false
	}
	return true
}

var errClientEnded = errors.New("the customer ended the conversation")

// chatCloseError ends a connection for the client's misbehaviour.
type chatCloseError struct {
	status       websocket.StatusCode
	code, detail string
}

func (e *chatCloseError) Error() string { return e.code + ": " + e.detail }

// read takes the client's messages until it goes or misbehaves.
func (s *chatSession) read(ctx context.Context) error {
	for {
		typ, data, err := s.ws.Read(ctx)
		if err != nil {
			return err
		}
		var f clientFrame
		if typ != websocket.MessageText || json.Unmarshal(data, &f) != nil {
			s.b.m.rateLimited.WithLabelValues("malformed").Inc()
			s.send(ctx, chatFrame{Type: "error", Code: "malformed", Detail: `send JSON text messages such as {"type":"message","text":"hello"}`})
			continue
		}
		switch f.Type {
		case "end":
			s.c.live.End("customer")
			return errClientEnded
		case "message":
		default:
			s.b.m.rateLimited.WithLabelValues("malformed").Inc()
			s.send(ctx, chatFrame{Type: "error", Code: "malformed", Detail: "type must be message or end"})
			continue
		}
		if code, detail := s.check(f.Text); code != "" {
			s.b.m.rateLimited.WithLabelValues(code).Inc()
			s.send(ctx, chatFrame{Type: "error", Code: code, Detail: detail})
			continue
		}
		now := time.Now()
		if !s.client.allow(now) || !s.botRate.allow(now) {
			reason := "rate_client"
			if s.client.tokensAt(now) >= 1 {
				reason = "rate_bot"
			}
			s.b.m.rateLimited.WithLabelValues(reason).Inc()
			if now.After(s.windowEnd) {
				s.violations, s.windowEnd = 0, now.Add(time.Minute)
			}
			s.violations++
			if s.violations > maxViolations {
				return &chatCloseError{websocket.StatusPolicyViolation, "rate_limited", "too many messages; the connection is closed"}
			}
			s.send(ctx, chatFrame{Type: "error", Code: "rate_limited", Detail: "too many messages; wait a moment"})
			continue
		}
		text := slots.Clean(f.Text)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		seg := s.b.d.translated(wctx, s.c.live.Engagement(), store.Segment{Speaker: "customer", Text: text})
		err = s.c.live.SubmitMessage(wctx, seg)
		cancel()
		if errors.Is(err, hub.ErrNotLive) {
			return errClientEnded
		}
		if err != nil {
			s.send(ctx, chatFrame{Type: "error", Code: "busy", Detail: "the message was not taken; send it again"})
		}
	}
}

// check validates a customer message's text; it returns an error code and
// detail, or "".
func (s *chatSession) check(text string) (code, detail string) {
	switch {
	case !utf8.ValidString(text):
		return "malformed", "text is not valid UTF-8"
	case utf8.RuneCountInString(text) > s.maxChars:
		return "too_long", fmt.Sprintf("a message may have at most %d characters", s.maxChars)
	case slots.Clean(text) == "":
		return "empty", "the message is empty"
	}
	return "", ""
}

// tokenBucket is a token-bucket rate limiter.
type tokenBucket struct {
	mu sync.Mutex
	// +checklocks:mu
	tokens float64
	// +checklocks:mu
	last        time.Time
	rate, burst float64
}

func newTokenBucket(perSecond, burst float64) *tokenBucket {
	return &tokenBucket{tokens: burst, rate: perSecond, burst: burst}
}

func (t *tokenBucket) fill(now time.Time) {
	if !t.last.IsZero() {
		t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.rate)
	}
	t.last = now
}

// allow takes a token if one is there.
func (t *tokenBucket) allow(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fill(now)
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

func (t *tokenBucket) tokensAt(now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fill(now)
	return t.tokens
}

// chatLimits are the per-address and per-bot limits of the chat channels.
type chatLimits struct {
	mu sync.Mutex
	// +checklocks:mu
	addrs map[string]*tokenBucket
	// +checklocks:mu
	bots map[string]*tokenBucket
	// +checklocks:mu
	widgets map[string]int // open widget connections per bot
}

func newChatLimits() *chatLimits {
	return &chatLimits{addrs: map[string]*tokenBucket{}, bots: map[string]*tokenBucket{}, widgets: map[string]int{}}
}

// maxTrackedAddrs bounds the per-address buckets kept.
const maxTrackedAddrs = 100000

// newSession reports whether addr may start another conversation (perMin
// per minute).
func (l *chatLimits) newSession(addr string, perMin int, now time.Time) bool {
	l.mu.Lock()
	b, ok := l.addrs[addr]
	if !ok {
		if len(l.addrs) >= maxTrackedAddrs {
			for k, v := range l.addrs { // drop the full ones: they are idle
				if v.tokensAt(now) >= v.burst {
					delete(l.addrs, k)
				}
			}
		}
		b = newTokenBucket(float64(perMin)/60, float64(perMin))
		l.addrs[addr] = b
	}
	l.mu.Unlock()
	return b.allow(now)
}

// botBucket returns the bot's message bucket.
func (l *chatLimits) botBucket(id string, perSecond int) *tokenBucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.bots[id]
	if !ok || b.rate != float64(perSecond) {
		b = newTokenBucket(float64(perSecond), float64(perSecond))
		l.bots[id] = b
	}
	return b
}

// openWidget counts a widget connection of bot id unless max are open.
func (l *chatLimits) openWidget(id string, max int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.widgets[id] >= max {
		return false
	}
	l.widgets[id]++
	return true
}

func (l *chatLimits) closeWidget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.widgets[id]--
}

// clientBucket is a connection's own message limit.
func clientBucket(perMinute int) *tokenBucket {
	return newTokenBucket(float64(perMinute)/60, float64(max(3, perMinute/4)))
}

// remoteAddr is the client's address (no port).
func remoteAddr(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// normalizeOrigin lowercases an origin and drops a default port.
func normalizeOrigin(o string) string {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Host == "" {
		return ""
	}
	host := strings.ToLower(u.Host)
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host
}

// ownOrigin is the daemon's origin as the request reached it.
func ownOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return normalizeOrigin(scheme + "://" + r.Host)
}

// originAllowed reports whether a browser origin may open a bot's widget:
// the daemon's own page, or one of the bot's allowed origins.
func originAllowed(r *http.Request, allowed []string) bool {
	o := normalizeOrigin(r.Header.Get("Origin"))
	if o == "" {
		return false
	}
	if o == ownOrigin(r) {
		return true
	}
	for _, a := range allowed {
		if normalizeOrigin(a) == o {
			return true
		}
	}
	return false
}

// resumeMatches compares a widget's resume secret with its hash.
func resumeMatches(hash, secret string) bool {
	if hash == "" || secret == "" {
		return false
	}
	got := hex.EncodeToString(store.HashSecret(secret))
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

func parseAfter(r *http.Request) uint64 {
	n, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	return n
}
