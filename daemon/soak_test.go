//go:build soak

package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSoak runs the daemon as its own process under a bounded mixed load on
// loopback (chats, SSE readers of live chats, WebSocket media streams, WAV
// uploads, administrator changes: tokens made and revoked, a user's queues
// and a feature setting flipped) for EARSHOT_SOAK (default 10m), sampling
// the process's RSS, goroutines and Go heap. It fails on any answer the
// load did not expect, on goroutines left after the load ends, and on
// memory that keeps growing after the warm-up (the first 30% of the run).
// `make soak` runs it.
//
// The bounds were fixed before the first run: after the warm-up, the
// highest RSS and heap in the last quarter may exceed the highest of the
// next quarter by at most 20% + 16 MiB (sampling noise and GC timing, not
// a trend); the goroutines must come back within 10 of the idle count
// before the load, within a minute of its end.
func TestSoak(t *testing.T) {
	total := 10 * time.Minute
	if v := os.Getenv("EARSHOT_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 30*time.Second {
			t.Fatalf("EARSHOT_SOAK=%q: want a duration of at least 30s", v)
		}
		total = d
	}
	// Ended engagements stay in memory for ended_retention: a tenth of the
	// run (at most a minute) so that the warm-up spans it and a plateau
	// can be seen.
	retention := min(time.Minute, total/10)
	// The shipped intent set is not trained (tens of seconds of CPU at
	// start that would blur the warm-up); every other default holds.
	cmd, base, dataDir, logs := serveProcess(t, fmt.Sprintf("engagements:\n  ended_retention: %s\nanalytics:\n  default_intents: none\n", retention))
	tok, err := os.ReadFile(filepath.Join(dataDir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	td := &testDaemon{URL: base, Admin: strings.TrimSpace(string(tok))}
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1"}, 201)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q2"}, 201)
	agent := td.tokenFor(t, "u-agent", RoleAgent, "q1")
	sup := td.tokenFor(t, "u-sup", RoleSupervisor, "q1")
	ingest := td.tokenFor(t, "u-ingest", RoleIngest, "q1")
	td.tokenFor(t, "u-analyst", RoleAnalyst, "q1")

	s := &soak{td: td, client: &http.Client{Timeout: time.Minute}, errs: map[string][]string{}, errN: map[string]int{}}
	idle := s.sample(cmd.Process.Pid)
	t.Logf("idle: RSS %d MiB, heap %d MiB, %d goroutines", idle.rss/soakMiB, idle.heap/soakMiB, idle.goroutines)

	ctx, cancel := context.WithTimeout(context.Background(), total)
	defer cancel()
	var wg sync.WaitGroup
	worker := func(name string, pause time.Duration, op func(ctx context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := op(ctx); err != nil && ctx.Err() == nil {
					s.fail(name, err)
				}
				s.ops.Add(1)
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
	for i := range 3 {
		worker("chat", 100*time.Millisecond, func(context.Context) error { return s.chat(ingest, agent, sup, i) })
	}
	for range 2 {
		worker("events", 200*time.Millisecond, func(ctx context.Context) error { return s.events(ctx, ingest, sup) })
	}
	worker("websocket", time.Second, func(ctx context.Context) error { return s.stream(ctx, ingest) })
	worker("upload", 2*time.Second, func(context.Context) error { return s.upload(ingest) })
	worker("admin", 300*time.Millisecond, s.admin)

	var samples []soakSample
	every := max(5*time.Second, total/40)
	began := time.Now()
	for tick := time.NewTicker(every); ctx.Err() == nil; {
		select {
		case <-ctx.Done():
		case <-tick.C:
			sm := s.sample(cmd.Process.Pid)
			sm.at = time.Since(began)
			samples = append(samples, sm)
			t.Logf("%6s  RSS %4d MiB  heap %4d MiB  goroutines %4d  live %3d  ops %6d  errors %d",
				sm.at.Round(time.Second), sm.rss/soakMiB, sm.heap/soakMiB, sm.goroutines, sm.live, sm.ops, s.errCount.Load())
		}
	}
	wg.Wait()

	s.mu.Lock()
	for op, errs := range s.errs {
		t.Errorf("%s: %d unexpected answers, first: %s", op, s.errN[op], strings.Join(errs, "; "))
	}
	s.mu.Unlock()
	if s.ops.Load() == 0 {
		t.Fatal("the load did nothing")
	}

	// Memory: the highest of the last quarter against the highest of the
	// quarter after the warm-up.
	warm, late := window(samples, 0.30, 0.55), window(samples, 0.75, 1.01)
	if len(warm) == 0 || len(late) == 0 {
		t.Fatalf("%d samples: too few for the windows", len(samples))
	}
	for _, m := range []struct {
		name string
		get  func(soakSample) int64
	}{{"RSS", func(s soakSample) int64 { return s.rss }}, {"Go heap", func(s soakSample) int64 { return s.heap }}} {
		w, l := peak(warm, m.get), peak(late, m.get)
		t.Logf("%s: %d MiB after the warm-up, %d MiB at the end (ratio %.2f)", m.name, w/soakMiB, l/soakMiB, float64(l)/float64(w))
		if l > w*6/5+16*soakMiB {
			t.Errorf("%s grew from %d MiB after the warm-up to %d MiB at the end", m.name, w/soakMiB, l/soakMiB)
		}
	}

	// Goroutines: back to the idle count once the live engagements ended.
	deadline := time.Now().Add(time.Minute)
	var last soakSample
	for {
		last = s.sample(cmd.Process.Pid)
		if last.goroutines <= idle.goroutines+10 && last.live == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("a minute after the load: %d goroutines (idle %d), %d live engagements", last.goroutines, idle.goroutines, last.live)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("after the load: RSS %d MiB, heap %d MiB, %d goroutines (idle %d); %d operations",
		last.rss/soakMiB, last.heap/soakMiB, last.goroutines, idle.goroutines, s.ops.Load())
	if t.Failed() {
		t.Logf("daemon logs (tail):\n%s", tail(logs.String(), 4000))
	}
}

const soakMiB = 1 << 20

type soak struct {
	td       *testDaemon
	client   *http.Client
	ops      atomic.Int64
	errCount atomic.Int64
	mu       sync.Mutex
	errs     map[string][]string // by operation, the first three
	errN     map[string]int
}

type soakSample struct {
	at         time.Duration
	rss, heap  int64
	goroutines int
	live       int
	ops        int64
}

func (s *soak) fail(op string, err error) {
	s.errCount.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errN[op]++
	if len(s.errs[op]) < 3 {
		s.errs[op] = append(s.errs[op], err.Error())
	}
}

// do sends one request and fails unless the status is want.
func (s *soak) do(token, method, path string, body any, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.td.URL+path, rd)
	if err != nil {
		return nil, err
	}
	setJSONType(req, body)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return data, fmt.Errorf("%s %s = %d %.200s, want %d", method, path, resp.StatusCode, data, want)
	}
	return data, nil
}

func (s *soak) newChat(ingest string) (string, error) {
	data, err := s.do(ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "q1", Agent: "u-agent", Channel: "chat"}, 201)
	if err != nil {
		return "", err
	}
	var e struct{ ID string }
	if err := json.Unmarshal(data, &e); err != nil || e.ID == "" {
		return "", fmt.Errorf("engagement answer %.200s: %v", data, err)
	}
	return e.ID, nil
}

// chat is a short chat (the customer's messages through the ingest
// token, the agent's through the agent's): messages, the end, the
// transcript read back by the supervisor.
func (s *soak) chat(ingest, agent, sup string, n int) error {
	id, err := s.newChat(ingest)
	if err != nil {
		return err
	}
	ok := false
	defer s.endUnless(&ok, id)
	for i := range 5 {
		from, m := ingest, messageRequest{Sender: "customer", Text: fmt.Sprintf("my card %d was charged twice, message %d", n, i)}
		if i%2 == 1 {
			from, m = agent, messageRequest{Sender: "agent", Text: "I will refund the duplicate charge today."}
		}
		if _, err := s.do(from, "POST", "/api/v1/engagements/"+id+"/messages", m, 201); err != nil {
			return err
		}
	}
	ok = true
	if _, err := s.do(ingest, "POST", "/api/v1/engagements/"+id+"/end", nil, 202); err != nil {
		return err
	}
	data, err := s.do(sup, "GET", "/api/v1/engagements/"+id+"/transcript", nil, 200)
	if err != nil {
		return err
	}
	if !bytes.Contains(data, []byte("charged twice")) {
		return fmt.Errorf("transcript of %s lacks the messages: %.200s", id, data)
	}
	return nil
}

// events reads a live chat's events as its supervisor until it ends.
func (s *soak) events(ctx context.Context, ingest, sup string) error {
	id, err := s.newChat(ingest)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ok := false
	defer s.endUnless(&ok, id)
	req, _ := http.NewRequestWithContext(rctx, "GET", s.td.URL+"/api/v1/engagements/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+sup)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("events of %s = %d", id, resp.StatusCode)
	}
	finals, ended := make(chan struct{}, 16), make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			switch sc.Text() {
			case "event: transcript.final":
				finals <- struct{}{}
			case "event: engagement.ended":
				return
			}
		}
	}()
	for i := range 3 {
		if _, err := s.do(ingest, "POST", "/api/v1/engagements/"+id+"/messages", messageRequest{Sender: "customer", Text: "is anyone there " + strconv.Itoa(i)}, 201); err != nil {
			return err
		}
		select {
		case <-finals:
		case <-ended:
			return fmt.Errorf("events of %s ended before message %d", id, i)
		case <-rctx.Done():
			return fmt.Errorf("events of %s: no transcript.final for message %d", id, i)
		}
	}
	ok = true
	if _, err := s.do(ingest, "POST", "/api/v1/engagements/"+id+"/end", nil, 202); err != nil {
		return err
	}
	select {
	case <-ended:
		return nil
	case <-rctx.Done():
		return fmt.Errorf("events of %s: no engagement.ended", id)
	}
}

// endUnless ends chat id unless *done: an operation cut short (an error, the
// end of the run) leaves no engagement live.
func (s *soak) endUnless(done *bool, id string) {
	if !*done {
		s.do(s.td.Admin, "POST", "/api/v1/engagements/"+id+"/end", nil, 202)
	}
}

// stream is a two-second Twilio media stream of silence ended by "stop".
func (s *soak) stream(ctx context.Context, ingest string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.td.URL, "http")+"/api/v1/ingest/stream?access_token="+ingest, nil)
	if err != nil {
		return fmt.Errorf("websocket dial: %w", err)
	}
	defer ws.CloseNow()
	write := func(m map[string]any) error {
		b, _ := json.Marshal(m)
		return ws.Write(ctx, websocket.MessageText, b)
	}
	if err := write(map[string]any{"event": "start", "streamSid": "MZ1", "start": map[string]any{"streamSid": "MZ1", "callSid": "CA1",
		"tracks": []string{"inbound"}, "customParameters": map[string]string{"queue": "q1"},
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}); err != nil {
		return fmt.Errorf("websocket start: %w", err)
	}
	silence := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 160))
	for i := 1; i <= 100; i++ {
		if err := write(map[string]any{"event": "media", "streamSid": "MZ1", "media": map[string]any{"track": "inbound",
			"chunk": strconv.Itoa(i), "timestamp": strconv.Itoa(i * 20), "payload": silence}}); err != nil {
			return fmt.Errorf("websocket media %d: %w", i, err)
		}
		time.Sleep(20 * time.Millisecond) // the pace of real audio
	}
	if err := write(map[string]any{"event": "stop", "streamSid": "MZ1"}); err != nil {
		return fmt.Errorf("websocket stop: %w", err)
	}
	// The server ends the engagement and closes the stream after "stop".
	_, _, err = ws.Read(ctx)
	switch st := websocket.CloseStatus(err); {
	case ctx.Err() != nil:
		return fmt.Errorf("websocket: not closed within 30s of stop")
	case st != websocket.StatusNormalClosure:
		return fmt.Errorf("websocket after stop: %v", err)
	}
	return nil
}

// upload posts two seconds of silence as an 8 kHz WAV.
func (s *soak) upload(ingest string) error {
	const n = 2 * 8000 * 2
	wav := append(wavHeader(8000, n), make([]byte, n)...)
	req, _ := http.NewRequest("POST", s.td.URL+"/api/v1/uploads?queue=q1", bytes.NewReader(wav))
	req.Header.Set("Authorization", "Bearer "+ingest)
	req.Header.Set("Content-Type", "audio/wav")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		data, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("upload = %d %.200s", resp.StatusCode, data)
	}
	return nil
}

// admin makes the changes every open connection re-checks: a token made
// and revoked, a user's queues flipped, a feature setting flipped.
func (s *soak) admin(ctx context.Context) error {
	data, err := s.do(s.td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: "u-agent", Name: "soak"}, 201)
	if err != nil {
		return err
	}
	var tv tokenView
	if err := json.Unmarshal(data, &tv); err != nil {
		return err
	}
	if _, err := s.do(s.td.Admin, "DELETE", "/api/v1/tokens/"+tv.ID, nil, 204); err != nil {
		return err
	}
	queues := []string{"q1"}
	if s.ops.Load()%2 == 0 {
		queues = []string{"q1", "q2"}
	}
	if _, err := s.do(s.td.Admin, "PATCH", "/api/v1/users/u-analyst", map[string]any{"queues": queues}, 200); err != nil {
		return err
	}
	_, err = s.do(s.td.Admin, "PUT", "/api/v1/settings/features/queues/q1/sentiment", map[string]any{"enabled": s.ops.Load()%3 != 0}, 200)
	return err
}

// sample reads the process's RSS and, from /metrics, its goroutines, Go
// heap in use and live engagements.
func (s *soak) sample(pid int) soakSample {
	sm := soakSample{ops: s.ops.Load()}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				sm.rss = kb << 10
			}
		}
	}
	metrics, err := s.do(s.td.Admin, "GET", "/metrics", nil, 200)
	if err != nil {
		s.fail("metrics", err)
		return sm
	}
	for _, l := range strings.Split(string(metrics), "\n") {
		name, v, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		f, _ := strconv.ParseFloat(v, 64)
		switch name {
		case "go_goroutines":
			sm.goroutines = int(f)
		case "go_memstats_heap_inuse_bytes":
			sm.heap = int64(f)
		case "earshot_engagements_live":
			sm.live = int(f)
		}
	}
	return sm
}

// window returns the samples between fractions from and to of the run.
func window(samples []soakSample, from, to float64) []soakSample {
	var out []soakSample
	for i, sm := range samples {
		if f := float64(i+1) / float64(len(samples)); f > from && f <= to {
			out = append(out, sm)
		}
	}
	return out
}

func peak(samples []soakSample, get func(soakSample) int64) int64 {
	var m int64
	for _, sm := range samples {
		m = max(m, get(sm))
	}
	return m
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
