// Command webhook is an example Earshot sink plugin: it POSTs every event
// as JSON to a URL, signed per the Standard Webhooks specification.
//
// Configuration (set by the administrator):
//
//	url      endpoint to POST to (required; http or https)
//	secret   signing secret, "whsec_" + base64 of the key (required)
//
// Each request carries the headers webhook-id (the event ID, stable across
// retries), webhook-timestamp (Unix seconds) and webhook-signature
// ("v1," + base64 of HMAC-SHA256 over "id.timestamp.body" with the key).
// The body is {"type": ..., "timestamp": RFC 3339, "data": {...}} where data
// holds the engagement fields the plugin was granted. A non-2xx answer is
// an error, so the host retries the event later.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/earshot/earshot/plugins/sdk"
)

func main() {
	w := &webhook{client: &http.Client{Timeout: 30 * time.Second}}
	sdk.Serve(&sdk.Plugin{Name: "webhook", Version: "1.0.0", Configure: w.configure, Sink: w})
}

type webhook struct {
	client *http.Client
	mu     sync.Mutex
	url    string
	key    []byte
}

func (w *webhook) configure(_ context.Context, cfg map[string]string) error {
	u, err := url.Parse(cfg["url"])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook: config url %q must be an http(s) URL: %w", cfg["url"], sdk.ErrInvalidInput)
	}
	key, err := decodeSecret(cfg["secret"])
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.url, w.key = u.String(), key
	w.mu.Unlock()
	return nil
}

func decodeSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, fmt.Errorf("webhook: config secret must start with whsec_: %w", sdk.ErrInvalidInput)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("webhook: config secret must be base64 of at least 16 bytes: %w", sdk.ErrInvalidInput)
	}
	return key, nil
}

// sign returns the webhook-signature header value.
func sign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type payload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      data   `json:"data"`
}

type segment struct {
	Speaker string `json:"speaker"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Text    string `json:"text"`
}

type data struct {
	EngagementID string            `json:"engagement_id"`
	Channel      string            `json:"channel,omitempty"`
	CustomerRef  string            `json:"customer_ref,omitempty"`
	Intents      []string          `json:"intents,omitempty"`
	Summary      string            `json:"summary,omitempty"`
	Transcript   []segment         `json:"transcript,omitempty"`
	Results      map[string]string `json:"results,omitempty"`
}

// Deliver implements sdk.Sink.
func (w *webhook) Deliver(ctx context.Context, ev sdk.Event) error {
	w.mu.Lock()
	target, key := w.url, w.key
	w.mu.Unlock()
	if target == "" {
		return fmt.Errorf("webhook: not configured")
	}
	if ev.ID == "" {
		return fmt.Errorf("webhook: event without id: %w", sdk.ErrInvalidInput)
	}
	e := ev.Engagement
	p := payload{Type: ev.Type, Timestamp: ev.Time.UTC().Format(time.RFC3339Nano), Data: data{
		EngagementID: e.EngagementID, Channel: e.Channel, CustomerRef: e.CustomerRef,
		Intents: e.Intents, Summary: e.Summary, Results: e.Results,
	}}
	for _, s := range e.Transcript {
		p.Data.Transcript = append(p.Data.Transcript, segment{s.Speaker, s.Start.Milliseconds(), s.End.Milliseconds(), s.Text})
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sign(key, ev.ID, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: endpoint answered %s", resp.Status)
	}
	sdk.Logger().Debug("event delivered", "event_id", ev.ID, "engagement_id", e.EngagementID, "status", resp.StatusCode)
	return nil
}
