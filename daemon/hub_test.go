package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/store"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	ID   uint64
	Type string
	Data string
}

// readSSE reads events from an engagement's stream until it closes, n
// events arrived (n > 0), or the timeout.
func readSSE(t *testing.T, url, token, lastID string, n int, timeout time.Duration) []sseEvent {
	t.Helper()
	return readSSEFrom(t, url, token, lastID, n, timeout, nil)
}

// readSSEFrom is readSSE that closes subscribed, when not nil, once the
// stream's headers arrived: the server then follows the engagement.
func readSSEFrom(t *testing.T, url, token, lastID string, n int, timeout time.Duration, subscribed chan<- struct{}) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("GET %s = %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
		return nil
	}
	if subscribed != nil {
		close(subscribed)
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Type != "" {
				out = append(out, cur)
				if n > 0 && len(out) >= n {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.ID, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			cur.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.Data = line[6:]
		}
	}
	return out
}

func TestChatEngagementLifecycle(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "billing"}, 201)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "fraud"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "billing")
	otherAgent := td.tokenFor(t, "bob", RoleAgent, "billing")
	sup := td.tokenFor(t, "sam", RoleSupervisor, "billing")
	otherSup := td.tokenFor(t, "fay", RoleSupervisor, "fraud")
	ingest := td.tokenFor(t, "pbx", RoleIngest, "billing", "fraud")
	// Only the transcript on this stream: the live analyzers are tested in
	// analytics_test.go.
	for _, f := range []string{"sentiment", "next_best_action", "top_escalation"} {
		td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/"+f, map[string]any{"enabled": false}, 200)
	}

	var e store.Engagement
	json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements",
		engagementRequest{Queue: "billing", Agent: "ana", CustomerRef: "CUST-4711", Channel: "chat"}, 201), &e)
	if e.ID == "" || e.Status != store.StatusLive {
		t.Fatalf("created engagement = %+v", e)
	}
	events := td.URL + "/api/v1/engagements/" + e.ID + "/events"
	msgs := "/api/v1/engagements/" + e.ID + "/messages"
	td.mustCall(t, ingest, "POST", msgs, messageRequest{Sender: "customer", Text: "My card was charged twice"}, 201)
	td.mustCall(t, agent, "POST", msgs, messageRequest{Sender: "agent", Text: "Let me check that for you"}, 201)
	td.mustCall(t, agent, "POST", msgs, messageRequest{Sender: "customer", Text: "impersonation"}, 403)
	td.mustCall(t, otherAgent, "POST", msgs, messageRequest{Sender: "agent", Text: "not mine"}, 404)

	got := readSSE(t, events, sup, "", 2, 10*time.Second)
	if len(got) != 2 || got[0].Type != hub.EventTranscriptFinal || got[0].ID != 1 || !strings.Contains(got[0].Data, "charged twice") ||
		got[1].ID != 2 || !strings.Contains(got[1].Data, "check that") {
		t.Fatalf("events = %+v", got)
	}
	// Resume after event 1: only event 2 again.
	if again := readSSE(t, events, agent, "1", 1, 10*time.Second); len(again) != 1 || again[0].ID != 2 {
		t.Fatalf("resumed events = %+v, want event 2", again)
	}
	// Out of scope: another agent and a supervisor of another queue see nothing.
	td.mustCall(t, otherAgent, "GET", "/api/v1/engagements/"+e.ID+"/events", nil, 404)
	td.mustCall(t, otherSup, "GET", "/api/v1/engagements/"+e.ID+"/transcript", nil, 404)
	td.mustCall(t, otherSup, "GET", "/api/v1/engagements/"+e.ID, nil, 404)

	// A live stream sees the end and closes.
	done, subscribed := make(chan []sseEvent, 1), make(chan struct{})
	go func() { done <- readSSEFrom(t, events, sup, "2", 0, 20*time.Second, subscribed) }()
	select {
	case <-subscribed:
	case tail := <-done:
		t.Fatalf("stream ended before it was followed: %+v", tail)
	}
	if l, _ := td.hub.Get(e.ID); l.Ended() {
		t.Fatal("the engagement ended before the stream followed it")
	}
	td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
	tail := <-done
	if len(tail) == 0 || tail[0].Type != hub.EventEnded || !slices.ContainsFunc(tail, func(e sseEvent) bool { return e.Type == EventResults }) {
		t.Fatalf("stream after end = %+v, want %s then the post-engagement %s, then the close", tail, hub.EventEnded, EventResults)
	}
	td.mustCall(t, ingest, "POST", msgs, messageRequest{Sender: "customer", Text: "too late"}, 409)
	td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 409)

	var tr struct{ Segments []store.Segment }
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/engagements/"+e.ID+"/transcript", nil, 200), &tr)
	if len(tr.Segments) != 2 || tr.Segments[0].Seq != 0 || tr.Segments[1].Seq != 1 || tr.Segments[0].Speaker != "customer" {
		t.Fatalf("transcript = %+v", tr.Segments)
	}
	var full store.Engagement
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/engagements/"+e.ID, nil, 200), &full)
	if full.CustomerRef != "CUST-4711" || full.Status != store.StatusEnded {
		t.Errorf("engagement after end = %+v", full)
	}
	var list []store.Engagement
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/engagements", nil, 200), &list)
	if len(list) != 1 || list[0].ID != e.ID {
		t.Errorf("agent's list = %+v", list)
	}
	json.Unmarshal(td.mustCall(t, otherAgent, "GET", "/api/v1/engagements", nil, 200), &list)
	if len(list) != 0 {
		t.Errorf("another agent's list = %+v, want empty", list)
	}
	td.mustCall(t, otherSup, "GET", "/api/v1/engagements?queue=billing", nil, 403)

	// Every read of content was audited with the reader and the engagement.
	entries, _ := td.store.QueryAudit(t.Context(), store.AuditQuery{Engagement: e.ID})
	readers := map[string]bool{}
	for _, a := range entries {
		if a.Action == "content.read" {
			readers[a.Actor+"/"+a.Feature] = true
		}
	}
	for _, want := range []string{"sam/events", "ana/events", "sam/transcript", "sam/engagement"} {
		if !readers[want] {
			t.Errorf("no content.read audit entry for %s; have %v", want, readers)
		}
	}
}

func TestEngagementCapacityAndTimeout(t *testing.T) {
	td := startDaemon(t, func(c *Config) {
		c.Engagements.MaxLive = 2
		// The whole capacity to one source and token, not three quarters.
		c.Engagements.MaxLivePerSource = map[string]int{"api": 2}
		c.Engagements.MaxLivePerToken = 2
		c.Engagements.MediaTimeout = Duration(1500 * time.Millisecond)
	})
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	req := engagementRequest{Queue: "q", Channel: "voice"}
	var e1 store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", req, 201), &e1)
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", req, 201)
	code, body := td.call(t, td.Admin, "POST", "/api/v1/engagements", req)
	if code != 503 || !strings.Contains(string(body), "maximum") {
		t.Fatalf("third engagement = %d %s, want 503", code, body)
	}
	_, metrics := td.call(t, "", "GET", "/metrics", nil)
	if !strings.Contains(string(metrics), `earshot_engagements_refused_total{reason="capacity"} 1`) {
		t.Error("refusal not counted")
	}
	// Voice engagements without media end by themselves; capacity frees.
	l, _ := td.hub.Get(e1.ID)
	select {
	case <-l.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("voice engagement without media did not time out")
	}
	deadline := time.Now().Add(10 * time.Second)
	for td.hub.LiveCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", req, 201)
	if !strings.Contains(fmt.Sprint(metricValue(t, td, `earshot_engagements_ended_total{reason="media_timeout"}`)), "2") {
		t.Errorf("media timeouts counted = %v, want 2", metricValue(t, td, `earshot_engagements_ended_total{reason="media_timeout"}`))
	}
	// Bad metadata is refused with the field named.
	for _, bad := range []struct {
		req   engagementRequest
		field string
	}{
		{engagementRequest{Channel: "chat"}, "queue"},
		{engagementRequest{Queue: "nope", Channel: "chat"}, "queue"},
		{engagementRequest{Queue: "q", Channel: "fax"}, "channel"},
		{engagementRequest{Queue: "q", Channel: "chat", Agent: "ghost"}, "agent"},
		{engagementRequest{Queue: "q", Channel: "chat", Direction: "sideways"}, "direction"},
	} {
		code, body := td.call(t, td.Admin, "POST", "/api/v1/engagements", bad.req)
		var p Problem
		json.Unmarshal(body, &p)
		if code != 400 || p.Field != bad.field {
			t.Errorf("POST %+v = %d %s, want 400 naming %s", bad.req, code, body, bad.field)
		}
	}
}

func metricValue(t *testing.T, td *testDaemon, series string) string {
	t.Helper()
	_, body := td.call(t, "", "GET", "/metrics", nil)
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, series+" ") {
			return strings.TrimPrefix(l, series+" ")
		}
	}
	return ""
}

// TestAcknowledgedMessagesSurviveKill posts chat messages to a daemon
// process, kills it with SIGKILL right after the acknowledgements, and
// finds every acknowledged message in the restarted daemon's transcript.
func TestAcknowledgedMessagesSurviveKill(t *testing.T) {
	cmd, base, dataDir, logs := serveProcess(t, "")
	token, _ := os.ReadFile(filepath.Join(dataDir, AdminTokenFile))
	td := &testDaemon{URL: base, Admin: strings.TrimSpace(string(token))}
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "q", Channel: "chat"}, 201), &e)
	const n = 40
	for i := 0; i < n; i++ {
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/messages",
			messageRequest{Sender: "customer", Text: fmt.Sprintf("message number %d", i)}, 201)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	cfgPath := filepath.Join(filepath.Dir(dataDir), "earshot.yaml")
	cfg, err := LoadConfig(cfgPath, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("restart after SIGKILL: %v\nlogs of the killed daemon:\n%s", err, logs)
	}
	defer d.Close()
	if got, _ := d.store.Engagement(context.Background(), e.ID); got.Status != store.StatusEnded {
		t.Errorf("engagement cut off by the kill has status %q after restart, want ended", got.Status)
	}
	segs, err := d.store.Segments(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != n {
		t.Fatalf("after SIGKILL, %d of %d acknowledged messages stored", len(segs), n)
	}
	for i, s := range segs {
		if want := fmt.Sprintf("message number %d", i); s.Text != want || int(s.Seq) != i {
			t.Errorf("segment %d = %q (seq %d), want %q", i, s.Text, s.Seq, want)
		}
	}
}
