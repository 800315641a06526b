package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/wer"
	"github.com/earshot/earshot/store"
)

// librivox is Debian's pocketsphinx-testdata speech, with reference
// transcriptions; make test installs the package.
const librivox = "/usr/share/pocketsphinx/test/data/librivox"

func speechFile(t *testing.T, id string) (path string, said []string) {
	t.Helper()
	path = filepath.Join(librivox, "sense_and_sensibility_01_austen_64kb-"+id+".wav")
	testdep.File(t, path, "pocketsphinx-testdata")
	ref, _ := os.ReadFile(filepath.Join(librivox, "transcription"))
	for _, l := range strings.Split(string(ref), "\n") {
		if strings.Contains(l, "-"+id+")") {
			l = strings.TrimPrefix(l, "<s> ")
			said = strings.Fields(l[:strings.Index(l, " </s>")])
		}
	}
	if len(said) == 0 {
		t.Fatalf("no reference transcription for %s", id)
	}
	return path, said
}

// wordErrorRate is the WER (%) of what was heard against what was said.
func wordErrorRate(said []string, heard string) float64 {
	return wer.Align(wer.Normalize(strings.Join(said, " ")), wer.Normalize(heard)).WER()
}

// timed converts stored segments for the conversation checks.
func timed(segs []store.Segment) []ingesttest.Timed {
	out := make([]ingesttest.Timed, 0, len(segs))
	for _, s := range segs {
		out = append(out, ingesttest.Timed{Party: s.Speaker, StartMs: s.StartMs, EndMs: s.EndMs, Text: s.Text})
	}
	return out
}

func transcriptText(t *testing.T, td *testDaemon, token, id string) (string, []store.Segment) {
	t.Helper()
	var tr struct{ Segments []store.Segment }
	json.Unmarshal(td.mustCall(t, token, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 200), &tr)
	var b strings.Builder
	for _, s := range tr.Segments {
		b.WriteString(s.Text + " ")
	}
	return b.String(), tr.Segments
}

func waitEnded(t *testing.T, td *testDaemon, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var e store.Engagement
		code, body := td.call(t, td.Admin, "GET", "/api/v1/engagements/"+id, nil)
		if code == 200 && json.Unmarshal(body, &e) == nil && e.Status == store.StatusEnded {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("engagement %s did not end", id)
}

// TestUploadWAV uploads recorded speech and finds its words in the stored
// transcript; bad files get a problem naming the body and are counted.
func TestUploadWAV(t *testing.T) {
	path, said := speechFile(t, "0880")
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	ingest := td.tokenFor(t, "pbx", RoleIngest, "q")
	wav, _ := os.ReadFile(path)

	post := func(query string, body []byte) (int, []byte) {
		req, _ := http.NewRequest("POST", td.URL+"/api/v1/uploads"+query, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ingest)
		req.Header.Set("Content-Type", "audio/wav")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	code, body := post("?queue=q&parties=customer&customer_ref=C-9", wav)
	if code != 201 {
		t.Fatalf("upload = %d %s", code, body)
	}
	var res struct {
		Engagement store.Engagement
		Segments   int
	}
	json.Unmarshal(body, &res)
	if res.Segments == 0 {
		t.Fatalf("upload stored no segments: %s", body)
	}
	if res.Engagement.Status != store.StatusEnded {
		t.Errorf("upload answered with status %q, want ended", res.Engagement.Status)
	}
	heard, segs := transcriptText(t, td, td.Admin, res.Engagement.ID)
	// 37.5 % measured on this recording (three words in eight, in each of
	// three runs), plus a margin.
	w := wordErrorRate(said, heard)
	t.Logf("heard %q: WER %.1f%%", heard, w)
	if w > 50 {
		t.Errorf("heard %q for %q: WER %.1f%%, want at most 50%%", heard, strings.Join(said, " "), w)
	}
	if segs[0].Speaker != "customer" {
		t.Errorf("speaker = %q, want customer", segs[0].Speaker)
	}

	for _, bad := range []struct {
		name, query string
		body        []byte
		want        int
	}{
		{"truncated", "?queue=q", wav[:30], 422},
		{"lying header", "?queue=q", append(append([]byte{}, wav[:40]...), 0xff, 0xff, 0xff, 0x7f), 422},
		{"not audio", "?queue=q", []byte("GIF89a garbage"), 422},
		{"bad transcript", "?queue=q", []byte(`{"segments": [{"party": 7}]}`), 422},
		{"no queue", "", wav, 400},
	} {
		code, body := post(bad.query, bad.body)
		var p Problem
		if code != bad.want || json.Unmarshal(body, &p) != nil || p.Detail == "" {
			t.Errorf("%s: upload = %d %s, want %d with a problem detail", bad.name, code, body, bad.want)
		}
	}
	if v := metricValue(t, td, `earshot_analyze_bad_input_total{reason="wav_truncated"}`); v == "" {
		t.Error("truncated WAV not counted in earshot_analyze_bad_input_total")
	}
}

// TestUploadConversation uploads a two-channel recording of a
// conversation (the customer speaks at 0.5 s and 7.0 s, the agent at
// 3.0 s) dated by start=: the response names an ended engagement that
// lasted as long as the audio, and the stored transcript lists the
// segments in time order, each within 150 ms of its utterance, and the
// transcripts are within the measured word error rates
// (ingesttest.MaxWER).
func TestUploadConversation(t *testing.T) {
	conv := ingesttest.BuildConversation(t, 8000)
	wav, err := os.ReadFile(conv.WAV(t, 8000))
	if err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	tok := td.tokenFor(t, "pbx", RoleIngest, "q")
	req, _ := http.NewRequest("POST", td.URL+"/api/v1/uploads?queue=q&parties=customer,agent&start=2026-03-02T10:00:00Z", bytes.NewReader(wav))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		Engagement   store.Engagement
		Segments     int
		DurationMs   int64 `json:"duration_ms"`
		ProcessingMs int64 `json:"processing_ms"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 201 {
		t.Fatalf("upload = %d, %v", resp.StatusCode, err)
	}
	e := res.Engagement
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if e.Status != store.StatusEnded || !e.Start.Equal(start) || e.End.Sub(e.Start) != time.Duration(conv.DurationMs())*time.Millisecond {
		t.Errorf("upload answered %+v; want ended, start %s, lasting the audio's %d ms", e, start, conv.DurationMs())
	}
	if res.DurationMs != conv.DurationMs() || res.ProcessingMs <= 0 {
		t.Errorf("duration_ms %d, processing_ms %d; want %d and the wall time taken", res.DurationMs, res.ProcessingMs, conv.DurationMs())
	}
	var stored store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+e.ID, nil, 200), &stored)
	if stored.Status != store.StatusEnded || !stored.End.Equal(e.End) {
		t.Errorf("stored engagement %+v, want the ended one the upload answered", stored)
	}
	_, segs := transcriptText(t, td, td.Admin, e.ID)
	if len(segs) != res.Segments {
		t.Errorf("%d segments stored, upload said %d", len(segs), res.Segments)
	}
	conv.CheckTimes(t, timed(segs), 0)
	conv.CheckWER(t, timed(segs))
}

// TestTwilioStreamThroughAPI streams a two-party conversation (the
// customer speaks at 0.5 s and 7.0 s on the inbound track, the agent at
// 3.0 s on the outbound one) the way Twilio Media Streams does,
// authenticated with ?access_token=, and reads the transcript of the
// engagement it created: in time order, each segment within 150 ms of its
// utterance, the transcripts within the measured word error rates
// (ingesttest.MaxWER), and no DTMF digit in the text.
func TestTwilioStreamThroughAPI(t *testing.T) {
	conv := ingesttest.BuildConversation(t, 8000)
	tracks := map[string][]byte{
		"inbound":  conv.Encode(t, ingest.PartyCustomer, "mu-law", 8000),
		"outbound": conv.Encode(t, ingest.PartyAgent, "mu-law", 8000),
	}
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	tok := td.tokenFor(t, "twilio", RoleIngest, "cards")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(td.URL, "http") + "/api/v1/ingest/stream?access_token=" + tok
	if _, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/ingest/stream", nil); err == nil {
		t.Error("a stream without a token was accepted")
	}
	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	send := twilioSender(ctx, t, c, "MZ1")
	send(map[string]any{"event": "start", "start": map[string]any{
		"accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": []string{"inbound", "outbound"},
		"customParameters": map[string]string{"queue": "cards", "customer_ref": "C-77"},
		"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
	}})
	for i, ms := 0, 0; i < len(tracks["inbound"]); i, ms = i+160, ms+20 {
		for _, tr := range []string{"inbound", "outbound"} {
			b := tracks[tr]
			send(map[string]any{"event": "media", "media": map[string]any{"track": tr, "chunk": strconv.Itoa(i/160 + 1),
				"timestamp": strconv.Itoa(ms), "payload": base64.StdEncoding.EncodeToString(b[i:min(i+160, len(b))])}})
		}
	}
	send(map[string]any{"event": "dtmf", "dtmf": map[string]string{"track": "inbound_track", "digit": "5"}})
	send(map[string]any{"event": "stop", "stop": map[string]string{"accountSid": "AC1", "callSid": "CA1"}})
	c.Close(websocket.StatusNormalClosure, "")

	var list []store.Engagement
	deadline := time.Now().Add(30 * time.Second)
	for len(list) == 0 && time.Now().Before(deadline) {
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue=cards", nil, 200), &list)
		time.Sleep(50 * time.Millisecond)
	}
	if len(list) != 1 {
		t.Fatalf("engagements = %+v, want one", list)
	}
	id := list[0].ID
	waitEnded(t, td, id)
	_, segs := transcriptText(t, td, td.Admin, id)
	conv.CheckTimes(t, timed(segs), 0)
	conv.CheckWER(t, timed(segs))
	for _, s := range segs {
		if strings.Contains(s.Text, "5") {
			t.Errorf("a DTMF digit reached the transcript text: %q", s.Text)
		}
	}
	var full store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id, nil, 200), &full)
	if full.CustomerRef != "C-77" || full.Channel != "voice" {
		t.Errorf("engagement metadata = %+v, want customer_ref from customParameters", full)
	}
}

// twilioSender sends Twilio's "connected" message on c and returns a
// function that sends each later message of stream sid, numbered in order.
func twilioSender(ctx context.Context, t *testing.T, c *websocket.Conn, sid string) func(map[string]any) {
	t.Helper()
	seq := 0
	c.Write(ctx, websocket.MessageText, []byte(`{"event":"connected","protocol":"Call","version":"1.0.0"}`))
	return func(m map[string]any) {
		t.Helper()
		seq++
		m["sequenceNumber"] = strconv.Itoa(seq)
		m["streamSid"] = sid
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}
