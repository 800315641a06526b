package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/store"
)

// TestSIPHoldInSpeakerMetrics: SIPp places a plain two-way call, streams
// speech, puts the call on hold with a re-INVITE offering sendonly, resumes
// it 3 s later and hangs up. The hold and the resumption are hold events
// of the engagement, and its speaker metrics count one hold of about 3 s
// (the re-INVITEs' own round trips aside) that starts when the hold event
// says; an evaluation run again later keeps the stored hold.
func TestSIPHoldInSpeakerMetrics(t *testing.T) {
	testdep.Program(t, "sipp", "sip-tester")
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "billing"}, 201)
	s := startSIP(t, td, func(c *SIPConfig) { c.Queues = []string{"billing"} })

	const beforeMS, holdMS = 1500, 3000
	conv := ingesttest.BuildConversation(t, 8000).Only(ingest.PartyAgent)
	dir := t.TempDir()
	ulaw := filepath.Join(dir, "speech.ulaw")
	if err := os.WriteFile(ulaw, conv.Encode(t, ingest.PartyAgent, "mu-law", 8000), 0o600); err != nil {
		t.Fatal(err)
	}
	afterMS := max(1000, conv.DurationMs()-beforeMS-holdMS+500)
	scen, err := os.ReadFile("testdata/sip_hold.xml")
	if err != nil {
		t.Fatal(err)
	}
	sc := strings.NewReplacer("{{AUDIO}}", ulaw, "{{BEFOREMS}}", strconv.Itoa(beforeMS), "{{HOLDMS}}", strconv.Itoa(holdMS),
		"{{AFTERMS}}", strconv.FormatInt(afterMS, 10)).Replace(string(scen))
	sf := filepath.Join(dir, "hold.xml")
	if err := os.WriteFile(sf, []byte(sc), 0o600); err != nil {
		t.Fatal(err)
	}
	e := sippCall(t, td, s, sf, dir, "billing")
	id := e.ID

	// The speaker metrics are stored by the post analysis, after the end.
	m := waitSpeakerMetrics(t, td, id, 30*time.Second)
	t.Logf("hold %d ms %+v in a call of %d ms", m.HoldMS, m.Holds, m.DurationMS)
	// The daemon times the hold between the two re-INVITEs it receives:
	// SIPp pauses 3 s between them; each adds its own round trip.
	if len(m.Holds) != 1 || m.HoldMS < holdMS-300 || m.HoldMS > holdMS+1500 {
		t.Fatalf("speaker metrics hold = %d ms in %+v, want one hold of about %d ms", m.HoldMS, m.Holds, holdMS)
	}
	if h := m.Holds[0]; h.StartMS < beforeMS-300 || h.StartMS > beforeMS+1000 || h.EndMS > m.DurationMS || h.EndMS-h.StartMS != m.HoldMS {
		t.Errorf("hold %+v in a call of %d ms, want it to start about %d ms in", h, m.DurationMS, beforeMS)
	}

	// The hold and the resumption are events of the engagement, at the
	// times the metrics count.
	var holds []struct {
		Party string `json:"party"`
		Held  bool   `json:"held"`
		AtMS  int64  `json:"at_ms"`
	}
	for _, ev := range readSSE(t, td.URL+"/api/v1/engagements/"+id+"/events", td.Admin, "", 0, 10*time.Second) {
		if ev.Type == EventHold {
			var h struct {
				Party string `json:"party"`
				Held  bool   `json:"held"`
				AtMS  int64  `json:"at_ms"`
			}
			if err := json.Unmarshal([]byte(ev.Data), &h); err != nil {
				t.Fatalf("hold event %s: %v", ev.Data, err)
			}
			holds = append(holds, h)
		}
	}
	if len(holds) != 2 || !holds[0].Held || holds[1].Held || holds[0].Party != holds[1].Party ||
		holds[0].AtMS != m.Holds[0].StartMS || holds[1].AtMS != m.Holds[0].EndMS {
		t.Errorf("hold events %+v, want a hold at %d ms and its resumption at %d ms", holds, m.Holds[0].StartMS, m.Holds[0].EndMS)
	}

	// Computed again from the stored engagement (as an evaluation run
	// later does), the hold is the stored one.
	f, err := td.quality.facts(t.Context(), &e)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metrics.HoldMS != m.HoldMS {
		t.Errorf("recomputed hold = %d ms, want the stored %d ms", f.Metrics.HoldMS, m.HoldMS)
	}
}

// TestHoldTracking: a call is on hold while at least one party's stream
// is; times are on the media clock from the first packet; a hold still
// running at the end ends there; a resumption without a hold changes
// nothing; the state goes with forget.
func TestHoldTracking(t *testing.T) {
	origin := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var now time.Time
	q := &quality{now: func() time.Time { return now }}
	at := func(ms int64, party string, held bool) int64 {
		now = origin.Add(time.Duration(ms) * time.Millisecond)
		return q.hold("e1", origin, party, held)
	}
	if got := at(500, "customer", false); got != 500 {
		t.Errorf("resumption at %d ms, want 500", got)
	}
	at(1000, "agent", true)
	at(1500, "customer", true)
	at(3000, "agent", false)
	at(4000, "customer", false)
	at(6000, "customer", true)
	got, ok := q.holdsOf("e1", 7000, time.Time{}, false)
	want := []qm.Interval{{StartMS: 1000, EndMS: 4000}, {StartMS: 6000, EndMS: 7000}}
	if d := cmp.Diff(want, got); !ok || d != "" {
		t.Errorf("holds (-want +got):\n%s", d)
	}
	got, _ = q.holdsOf("e1", 0, origin.Add(9*time.Second), true)
	if d := cmp.Diff([]qm.Interval{{StartMS: 1000, EndMS: 4000}, {StartMS: 6000, EndMS: 9000}}, got); d != "" {
		t.Errorf("holds at the end (-want +got):\n%s", d)
	}
	if _, ok := q.holdsOf("e1", 0, time.Time{}, false); ok {
		t.Error("the call's hold state is kept after forget")
	}
	// Before the first packet, the hold starts at 0 on the media clock.
	now = origin
	if got := q.hold("e2", time.Time{}, "agent", true); got != 0 {
		t.Errorf("hold before any media at %d ms, want 0", got)
	}
}

// TestHoldThroughAPI: a call streamed in real time through the Twilio
// Media Streams WebSocket (whose protocol carries no hold) is put on hold
// through PUT /engagements/{id}/hold by the call control 1.5 s into its
// media and resumed 3 s later: hold events at those media times, one hold
// of about 3 s in the speaker metrics. Bad input is refused naming the
// field; another queue's source does not see the call; an ended call is
// refused.
func TestHoldThroughAPI(t *testing.T) {
	conv := ingesttest.BuildConversation(t, 8000)
	tracks := map[string][]byte{
		"inbound":  conv.Encode(t, ingest.PartyCustomer, "mu-law", 8000),
		"outbound": conv.Encode(t, ingest.PartyAgent, "mu-law", 8000),
	}
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "loans"}, 201)
	tok := td.tokenFor(t, "twilio", RoleIngest, "cards")
	other := td.tokenFor(t, "pbx-loans", RoleIngest, "loans")

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/ingest/stream?access_token="+tok, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	send := twilioSender(ctx, t, c, "MZ1")
	send(map[string]any{"event": "start", "start": map[string]any{
		"accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": []string{"inbound", "outbound"},
		"customParameters": map[string]string{"queue": "cards"},
		"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
	}})
	var id string
	hold := func(token string, body any, want int) []byte {
		t.Helper()
		return td.mustCall(t, token, "PUT", "/api/v1/engagements/"+id+"/hold", body, want)
	}
	const holdMS = 3000
	media := func(i, ms int) {
		for _, tr := range []string{"inbound", "outbound"} {
			b := tracks[tr]
			payload := make([]byte, 160)
			for j := range payload {
				payload[j] = 0xff // mu-law silence after the conversation
			}
			if i < len(b) {
				copy(payload, b[i:min(i+160, len(b))])
			}
			send(map[string]any{"event": "media", "media": map[string]any{"track": tr, "chunk": strconv.Itoa(i/160 + 1),
				"timestamp": strconv.Itoa(ms), "payload": base64.StdEncoding.EncodeToString(payload)}})
		}
	}
	media(0, 0)
	var list []store.Engagement
	for deadline := time.Now().Add(10 * time.Second); len(list) == 0; time.Sleep(20 * time.Millisecond) {
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue=cards", nil, 200), &list)
		if time.Now().After(deadline) {
			t.Fatal("the streamed call did not become an engagement")
		}
	}
	id = list[0].ID
	// The media clock starts when the stream's start message arrived
	// (Twilio's timestamps count from there), not when the recognisers
	// were open (seconds on a loaded machine).
	for deadline := time.Now().Add(60 * time.Second); td.quality.mediaOrigin(list[0]).IsZero(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no media clock 60 s after the first packet")
		}
	}
	for _, bad := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "held"},
		{map[string]any{"held": true, "party": "bot"}, "party"},
		{map[string]any{"held": "yes"}, "held"},
	} {
		var p struct{ Field string }
		json.Unmarshal(hold(tok, bad.body, 400), &p)
		if p.Field != bad.field {
			t.Errorf("hold %v: problem field %q, want %q", bad.body, p.Field, bad.field)
		}
	}
	hold(other, map[string]any{"held": true}, 404)
	// Packets go out at the pace of their audio (a real-time source:
	// the media clock and the call control's clock agree), after those
	// the source would have sent while the engagement opened, at once.
	// The hold comes 1.5 s after that, on a whole packet.
	began := td.quality.mediaOrigin(list[0])
	beforeMS := int(time.Since(began).Milliseconds()/20+1+75) * 20
	for i, ms := 160, 20; i < len(tracks["inbound"]) || ms < beforeMS+holdMS+1000; i, ms = i+160, ms+20 {
		media(i, ms)
		switch ms {
		case beforeMS:
			hold(tok, map[string]any{"held": true}, 200)
		case beforeMS + holdMS:
			hold(tok, map[string]any{"held": false}, 200)
		}
		if d := time.Duration(ms+20)*time.Millisecond - time.Since(began); d > 0 {
			time.Sleep(d) // pacing the source, not synchronisation
		}
	}
	send(map[string]any{"event": "stop", "stop": map[string]string{"accountSid": "AC1", "callSid": "CA1"}})
	c.Close(websocket.StatusNormalClosure, "")
	waitEnded(t, td, id)
	hold(tok, map[string]any{"held": true}, 409)

	m := waitSpeakerMetrics(t, td, id, 30*time.Second)
	t.Logf("hold %d ms %+v in a call of %d ms", m.HoldMS, m.Holds, m.DurationMS)
	if len(m.Holds) != 1 || m.HoldMS < holdMS-300 || m.HoldMS > holdMS+500 {
		t.Fatalf("speaker metrics hold = %d ms in %+v, want one hold of about %d ms", m.HoldMS, m.Holds, holdMS)
	}
	if h := m.Holds[0]; h.StartMS < int64(beforeMS-300) || h.StartMS > int64(beforeMS+500) {
		t.Errorf("hold %+v, want it to start about %d ms into the media", h, beforeMS)
	}
	var holds []struct {
		Held bool  `json:"held"`
		AtMS int64 `json:"at_ms"`
	}
	for _, ev := range readSSE(t, td.URL+"/api/v1/engagements/"+id+"/events", td.Admin, "", 0, 10*time.Second) {
		if ev.Type == EventHold {
			var h struct {
				Held bool  `json:"held"`
				AtMS int64 `json:"at_ms"`
			}
			json.Unmarshal([]byte(ev.Data), &h)
			holds = append(holds, h)
		}
	}
	if len(holds) != 2 || !holds[0].Held || holds[1].Held || holds[0].AtMS != m.Holds[0].StartMS || holds[1].AtMS != m.Holds[0].EndMS {
		t.Errorf("hold events %+v, want a hold at %d ms and its resumption at %d ms", holds, m.Holds[0].StartMS, m.Holds[0].EndMS)
	}
}

// waitSpeakerMetrics polls the engagement's results until its final
// speaker metrics are stored, for at most within.
func waitSpeakerMetrics(t *testing.T, td *testDaemon, id string, within time.Duration) qm.Metrics {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		var res struct {
			Results map[string]json.RawMessage `json:"results"`
		}
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id+"/results", nil, 200), &res)
		if raw, ok := res.Results["speaker_metrics"]; ok {
			var m qm.Metrics
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("speaker_metrics: %v (%s)", err, raw)
			}
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("engagement %s: no speaker_metrics result within %s: %v", id, within, res.Results)
		}
	}
}
