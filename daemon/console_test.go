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

// consoleFile reads one of the console's embedded files.
func consoleFile(t *testing.T, name string) string {
	t.Helper()
	b, err := console.Files.ReadFile("static/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConsoleMessages checks the message catalogue: every message the
// script and the page name exists in English, every page of the
// navigation has its label, and every message of the catalogue is used.
func TestConsoleMessages(t *testing.T) {
	cat := consoleFile(t, "messages.js")
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+"([a-z0-9_.]+)": "`).FindAllStringSubmatch(cat, -1) {
		if known[m[1]] {
			t.Errorf("message %q is in the English catalogue twice", m[1])
		}
		known[m[1]] = true
	}
	if len(known) < 20 {
		t.Fatalf("the catalogue has %d messages", len(known))
	}
	app, page := consoleFile(t, "app.js"), consoleFile(t, "index.html")
	used := map[string]bool{}
	// The first argument of t( is a message id, or a choice between ids
	// (cond ? "a.b" : "a.c"); "nav." + name is checked through the pages.
	for _, m := range regexp.MustCompile(`\bt\(((?:[^(){},]|\(\))*)`).FindAllStringSubmatch(app, -1) {
		ids := regexp.MustCompile(`"([^"]*\.[^"]*)"`).FindAllStringSubmatch(m[1], -1)
		if len(ids) == 0 {
			t.Errorf("t(%s…) names no message id", m[1])
		}
		for _, id := range ids {
			if !strings.HasSuffix(id[1], ".") {
				used[id[1]] = true
			}
		}
	}
	for _, m := range regexp.MustCompile(`data-msg(?:-aria)?="([a-z0-9_.]+)"`).FindAllStringSubmatch(page, -1) {
		used[m[1]] = true
	}
	pages := regexp.MustCompile(`(?s)const pages = \{(.*?)\n\};`).FindStringSubmatch(app)
	if pages == nil {
		t.Fatal("no page table in app.js")
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+([a-z]+): \{ roles`).FindAllStringSubmatch(pages[1], -1) {
		used["nav."+m[1]] = true
	}
	if len(used) < 30 {
		t.Fatalf("found %d message uses", len(used))
	}
	for id := range used {
		if !known[id] {
			t.Errorf("message %q is used but not in the English catalogue", id)
		}
	}
	for id := range known {
		if !used[id] {
			t.Errorf("message %q is in the catalogue but neither app.js nor index.html uses it", id)
		}
	}
}

// TestConsoleTextInCatalogue fails when app.js shows text that is not in
// the message catalogue, so that the console stays ready for
// translation. It is a heuristic over the script's string literals: text
// is a literal with a capital letter or two words, or a literal in a
// place where the page shows it (an element's text, a choice between two
// texts, a status line, a fallback).
func TestConsoleTextInCatalogue(t *testing.T) {
	app := consoleFile(t, "app.js")
	// Comments and class names are not text.
	app = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(app, "")
	app = regexp.MustCompile(`(?m)(^|\s)//\s.*$`).ReplaceAllString(app, "")
	app = regexp.MustCompile(`class: "[^"]*"(?:\s*\+\s*(?:\([^()]*\)|[\w.]+))*`).ReplaceAllString(app, "class: x")
	// Literals that are protocol or message ids, not text.
	allowed := map[string]bool{
		"Authorization": true, "Bearer ": true, "Content-Type": true,
		"POST": true, "PUT": true, "PATCH": true, "DELETE": true,
		"#nav a": true, "T00:00:00": true,
		// Class names of status lines, and the route a report defaults to.
		"ok": true, "muted": true, "error": true, "queue": true,
	}
	id := regexp.MustCompile(`^[a-z]+(?:\.[a-z0-9_]+)+$`)
	mime := regexp.MustCompile(`^[a-z]+/[a-z0-9.+-]+$`)
	letters := regexp.MustCompile(`[A-Za-z]`)
	text := regexp.MustCompile(`[A-Z]|[A-Za-z]\s+[A-Za-z]`)
	literal := regexp.MustCompile("\"((?:[^\"\\\\\n]|\\\\.)*)\"|`([^`]*)`")
	report := func(why, lit string) {
		if !allowed[lit] && !mime.MatchString(lit) && !id.MatchString(lit) && letters.MatchString(lit) {
			t.Errorf("app.js shows %s %q: move it into messages.js and look it up with t()", why, lit)
		}
	}
	for _, m := range literal.FindAllStringSubmatch(app, -1) {
		lit := m[1]
		if m[1] == "" && m[2] != "" {
			lit = regexp.MustCompile(`\$\{[^}]*\}`).ReplaceAllString(m[2], "")
		}
		if text.MatchString(lit) {
			report("the text", lit)
		}
	}
	for _, p := range []struct{ why, re string }{
		{"the element text", `\b(?:el|svg)\("[a-z0-9]+",\s*\{[^{}]*\},\s*"([^"]*)"`},
		{"the element text", `\},\s*"([^"]*)"\s*\)`},
		{"the choice", `\?\s*"([^"]*)"\s*:`},
		{"the choice", `\?\s*"[^"]*"\s*:\s*"([^"]*)"`},
		{"the status", `\bstatus\(\s*"([^"]*)"`},
		{"the status", `\bflash\([^,()]+(?:\([^()]*\))?,\s*"([^"]*)"`},
		{"the status", `\.textContent\s*=\s*"([^"]*)"`},
		{"the label", `"aria-label":\s*"([^"]*)"`},
		{"the fallback", `\|\|\s*"([^"]*)"`},
	} {
		for _, m := range regexp.MustCompile(p.re).FindAllStringSubmatch(app, -1) {
			report(p.why, m[1])
		}
	}
}
