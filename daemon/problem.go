package daemon

import (
	"encoding/json"
	"net/http"

	"github.com/earshot/earshot/daemon/api"
)

// Problem is an RFC 9457 problem details object, the body of every error
// response of the API.
type Problem = api.Problem

// problemBase prefixes the type URIs of Earshot's problems; they are
// identifiers, documented in the OpenAPI document, not fetched.
const problemBase = "https://earshot.invalid/problems/"

func writeProblem(w http.ResponseWriter, r *http.Request, status int, kind, detail string) {
	writeProblemField(w, r, status, kind, detail, "")
}

func writeProblemField(w http.ResponseWriter, r *http.Request, status int, kind, detail, field string) {
	p := Problem{
		Type:     problemBase + kind,
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: r.URL.Path,
		Field:    field,
	}
	if kind == "" {
		p.Type = "about:blank"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
