package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/earshot/earshot/daemon/api"
)

// client calls a running daemon's API as one token.
type client struct {
	base  string
	token string
	http  *http.Client
}

// clientFlags are the flags that say which daemon to call, as whom.
type clientFlags struct {
	config    string
	api       string
	tokenFile string
}

// addClientFlags declares the client flags on fs; offline commands take
// --config only.
func addClientFlags(fs *flag.FlagSet, env Env, offline bool) *clientFlags {
	f := &clientFlags{}
	fs.StringVar(&f.config, "config", env.ConfigPath, "the daemon's configuration file, to find its API address and data directory")
	if !offline {
		fs.StringVar(&f.api, "api", "", "API base URL (default: from the configuration)")
		fs.StringVar(&f.tokenFile, "token-file", "", "file holding an admin token (default: $EARSHOT_TOKEN, else <data_dir>/admin.token)")
	}
	return f
}

func (f *clientFlags) site(env Env) (Site, error) {
	if env.LoadSite == nil {
		return Site{}, errors.New("no configuration reader")
	}
	return env.LoadSite(f.config)
}

func (f *clientFlags) client(env Env) (*client, error) {
	site, err := f.site(env)
	if err != nil {
		return nil, err
	}
	c := &client{base: strings.TrimRight(site.API, "/"), http: &http.Client{Timeout: 30 * time.Second}}
	if f.api != "" {
		c.base = strings.TrimRight(f.api, "/")
	}
	if site.CACertFile != "" {
		if pem, err := os.ReadFile(site.CACertFile); err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			c.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		}
	}
	switch {
	case f.tokenFile != "":
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	case os.Getenv("EARSHOT_TOKEN") != "":
		c.token = strings.TrimSpace(os.Getenv("EARSHOT_TOKEN"))
	default:
		b, err := os.ReadFile(site.AdminTokenFile)
		if err != nil {
			return nil, fmt.Errorf("no token: set EARSHOT_TOKEN or --token-file (%w)", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	return c, nil
}

// send calls the API and returns the response when it is a success; a
// problem answer becomes an error carrying its detail and field.
func (c *client) send(hc *http.Client, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call the API at %s: %w", c.base, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p api.Problem
	if json.Unmarshal(data, &p) == nil && p.Status != 0 {
		msg := p.Detail
		if p.Field != "" {
			msg = "field " + p.Field + ": " + msg
		}
		return nil, fmt.Errorf("%s %s: %d %s: %s", method, path, p.Status, p.Title, msg)
	}
	return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
}

// do calls the API and decodes a JSON answer into out (if not nil).
func (c *client) do(method, path string, body, out any) error {
	resp, err := c.send(c.http, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}

// stream calls the API and copies a successful answer's body to w, with no
// time limit: backups of large databases take as long as they take.
func (c *client) stream(method, path string, w io.Writer) (int64, error) {
	hc := *c.http
	hc.Timeout = 0
	resp, err := c.send(&hc, method, path, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(w, resp.Body)
}
