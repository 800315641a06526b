package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/store"
)

// TestRefusedBodiesAreNotRead: requests refused before their body is read
// (no token, a denied role, a body that is not JSON) are answered at once
// and their connection is closed, however much body they announce and
// however slowly it trickles in; nothing stays behind.
func TestRefusedBodiesAreNotRead(t *testing.T) {
	td := startDaemon(t, nil)
	agent := td.tokenFor(t, "ana", RoleAgent)
	addr := strings.TrimPrefix(td.URL, "http://")
	cases := []struct {
		name, head string
		want       int
	}{
		{"no token, large length", "POST /api/v1/queues HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n", 401},
		{"no token, huge length", "POST /api/v1/queues HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n", 401},
		{"no token, chunked", "POST /api/v1/queues HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n", 401},
		{"denied role", "POST /api/v1/queues HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + agent + "\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n", 403},
		{"text body", "POST /api/v1/queues HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + td.Admin + "\r\nContent-Type: text/plain\r\nContent-Length: 200000\r\n\r\n", 415},
	}
	const conns = 200
	before := runtime.NumGoroutine()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			open := make([]net.Conn, 0, conns)
			defer func() {
				for _, nc := range open {
					nc.Close()
				}
			}()
			for range conns {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				open = append(open, nc)
				// The head and the first byte of the body; the rest would
				// trickle, and never comes.
				if _, err := io.WriteString(nc, c.head+"{"); err != nil {
					t.Fatal(err)
				}
			}
			for i, nc := range open {
				nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(nc)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != c.want || !resp.Close {
					t.Fatalf("connection %d: %d (close %v) %s, want %d and the connection closed", i, resp.StatusCode, resp.Close, body, c.want)
				}
				// The server closes its end although the client keeps
				// its own open and the announced body never arrived.
				if _, err := br.ReadByte(); err != io.EOF {
					t.Fatalf("connection %d: after the response read %v, want EOF", i, err)
				}
			}
		})
	}
	waitUntil(t, "the refused connections' goroutines to end", func() bool {
		return runtime.NumGoroutine() <= before+10
	})
}

// TestUnauthenticatedDetailIsOneText: a token that was revoked, expired,
// belongs to a disabled user or was never issued gets the same answer.
func TestUnauthenticatedDetailIsOneText(t *testing.T) {
	td := startDaemon(t, nil)
	revoked := td.tokenFor(t, "rev", RoleAgent)
	disabled := td.tokenFor(t, "dis", RoleAgent)
	td.mustCall(t, td.Admin, "POST", "/api/v1/users", userRequest{ID: "exp", Role: "agent"}, 201)
	var tv tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: "exp", ExpiresIn: "1ms"}, 201), &tv)
	expired := tv.Secret
	ts, _ := td.store.Tokens(context.Background())
	for _, tk := range ts {
		if tk.UserID == "rev" {
			td.mustCall(t, td.Admin, "DELETE", "/api/v1/tokens/"+tk.ID, nil, 204)
		}
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/users/dis", userRequest{Role: "agent", Disabled: true}, 200)
	waitUntil(t, "the short token to expire", func() bool {
		code, _ := td.call(t, expired, "GET", "/api/v1/whoami", nil)
		return code == 401
	})
	details := map[string]string{}
	for name, tok := range map[string]string{"revoked": revoked, "disabled": disabled, "expired": expired,
		"unknown": "es_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "missing": ""} {
		code, body := td.call(t, tok, "GET", "/api/v1/whoami", nil)
		var p Problem
		json.Unmarshal(body, &p)
		if code != 401 {
			t.Errorf("%s token: %d, want 401", name, code)
		}
		details[name] = p.Detail
	}
	for name, d := range details {
		if d != details["unknown"] {
			t.Errorf("%s token detail %q differs from an unknown token's %q", name, d, details["unknown"])
		}
	}
}

// TestJSONRoutesRefuseOtherTypes: a JSON route answers 415 to a body sent
// as text/plain or with no type, and accepts JSON types.
func TestJSONRoutesRefuseOtherTypes(t *testing.T) {
	td := startDaemon(t, nil)
	for i, c := range []struct {
		ctype string
		want  int
	}{{"text/plain", 415}, {"", 415}, {"application/x-www-form-urlencoded", 415}, {"application/json", 201},
		{"application/json; charset=utf-8", 201}, {"application/merge-patch+json", 201}} {
		body := fmt.Sprintf(`{"id":"q%d"}`, i)
		req, _ := http.NewRequest("POST", td.URL+"/api/v1/queues", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+td.Admin)
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p Problem
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Content-Type %q: %d, want %d", c.ctype, resp.StatusCode, c.want)
		}
		if c.want == 415 && p.Field != "Content-Type" {
			t.Errorf("Content-Type %q: problem field %q, want Content-Type", c.ctype, p.Field)
		}
	}
}

// TestEventStreamResumeAtTheTop: resume positions at the top of the event
// ID range, as header or query parameter, on a live engagement and on one
// replayed from the store, answer 200 with nothing to send; one past the
// range is a 400 naming where it came from.
func TestEventStreamResumeAtTheTop(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
	newChat := func() string {
		var e store.Engagement
		json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "q", Channel: "chat"}, 201), &e)
		td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{Sender: "customer", Text: "hello"}, 201)
		return e.ID
	}
	live := newChat()
	stored := newChat()
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+stored+"/end", nil, 202)
	l, _ := td.hub.Get(stored)
	<-l.Done()
	td.hub.ForgetEnded(func(id string) bool { return id == stored })
	for _, id := range []string{live, stored} {
		for _, v := range []string{"18446744073709551615", "18446744073709551614"} {
			for _, how := range []string{"header", "query"} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				path := "/api/v1/engagements/" + id + "/events"
				if how == "query" {
					path += "?last_event_id=" + v
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", td.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+td.Admin)
				if how == "header" {
					req.Header.Set("Last-Event-ID", v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					cancel()
					t.Fatal(err)
				}
				// The live stream stays open (heartbeat only) until the
				// deadline; the stored one ends at once. Neither sends an
				// event.
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				if resp.StatusCode != 200 || strings.Contains(string(body), "event:") {
					t.Errorf("%s resumed after %s by %s: %d %q, want 200 and no event", id, v, how, resp.StatusCode, body)
				}
			}
		}
		for _, how := range []string{"header", "query"} {
			req, _ := http.NewRequest("GET", td.URL+"/api/v1/engagements/"+id+"/events", nil)
			req.Header.Set("Authorization", "Bearer "+td.Admin)
			if how == "header" {
				req.Header.Set("Last-Event-ID", "18446744073709551616")
			} else {
				req.URL.RawQuery = "last_event_id=18446744073709551616"
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var p Problem
			json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode != 400 || p.Field == "" {
				t.Errorf("resume past the range by %s: %d %+v, want 400 naming the field", how, resp.StatusCode, p)
			}
		}
	}
	if n := td.panics(); n != 0 {
		t.Errorf("%d handler panics", n)
	}
}

// panics is the number of handler panics the daemon recovered.
func (td *testDaemon) panics() int {
	n := 0.0
	for _, rt := range td.routes() {
		n += testutil.ToFloat64(td.metrics.panics.WithLabelValues(rt.Pattern))
	}
	return int(n)
}

// TestForecastHugeVolumes: a history with volumes no queue has (1e308
// contacts in an interval) is refused with a 4xx naming the body, for
// every forecast route and both body formats, never a 200 with an empty
// or cut body.
func TestForecastHugeVolumes(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	pts := forecastHistory()
	pts[len(pts)/2].Offered = 1e308
	csv := historyCSV(pts)
	raw, _ := json.Marshal(map[string]any{"points": pts})
	for _, route := range []string{"forecast", "forecast/staffing", "forecast/backtest", "forecast/longterm"} {
		for name, body := range map[string]string{"csv": csv, "json": string(raw)} {
			code, resp := td.call(t, td.Admin, "POST", "/api/v1/queues/cards/"+route, body)
			var p Problem
			if code < 400 || code >= 500 || json.Unmarshal(resp, &p) != nil || p.Detail == "" {
				t.Errorf("%s with a %s history of 1e308 contacts = %d %q, want a 4xx problem", route, name, code, resp)
			}
		}
	}
}

// TestForecastFitsBounded: while two fits run (their histories still
// arriving), a third is refused at once with 503, before its body is read.
func TestForecastFitsBounded(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	var writers []*io.PipeWriter
	done := make(chan int, maxFits)
	for range maxFits {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		go func() {
			req, _ := http.NewRequest("POST", td.URL+"/api/v1/queues/cards/forecast", pr)
			req.Header.Set("Authorization", "Bearer "+td.Admin)
			req.Header.Set("Content-Type", "text/csv")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		pw.Write([]byte("timestamp,count,aht\n"))
	}
	waitUntil(t, "two fits to hold their slots", func() bool { return len(td.fits) == maxFits })
	code, body := td.call(t, td.Admin, "POST", "/api/v1/queues/cards/forecast", historyCSV(forecastHistory()))
	if code != 503 {
		t.Errorf("a third fit = %d %s, want 503", code, body)
	}
	for _, pw := range writers {
		pw.Write([]byte(historyCSV(forecastHistory())[len("timestamp,count,aht\n"):]))
		pw.Close()
	}
	for range maxFits {
		if code := <-done; code != 200 {
			t.Errorf("a fit = %d, want 200", code)
		}
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues/cards/forecast", historyCSV(forecastHistory()), 200)
}
