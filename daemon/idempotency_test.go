package daemon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestMessageIdempotencyKey: chat message posts retried with the same
// Idempotency-Key (one after another, and many at once as a client under
// load retries) store one message and answer each retry as the first; a
// key reused for another message is refused naming the header; another
// key, or no key, is another message.
func TestMessageIdempotencyKey(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "chat"}, 201)
	var e struct{ ID string }
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "chat", Channel: "chat"}, 201), &e)
	post := func(key string, m messageRequest) (int, http.Header, []byte) {
		t.Helper()
		raw, _ := json.Marshal(m)
		req, _ := http.NewRequest("POST", td.URL+"/api/v1/engagements/"+e.ID+"/messages", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+td.Admin)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set(idemHeader, key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil, nil
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Header, b.Bytes()
	}
	hello := messageRequest{Sender: "customer", Text: "my card was declined"}
	if code, h, _ := post("k1", hello); code != 201 || h.Get(idemReplayed) != "" {
		t.Fatalf("first post = %d (replayed %q), want 201", code, h.Get(idemReplayed))
	}
	if code, h, _ := post("k1", hello); code != 201 || h.Get(idemReplayed) != "true" {
		t.Errorf("retry = %d (replayed %q), want 201 replayed", code, h.Get(idemReplayed))
	}
	code, _, body := post("k1", messageRequest{Sender: "customer", Text: "something else"})
	var p struct{ Field string }
	json.Unmarshal(body, &p)
	if code != 422 || p.Field != idemHeader {
		t.Errorf("key reused for another message = %d %s, want 422 naming %s", code, body, idemHeader)
	}
	if code, _, _ := post(strings.Repeat("x", idemMaxLen+1), hello); code != 400 {
		t.Errorf("over-long key = %d, want 400", code)
	}
	// Ten concurrent retries of one post.
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = post("k2", messageRequest{Sender: "customer", Text: "it was declined at the shop"})
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 201 {
			t.Errorf("concurrent retry %d = %d, want 201", i, c)
		}
	}
	post("k3", hello) // the same text under another key is another message
	post("", hello)   // and without a key
	_, segs := transcriptText(t, td, td.Admin, e.ID)
	var texts []string
	for _, s := range segs {
		texts = append(texts, s.Text)
	}
	want := []string{hello.Text, "it was declined at the shop", hello.Text, hello.Text}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("stored messages %q, want %q", texts, want)
	}
}
