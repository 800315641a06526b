//go:build security

package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/store"
)

// Crash loops: a daemon process is killed with SIGKILL in the middle of
// chat writes, a key-encryption-key rotation over more data keys than one
// rotation batch, a purge of a whole queue, a knowledge-base import and
// the segment writes of a WebSocket audio stream. After each restart every
// acknowledged message and every segment the API reported is still in its
// engagement's transcript (unless a purge acknowledged since took it), the
// audit chain verifies, and the interrupted operation completes when asked
// again. Run by `make security`.

// crashDaemon is a daemon process the test kills and restarts on the same
// data directory.
type crashDaemon struct {
	t       *testing.T
	cfgPath string
	cmd     *exec.Cmd
	base    string
	logs    *strings.Builder
	admin   string
	client  *http.Client
}

func newCrashDaemon(t *testing.T) *crashDaemon {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "earshot.yaml")
	// No intent training at start: restarts stay quick.
	cfg := fmt.Sprintf("data_dir: %s\nlisten: 127.0.0.1:0\nanalytics:\n  default_intents: none\n", filepath.Join(dir, "data"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &crashDaemon{t: t, cfgPath: cfgPath, client: &http.Client{Timeout: 2 * time.Minute}}
	c.start()
	tok, err := os.ReadFile(filepath.Join(dir, "data", AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	c.admin = strings.TrimSpace(string(tok))
	return c
}

func (c *crashDaemon) start() {
	c.t.Helper()
	c.cmd, c.base, c.logs = startProcess(c.t, c.cfgPath)
}

// kill ends the process with SIGKILL and restarts it.
func (c *crashDaemon) killAndRestart() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	c.cmd.Wait()
	c.start()
}

// do sends a request; transport errors are returned (the process may be
// killed under it).
func (c *crashDaemon) do(method, path, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.admin)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c *crashDaemon) must(method, path string, body any, want int) []byte {
	c.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	code, b, err := c.do(method, path, "application/json", raw)
	if err != nil || code != want {
		c.t.Fatalf("%s %s = %d %v, want %d: %s", method, path, code, err, want, b)
	}
	return b
}

// verifyAudit asks the daemon to verify its audit chain.
func (c *crashDaemon) verifyAudit(after string) {
	c.t.Helper()
	code, b, err := c.do("GET", "/api/v1/audit/verify", "", nil)
	var v api.AuditVerify
	if err != nil || code != 200 || json.Unmarshal(b, &v) != nil || !v.OK {
		c.t.Fatalf("audit verify after %s: %d %v %s\nlogs:\n%s", after, code, err, b, c.logs)
	}
}

// acked are the acknowledged chat messages by engagement.
type acked struct {
	mu   sync.Mutex
	msgs map[string][]string
}

func (a *acked) add(id, text string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msgs[id] = append(a.msgs[id], text)
}

// check finds every acknowledged message of every engagement not in
// purged in its stored transcript, in order.
func (c *crashDaemon) check(a *acked, purged map[string]bool, after string) {
	c.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, want := range a.msgs {
		code, b, err := c.do("GET", "/api/v1/engagements/"+id+"/transcript", "", nil)
		if purged[id] {
			if err != nil || code != http.StatusNotFound {
				c.t.Errorf("after %s: transcript of purged engagement %s = %d %v, want 404", after, id, code, err)
			}
			continue
		}
		var tr struct {
			Segments []struct{ Text string } `json:"segments"`
		}
		if err != nil || code != 200 || json.Unmarshal(b, &tr) != nil {
			c.t.Fatalf("after %s: transcript of %s: %d %v %s", after, id, code, err, b)
		}
		if len(tr.Segments) < len(want) {
			c.t.Fatalf("after %s: engagement %s has %d stored messages, %d were acknowledged", after, id, len(tr.Segments), len(want))
		}
		for i, w := range want {
			if tr.Segments[i].Text != w {
				c.t.Fatalf("after %s: engagement %s message %d = %q, want %q", after, id, i, tr.Segments[i].Text, w)
			}
		}
	}
}

// chats makes engagements in queue with one or two customer messages each,
// with workers in parallel, recording what was acknowledged; it stops at
// the first transport error (the process was killed) or after n.
func (c *crashDaemon) chats(a *acked, queue string, n, workers int) int {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		made  int
		start = make(chan int, n)
	)
	for i := range n {
		start <- i
	}
	close(start)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range start {
				raw, _ := json.Marshal(engagementRequest{Queue: queue, Channel: "chat"})
				code, b, err := c.do("POST", "/api/v1/engagements", "application/json", raw)
				if err != nil || code != 201 {
					return
				}
				var e struct{ ID string }
				json.Unmarshal(b, &e)
				for j := range 2 {
					text := fmt.Sprintf("%s message %d of chat %d", queue, j, i)
					raw, _ := json.Marshal(messageRequest{Sender: "customer", Text: text})
					code, _, err := c.do("POST", "/api/v1/engagements/"+e.ID+"/messages", "application/json", raw)
					if err != nil || code != 201 {
						return
					}
					a.add(e.ID, text)
				}
				if code, _, err := c.do("POST", "/api/v1/engagements/"+e.ID+"/end", "application/json", nil); err != nil || code/100 != 2 {
					return
				}
				mu.Lock()
				made++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return made
}

// killWhen kills and restarts the process as soon as cond holds (polled),
// or when op, running meanwhile, returns first; it reports whether op was
// still running at the kill.
func (c *crashDaemon) killDuring(op func(), cond func() bool) bool {
	c.t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); op() }()
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		select {
		case <-done:
			c.killAndRestart()
			return false
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatal("the condition to kill at never held")
		}
		time.Sleep(2 * time.Millisecond)
	}
	c.killAndRestart()
	<-done
	return true
}

func TestCrashLoops(t *testing.T) {
	c := newCrashDaemon(t)
	for _, q := range []string{"keep", "gone0", "gone1", "gone2"} {
		c.must("POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	a := &acked{msgs: map[string][]string{}}
	purged := map[string]bool{}

	// 1. Chat writes: killed once a hundred messages are acknowledged.
	count := func() int {
		a.mu.Lock()
		defer a.mu.Unlock()
		n := 0
		for _, m := range a.msgs {
			n += len(m)
		}
		return n
	}
	if !c.killDuring(func() { c.chats(a, "keep", 400, 4) }, func() bool { return count() >= 100 }) {
		t.Fatal("the chats ended before the kill")
	}
	c.check(a, purged, "a kill during chat writes")
	c.verifyAudit("a kill during chat writes")
	t.Logf("chat writes: %d messages acknowledged before the kill, all found after the restart", count())

	// Enough data keys that a rotation takes several batches (500 each).
	if made := c.chats(a, "keep", 700, 4); made != 700 {
		t.Fatalf("made %d of 700 chats", made)
	}
	for i := range 3 {
		if made := c.chats(a, fmt.Sprintf("gone%d", i), 100, 4); made != 100 {
			t.Fatalf("made %d of 100 chats", made)
		}
	}

	// 2. Key rotation: killed at increasing delays until one kill lands
	// mid-rotation (the resumed rotation then re-wraps some but not all
	// keys under the same target version).
	total := len(a.msgs)
	midway := false
	for round, delay := range []time.Duration{0, 5, 10, 20, 40, 80, 160, 320} {
		var first api.RotateResult
		started := time.Now()
		ranToEnd := !c.killDuring(func() {
			code, b, err := c.do("POST", "/api/v1/keys/rotate", "application/json", []byte(`{}`))
			if err == nil && code == 200 {
				json.Unmarshal(b, &first)
			}
		}, func() bool { return time.Since(started) >= delay*time.Millisecond })
		c.check(a, purged, fmt.Sprintf("a kill %v into key rotation", delay*time.Millisecond))
		c.verifyAudit("a kill during key rotation")
		var res api.RotateResult
		if err := json.Unmarshal(c.must("POST", "/api/v1/keys/rotate", api.RotateRequest{}, 200), &res); err != nil {
			t.Fatal(err)
		}
		c.check(a, purged, "a resumed key rotation")
		t.Logf("rotation round %d (kill after %v, ran to end: %v): resumed %d->%d re-wrapped %d of about %d", round, delay*time.Millisecond, ranToEnd, res.From, res.To, res.Rewrapped, total)
		if !ranToEnd && res.Rewrapped > 0 && res.Rewrapped < total {
			midway = true
			break
		}
	}
	if !midway {
		t.Error("no kill landed in the middle of a rotation")
	}

	// 3. Purges of the queues "gone0".."gone2", each killed at another
	// delay (the data keys are destroyed first, then the records go in one
	// transaction, then keys.db is compacted); after each restart every
	// engagement of the queue is whole or gone, the purge asked again
	// completes, and the other queues are untouched.
	gone := map[string]bool{}
	for i, delay := range []time.Duration{2, 8, 30} {
		queue := fmt.Sprintf("gone%d", i)
		a.mu.Lock()
		inQueue := map[string]bool{}
		for id, msgs := range a.msgs {
			if strings.HasPrefix(msgs[0], queue+" ") {
				inQueue[id] = true
			}
		}
		a.mu.Unlock()
		req := api.PurgeRequest{Queue: queue, From: time.Now().Add(-24 * time.Hour), To: time.Now().Add(time.Hour), Reason: "crash loop test"}
		raw, _ := json.Marshal(req)
		sent := time.Now()
		ranToEnd := !c.killDuring(func() { c.do("POST", "/api/v1/purge", "application/json", raw) },
			func() bool { return time.Since(sent) >= delay*time.Millisecond })
		after := fmt.Sprintf("a kill %v into a purge", delay*time.Millisecond)
		c.verifyAudit(after)
		partly := maps.Clone(gone)
		n := 0
		for id := range inQueue {
			if code, _, err := c.do("GET", "/api/v1/engagements/"+id, "", nil); err == nil && code == 404 {
				partly[id] = true
				n++
			}
		}
		t.Logf("purge %s (kill after %v, ran to end: %v): %d of %d engagements purged before the kill", queue, delay*time.Millisecond, ranToEnd, n, len(inQueue))
		c.check(a, partly, after)
		req.Reason = "crash loop test, again"
		c.must("POST", "/api/v1/purge", req, 200)
		maps.Copy(gone, inQueue)
		c.check(a, gone, "a purge asked again")
		c.verifyAudit("a purge asked again")
	}

	// 4. Knowledge-base import of 3,000 articles, killed as soon as the
	// first are listed; after the restart every listed article reads
	// whole, and the import asked again stores them all.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	const articles = 3000
	for i := range articles {
		body := fmt.Sprintf("# Article %d\n\nHow to handle case %d: check the account, confirm the customer, and note it.\n", i, i)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("kb/a%04d.md", i), Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg})
		io.WriteString(tw, body)
	}
	tw.Close()
	articleIDs := func() []string {
		code, b, err := c.do("GET", "/api/v1/kb/articles", "", nil)
		if err != nil || code != 200 {
			return nil
		}
		var l []struct{ ID string }
		json.Unmarshal(b, &l)
		ids := make([]string, len(l))
		for i, a := range l {
			ids[i] = a.ID
		}
		return ids
	}
	c.killDuring(func() { c.do("POST", "/api/v1/kb/import", "application/x-tar", tb.Bytes()) },
		func() bool { return len(articleIDs()) > 0 })
	c.verifyAudit("a kill during a KB import")
	ids := articleIDs()
	t.Logf("KB import: %d of %d articles stored before the kill", len(ids), articles)
	for _, id := range ids {
		code, b, err := c.do("GET", "/api/v1/kb/articles/"+url.PathEscape(id), "", nil)
		if err != nil || code != 200 || !bytes.Contains(b, []byte("How to handle case")) {
			t.Fatalf("article %s after a kill during import: %d %v %.200s", id, code, err, b)
		}
	}
	if code, b, err := c.do("POST", "/api/v1/kb/import", "application/x-tar", tb.Bytes()); err != nil || code/100 != 2 {
		t.Fatalf("import asked again: %d %v %s", code, err, b)
	}
	if n := len(articleIDs()); n != articles {
		t.Errorf("after the import asked again, %d articles listed, want %d", n, articles)
	}
	c.check(a, gone, "a kill during a KB import")
	c.verifyAudit("the import asked again")

	// 5. An audio stream: killed while its segments are being written.
	c.must("POST", "/api/v1/queues", queueRequest{ID: "voice"}, 201)
	c.crashDuringStream("voice")
	c.check(a, gone, "a kill during an audio stream")
}

// crashDuringStream streams real speech as raw PCM over the WebSocket
// ingest into queue and kills the process once the API lists at least two
// stored segments of the live engagement, while audio is still being
// written. After the restart every segment the API reported before the
// kill is still in the transcript, unchanged, and the audit chain verifies.
func (c *crashDaemon) crashDuringStream(queue string) {
	t := c.t
	t.Helper()
	var pcm []int16
	for range 3 {
		pcm = append(pcm, speechPCM(t, "0870", "0880", "0890", "0920", "0930")...)
	}
	ingestTok := c.tokenFor("pbx", queue)
	wsURL := "ws" + strings.TrimPrefix(c.base, "http") + "/api/v1/ingest/stream?format=pcm&rate=16000&channels=1&party=customer&queue=" + queue + "&access_token=" + ingestTok

	var (
		mu       sync.Mutex
		id       string
		seen     []store.Segment
		lastPoll time.Time
		written  int
		streamed bool
	)
	segments := func(id string) ([]store.Segment, error) {
		code, b, err := c.do("GET", "/api/v1/engagements/"+id+"/transcript", "", nil)
		var tr struct{ Segments []store.Segment }
		if err == nil && (code != 200 || json.Unmarshal(b, &tr) != nil) {
			err = fmt.Errorf("transcript of %s: %d %s", id, code, b)
		}
		return tr.Segments, err
	}
	// The stream is paced at twice real time, as a call's audio arrives
	// over time (sent at once, the whole call sits in buffers before the
	// first segment is written and the kill lands after the audio); after
	// the audio the connection stays open until the kill closes it.
	op := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Errorf("dial the ingest stream: %v", err)
			return
		}
		defer ws.CloseNow()
		start := time.Now()
		for off := 0; off < len(pcm); off += 320 {
			time.Sleep(time.Until(start.Add(time.Duration(off) * time.Second / 32000))) // pacing, not synchronisation
			if err := ws.Write(ctx, websocket.MessageBinary, audio.Bytes(nil, pcm[off:min(off+320, len(pcm))])); err != nil {
				return // killed
			}
			mu.Lock()
			written = off
			mu.Unlock()
		}
		mu.Lock()
		streamed = true
		mu.Unlock()
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}
	cond := func() bool {
		if time.Since(lastPoll) < 100*time.Millisecond {
			return false
		}
		lastPoll = time.Now()
		if id == "" {
			var list []store.Engagement
			if code, b, err := c.do("GET", "/api/v1/engagements?queue="+queue, "", nil); err != nil || code != 200 || json.Unmarshal(b, &list) != nil || len(list) == 0 {
				return false
			}
			id = list[0].ID
		}
		segs, err := segments(id)
		if err != nil {
			return false
		}
		seen = segs
		return len(segs) >= 2
	}
	if !c.killDuring(op, cond) {
		t.Fatal("the stream ended before the kill")
	}
	mu.Lock()
	defer mu.Unlock()
	if streamed {
		t.Errorf("audio stream: every sample was written before the kill, want a kill while audio is still arriving")
	}
	after := "a kill during an audio stream"
	got, err := segments(id)
	if err != nil {
		t.Fatalf("after %s: %v", after, err)
	}
	stored := map[uint32]store.Segment{}
	for _, s := range got {
		stored[s.Seq] = s
	}
	for _, s := range seen {
		g, ok := stored[s.Seq]
		if !ok {
			t.Errorf("after %s: segment %d (%d ms) reported before the kill is gone", after, s.Seq, s.StartMs)
		} else if g.Text != s.Text || g.StartMs != s.StartMs || g.EndMs != s.EndMs || g.Speaker != s.Speaker {
			t.Errorf("after %s: segment %d = %+v, reported before the kill as %+v", after, s.Seq, g, s)
		}
	}
	c.verifyAudit(after)
	t.Logf("audio stream: killed after %.1f of %.1f s of audio written, %d segments reported; %d stored after the restart",
		float64(written)/16000, float64(len(pcm))/16000, len(seen), len(got))
}

// tokenFor makes an ingest user of queue and returns a token of theirs.
func (c *crashDaemon) tokenFor(user, queue string) string {
	c.t.Helper()
	c.must("POST", "/api/v1/users", userRequest{ID: user, Role: string(RoleIngest), Queues: []string{queue}}, 201)
	var tok tokenView
	json.Unmarshal(c.must("POST", "/api/v1/tokens", tokenRequest{UserID: user}, 201), &tok)
	return tok.Secret
}
