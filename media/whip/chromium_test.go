package whip

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/ingest/ingesttest"
)

// page publishes the fake microphone over WHIP with the codec named in the
// query, waits until the test says stop, DELETEs the session and reports.
const page = `<!doctype html><title>whip</title><script>
const q = new URLSearchParams(location.search);
const report = (s) => fetch('/report?s=' + encodeURIComponent(s));
(async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true});
    const pc = new RTCPeerConnection({iceServers: []});
    const tr = pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly', streams: [stream]});
    const want = 'audio/' + q.get('codec');
    tr.setCodecPreferences(RTCRtpSender.getCapabilities('audio').codecs.filter(c => c.mimeType.toLowerCase() === want));
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise(res => {
      if (pc.iceGatheringState === 'complete') return res();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') res(); };
      setTimeout(res, 5000);
    });
    const auth = {'Authorization': 'Bearer ' + q.get('token')};
    const resp = await fetch(q.get('whip'), {method: 'POST',
      headers: Object.assign({'Content-Type': 'application/sdp'}, auth), body: pc.localDescription.sdp});
    if (resp.status !== 201) { await report('post ' + resp.status + ' ' + await resp.text()); return; }
    const loc = resp.headers.get('Location');
    await pc.setRemoteDescription({type: 'answer', sdp: await resp.text()});
    for (;;) {
      const r = await fetch('/stop');
      if ((await r.text()) === 'yes') break;
      await new Promise(res => setTimeout(res, 300));
    }
    const d = await fetch(loc, {method: 'DELETE', headers: auth});
    await report('done ' + d.status + ' ' + pc.connectionState);
  } catch (e) { await report('error ' + e); }
})();
</script>`

// startChromium runs headless Chromium on url; it is killed (with its
// child processes) when the test ends.
func startChromium(t *testing.T, pageURL, wav string) {
	t.Helper()
	bin := testdep.Program(t, "chromium", "chromium")
	profile := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--allow-loopback-in-peer-connection", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
		"--use-file-for-fake-audio-capture="+wav, "--autoplay-policy=no-user-gesture-required",
		"--user-data-dir="+profile, pageURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(profile, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = log.Close()
		if t.Failed() {
			if b, err := os.ReadFile(log.Name()); err == nil {
				t.Logf("chromium output (tail):\n%s", tail(string(b), 3000))
			}
		}
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestChromiumWHIP publishes synthesised speech from headless Chromium over
// WHIP with Opus and with PCMU and checks that the decoded audio has the
// shape of the speech that was sent.
func TestChromiumWHIP(t *testing.T) {
	for _, tc := range []struct {
		codec string
		rate  int
	}{
		{"opus", 16000},
		{"pcmu", 8000},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			t.Parallel()
			e := testServer(t, nil)
			wav, _, said := speech(t, "0880", 48000)
			_, src, _ := speech(t, "0880", tc.rate)
			srcSecs := float64(len(src)) / float64(tc.rate)

			var stop atomic.Bool
			reports := make(chan string, 4)
			e.mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, page)
			})
			e.mux.HandleFunc("/stop", func(w http.ResponseWriter, r *http.Request) {
				if stop.Load() {
					fmt.Fprint(w, "yes")
				} else {
					fmt.Fprint(w, "no")
				}
			})
			e.mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
				select {
				case reports <- r.URL.Query().Get("s"):
				default:
				}
			})
			q := url.Values{"codec": {tc.codec}, "token": {testToken}, "whip": {e.hs.URL + "/whip?engagement=e1&party=customer"}}
			startChromium(t, e.hs.URL+"/page?"+q.Encode(), wav)

			var eng *recEngagement
			select {
			case eng = <-e.col.opened:
			case r := <-reports:
				t.Fatalf("page: %s", r)
			case <-time.After(60 * time.Second):
				t.Fatal("no WHIP session within 60 s")
			}
			// Collect two loops of the speech, then let the page DELETE.
			deadline := time.After(90 * time.Second)
			for eng.Party("customer").Seconds() < 2*srcSecs+1 {
				select {
				case r := <-reports:
					t.Fatalf("page: %s", r)
				case <-deadline:
					t.Fatalf("only %.1f s of audio after 90 s", eng.Party("customer").Seconds())
				case <-time.After(200 * time.Millisecond):
				}
			}
			stop.Store(true)
			select {
			case r := <-reports:
				if !strings.HasPrefix(r, "done 200") {
					t.Fatalf("page: %s", r)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("page did not report after stop")
			}
			select {
			case <-eng.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("engagement not closed after DELETE")
			}
			if eng.Err() != nil {
				t.Errorf("engagement closed with %v, want nil after DELETE", eng.Err())
			}
			if got := eng.meta.Query.Get("engagement"); got != "e1" {
				t.Errorf("engagement metadata = %q, want e1", got)
			}
			p := eng.Party("customer")
			if p == nil || string(p.Format.Codec) != tc.codec {
				t.Fatalf("customer party %+v, want codec %s", p, tc.codec)
			}
			pcm, rate := p.Audio()
			r, lag := ingesttest.BestMatch(src, tc.rate, pcm, rate)
			text := eng.Transcript(t, "customer")
			found, total := wordsFound(said, text)
			stats := eng.PE.Stats()["customer"]
			t.Logf("%s: transcript %q", tc.codec, text)
			t.Logf("%s: %.1f s received, %d ms silence inserted, %d lost, %v padding-only packets, envelope correlation %.3f at %d ms; %d/%d words recognised",
				tc.codec, float64(len(pcm))/float64(rate), stats.SilenceMs, stats.PacketsLost,
				testutil.ToFloat64(e.srv.m.dropped.WithLabelValues(tc.codec, "empty")), r, lag*20, found, total)
			if r < 0.8 {
				t.Errorf("received audio does not match the speech sent: correlation %.3f, want >= 0.8", r)
			}
			if found < total/3 {
				t.Errorf("transcript has %d of the %d words said, want >= %d", found, total, total/3)
			}
			if e.srv.Sessions() != 0 {
				t.Errorf("%d sessions open after DELETE", e.srv.Sessions())
			}
		})
	}
}
