package daemon

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem details object, the body of every error
// response of the API.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the request field at fault, when there is one.
	Field string `json:"field,omitempty"`
}

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

// writeJSON encodes v before it writes the status, so that a value that
// cannot be encoded (a non-finite number) is a 500 problem, never a 2xx
// with an empty or cut body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		p := Problem{Type: problemBase + "internal", Title: http.StatusText(http.StatusInternalServerError),
			Status: http.StatusInternalServerError, Detail: "the response could not be encoded"}
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
