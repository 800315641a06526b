package whip

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestResourceBounds: an SDP offer of the largest size allowed (64 KiB) is
// served; one ten times larger is refused with 413, and so is a trickle
// fragment ten times the limit, with their length announced or chunked,
// all counted and allocating less than four times the limit: a body
// announced too long is not read, others are read into one buffer up to
// the limit and no further (they used to be read by doubling, which
// allocated about twice the limit). Allocations are the whole process's
// (TotalAlloc), the test's own HTTP client included (some 65 KiB with
// its new connection, 32 KiB more to send chunked), so the bound holds
// what the server held at most.
func TestResourceBounds(t *testing.T) {
	e := testServer(t, nil)
	const bound = 4 // times the allowed size
	// do sends body with its length announced, or chunked (the length
	// unknown until it ends).
	do := func(method, path, ctype string, body []byte, chunked bool) *http.Response {
		t.Helper()
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // hides the length from the client
		}
		return authRequest(t, method, e.hs.URL+path, ctype, rd)
	}
	offer := pionOffer(t, []webrtc.RTPCodecParameters{opusCodec}, 1)
	pad := func(n int) string { // SDP attribute lines of n bytes in all
		line := "a=x-pad:" + strings.Repeat("p", 90) + "\r\n"
		s := strings.Repeat(line, n/len(line))
		if r := n % len(line); r > 0 {
			s += "a=x-pad:" + strings.Repeat("p", max(r-10, 0)) + "\r\n"
		}
		return s
	}
	largest := offer + pad(maxOfferBytes-len(offer))
	if len(largest) != maxOfferBytes {
		t.Fatalf("offer of %d bytes, want %d", len(largest), maxOfferBytes)
	}
	first := do("POST", "/whip?engagement=largest", "application/sdp", []byte(largest), true)
	if first.StatusCode != 201 {
		t.Fatalf("offer of %d bytes: %d, want 201", len(largest), first.StatusCode)
	}
	session := first.Header.Get("Location")
	tenfold := []byte(offer + pad(10*maxOfferBytes-len(offer)))

	offers := func() float64 { return testutil.ToFloat64(e.srv.m.refused.WithLabelValues("too_large")) }
	fragments := func() float64 { return testutil.ToFloat64(e.srv.m.sessRefused.WithLabelValues("PATCH", "too_large")) }
	for _, tc := range []struct {
		name, method, path, ctype string
		chunked                   bool
		counter                   func() float64
	}{
		{"offer", "POST", "/whip?engagement=tenfold", "application/sdp", false, offers},
		{"offer chunked", "POST", "/whip?engagement=tenfold", "application/sdp", true, offers},
		{"trickle fragment", "PATCH", session, "application/trickle-ice-sdpfrag", false, fragments},
		{"trickle fragment chunked", "PATCH", session, "application/trickle-ice-sdpfrag", true, fragments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.counter()
			var status int
			alloc := ingesttest.Allocated(func() { status = do(tc.method, tc.path, tc.ctype, tenfold, tc.chunked).StatusCode })
			if status != http.StatusRequestEntityTooLarge {
				t.Errorf("%d bytes: %d, want 413", len(tenfold), status)
			}
			if got := tc.counter() - before; got != 1 {
				t.Errorf("refusals{too_large} grew by %v, want 1", got)
			}
			t.Logf("%d bytes sent, %d KiB allocated meanwhile (bound %d KiB)", len(tenfold), alloc>>10, bound*maxOfferBytes>>10)
			if alloc > bound*maxOfferBytes {
				t.Errorf("%d bytes allocated refusing a %d-byte body, want under %d", alloc, len(tenfold), bound*maxOfferBytes)
			}
		})
	}
	if res := do("DELETE", session, "", nil, false); res.StatusCode != 200 {
		t.Errorf("DELETE: %d", res.StatusCode)
	}
	if res := do("DELETE", session, "", nil, false); res.StatusCode != 404 {
		t.Errorf("second DELETE: %d, want 404", res.StatusCode)
	}
	if got := testutil.ToFloat64(e.srv.m.sessRefused.WithLabelValues("DELETE", "not_found")); got != 1 {
		t.Errorf("session_refusals_total{DELETE,not_found} = %v, want 1", got)
	}
}
