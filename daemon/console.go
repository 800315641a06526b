package daemon

import (
	"embed"
	"io/fs"
	"net/http"
)

// consoleFiles is the web console: static files that call the API.
//
//go:embed console
var consoleFiles embed.FS

// consoleHandler serves the console under /console/ with a strict content
// security policy: scripts and styles from the daemon itself only.
func consoleHandler() http.Handler {
	sub, _ := fs.Sub(consoleFiles, "console")
	files := http.StripPrefix("/console/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
