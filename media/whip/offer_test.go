package whip

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/google/go-cmp/cmp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// pionOffer makes a real offer from a pion peer connection with the given
// audio codecs and number of audio tracks (stream and track ids sid/tid<i>).
func pionOffer(t *testing.T, codecs []webrtc.RTPCodecParameters, tracks int, ids ...string) string {
	t.Helper()
	me := &webrtc.MediaEngine{}
	for _, c := range codecs {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for i := range tracks {
		id := "audio"
		if i < len(ids) {
			id = ids[i]
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(codecs[0].RTPCodecCapability, id+"-track", id+"-stream")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTrack(tr); err != nil {
			t.Fatal(err)
		}
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}

var (
	opusCodec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
	pcmuCodec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}
	pcmaCodec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8}
	g722Codec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}, PayloadType: 9}
)

type statusErr struct{ code int }

func (e statusErr) Error() string   { return "engagement unknown" }
func (e statusErr) StatusCode() int { return e.code }

func TestPostRefusals(t *testing.T) {
	e := testServer(t, func(c *Config) { c.MaxSessions = 1 })
	good := pionOffer(t, []webrtc.RTPCodecParameters{opusCodec}, 1)
	for _, tc := range []struct {
		name     string
		ctype    string
		query    string
		body     string
		refuse   error
		status   int
		reason   string
		inDetail string
	}{
		{"malformed SDP", "application/sdp", "", "this is not SDP\r\n", nil, 400, "bad_sdp", "malformed SDP"},
		{"truncated m-line", "application/sdp", "", good[:strings.Index(good, "m=audio")+12], nil, 400, "bad_sdp", ""},
		{"wrong content type", "application/json", "", good, nil, 415, "bad_request", "application/sdp"},
		{"only G.722", "application/sdp", "", pionOffer(t, []webrtc.RTPCodecParameters{g722Codec}, 1), nil, 415, "unsupported_codec", "no supported audio codec"},
		{"no audio", "application/sdp", "", pionOffer(t, []webrtc.RTPCodecParameters{opusCodec}, 0), nil, 415, "unsupported_codec", "no audio m-section"},
		{"three tracks", "application/sdp", "", pionOffer(t, []webrtc.RTPCodecParameters{opusCodec}, 3, "a", "b", "c"), nil, 400, "bad_sdp", "at most 2"},
		{"bad party", "application/sdp", "?party=boss", good, nil, 400, "bad_sdp", `party "boss"`},
		{"two tracks one party", "application/sdp", "?party.0=agent&party.1=agent", pionOffer(t, []webrtc.RTPCodecParameters{opusCodec}, 2, "x", "y"), nil, 400, "bad_sdp", "customer and agent"},
		{"engagement refused", "application/sdp", "", good, statusErr{404}, 404, "engagement", "engagement unknown"},
		{"engagement error", "application/sdp", "", good, errors.New("missing engagement id"), 400, "engagement", "missing engagement id"},
		{"oversized offer", "application/sdp", "", good + strings.Repeat("a=x-pad:0123456789\r\n", 4000), nil, 413, "too_large", "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.col.refuse = tc.refuse
			before := testutil.ToFloat64(e.srv.m.refused.WithLabelValues(tc.reason))
			req, _ := http.NewRequest("POST", e.hs.URL+"/whip"+tc.query, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var p Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatalf("problem body: %v", err)
			}
			if p.Status != tc.status || p.Reason != tc.reason || !strings.Contains(p.Detail, tc.inDetail) {
				t.Errorf("problem = %+v, want status %d reason %s detail containing %q", p, tc.status, tc.reason, tc.inDetail)
			}
			if got := testutil.ToFloat64(e.srv.m.refused.WithLabelValues(tc.reason)) - before; got != 1 {
				t.Errorf("refusals_total{reason=%s} grew by %v, want 1", tc.reason, got)
			}
		})
	}
	e.col.refuse = nil

	// MaxSessions = 1: a second offer is refused with 503 while the first
	// session is open, and accepted once it is deleted.
	post := func() *http.Response {
		return authRequest(t, "POST", e.hs.URL+"/whip", "application/sdp", strings.NewReader(pionOffer(t, []webrtc.RTPCodecParameters{opusCodec}, 1)))
	}
	first := post()
	if first.StatusCode != 201 || !strings.HasPrefix(first.Header.Get("Location"), "/whip/") {
		t.Fatalf("first offer: %d Location %q, want 201 /whip/<id>", first.StatusCode, first.Header.Get("Location"))
	}
	if second := post(); second.StatusCode != 503 {
		t.Errorf("second offer with max_sessions 1: %d, want 503", second.StatusCode)
	}
	req, _ := http.NewRequest("DELETE", e.hs.URL+first.Header.Get("Location"), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("DELETE: %v %v", err, resp)
	}
	if third := post(); third.StatusCode != 201 {
		t.Errorf("offer after DELETE: %d, want 201", third.StatusCode)
	}
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 404 {
		t.Errorf("second DELETE: %d, want 404", resp.StatusCode)
	}
}

func TestAssignParties(t *testing.T) {
	for _, tc := range []struct {
		name  string
		secs  []audioSection
		query string
		want  []ingest.Party
		err   string
	}{
		{"one track default", []audioSection{{mid: "0"}}, "", []ingest.Party{"mixed"}, ""},
		{"one track party param", []audioSection{{mid: "0"}}, "party=agent", []ingest.Party{"agent"}, ""},
		{"two tracks positional", []audioSection{{mid: "0"}, {mid: "1"}}, "", []ingest.Party{"customer", "agent"}, ""},
		{"by mid", []audioSection{{mid: "0"}, {mid: "1"}}, "party.1=customer", []ingest.Party{"agent", "customer"}, ""},
		{"by stream id", []audioSection{{mid: "a", streamID: "s1"}, {mid: "b", streamID: "s2"}}, "party.s1=agent", []ingest.Party{"agent", "customer"}, ""},
		{"by track id", []audioSection{{mid: "a", trackID: "t1"}, {mid: "b", trackID: "t2"}}, "party.t2=agent&party.t1=customer", []ingest.Party{"customer", "agent"}, ""},
		{"id names party", []audioSection{{mid: "0", streamID: "call", trackID: "Agent-Mic"}, {mid: "1", trackID: "caller"}}, "", []ingest.Party{"agent", "customer"}, ""},
		{"both customer", []audioSection{{mid: "0", trackID: "customer1"}, {mid: "1", trackID: "customer2"}}, "", nil, "customer and agent"},
		{"bad value", []audioSection{{mid: "0"}}, "party.0=ceo", nil, `party "ceo"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			err := assignParties(tc.secs, q)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("assignParties = %v, want error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []ingest.Party
			for _, s := range tc.secs {
				got = append(got, s.party)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parties (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseOffer checks that no offer makes the offer parser panic.
func FuzzParseOffer(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n"), "party=agent")
	f.Add([]byte("garbage"), "")
	f.Fuzz(func(t *testing.T, b []byte, q string) {
		v, _ := url.ParseQuery(q)
		secs, err := parseOffer(b, v)
		if err == nil && (len(secs) == 0 || len(secs) > 2) {
			t.Fatalf("parseOffer accepted %d audio sections", len(secs))
		}
	})
}

// TestPipelineBusy: when the media pipeline is at capacity the offer is
// refused with 503 and counted, and nothing is left open.
func TestPipelineBusy(t *testing.T) {
	e := testServer(t, nil)
	cfg := pipeline.DefaultConfig()
	cfg.MaxEngagements = 1
	p, err := pipeline.New(cfg, nil, prometheus.NewRegistry(), engine)
	if err != nil {
		t.Fatal(err)
	}
	e.col.pipe = p
	post := func() *http.Response {
		req, _ := http.NewRequest("POST", e.hs.URL+"/whip", strings.NewReader(pionOffer(t, []webrtc.RTPCodecParameters{opusCodec}, 1)))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post(); r.StatusCode != 201 {
		t.Fatalf("first offer: %d, want 201", r.StatusCode)
	}
	if r := post(); r.StatusCode != 503 {
		t.Errorf("offer beyond the pipeline's capacity: %d, want 503", r.StatusCode)
	}
	if got := testutil.ToFloat64(e.srv.m.refused.WithLabelValues("busy")); got != 1 {
		t.Errorf("refusals_total{busy} = %v, want 1", got)
	}
	if n := e.srv.Sessions(); n != 1 {
		t.Errorf("%d sessions open, want 1", n)
	}
}
