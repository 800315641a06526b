package daemon

import (
	"encoding/json"
	"fmt"
	"log/slog"
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

// writeJSON answers with v as JSON. v is encoded before anything is sent,
// so that a value JSON cannot carry (NaN, an infinity) becomes a 500
// problem rather than a success with an empty body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		slog.Error("daemon: answer not encodable as JSON", "status", status, "type", fmt.Sprintf("%T", v), "err", err)
		p := Problem{Type: problemBase + "internal", Title: http.StatusText(http.StatusInternalServerError),
			Status: http.StatusInternalServerError, Detail: "the answer could not be encoded; see the daemon's log"}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
