package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// How updates work across the API (daemon/api's package doc): PUT replaces
// a whole record and so needs every member, PATCH changes only the members
// it carries. Neither ever drops a member the caller did not name.

// readBody reads a JSON body once (bounded), so that it can be decoded
// into a struct and inspected for the members present.
func (d *Daemon) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody), "")
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

// members returns the top-level members of a JSON object body, by lower-
// case name (decodeJSON matches names without regard to case).
func members(body []byte) map[string]json.RawMessage {
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(body, &raw) // decodeJSON has already refused a body that is not an object
	out := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		out[strings.ToLower(k)] = v
	}
	return out
}

// decodeReplace decodes the body of a PUT that replaces a record into v;
// every member named in required must be present.
func (d *Daemon) decodeReplace(w http.ResponseWriter, r *http.Request, v any, required ...string) bool {
	body, ok := d.readBody(w, r)
	if !ok || !d.decodeJSON(w, r, v) {
		return false
	}
	m := members(body)
	for _, name := range required {
		if _, ok := m[name]; !ok {
			d.badRequest(w, r, http.StatusBadRequest,
				name+" is required: PUT replaces the whole record (PATCH changes only the members it carries)", name)
			return false
		}
	}
	return true
}

// decodePatch decodes the body of a PATCH into v, whose members are
// pointers (nil = keep). It refuses an empty patch and a null member, which
// would otherwise read as "keep" when the caller may have meant "clear".
func (d *Daemon) decodePatch(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := d.readBody(w, r)
	if !ok || !d.decodeJSON(w, r, v) {
		return false
	}
	m := members(body)
	if len(m) == 0 {
		d.badRequest(w, r, http.StatusBadRequest, "nothing to change: give at least one member", "")
		return false
	}
	for name, raw := range m {
		if string(bytes.TrimSpace(raw)) == "null" {
			d.badRequest(w, r, http.StatusBadRequest, name+" is null: give a value (an empty one to clear it) or leave it out to keep it", name)
			return false
		}
	}
	return true
}
