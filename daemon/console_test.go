package daemon

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/earshot/earshot/daemon/console"
)

func TestConsoleServed(t *testing.T) {
	td := startDaemon(t, nil)
	for _, tc := range []struct{ path, want, ctype string }{
		{"/console/", "<title>Earshot</title>", "text/html"},
		{"/console/app.js", "/api/v1/whoami", "text/javascript"},
		{"/console/style.css", "--accent", "text/css"},
		{"/console/messages.js", "export const catalogues", "text/javascript"},
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

// TestConsoleMessages checks the message catalogue: every message the
// script and the page name exists in English, and every page of the
// navigation has its label.
func TestConsoleMessages(t *testing.T) {
	read := func(name string) string {
		b, err := console.Files.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cat := read("messages.js")
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+"([a-z_.]+)": "`).FindAllStringSubmatch(cat, -1) {
		known[m[1]] = true
	}
	if len(known) < 20 {
		t.Fatalf("the catalogue has %d messages", len(known))
	}
	app, page := read("app.js"), read("index.html")
	var used []string
	for _, m := range regexp.MustCompile(`\bt\("([a-z_.]+)"[,)]`).FindAllStringSubmatch(app, -1) {
		used = append(used, m[1])
	}
	for _, m := range regexp.MustCompile(`data-msg(?:-aria)?="([a-z_.]+)"`).FindAllStringSubmatch(page, -1) {
		used = append(used, m[1])
	}
	pages := regexp.MustCompile(`(?s)const pages = \{(.*?)\n\};`).FindStringSubmatch(app)
	if pages == nil {
		t.Fatal("no page table in app.js")
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+([a-z]+): \{ roles`).FindAllStringSubmatch(pages[1], -1) {
		used = append(used, "nav."+m[1])
	}
	if len(used) < 30 {
		t.Fatalf("found %d message uses", len(used))
	}
	for _, id := range used {
		if !known[id] {
			t.Errorf("message %q is used but not in the English catalogue", id)
		}
	}
}
