package hub

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/store"
)

// hideTypes is a Controls that hides the event types it holds.
type hideTypes map[string]bool

func (h hideTypes) ShowEvent(ev Event, _ *store.Engagement) bool { return !h[ev.Type] }

// recorder is a live and post analyzer that echoes every utterance as an
// "echo" event and records what the post analyzer saw.
type recorder struct {
	mu   sync.Mutex
	post map[string][]inference.Utterance
}

func (r *recorder) Start(e *store.Engagement) LiveSession { return r }

func (r *recorder) OnUtterance(_ context.Context, conv []inference.Utterance, emit func(string, any)) {
	emit("echo", map[string]any{"n": len(conv), "text": conv[len(conv)-1].Text})
}

func (r *recorder) OnEnd(_ context.Context, e *store.Engagement, conv []inference.Utterance, emit func(string, any)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.post == nil {
		r.post = map[string][]inference.Utterance{}
	}
	r.post[e.ID] = conv
	emit("post", map[string]int{"utterances": len(conv)})
}

type testHub struct {
	*Hub
	st  *store.Store
	reg *prometheus.Registry
	rec *recorder
}

func newTestHub(t *testing.T, cfg Config, controls Controls) *testHub {
	t.Helper()
	st, err := store.Open(t.Context(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := New(cfg, st, controls, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	h.AddLive(rec)
	h.AddPost(rec)
	t.Cleanup(func() {
		h.Shutdown()
		st.Close()
	})
	return &testHub{Hub: h, st: st, reg: reg, rec: rec}
}

func chat(queue string) store.Engagement {
	return store.Engagement{Queue: queue, Channel: "chat", Direction: "inbound"}
}

func TestEngagementLifecycle(t *testing.T) {
	h := newTestHub(t, DefaultConfig(), hideTypes{})
	ctx := context.Background()
	l, err := h.Start(ctx, chat("billing"), "api")
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"my card was charged twice", "let me check that", "¿Me pueden ayudar?"}
	for i, text := range texts {
		party := "customer"
		if i%2 == 1 {
			party = "agent"
		}
		if err := l.SubmitWait(ctx, store.Segment{Speaker: party, Text: text, StartMs: int64(i) * 1000, EndMs: int64(i)*1000 + 800}); err != nil {
			t.Fatalf("SubmitWait %d: %v", i, err)
		}
	}
	// A partial is published, never stored.
	if !l.Submit(store.Segment{Speaker: "customer", Text: "and the"}) {
		t.Fatal("partial refused")
	}
	l.End("api")
	<-l.Done()
	if err := l.SubmitWait(ctx, store.Segment{Speaker: "customer", Text: "too late"}); !errors.Is(err, ErrNotLive) {
		t.Errorf("SubmitWait after the end = %v, want ErrNotLive", err)
	}

	segs, err := h.st.Segments(ctx, l.ID())
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for i, s := range segs {
		if int(s.Seq) != i {
			t.Errorf("segment %d has seq %d", i, s.Seq)
		}
		stored = append(stored, s.Text)
	}
	if diff := cmp.Diff(texts, stored); diff != "" {
		t.Errorf("stored transcript (-want +got):\n%s", diff)
	}
	e, err := h.st.Engagement(ctx, l.ID())
	if err != nil || e.Status != store.StatusEnded {
		t.Errorf("stored engagement = %+v, %v; want ended", e, err)
	}
	h.rec.mu.Lock()
	post := h.rec.post[l.ID()]
	h.rec.mu.Unlock()
	if len(post) != 3 || post[2].Text != texts[2] || post[1].Party != inference.PartyAgent {
		t.Errorf("post analyzer saw %+v", post)
	}
	evs, _, complete, gap := l.Since(0)
	var types []string
	for i, ev := range evs {
		if ev.ID != uint64(i+1) {
			t.Errorf("event %d has ID %d", i, ev.ID)
		}
		types = append(types, ev.Type)
	}
	want := []string{EventTranscriptFinal, "echo", EventTranscriptFinal, "echo", EventTranscriptFinal, "echo",
		EventTranscriptPartial, EventEnded, "post"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !complete || gap {
		t.Errorf("Since(0): complete %v, gap %v; want complete without gap", complete, gap)
	}
	if n := testutil.ToFloat64(h.metrics.ended.WithLabelValues("api")); n != 1 {
		t.Errorf("ended{api} = %v, want 1", n)
	}
}

func TestCapacityAndMediaTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxLive = 1
	cfg.MediaTimeout = time.Minute
	h := newTestHub(t, cfg, hideTypes{})
	ctx := context.Background()
	l := startVoice(t, h)
	if _, err := h.Start(ctx, chat("q"), "api"); !errors.Is(err, ErrBusy) {
		t.Fatalf("second engagement over MaxLive 1: %v, want ErrBusy", err)
	}
	if n := testutil.ToFloat64(h.metrics.refused.WithLabelValues("capacity")); n != 1 {
		t.Errorf("refused{capacity} = %v, want 1", n)
	}
	// Media within the timeout keeps the call; past it, the call ends.
	l.Touch()
	h.tick(time.Now().Add(cfg.MediaTimeout / 2))
	if l.Ended() {
		t.Fatal("engagement ended although media arrived within the timeout")
	}
	h.tick(time.Now().Add(cfg.MediaTimeout + time.Second))
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("engagement past the media timeout did not end")
	}
	if n := testutil.ToFloat64(h.metrics.ended.WithLabelValues("media_timeout")); n != 1 {
		t.Errorf("ended{media_timeout} = %v, want 1", n)
	}
	if _, err := h.Start(ctx, chat("q"), "api"); err != nil {
		t.Errorf("Start after the slot was freed: %v", err)
	}
	if _, ok := h.Get(l.ID()); !ok {
		t.Error("a recently ended engagement is no longer found")
	}
}

func TestEventBufferBound(t *testing.T) {
	cfg := DefaultConfig()
	cfg.EventBuffer = 16
	h := newTestHub(t, cfg, hideTypes{})
	l, err := h.Start(context.Background(), chat("q"), "api")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		l.Publish("tick", i)
	}
	evs, _, _, gap := l.Since(0)
	if len(evs) != 16 || evs[0].ID != 25 || !gap {
		t.Errorf("Since(0) after 40 events in a buffer of 16: %d events from %d, gap %v; want 16 from 25 with a gap", len(evs), evs[0].ID, gap)
	}
	if evs, _, _, gap := l.Since(30); len(evs) != 10 || gap {
		t.Errorf("Since(30): %d events, gap %v; want 10 without a gap", len(evs), gap)
	}
	if evs, _, _, gap := l.Since(math.MaxUint64); len(evs) != 0 || gap {
		t.Errorf("Since(MaxUint64): %d events, gap %v; want none", len(evs), gap)
	}
}

// sse is one parsed server-sent event.
type sse struct {
	ID   uint64
	Type string
}

func readStream(t *testing.T, url, lastID string) (int, []sse) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []sse
	var cur sse
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && cur.Type != "":
			out = append(out, cur)
			cur = sse{}
		case strings.HasPrefix(line, "id: "):
			cur.ID, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			cur.Type = line[7:]
		}
	}
	return resp.StatusCode, out
}

// TestServeEvents streams an ended engagement from memory and from the
// store, resumes after an ID, hides what the controls hide, and survives
// resume positions at the top of the ID range.
func TestServeEvents(t *testing.T) {
	h := newTestHub(t, DefaultConfig(), hideTypes{"echo": true})
	ctx := context.Background()
	l, err := h.Start(ctx, chat("q"), "api")
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"one", "two"} {
		if err := l.SubmitWait(ctx, store.Segment{Speaker: "customer", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	l.End("api")
	<-l.Done()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, _, err := LastEventID(r)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if err := h.ServeEvents(w, r, l.Engagement(), after); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()

	code, got := readStream(t, srv.URL, "")
	want := []sse{{1, EventTranscriptFinal}, {3, EventTranscriptFinal}, {5, EventEnded}, {6, "post"}}
	if diff := cmp.Diff(want, got); code != 200 || diff != "" {
		t.Errorf("stream = %d (-want +got):\n%s", code, diff)
	}
	if _, got := readStream(t, srv.URL, "3"); !cmp.Equal(got, want[2:]) {
		t.Errorf("resumed after 3: %+v, want %+v", got, want[2:])
	}
	for _, top := range []string{strconv.FormatUint(math.MaxUint64, 10), strconv.FormatUint(math.MaxUint64-1, 10)} {
		if code, got := readStream(t, srv.URL, top); code != 200 || len(got) != 0 {
			t.Errorf("resumed after %s: %d %+v, want 200 and nothing", top, code, got)
		}
	}
	if code, _ := readStream(t, srv.URL, "-1"); code != 400 {
		t.Errorf("Last-Event-ID -1 = %d, want 400", code)
	}
	// Once forgotten by the hub, the stored transcript is replayed.
	h.mu.Lock()
	delete(h.recent, l.ID())
	h.mu.Unlock()
	code, got = readStream(t, srv.URL, "")
	want = []sse{{1, EventTranscriptFinal}, {2, EventTranscriptFinal}, {3, EventEnded}}
	if diff := cmp.Diff(want, got); code != 200 || diff != "" {
		t.Errorf("stored replay = %d (-want +got):\n%s", code, diff)
	}
	if _, got := readStream(t, srv.URL, strconv.FormatUint(math.MaxUint64, 10)); len(got) != 0 {
		t.Errorf("stored replay after MaxUint64 = %+v, want nothing", got)
	}
}

// agentProbe records the agent of the engagement each utterance sees.
type agentProbe struct {
	mu     sync.Mutex
	agents []string
}

func (a *agentProbe) Start(e *store.Engagement) LiveSession { return &agentSession{a, e} }

type agentSession struct {
	a *agentProbe
	e *store.Engagement
}

func (s *agentSession) OnUtterance(context.Context, []inference.Utterance, func(string, any)) {
	s.a.mu.Lock()
	s.a.agents = append(s.a.agents, s.e.Agent)
	s.a.mu.Unlock()
}

// TestAssign hands a live chat to an agent between two utterances: the
// analyzers see the agent from the next utterance on, readers see it at
// once, and an ended engagement refuses.
func TestAssign(t *testing.T) {
	st, err := store.Open(t.Context(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(DefaultConfig(), st, hideTypes{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	probe := &agentProbe{}
	h.AddLive(probe)
	t.Cleanup(func() { h.Shutdown(); st.Close() })
	ctx := t.Context()
	l, err := h.Start(ctx, chat("cards"), "api")
	if err != nil {
		t.Fatal(err)
	}
	l.SubmitWait(ctx, store.Segment{Speaker: "customer", Text: "one"})
	if err := l.Assign(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	if got := l.Engagement().Agent; got != "ana" {
		t.Errorf("Engagement().Agent = %q after Assign", got)
	}
	l.SubmitWait(ctx, store.Segment{Speaker: "agent", Text: "two"})
	l.End("api")
	<-l.Done()
	probe.mu.Lock()
	defer probe.mu.Unlock()
	if diff := cmp.Diff([]string{"", "ana"}, probe.agents); diff != "" {
		t.Errorf("agents seen by the analyzer (-want +got):\n%s", diff)
	}
	if err := l.Assign(ctx, "bob"); !errors.Is(err, ErrNotLive) {
		t.Errorf("Assign after the end = %v, want ErrNotLive", err)
	}
}

// TestLimitsPerSourceAndHolder: besides the appliance's maximum, each
// source and each holder has its own; a refusal names the limit it hit,
// matches ErrBusy and is counted with it as reason; a freed slot is
// counted back.
func TestLimitsPerSourceAndHolder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxLive = 6
	cfg.MaxLivePerSource = map[string]int{"api": 3}
	cfg.MaxLivePerHolder = 2
	h := newTestHub(t, cfg, hideTypes{})
	ctx := context.Background()
	start := func(source, holder string) (*Live, error) { return h.StartAs(ctx, chat("q"), source, holder) }
	var chats []*Live
	for i, holder := range []string{"tok_a", "tok_a", "tok_b"} {
		l, err := start("api", holder)
		if err != nil {
			t.Fatalf("chat %d: %v", i, err)
		}
		chats = append(chats, l)
	}
	// The source is full; the holder tok_a too.
	for _, tc := range []struct {
		source, holder, limit string
	}{{"api", "tok_c", LimitSource}, {"whip", "tok_a", LimitHolder}} {
		_, err := start(tc.source, tc.holder)
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != tc.limit || !errors.Is(err, ErrBusy) {
			t.Errorf("Start(%s, %s) = %v, want a %s refusal matching ErrBusy", tc.source, tc.holder, err, tc.limit)
		}
		if n := testutil.ToFloat64(h.metrics.refused.WithLabelValues(tc.limit)); n != 1 {
			t.Errorf("refused{%s} = %v, want 1", tc.limit, n)
		}
	}
	// Another source and holder still start, up to the appliance's limit.
	for i := 0; i < 3; i++ {
		if _, err := start("sip", ""); err != nil {
			t.Fatalf("sip call %d: %v", i, err)
		}
	}
	_, err := start("websocket", "tok_d")
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitTotal || !strings.Contains(err.Error(), "maximum of 6") {
		t.Errorf("Start over max_live = %v, want the appliance's limit", err)
	}
	// An ended chat gives its source and holder slots back.
	chats[0].End("api")
	<-chats[0].Done()
	if _, err := start("whip", "tok_a"); err != nil {
		t.Errorf("after a chat of tok_a ended: %v", err)
	}
}

// TestChatIdleTimeout: a chat with no message for ChatIdleTimeout ends
// with reason idle_timeout; a message holds it off.
func TestChatIdleTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ChatIdleTimeout = time.Minute
	h := newTestHub(t, cfg, hideTypes{})
	ctx := context.Background()
	l, err := h.Start(ctx, chat("q"), "api")
	if err != nil {
		t.Fatal(err)
	}
	h.tick(time.Now().Add(cfg.ChatIdleTimeout / 2))
	if err := l.SubmitWait(ctx, store.Segment{Speaker: "customer", Text: "still there?"}); err != nil {
		t.Fatal(err)
	}
	h.tick(time.Now().Add(cfg.ChatIdleTimeout - time.Second))
	if l.Ended() {
		t.Fatal("a chat ended although a message arrived within the idle timeout")
	}
	h.tick(time.Now().Add(cfg.ChatIdleTimeout + time.Second))
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("an idle chat did not end")
	}
	if n := testutil.ToFloat64(h.metrics.ended.WithLabelValues("idle_timeout")); n != 1 {
		t.Errorf("ended{idle_timeout} = %v, want 1", n)
	}
}

// TestEndedEngagementsAreLight: the ended engagements the hub keeps for
// their readers (for ended_retention) hold their events, not their inbox
// of inboxSize inputs (192 KiB each): 200 of them take well under 64 KiB
// each of heap.
func TestEndedEngagementsAreLight(t *testing.T) {
	h := newTestHub(t, DefaultConfig(), hideTypes{})
	ctx := context.Background()
	const n = 200
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range n {
		l, err := h.Start(ctx, chat("billing"), "api")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.SubmitWait(ctx, store.Segment{Speaker: "customer", Text: "my card was charged twice", EndMs: 800}); err != nil {
			t.Fatalf("engagement %d: %v", i, err)
		}
		l.End("api")
		<-l.Done()
	}
	h.mu.Lock()
	got := len(h.recent)
	h.mu.Unlock()
	if got != n {
		t.Fatalf("%d ended engagements kept, want %d", got, n)
	}
	per := (int64(heap()) - int64(before)) / n
	t.Logf("%d ended engagements kept: %d bytes of heap each", n, per)
	if per > 64<<10 {
		t.Errorf("an ended engagement kept takes %d bytes of heap, want under 64 KiB", per)
	}
}
