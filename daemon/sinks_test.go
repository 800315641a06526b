package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/plugins/sdk"
)

type outboxView struct {
	Events []struct {
		Plugin, Type, Engagement string
		EventID                  string `json:"event_id"`
		Attempts                 int
		LastError                string `json:"last_error"`
		Dead                     bool
	}
}

// deliveredEvents reads the events the faulty plugin accepted.
func deliveredEvents(t *testing.T, path string) []sdk.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []sdk.Event
	// The plugin may be writing as the test polls: only whole lines
	// (ended by a newline) are read; the rest comes at the next poll.
	lines := strings.Split(string(b), "\n")
	for _, line := range lines[:len(lines)-1] {
		var ev sdk.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("delivered line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSinkOutbox delivers engagement events to a real sink plugin (the
// faulty test plugin, which records what it receives) through the outbox:
// only approved fields arrive; a failing sink is retried, then kept as
// dead until an administrator retries it; and a queued event survives a
// restart of the daemon.
func TestSinkOutbox(t *testing.T) {
	dataDir := t.TempDir()
	files := pluginShareDir(t)
	record, mode := filepath.Join(files, "delivered.jsonl"), filepath.Join(files, "mode")
	setMode := func(m string) {
		if err := os.WriteFile(mode, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgFor := func(maxAttempts int) func(*Config) {
		return func(c *Config) {
			c.DataDir = dataDir
			c.Sinks = SinksConfig{RetryMin: Duration(20 * time.Millisecond), RetryMax: Duration(100 * time.Millisecond),
				MaxAttempts: maxAttempts, PollInterval: Duration(20 * time.Millisecond)}
			c.Plugins.RestartBackoffMin = 10 * time.Millisecond
			c.Plugins.RestartBackoffMax = 50 * time.Millisecond
		}
	}
	td := startDaemon(t, cfgFor(3))
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	installTestPlugin(t, td, "./plugins/testdata/faulty", "dwh",
		`{"name":"dwh","version":"1.0.0","executable":"dwh","kinds":["sink"],"scopes":["customer_ref","transcript","summary","results"]}`,
		map[string]any{"enabled": true, "approved_scopes": []string{"transcript", "summary", "results"},
			"config": map[string]string{"delivered": record, "mode_file": mode}, "write_paths": []string{files}})

	// A healthy sink gets the ended engagement, minimised.
	id := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Channel: "chat", CustomerRef: "C-99"}, angryCall...)
	waitUntil(t, "the ended event", func() bool { return len(deliveredEvents(t, record)) == 1 })
	ev := deliveredEvents(t, record)[0]
	if ev.ID != id+".ended" || ev.Type != SinkEventEnded || ev.Engagement.EngagementID != id {
		t.Errorf("event = %s %s for %s", ev.ID, ev.Type, ev.Engagement.EngagementID)
	}
	if len(ev.Engagement.Transcript) != len(angryCall) || ev.Engagement.Summary == "" || ev.Engagement.Results["follow_up_tasks"] == "" {
		t.Errorf("event lacks approved content: %d segments, summary %q, results %v", len(ev.Engagement.Transcript), ev.Engagement.Summary, ev.Engagement.Results)
	}
	if ev.Engagement.CustomerRef != "" {
		t.Errorf("the sink received customer_ref %q without the scope", ev.Engagement.CustomerRef)
	}

	// A failing sink: retried, then dead; the outbox shows IDs and a
	// failure class only.
	setMode("exit")
	id2 := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Channel: "chat"}, angryCall[:2]...)
	var ob outboxView
	waitUntil(t, "the event to be dead", func() bool {
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/sinks/outbox", nil, 200), &ob)
		return len(ob.Events) == 1 && ob.Events[0].Dead
	})
	if e := ob.Events[0]; e.Engagement != id2 || e.Attempts != 3 || e.LastError != "unavailable" || e.Plugin != "dwh" {
		t.Errorf("dead event = %+v", e)
	}
	if raw := td.mustCall(t, td.Admin, "GET", "/api/v1/sinks/outbox", nil, 200); strings.Contains(string(raw), "charged twice") {
		t.Error("the outbox listing holds content")
	}
	// The sink works again; a later event is delivered, and the outbox
	// delivers each sink's events in queue order, so once the later one
	// arrived the dead one was passed over.
	setMode("ok")
	later := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Channel: "chat"}, angryCall[:1]...)
	waitUntil(t, "the later event", func() bool { return len(deliveredEvents(t, record)) >= 2 })
	if got := deliveredEvents(t, record); len(got) != 2 || got[1].ID != later+".ended" {
		t.Fatalf("after the sink recovered: %d events, the second %s; want the later event only, the dead one not without a retry", len(got), got[len(got)-1].ID)
	}
	var retried struct{ Retried int }
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/sinks/retry?plugin=dwh", nil, 200), &retried)
	if retried.Retried != 1 {
		t.Errorf("retried = %d, want 1", retried.Retried)
	}
	waitUntil(t, "the retried event", func() bool { return len(deliveredEvents(t, record)) == 3 })
	if got := deliveredEvents(t, record)[2]; got.ID != id2+".ended" {
		t.Errorf("retried event = %s", got.ID)
	}

	// Saving the wrap-up is an event of its own, with the saved note.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/engagements/"+id+"/notes", map[string]string{"reason": "double charge", "outcome": "refunded"}, 200)
	waitUntil(t, "the wrap-up event", func() bool { return len(deliveredEvents(t, record)) == 4 })
	if got := deliveredEvents(t, record)[3]; got.Type != SinkEventWrapUp || !strings.Contains(got.Engagement.Results["notes"], "refunded") {
		t.Errorf("wrap-up event = %s %v", got.Type, got.Engagement.Results)
	}

	// An event queued while the sink fails survives a restart.
	setMode("exit")
	id3 := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Channel: "chat"}, angryCall[:1]...)
	waitUntil(t, "a failed attempt", func() bool {
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/sinks/outbox", nil, 200), &ob)
		return len(ob.Events) == 1 && ob.Events[0].Attempts >= 1
	})
	td.stop(t)
	setMode("ok")
	td2 := startDaemon(t, cfgFor(1000))
	waitUntil(t, "delivery after the restart", func() bool { return len(deliveredEvents(t, record)) == 5 })
	if got := deliveredEvents(t, record)[4]; got.ID != id3+".ended" {
		t.Errorf("event after restart = %s", got.ID)
	}
	waitUntil(t, "an empty outbox", func() bool {
		json.Unmarshal(td2.mustCall(t, td2.Admin, "GET", "/api/v1/sinks/outbox", nil, 200), &ob)
		return len(ob.Events) == 0
	})
}

// TestSlowSinkHoldsOnlyItsOwnEvents: while one sink hangs on an event, the
// other sinks get their later events; the hanging call is still under way
// (no attempt counted yet) when they do.
func TestSlowSinkHoldsOnlyItsOwnEvents(t *testing.T) {
	files := pluginShareDir(t)
	slowMode, slowRecord := filepath.Join(files, "slow-mode"), filepath.Join(files, "slow-record.jsonl")
	fastDelivered := filepath.Join(files, "fast-delivered.jsonl")
	if err := os.WriteFile(slowMode, []byte("hang"), 0o644); err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, func(c *Config) {
		c.Plugins.CallTimeout = 10 * time.Minute // the hang outlasts the test
		c.Sinks.PollInterval = Duration(20 * time.Millisecond)
	})
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	for _, p := range []struct{ name, config string }{
		{"slow", `{"mode_file":"` + slowMode + `","record":"` + slowRecord + `"}`},
		{"fast", `{"delivered":"` + fastDelivered + `"}`},
	} {
		var cfg map[string]string
		json.Unmarshal([]byte(p.config), &cfg)
		installTestPlugin(t, td, "./plugins/testdata/faulty", p.name,
			`{"name":"`+p.name+`","version":"1.0.0","executable":"`+p.name+`","kinds":["sink"]}`,
			map[string]any{"enabled": true, "config": cfg, "write_paths": []string{files}})
	}
	id1 := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Channel: "chat"}, angryCall[:1]...)
	waitUntil(t, "the slow sink to be called", func() bool {
		b, _ := os.ReadFile(slowRecord)
		return strings.Contains(string(b), id1)
	})
	id2 := chat(t, td, td.Admin, engagementRequest{Queue: "cards", Channel: "chat"}, angryCall[:1]...)
	waitUntil(t, "both events at the fast sink", func() bool { return len(deliveredEvents(t, fastDelivered)) == 2 })
	if got := deliveredEvents(t, fastDelivered); got[0].ID != id1+".ended" || got[1].ID != id2+".ended" {
		t.Errorf("fast sink got %s, %s", got[0].ID, got[1].ID)
	}
	// The fast sink's entries leave the outbox once its calls return.
	var ob outboxView
	waitUntil(t, "only the slow sink's events in the outbox", func() bool {
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/sinks/outbox", nil, 200), &ob)
		return len(ob.Events) == 2 && ob.Events[0].Plugin == "slow" && ob.Events[1].Plugin == "slow"
	})
	for _, e := range ob.Events {
		if e.Plugin != "slow" || e.Attempts != 0 {
			t.Errorf("outbox entry %+v: want the slow sink's, with its first call still under way", e)
		}
	}
}
