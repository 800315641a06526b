package whip

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/codec/opus"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/voice"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// received is what a browser-side pion client got from the bot's track.
type received struct {
	mu      sync.Mutex
	packets []*rtp.Packet
	pt      webrtc.PayloadType
}

func (r *received) get() []*rtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*rtp.Packet(nil), r.packets...)
}

// dialVoice opens a two-way session at /voice with a pion client that
// offers cp and sends it (silence, every 20 ms, as a muted microphone
// would) and records every RTP packet of the server's track.
func (e *env) dialVoice(t *testing.T, id string, cp webrtc.RTPCodecParameters) (*pionClient, *received, *recEngagement) {
	t.Helper()
	rec := &received{}
	c := dialPionWith(t, e.hs.URL+"/voice?engagement="+id, cp, func(pc *webrtc.PeerConnection) {
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			rec.mu.Lock()
			rec.pt = tr.PayloadType()
			rec.mu.Unlock()
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				rec.mu.Lock()
				rec.packets = append(rec.packets, p)
				rec.mu.Unlock()
			}
		})
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the caller's microphone
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		silence, step := micSilence(t, cp)
		for seq := uint16(1); ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			_ = c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * step}, Payload: silence})
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c, rec, <-e.col.opened
}

// micSilence is one 20 ms packet of silence in cp and the RTP timestamp
// step per packet.
func micSilence(t *testing.T, cp webrtc.RTPCodecParameters) ([]byte, uint32) {
	t.Helper()
	if cp.MimeType != webrtc.MimeTypeOpus {
		return bytes.Repeat([]byte{0xff}, 160), 160
	}
	enc, err := opus.NewEncoder(opus.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	p, err := enc.Encode(nil, make([]int16, enc.FrameSamples()))
	if err != nil {
		t.Fatal(err)
	}
	return p, opus.ClockStep
}

// voiceServer is testServer with the two-way handler at /voice.
func voiceServer(t *testing.T) *env {
	e := testServer(t, nil)
	h := e.srv.VoiceHandler("/voice")
	e.mux.Handle("/voice", auth(h))
	e.mux.Handle("/voice/", auth(h))
	return e
}

// TestVoiceLeg: a browser-side pion client opens a two-way session; the
// bot plays a recorded prompt, pauses, and plays a short tone. The client
// receives 20 ms packets in the negotiated codec (Opus when offered, else
// PCMU) on one SSRC (the answer's), sequence numbers increasing by one,
// timestamps by one frame on the codec's clock (960 at 48 kHz for Opus, 160
// at 8 kHz for PCMU) within a talkspurt and by about the pause across it,
// the marker bit on each talkspurt's first packet; and PocketSphinx finds
// the prompt's words in what it received. Hangup ends the session.
func TestVoiceLeg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		offer  webrtc.RTPCodecParameters
		rate   int    // the leg's PCM rate
		step   uint32 // timestamp per packet
		clock  uint32 // RTP clock, per ms
		format codec.Format
	}{
		{"opus", opusCodec, 16000, 960, 48, codec.Format{Codec: codec.Opus}},
		{"pcmu", pcmuCodec, 8000, 160, 8, codec.Format{Codec: codec.PCMU, SampleRate: 8000, Channels: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := voiceServer(t)
			c, rec, eng := e.dialVoice(t, "v-"+tc.name, tc.offer)
			leg := eng.meta.Leg
			if leg == nil {
				t.Fatal("a two-way session's Meta has no Leg")
			}
			if leg.Rate() != tc.rate {
				t.Errorf("leg rate %d, want %d", leg.Rate(), tc.rate)
			}
			if !strings.Contains(c.answer, "a=sendrecv") {
				t.Errorf("answer is not sendrecv:\n%s", c.answer)
			}
			m := regexp.MustCompile(`a=ssrc:(\d+) `).FindStringSubmatch(c.answer)
			if m == nil {
				t.Fatalf("answer names no SSRC:\n%s", c.answer)
			}
			ssrc, _ := strconv.ParseUint(m[1], 10, 32)
			_, pcm, said := speech(t, "0930", tc.rate)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := leg.Play(ctx, pcm); err != nil {
				t.Fatal(err)
			}
			select {
			case <-leg.Mark():
			case <-ctx.Done():
				t.Fatal("mark not reached")
			}
			frame := tc.rate / 50
			first := (len(pcm) + frame - 1) / frame
			waitFor(t, "the prompt's packets", func() bool { return len(rec.get()) >= first })
			pause := time.Now()
			waitFor(t, "a pause of 300 ms", func() bool { return time.Since(pause) >= 300*time.Millisecond })
			tone := make([]int16, tc.rate/2)
			for i := range tone {
				tone[i] = int16(6000 * (1 - 2*float64((i/9)%2)))
			}
			if err := leg.Play(ctx, tone); err != nil {
				t.Fatal(err)
			}
			<-leg.Mark()
			all := first + len(tone)/frame
			waitFor(t, "the tone's packets", func() bool { return len(rec.get()) >= all })
			pkts := rec.get()
			if len(pkts) != all {
				t.Fatalf("received %d packets, want %d", len(pkts), all)
			}
			rec.mu.Lock()
			pt := rec.pt
			rec.mu.Unlock()
			if pt != tc.offer.PayloadType {
				t.Errorf("track payload type %d, want the offer's %d", pt, tc.offer.PayloadType)
			}
			var frames [][]byte
			for i, p := range pkts {
				size := len(p.Payload) > 0 && len(p.Payload) <= 400
				if tc.format.Codec == codec.PCMU {
					size = len(p.Payload) == frame
				}
				if p.SSRC != uint32(ssrc) || p.PayloadType != uint8(tc.offer.PayloadType) || !size {
					t.Fatalf("packet %d: SSRC %d PT %d %d bytes, want SSRC %d PT %d, one 20 ms frame", i, p.SSRC, p.PayloadType, len(p.Payload), ssrc, tc.offer.PayloadType)
				}
				if (i == 0 || i == first) != p.Marker {
					t.Errorf("packet %d: marker %v, want it on each talkspurt's first packet only", i, p.Marker)
				}
				if i < first {
					frames = append(frames, p.Payload)
				}
				if i == 0 {
					continue
				}
				if d := p.SequenceNumber - pkts[i-1].SequenceNumber; d != 1 {
					t.Errorf("packet %d: sequence number +%d, want +1", i, d)
				}
				d := p.Timestamp - pkts[i-1].Timestamp
				switch {
				case i == first && (d < tc.clock*300 || d%tc.step != 0):
					t.Errorf("timestamp across the pause +%d, want >= %d (300 ms) in whole frames", d, tc.clock*300)
				case i != first && d != tc.step:
					t.Errorf("packet %d: timestamp +%d, want +%d", i, d, tc.step)
				}
			}
			text := ingesttest.TranscribeRTP(t, engine, "browser", tc.format, tc.step, frames)
			found, total := wordsFound(said, text)
			t.Logf("browser heard %q (%d/%d words of %q)", text, found, total, said)
			if found < total/2 {
				t.Errorf("transcript has %d of the %d words played, want >= %d", found, total, total/2)
			}
			if got := testutil.ToFloat64(e.srv.m.legOut.WithLabelValues("rtp")); got != float64(all) {
				t.Errorf("rtp sent metric = %v, want %d", got, all)
			}
			if got := testutil.ToFloat64(e.srv.m.voiceCodec.WithLabelValues(string(tc.format.Codec))); got != 1 {
				t.Errorf("voice sessions with codec %s = %v, want 1", tc.format.Codec, got)
			}
			if err := leg.Transfer(ctx, "tel:+15550100"); !errors.Is(err, voice.ErrUnsupported) {
				t.Errorf("Transfer = %v, want ErrUnsupported", err)
			}
			if err := leg.Hangup(ctx, "goodbye"); err != nil {
				t.Fatal(err)
			}
			if err := eng.WaitClosed(t); err != nil {
				t.Errorf("engagement closed with %v after hangup, want nil", err)
			}
			waitFor(t, "the session counted as ended by hangup", func() bool {
				return testutil.ToFloat64(e.srv.m.ended.WithLabelValues("hangup")) == 1
			})
			if err := leg.Play(ctx, tone); !errors.Is(err, voice.ErrHungUp) {
				t.Errorf("Play after hangup = %v, want ErrHungUp", err)
			}
		})
	}
}

// TestVoicePrefersOpus: a browser-like offer with PCMU, PCMA and Opus (in
// that order) gets Opus; the caller's Opus audio reaches the pipeline as
// Opus.
func TestVoicePrefersOpus(t *testing.T) {
	t.Parallel()
	e := voiceServer(t)
	offer := pionOffer(t, []webrtc.RTPCodecParameters{pcmuCodec, pcmaCodec, opusCodec}, 1)
	_, answer := postOffer(t, e.hs.URL+"/voice?engagement=pref", offer)
	eng := <-e.col.opened
	if !strings.Contains(answer, "opus/48000/2") || strings.Contains(answer, "PCMU/8000") {
		t.Errorf("answer does not choose Opus alone:\n%s", answer)
	}
	if got := eng.meta.Leg.Rate(); got != 16000 {
		t.Errorf("leg rate %d, want 16000 (Opus)", got)
	}
	if got := testutil.ToFloat64(e.srv.m.voiceCodec.WithLabelValues("opus")); got != 1 {
		t.Errorf("opus voice sessions = %v, want 1", got)
	}
}

// TestVoiceLegClear: Clear during a long prompt stops the packets at once.
func TestVoiceLegClear(t *testing.T) {
	t.Parallel()
	e := voiceServer(t)
	_, rec, eng := e.dialVoice(t, "v2", pcmuCodec)
	leg := eng.meta.Leg
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- leg.Play(ctx, make([]int16, 8000*10)) }()
	waitFor(t, "the prompt's first packets", func() bool { return len(rec.get()) >= 10 })
	leg.Clear()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-leg.Mark() // behind anything still queued
	n := len(rec.get())
	// One packet may have been in flight when Clear came.
	tone := make([]int16, 160*5)
	if err := leg.Play(ctx, tone); err != nil {
		t.Fatal(err)
	}
	<-leg.Mark()
	waitFor(t, "the packets after the clear", func() bool { return len(rec.get()) >= n+5 })
	if sent := testutil.ToFloat64(e.srv.m.legOut.WithLabelValues("rtp")); sent != float64(n+5) || n >= 8000*10/160 {
		t.Errorf("%v packets sent, %d before the clear's end: the cleared prompt went on", sent, n)
	}
}

// TestVoiceRefusals: two-way offers the server cannot serve are refused
// with a problem and counted: two audio tracks, no codec in common.
func TestVoiceRefusals(t *testing.T) {
	t.Parallel()
	e := voiceServer(t)
	for _, tc := range []struct {
		name   string
		offer  string
		status int
		reason string
	}{
		{"two tracks", pionOffer(t, []webrtc.RTPCodecParameters{pcmuCodec}, 2, "customer", "agent"), http.StatusBadRequest, "bad_sdp"},
		{"g722 only", pionOffer(t, []webrtc.RTPCodecParameters{g722Codec}, 1), http.StatusUnsupportedMediaType, "unsupported_codec"},
	} {
		resp := authRequest(t, "POST", e.hs.URL+"/voice", "application/sdp", strings.NewReader(tc.offer))
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	for reason, want := range map[string]float64{"bad_sdp": 1, "unsupported_codec": 1} {
		if got := testutil.ToFloat64(e.srv.m.refused.WithLabelValues(reason)); got != want {
			t.Errorf("refusals %s = %v, want %v", reason, got, want)
		}
	}
}
