package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// LibreTranslateConfig configures the LibreTranslate engine: a site's own
// LibreTranslate server.
type LibreTranslateConfig struct {
	// URL is the server's base URL, such as http://127.0.0.1:5000.
	URL string `json:"url"`
	// SiteHosted declares that a server not on loopback is the site's own,
	// so that it counts as a local model. Messages are customer content.
	SiteHosted bool `json:"site_hosted"`
	// APIKeyFile holds the server's API key, if it requires one.
	APIKeyFile string `json:"api_key_file"`
	// Languages lists the languages to translate between. Default: every
	// language the identifier knows but German.
	Languages []Lang `json:"languages"`
	// Timeout bounds one message. Default 10s.
	Timeout Duration `json:"timeout"`
	// MaxInFlight bounds concurrent requests; a message that finds no
	// free slot falls back at once. Default 8.
	MaxInFlight int `json:"max_in_flight"`
}

// DefaultLibreTranslateConfig returns the defaults; URL must still be set.
func DefaultLibreTranslateConfig() LibreTranslateConfig {
	return LibreTranslateConfig{
		Languages: []Lang{English, Spanish, Catalan, Galician, Portuguese, French, Italian},
		Timeout:   Duration(10 * time.Second), MaxInFlight: 8,
	}
}

// Validate reports the first problem with c, naming the field.
func (c LibreTranslateConfig) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("libretranslate.url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("libretranslate.url: scheme must be http or https, got %q", u.Scheme)
	case u.Hostname() == "":
		return fmt.Errorf("libretranslate.url: %q has no host", c.URL)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return errors.New("libretranslate.url: must not carry credentials, a query or a fragment")
	case c.Timeout <= 0:
		return fmt.Errorf("libretranslate.timeout must be positive, got %s", c.Timeout)
	case c.MaxInFlight <= 0:
		return fmt.Errorf("libretranslate.max_in_flight must be positive, got %d", c.MaxInFlight)
	case len(c.Languages) < 2:
		return errors.New("libretranslate.languages must list at least two languages")
	}
	for i, l := range c.Languages {
		if !l.Known() {
			return fmt.Errorf("libretranslate.languages[%d]: unknown language %q", i, l)
		}
	}
	return nil
}

// LibreTranslate translates with a LibreTranslate server (POST /translate).
// It is local when the server is on loopback or declared site-hosted.
type LibreTranslate struct {
	cfg    LibreTranslateConfig
	base   *url.URL
	key    string
	local  bool
	client *http.Client
	slots  chan struct{}
	pairs  []Pair
}

var _ Engine = (*LibreTranslate)(nil)

// NewLibreTranslate returns the engine; it does not contact the server.
func NewLibreTranslate(cfg LibreTranslateConfig) (*LibreTranslate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("translate: config: %w", err)
	}
	base, _ := url.Parse(strings.TrimRight(cfg.URL, "/"))
	lt := &LibreTranslate{cfg: cfg, base: base, slots: make(chan struct{}, cfg.MaxInFlight)}
	if cfg.APIKeyFile != "" {
		b, err := os.ReadFile(cfg.APIKeyFile)
		if err != nil {
			return nil, fmt.Errorf("translate: libretranslate.api_key_file: %w", err)
		}
		lt.key = strings.TrimSpace(string(b))
	}
	host := base.Hostname()
	a, err := netip.ParseAddr(host)
	lt.local = cfg.SiteHosted || host == "localhost" || (err == nil && a.IsLoopback())
	lt.client = &http.Client{Transport: &http.Transport{
		Proxy:               nil, // customer content never goes through a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.MaxInFlight,
		IdleConnTimeout:     90 * time.Second,
	}}
	for _, x := range cfg.Languages {
		for _, y := range cfg.Languages {
			if x != y {
				lt.pairs = append(lt.pairs, Pair{x, y})
			}
		}
	}
	return lt, nil
}

// Name implements Engine.
func (lt *LibreTranslate) Name() string { return "libretranslate" }

// Local implements Engine.
func (lt *LibreTranslate) Local() bool { return lt.local }

// Pairs implements Engine.
func (lt *LibreTranslate) Pairs() []Pair { return lt.pairs }

// Close releases idle connections.
func (lt *LibreTranslate) Close() error {
	lt.client.CloseIdleConnections()
	return nil
}

// Translate implements Engine.
func (lt *LibreTranslate) Translate(ctx context.Context, p Pair, text string) (string, error) {
	select {
	case lt.slots <- struct{}{}:
		defer func() { <-lt.slots }()
	default:
		return "", errors.New("translate: libretranslate: all request slots busy")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(lt.cfg.Timeout))
	defer cancel()
	body := map[string]string{"q": text, "source": string(p.From), "target": string(p.To), "format": "text"}
	if lt.key != "" {
		body["api_key"] = lt.key
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, lt.base.String()+"/translate", bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("translate: libretranslate: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := lt.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("translate: libretranslate: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", fmt.Errorf("translate: libretranslate: read reply: %w", err)
	}
	var reply struct {
		TranslatedText *string `json:"translatedText"`
		Error          string  `json:"error"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return "", fmt.Errorf("translate: libretranslate: status %d, reply is not JSON", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		// The server's error text names the problem ("es is not
		// supported"); it never echoes the message.
		return "", fmt.Errorf("translate: libretranslate: status %d: %.200s", resp.StatusCode, reply.Error)
	}
	if reply.TranslatedText == nil {
		return "", errors.New("translate: libretranslate: reply has no translatedText")
	}
	return *reply.TranslatedText, nil
}
