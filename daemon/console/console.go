// Package console is Earshot's web console: static files (plain ES
// modules, no build step) that call the daemon's HTTP API with the signed-in
// user's token. Every page shows only what the user's role may use.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

// Files holds the console's static files under static/.
//
//go:embed static
var Files embed.FS

// CSP is the console's content security policy: scripts, styles and
// connections to the daemon itself only; no inline code, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Handler serves the console under prefix (e.g. "/console/").
func Handler(prefix string) http.Handler {
	sub, err := fs.Sub(Files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fh := http.StripPrefix(prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		fh.ServeHTTP(w, r)
	})
}
