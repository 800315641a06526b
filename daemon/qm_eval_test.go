//go:build eval

package daemon

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/vad"
	"github.com/earshot/earshot/store"
)

// The speaker-metrics ground truth: two-party calls built with sox from
// real speech (pocketsphinx-testdata's LibriVox recordings), each
// recording placed whole on its party's track at a known offset, with
// deliberate overlaps (one party starting 1.2 s after the other's onset,
// while the other still speaks) and silences (5-7 s gaps). The truth of
// each placed recording is its speech measured by energy on the
// recording alone, before it is placed (ingesttest.SpeechRuns: runs under
// a second apart are one utterance), shifted by its offset:
//   - talk time of a party: the sum of its recordings' speech;
//   - silence: from 0 to the last speech's end, the time neither party speaks;
//   - interruptions: the constructed overlaps, and nothing else.
// Twelve calls: five uploaded as 16 kHz PCM WAV, four as 8 kHz mu-law WAV,
// three streamed live as mu-law through the Twilio Media Streams
// WebSocket. Targets (issue 15): talk time within 5 % per party, silence
// within 300 ms, every constructed interruption counted, no phantom one.

var clipIDs = []string{"0880", "0890", "0920", "0870"}

type clip struct {
	id       string
	raw      []int16 // at the call's rate
	runs     [][2]int64
	onset    int64
	offset   int64
	lengthMS int64
}

type placed struct {
	party string
	clip  *clip
	pad   int64 // ms of silence before the recording
}

type truthCall struct {
	rate          int
	placed        []placed
	speech        map[string][][2]int64 // per party, absolute ms
	interruptions []qm.Interruption
	end           int64 // the last speech's end
}

func loadClip(t *testing.T, dir, id string, rate int) *clip {
	src := "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-" + id + ".wav"
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("test speech missing (Debian package pocketsphinx-testdata): %v", err)
	}
	out := filepath.Join(dir, fmt.Sprintf("%s-%d.raw", id, rate))
	runSox(t, src, "-r", strconv.Itoa(rate), "-c", "1", "-b", "16", "-e", "signed-integer", "-L", "-t", "raw", out)
	b, _ := os.ReadFile(out)
	pcm := ingesttest.LE16(b)
	runs := ingesttest.SpeechRuns(pcm, rate)
	if len(runs) == 0 {
		t.Fatalf("%s: no speech", id)
	}
	return &clip{id: id, raw: pcm, runs: runs, onset: runs[0][0], offset: runs[len(runs)-1][1], lengthMS: int64(len(pcm)) * 1000 / int64(rate)}
}

// loadClips loads the recordings at both rates into a temporary
// directory, which it returns for the calls' files.
func loadClips(t *testing.T) (string, map[int][]*clip) {
	if _, err := exec.LookPath("sox"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sox missing")
		}
		t.Skip("sox missing: install the Debian package sox")
	}
	dir := t.TempDir()
	clips := map[int][]*clip{}
	for _, rate := range []int{8000, 16000} {
		for _, id := range clipIDs {
			clips[rate] = append(clips[rate], loadClip(t, dir, id, rate))
		}
	}
	return dir, clips
}

func runSox(t *testing.T, args ...string) {
	t.Helper()
	// -R: sox's dither (resampling to 16 bits, mu-law coding) is seeded
	// the same each run, so a seed makes the same call every time (the
	// dither moved the truth's edges by a frame or two between runs).
	if b, err := exec.Command("sox", append([]string{"-R"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("sox %s: %v: %s", strings.Join(args, " "), err, b)
	}
}

// script draws a call: turns alternating mostly, some overlapping, some
// after a long silence.
func script(seed uint64, clips []*clip, rate int) *truthCall {
	r := rand.New(rand.NewPCG(seed, 15))
	c := &truthCall{rate: rate}
	party := "agent"
	var cursor int64 = 600 // the first onset
	var prevOnset, prevOffset int64
	prevParty := ""
	prevClip := (*clip)(nil)
	lastOff := map[string]int64{} // each party's last speech end: nobody interrupts themselves
	turns := 5 + r.IntN(3)
	for k := range turns {
		cl := clips[r.IntN(len(clips))]
		onset := cursor
		overlap := false
		if k > 0 && prevClip != nil && prevParty != party && prevOffset-prevOnset >= 2600 &&
			prevOnset+1200 >= lastOff[party]+1500 && r.Float64() < 0.35 {
			// Start 1.2 s into the other party's speech.
			onset, overlap = prevOnset+1200, true
		} else if k > 0 && r.Float64() < 0.25 {
			onset = cursor + 5000 + int64(r.IntN(2000)) // a long silence
		} else if k > 0 && party == prevParty {
			// The same party again: a clear pause, never within the
			// recogniser's timing error of the one-second bridge (the
			// development calls showed 0.9-1.2 s gaps flip either way).
			onset = cursor + 1500 + int64(r.IntN(1000))
		} else if k > 0 {
			onset = cursor + 600 + int64(r.IntN(900)) // clean turn-taking
		}
		if !overlap && k > 0 {
			// Nor after another party's turn that came between: a
			// party's consecutive utterances are always a clear pause
			// apart (a development call had the agent resume 1.02 s
			// after its own speech, across the customer's interjection,
			// and the bridge joined the two when the edges moved 30 ms).
			onset = max(onset, lastOff[party]+1500)
		}
		pad := onset - cl.onset
		if pad < 0 {
			pad, onset = 0, cl.onset
		}
		c.placed = append(c.placed, placed{party: party, clip: cl, pad: pad})
		off := pad + cl.offset
		if overlap {
			c.interruptions = append(c.interruptions, qm.Interruption{AtMS: onset, By: party, Of: prevParty, OverlapMS: min(prevOffset, off) - onset})
		}
		cursor = max(cursor, off, prevOffset)
		c.end = max(c.end, off)
		lastOff[party] = off
		prevOnset, prevOffset, prevParty, prevClip = onset, off, party, cl
		if r.Float64() < 0.85 {
			party = map[string]string{"agent": "customer", "customer": "agent"}[party]
		}
		// A party never overlaps itself: the next turn of the same party
		// starts after its own speech.
		cursor = max(cursor, off)
	}
	c.measure()
	return c
}

// measure sets the truth of each party's speech from its recordings:
// each recording's speech is measured on the recording alone
// (clip.runs, before it is placed), shifted by where it was placed; a
// party's runs under a second apart are one stretch of talk, across
// recordings as within one (the definition the metrics use). A
// recording's truth so never depends on the other recordings on its
// track: measured over the whole track, the threshold (15 dB over the
// track's 10th percentile) moved with the companions' backgrounds, and
// the same soft ending ended ~300 ms apart on two calls.
func (c *truthCall) measure() {
	c.speech = map[string][][2]int64{}
	for _, party := range []string{"customer", "agent"} {
		var runs [][2]int64
		for _, p := range c.placed {
			if p.party != party {
				continue
			}
			for _, r := range p.clip.runs {
				runs = append(runs, [2]int64{p.pad + r[0], p.pad + r[1]})
			}
		}
		slices.SortFunc(runs, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
		var merged [][2]int64
		for _, r := range runs {
			if n := len(merged); n > 0 && r[0]-merged[n-1][1] < 1000 {
				merged[n-1][1] = max(merged[n-1][1], r[1])
				continue
			}
			merged = append(merged, r)
		}
		c.speech[party] = merged
	}
	c.end = 0
	for _, ss := range c.speech {
		if len(ss) > 0 {
			c.end = max(c.end, ss[len(ss)-1][1])
		}
	}
}

func (c *truthCall) talk(party string) int64 {
	var n int64
	for _, s := range c.speech[party] {
		n += s[1] - s[0]
	}
	return n
}

// silence is the time in [0, end) that neither party speaks.
func (c *truthCall) silence() int64 {
	var all []qm.Interval
	for _, ss := range c.speech {
		for _, s := range ss {
			all = append(all, qm.Interval{StartMS: s[0], EndMS: s[1]})
		}
	}
	m := qm.Compute(qm.MetricsConfig{BridgeMS: 0, SilenceMS: 1000, MinOverlapMS: 0, OvertalkBurstMS: 1},
		qm.MetricsInput{Channel: "voice", Turns: intervalsAsTurns(all), DurationMS: c.end})
	return m.NonTalkMS
}

func intervalsAsTurns(iv []qm.Interval) []qm.Turn {
	var out []qm.Turn
	for i, x := range iv {
		out = append(out, qm.Turn{Seq: i, Party: "agent", StartMS: x.StartMS, EndMS: x.EndMS, Text: "x"})
	}
	return out
}

// tracks renders the two tracks (customer, agent) as raw 16-bit audio.
func (c *truthCall) tracks() (customer, agent []int16) {
	n := int(c.end*int64(c.rate)/1000) + c.rate // a second after the last speech
	for _, p := range c.placed {
		n = max(n, int((p.pad+p.clip.lengthMS)*int64(c.rate)/1000)+1)
	}
	customer, agent = make([]int16, n), make([]int16, n)
	for _, p := range c.placed {
		dst := agent
		if p.party == "customer" {
			dst = customer
		}
		at := int(p.pad * int64(c.rate) / 1000)
		for i, v := range p.clip.raw {
			dst[at+i] = v
		}
	}
	return customer, agent
}

func writeRaw(t *testing.T, path string, pcm []int16) {
	b := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// wav writes the call as a two-channel WAV (customer left, agent right),
// in 16-bit PCM or mu-law.
func (c *truthCall) wav(t *testing.T, dir, name, encoding string) string {
	cu, ag := c.tracks()
	rawArgs := []string{"-r", strconv.Itoa(c.rate), "-c", "1", "-b", "16", "-e", "signed-integer", "-L", "-t", "raw"}
	cf, af := filepath.Join(dir, name+"-c.raw"), filepath.Join(dir, name+"-a.raw")
	writeRaw(t, cf, cu)
	writeRaw(t, af, ag)
	out := filepath.Join(dir, name+".wav")
	args := append([]string{"-M"}, rawArgs...)
	args = append(args, cf)
	args = append(args, rawArgs...)
	args = append(args, af)
	if encoding == "mu-law" {
		args = append(args, "-e", "u-law", "-b", "8", out)
	} else {
		args = append(args, out)
	}
	runSox(t, args...)
	return out
}

// encodeMuLaw encodes a track as mu-law with sox.
func encodeMuLaw(t *testing.T, dir, name string, pcm []int16, rate int) []byte {
	in, out := filepath.Join(dir, name+".raw"), filepath.Join(dir, name+".ul")
	writeRaw(t, in, pcm)
	runSox(t, "-r", strconv.Itoa(rate), "-c", "1", "-b", "16", "-e", "signed-integer", "-L", "-t", "raw", in, "-t", "ul", out)
	b, _ := os.ReadFile(out)
	return b
}

func TestEvalSpeakerMetricsGroundTruth(t *testing.T) {
	dir, clips := loadClips(t)
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "gt"}, 201)
	tok := td.tokenFor(t, "pbx", RoleIngest, "gt")

	type source struct {
		name, encoding string
		rate           int
	}
	var sources []source
	for range 5 {
		sources = append(sources, source{"upload", "pcm", 16000})
	}
	for range 4 {
		sources = append(sources, source{"upload", "mu-law", 8000})
	}
	for range 3 {
		sources = append(sources, source{"twilio", "mu-law", 8000})
	}
	dev, calls := devCalls(t)
	for len(sources) < calls {
		sources = append(sources, sources[len(sources)%12])
	}
	sources = sources[:calls]
	var worstTalk, worstSilence float64
	missed, phantom, constructed := 0, 0, 0
	// The reported calls use seeds 201-212; EARSHOT_GT_DEV=1 runs a
	// separate development set (seeds 101-112, or more: devCalls) and
	// prints each segment against the truth, for looking into errors
	// without looking at the reported calls. (Seeds 1-12 were run once
	// with an earlier truth measure and generator and are not used.)
	var silenceErrs []float64
	for i, src := range sources {
		seed := uint64(i + 201)
		if dev {
			seed = uint64(i + 101)
		}
		c := script(seed, clips[src.rate], src.rate)
		var id string
		switch src.name {
		case "upload":
			wav, _ := os.ReadFile(c.wav(t, dir, fmt.Sprintf("call%d", i), src.encoding))
			req, _ := http.NewRequest("POST", td.URL+"/api/v1/uploads?queue=gt&parties=customer,agent", bytes.NewReader(wav))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var res struct{ Engagement store.Engagement }
			json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Fatalf("call %d: upload = %d", i, resp.StatusCode)
			}
			id = res.Engagement.ID
		case "twilio":
			cu, ag := c.tracks()
			id = streamTwilio(t, td, tok, fmt.Sprintf("CA%d", i), encodeMuLaw(t, dir, fmt.Sprintf("c%d", i), cu, 8000), encodeMuLaw(t, dir, fmt.Sprintf("a%d", i), ag, 8000))
		}
		m := waitMetrics(t, td, id)
		if dev {
			_, segs := transcriptText(t, td, td.Admin, id)
			for _, sg := range segs {
				ws, we := int64(-1), int64(-1)
				if len(sg.Words) > 0 {
					ws, we = sg.Words[0].StartMs, sg.Words[len(sg.Words)-1].EndMs
				}
				t.Logf("  seg %-8s %6d-%6d words %6d-%6d (%d) %q", sg.Speaker, sg.StartMs, sg.EndMs, ws, we, len(sg.Words), sg.Text)
			}
			for party, ss := range c.speech {
				t.Logf("  truth %-8s %v", party, ss)
			}
		}
		line := fmt.Sprintf("call %2d %-6s %-6s %5d Hz:", i, src.name, src.encoding, src.rate)
		for _, party := range []string{"customer", "agent"} {
			want, got := c.talk(party), m.Parties[party].TalkMS
			e := 100 * math.Abs(float64(got-want)) / float64(want)
			worstTalk = max(worstTalk, e)
			line += fmt.Sprintf(" %s talk %d/%d ms (%.1f%%)", party, got, want, e)
			if e > 5 {
				t.Errorf("call %d: %s talk %d ms, truth %d ms: off by %.1f%%", i, party, got, want, e)
			}
		}
		ws, gs := c.silence(), m.NonTalkMS
		worstSilence = max(worstSilence, math.Abs(float64(gs-ws)))
		silenceErrs = append(silenceErrs, math.Abs(float64(gs-ws)))
		line += fmt.Sprintf(" silence %d/%d ms", gs, ws)
		if math.Abs(float64(gs-ws)) > 300 {
			t.Errorf("call %d: silence %d ms, truth %d ms", i, gs, ws)
		}
		constructed += len(c.interruptions)
		matched := make([]bool, len(m.Interruptions))
		for _, want := range c.interruptions {
			found := false
			for j, got := range m.Interruptions {
				if !matched[j] && got.By == want.By && math.Abs(float64(got.AtMS-want.AtMS)) <= 500 {
					matched[j], found = true, true
					break
				}
			}
			if !found {
				missed++
				t.Errorf("call %d: constructed interruption %+v not counted (got %+v)", i, want, m.Interruptions)
			}
		}
		for j, ok := range matched {
			if !ok {
				phantom++
				t.Errorf("call %d: phantom interruption %+v", i, m.Interruptions[j])
			}
		}
		line += fmt.Sprintf(" interruptions %d/%d", len(m.Interruptions), len(c.interruptions))
		t.Log(line)
	}
	within, sum := 0, 0.0
	for _, e := range silenceErrs {
		sum += e
		if e <= 300 {
			within++
		}
	}
	t.Logf("worst talk-time error %.1f%%, silence within 300 ms on %d/%d calls, worst %.0f ms, mean |error| %.0f ms, interruptions: %d constructed, %d missed, %d phantom",
		worstTalk, within, len(silenceErrs), worstSilence, sum/float64(len(silenceErrs)), constructed, missed, phantom)
}

// devCalls says whether the development calls run (EARSHOT_GT_DEV set)
// and how many: EARSHOT_GT_DEV_CALLS (default 12, at most 100) calls of
// seeds 101 on, their sources repeating the twelve calls' pattern. The
// reported calls are always the twelve of seeds 201-212.
func devCalls(t *testing.T) (bool, int) {
	if os.Getenv("EARSHOT_GT_DEV") == "" {
		return false, 12
	}
	n := 12
	if v := os.Getenv("EARSHOT_GT_DEV_CALLS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100 {
			t.Fatalf("EARSHOT_GT_DEV_CALLS=%q: want 1-100 calls (seeds 101-200)", v)
		}
	}
	return true, n
}

// streamTwilio streams two mu-law tracks as Twilio Media Streams does and
// returns the engagement it created.
func streamTwilio(t *testing.T, td *testDaemon, tok, callSid string, inbound, outbound []byte) string {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	before := map[string]bool{}
	var list []store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue=gt", nil, 200), &list)
	for _, e := range list {
		before[e.ID] = true
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/ingest/stream?access_token="+tok, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	send := twilioSender(ctx, t, c, "MZ"+callSid)
	send(map[string]any{"event": "start", "start": map[string]any{
		"accountSid": "AC1", "streamSid": "MZ" + callSid, "callSid": callSid, "tracks": []string{"inbound", "outbound"},
		"customParameters": map[string]string{"queue": "gt"},
		"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
	}})
	tracks := map[string][]byte{"inbound": inbound, "outbound": outbound}
	for i, ms := 0, 0; i < len(inbound); i, ms = i+160, ms+20 {
		for _, tr := range []string{"inbound", "outbound"} {
			b := tracks[tr]
			send(map[string]any{"event": "media", "media": map[string]any{"track": tr, "chunk": strconv.Itoa(i/160 + 1),
				"timestamp": strconv.Itoa(ms), "payload": base64.StdEncoding.EncodeToString(b[i:min(i+160, len(b))])}})
		}
	}
	send(map[string]any{"event": "stop", "stop": map[string]string{"accountSid": "AC1", "callSid": callSid}})
	c.Close(websocket.StatusNormalClosure, "")
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue=gt", nil, 200), &list)
		for _, e := range list {
			if !before[e.ID] {
				return e.ID
			}
		}
	}
	t.Fatal("the stream created no engagement")
	return ""
}

// waitMetrics waits for the engagement's final speaker metrics.
func waitMetrics(t *testing.T, td *testDaemon, id string) qm.Metrics {
	return waitSpeakerMetrics(t, td, id, 120*time.Second)
}

// TestEvalSpeechEdgesDev runs the development calls' tracks (seeds
// 101-112 only, as TestEvalSpeakerMetricsGroundTruth with EARSHOT_GT_DEV)
// through the pipeline's audio path up to the voice activity detector
// (mu-law coding for 8 kHz calls, resampling to 16 kHz) and prints each
// party's detected speech edges against the truth, with the silence the
// edges alone would give: a quick look at the detector's part of the
// speaker metrics' error, without the recogniser.
func TestEvalSpeechEdgesDev(t *testing.T) {
	dir, clips := loadClips(t)
	t.Setenv("EARSHOT_GT_DEV", "1")
	_, calls := devCalls(t)
	var rates []int
	for i := range calls {
		rates = append(rates, []int{16000, 16000, 16000, 16000, 16000, 8000, 8000, 8000, 8000, 8000, 8000, 8000}[i%12])
	}
	var sumAbs float64
	for i, rate := range rates {
		c := script(uint64(i+101), clips[rate], rate)
		cu, ag := c.tracks()
		var all []qm.Turn
		for _, party := range []string{"customer", "agent"} {
			pcm := cu
			if party == "agent" {
				pcm = ag
			}
			if rate == 8000 {
				b := encodeMuLaw(t, dir, fmt.Sprintf("e%d%s", i, party), pcm, 8000)
				pcm = make([]int16, len(b))
				for j, x := range b {
					pcm[j] = codec.MulawToLinear(x)
				}
				rs, _ := audio.NewResampler(8000, 16000)
				pcm = rs.Flush(rs.Process(nil, pcm))
			}
			det, err := vad.New(vad.DefaultConfig(), 16000)
			if err != nil {
				t.Fatal(err)
			}
			var got []qm.Interval
			for k := 0; k < len(pcm); k += 320 {
				for _, ev := range det.Write(pcm[k:min(k+320, len(pcm))]) {
					if ev.Kind == vad.End {
						got = append(got, qm.Interval{StartMS: ev.SpeechFrom / 16, EndMS: ev.SpeechTo / 16})
					}
				}
			}
			for _, ev := range det.Flush() {
				if ev.Kind == vad.End {
					got = append(got, qm.Interval{StartMS: ev.SpeechFrom / 16, EndMS: ev.SpeechTo / 16})
				}
			}
			for _, g := range got {
				all = append(all, qm.Turn{Seq: len(all), Party: party, StartMS: g.StartMS, EndMS: g.EndMS, Text: "x"})
			}
			line := fmt.Sprintf("call %2d %5d %-8s", i, rate, party)
			for _, tr := range c.speech[party] {
				first, last := -1, -1
				for j, g := range got {
					if g.StartMS < tr[1] && g.EndMS > tr[0] {
						if first < 0 {
							first = j
						}
						last = j
					}
				}
				if first < 0 {
					line += fmt.Sprintf(" [%d-%d missed]", tr[0], tr[1])
					continue
				}
				line += fmt.Sprintf(" [%+d %+d]", got[first].StartMS-tr[0], got[last].EndMS-tr[1])
			}
			t.Log(line)
		}
		m := qm.Compute(qm.DefaultMetricsConfig(), qm.MetricsInput{Channel: "voice", Turns: all, DurationMS: c.end})
		e := m.NonTalkMS - c.silence()
		sumAbs += math.Abs(float64(e))
		t.Logf("call %2d silence by the edges %d, truth %d: %+d ms", i, m.NonTalkMS, c.silence(), e)
	}
	t.Logf("mean absolute silence error by the edges %.0f ms", sumAbs/float64(len(rates)))
}
