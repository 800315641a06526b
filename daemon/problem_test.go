package daemon

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"testing"
)

// TestWriteJSONNeverEmptySuccess: an answer JSON cannot carry becomes a
// 500 problem, not a 200 with an empty body.
func TestWriteJSONNeverEmptySuccess(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, 200, map[string]float64{"volume": math.Inf(1)})
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != 500 || p.Status != 500 {
		t.Errorf("writeJSON(+Inf) = %d %q (%v), want a 500 problem", rec.Code, rec.Body.String(), err)
	}
	rec = httptest.NewRecorder()
	writeJSON(rec, 201, map[string]int{"n": 1})
	if rec.Code != 201 || rec.Body.String() != "{\n  \"n\": 1\n}\n" {
		t.Errorf("writeJSON = %d %q", rec.Code, rec.Body.String())
	}
}
