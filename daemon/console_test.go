package daemon

import (
	"net/http"
	"strings"
	"testing"
)

func TestConsoleServed(t *testing.T) {
	td := startDaemon(t, nil)
	for _, tc := range []struct{ path, want, ctype string }{
		{"/console/", "<title>Earshot</title>", "text/html"},
		{"/console/app.js", "/api/v1/whoami", "text/javascript"},
		{"/console/style.css", "--accent", "text/css"},
	} {
		resp, err := http.Get(td.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(b.String(), tc.want) || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s = %d %s, want %s containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype, tc.want)
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s lacks the content security policy", tc.path)
		}
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(td.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/console/" {
		t.Errorf("GET / = %d → %s, want 302 to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}
}
