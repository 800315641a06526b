package pipeline_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/wav"
	"github.com/earshot/earshot/media/wer"
	"github.com/prometheus/client_golang/prometheus"
)

// Real speech from Debian's pocketsphinx-testdata (in DEBS_TEST).
const (
	librivox = "/usr/share/pocketsphinx/test/data/librivox/"
	file0880 = librivox + "sense_and_sensibility_01_austen_64kb-0880.wav"
	ref0880  = "he was not an ill disposed young man"
)

var (
	engOnce sync.Once
	eng     *pocketsphinx.Engine
	engErr  error
)

// engine is one real PocketSphinx engine shared by the package's tests.
func engine(t *testing.T) *pocketsphinx.Engine {
	t.Helper()
	engOnce.Do(func() {
		cfg := pocketsphinx.DefaultConfig()
		cfg.Search = pocketsphinx.SearchFast // quick unit tests; accuracy is measured by the evals
		cfg.MaxDecoders = 4
		eng, engErr = pocketsphinx.New(cfg, nil)
	})
	if engErr != nil {
		t.Fatalf("pocketsphinx.New: %v", engErr)
	}
	return eng
}

func load16k(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("test audio (install pocketsphinx-testdata): %v", err)
	}
	f, err := wav.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return f.Samples()
}

// collect reads segments until the channel closes.
func collect(t *testing.T, e *pipeline.Engagement) []pipeline.Segment {
	t.Helper()
	var segs []pipeline.Segment
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case s, ok := <-e.Segments():
			if !ok {
				return segs
			}
			segs = append(segs, s)
		case <-timeout:
			t.Error("segments channel not closed")
			return segs
		}
	}
}

func finalText(segs []pipeline.Segment, party string) string {
	var out []string
	for _, s := range segs {
		if s.Final && s.Party == party {
			out = append(out, s.Text)
		}
	}
	return strings.Join(out, " ")
}

func checkWER(t *testing.T, ref, hyp string, maxWER float64) {
	t.Helper()
	c := wer.Align(wer.Normalize(ref), wer.Normalize(hyp))
	t.Logf("ref %q\nhyp %q\nWER %.1f%%", ref, hyp, c.WER())
	if c.WER() > maxWER {
		t.Errorf("WER %.1f%% > %.0f%%: ref %q, hyp %q", c.WER(), maxWER, ref, hyp)
	}
}

func newPipeline(t *testing.T, cfg pipeline.Config, reg prometheus.Registerer) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.New(cfg, nil, reg, engine(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLiveMulawRTP sends real speech as 8 kHz mu-law RTP with packets of
// 10, 20 and 30 ms, one lost packet and one late duplicate, and checks the
// recognised words, the counters and the timeline.
func TestLiveMulawRTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := newPipeline(t, pipeline.DefaultConfig(), reg)
	pcm16 := load16k(t, file0880)
	down, _ := audio.NewResampler(16000, 8000)
	ulaw := codec.EncodeMulaw(nil, down.Flush(down.Process(nil, pcm16)))
	// A second of leading silence so the lost packet falls outside speech.
	ulaw = append(codec.EncodeMulaw(nil, make([]int16, 8000)), ulaw...)

	e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "e1", Source: "sip"})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "caller", Format: codec.Format{Codec: codec.PCMU}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []pipeline.Segment)
	go func() { done <- collect(t, e) }()
	sizes := []int{80, 160, 240}
	var seq uint16 = 1000
	var ts uint32 = 12345
	var sent, i int
	for off := 0; off < len(ulaw); i++ {
		n := min(sizes[i%3], len(ulaw)-off)
		pkt := ulaw[off : off+n]
		switch {
		case i == 5: // lost: never sent
		case i == 9: // sent, then a late duplicate of packet 8 arrives
			if err := pt.WriteRTP(seq, ts, pkt); err != nil {
				t.Fatal(err)
			}
			if err := pt.WriteRTP(seq-1, ts-uint32(sizes[8%3]), ulaw[off-sizes[8%3]:off]); err != nil {
				t.Fatal(err)
			}
		default:
			if err := pt.WriteRTP(seq, ts, pkt); err != nil {
				t.Fatal(err)
			}
		}
		sent += n
		seq++
		ts += uint32(n)
		off += n
	}
	e.Close()
	segs := <-done
	checkWER(t, ref0880, finalText(segs, "caller"), 60)
	st := e.Stats()["caller"]
	if st.PacketsLost != 1 || st.PacketsLate != 1 {
		t.Errorf("lost %d late %d, want 1 and 1", st.PacketsLost, st.PacketsLate)
	}
	lostMs := int64(sizes[5%3]) / 8
	if st.SilenceMs != lostMs {
		t.Errorf("silence inserted %d ms, want %d", st.SilenceMs, lostMs)
	}
	if got := counter(t, reg, "earshot_pipeline_packets_lost_total", "sip"); got != 1 {
		t.Errorf("packets_lost_total = %v, want 1", got)
	}
	var last uint64
	for _, s := range segs {
		if s.Seq <= last {
			t.Errorf("segment seq %d after %d", s.Seq, last)
		}
		last = s.Seq
		if s.Final && (s.StartMs < 900 || s.EndMs > int64(len(ulaw))/8+100 || s.EndMs <= s.StartMs) {
			t.Errorf("segment %d..%d ms outside the speech (1000..%d)", s.StartMs, s.EndMs, len(ulaw)/8)
		}
		for _, w := range s.Words {
			if w.Confidence < 0 || w.Confidence > 1 || w.EndMs < w.StartMs {
				t.Errorf("bad word %+v", w)
			}
		}
	}
}

// opusPackets encodes a WAV with opusenc (Debian opus-tools) into packets.
func opusPackets(t *testing.T, wavPath, frameMs string) [][]byte {
	t.Helper()
	return codecTestOpus(t, wavPath, frameMs)
}

// TestOpusGapConcealment sends real speech as 40 ms Opus packets (not the
// usual 20 ms) with a lost packet: the gap becomes silence, is counted, and
// the words are still recognised.
func TestOpusGapConcealment(t *testing.T) {
	p := newPipeline(t, pipeline.DefaultConfig(), nil)
	pkts := opusPackets(t, file0880, "40")
	e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "e2", Source: "whip"})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "customer", Format: codec.Format{Codec: codec.Opus}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []pipeline.Segment)
	go func() { done <- collect(t, e) }()
	for i, pk := range pkts {
		if i == 3 { // lost, in the leading silence
			continue
		}
		if err := pt.WriteRTP(uint16(i), uint32(i*1920), pk); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	segs := <-done
	checkWER(t, ref0880, finalText(segs, "customer"), 60)
	st := e.Stats()["customer"]
	if st.PacketsLost != 1 || st.SilenceMs != 40 {
		t.Errorf("lost %d, silence %d ms; want 1 and 40", st.PacketsLost, st.SilenceMs)
	}
	if st.DecodeErrors != 0 {
		t.Errorf("decode errors %d", st.DecodeErrors)
	}
}

func TestAdmission(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := pipeline.DefaultConfig()
	cfg.MaxEngagements = 1
	p := newPipeline(t, cfg, reg)
	ctx := context.Background()
	e1, err := p.Open(ctx, pipeline.OpenOptions{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Open(ctx, pipeline.OpenOptions{ID: "b"}); !errors.Is(err, pipeline.ErrBusy) {
		t.Fatalf("second Open: err = %v, want ErrBusy", err)
	}
	// Offline work does not take live slots.
	off, err := p.Open(ctx, pipeline.OpenOptions{ID: "c", Offline: true, Blocking: true})
	if err != nil {
		t.Fatalf("offline Open: %v", err)
	}
	off.Close()
	// Nor do engagements under their opener's own limit (bot calls), and
	// closing one frees no live slot.
	own, err := p.Open(ctx, pipeline.OpenOptions{ID: "bot", OwnLimit: true})
	if err != nil {
		t.Fatalf("own-limit Open at the live limit: %v", err)
	}
	own.Close()
	if err := own.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Open(ctx, pipeline.OpenOptions{ID: "b2"}); !errors.Is(err, pipeline.ErrBusy) {
		t.Fatalf("Open after an own-limit engagement closed: err = %v, want ErrBusy", err)
	}
	e1.Close()
	if err := e1.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Open(ctx, pipeline.OpenOptions{ID: "d"}); err != nil {
		t.Fatalf("Open after the first closed: %v", err)
	}
	if got := counter(t, reg, "earshot_pipeline_engagements_refused_total", "max_engagements"); got != 2 {
		t.Errorf("refusals = %v, want 2", got)
	}
}

// TestBacklogRefusesAndOverflowCounts: a live party written much faster
// than real time fills its queue; writes beyond the bound fail with
// ErrOverflow (counted, reported, not silently dropped) and new engagements
// are refused while the backlog exceeds AdmitBacklog.
func TestBacklogRefusesAndOverflowCounts(t *testing.T) {
	cfg := pipeline.DefaultConfig()
	cfg.MaxQueuedAudio = 2 * time.Second
	cfg.AdmitBacklog = time.Second
	cfg.MaxEngagements = 10
	p := newPipeline(t, cfg, nil)
	ctx := context.Background()
	e, err := p.Open(ctx, pipeline.OpenOptions{ID: "fast", Source: "websocket"})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "agent", Format: codec.Format{Codec: codec.S16LE, SampleRate: 16000}})
	if err != nil {
		t.Fatal(err)
	}
	go collect(t, e)
	pcm := load16k(t, file0880)
	var overflow int
	for range 4 { // 12 s of audio in a burst
		for off := 0; off < len(pcm); off += 1600 {
			if err := pt.Write(audio.Bytes(nil, pcm[off:min(off+1600, len(pcm))])); errors.Is(err, pipeline.ErrOverflow) {
				overflow++
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	if overflow == 0 {
		t.Fatal("no write returned ErrOverflow")
	}
	if p.Backlog() > time.Second {
		if _, err := p.Open(ctx, pipeline.OpenOptions{ID: "late"}); !errors.Is(err, pipeline.ErrBusy) {
			t.Errorf("Open with backlog %s: err = %v, want ErrBusy", p.Backlog(), err)
		}
	}
	e.Abort()
	if st := e.Stats()["agent"]; st.OverflowMs < int64(overflow)*90 {
		t.Errorf("overflow %d ms for %d refused 100 ms writes", st.OverflowMs, overflow)
	}
}

func TestRecogniserPoolExhausted(t *testing.T) {
	cfg := pocketsphinx.DefaultConfig()
	cfg.Search = pocketsphinx.SearchFast // quick unit tests; accuracy is measured by the evals
	cfg.MaxDecoders, cfg.Warm = 1, 1
	small, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	reg := prometheus.NewRegistry()
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, reg, small)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := p.Open(context.Background(), pipeline.OpenOptions{ID: "x"})
	if _, err := e.AddParty(pipeline.PartyOptions{Name: "a", Format: codec.Format{Codec: codec.PCMU}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddParty(pipeline.PartyOptions{Name: "b", Format: codec.Format{Codec: codec.PCMU}}); !errors.Is(err, pipeline.ErrBusy) {
		t.Fatalf("second party: err = %v, want ErrBusy", err)
	}
	if got := counter(t, reg, "earshot_pipeline_engagements_refused_total", "recognizer"); got != 1 {
		t.Errorf("refusals = %v, want 1", got)
	}
	e.Abort()
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []pipeline.Config{
		{MaxEngagements: 0, MaxQueuedAudio: time.Minute, AdmitBacklog: time.Second},
		{MaxEngagements: 1, MaxQueuedAudio: time.Millisecond, AdmitBacklog: time.Second},
		{MaxEngagements: 1, MaxQueuedAudio: time.Minute, AdmitBacklog: 2 * time.Minute},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
}

func codecTestOpus(t *testing.T, wavPath, frameMs string) [][]byte {
	t.Helper()
	testdep.Program(t, "opusenc", "opus-tools")
	ogg := filepath.Join(t.TempDir(), "a.opus")
	if out, err := exec.Command("opusenc", "--quiet", "--framesize", frameMs, "--bitrate", "24", wavPath, ogg).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v: %s", err, out)
	}
	f, err := os.Open(ogg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkts, err := codec.OggOpusPackets(f)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// uploadSpeech runs f's samples and a second of silence through a new
// pipeline over eng (metrics in reg) as an offline upload of one party,
// "customer", and returns the party's final text.
func uploadSpeech(t *testing.T, eng *pocketsphinx.Engine, reg prometheus.Registerer, id string, f *wav.File) string {
	t.Helper()
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, reg, eng)
	if err != nil {
		t.Fatal(err)
	}
	e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: id, Source: "upload", Blocking: true, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "customer", Format: codec.Format{Codec: codec.S16LE, SampleRate: f.SampleRate, Channels: 1}})
	if err != nil {
		t.Fatal(err)
	}
	pcm := append(f.Samples(), make([]int16, f.SampleRate)...)
	go func() {
		defer e.Close()
		for off := 0; off < len(pcm); off += 1600 {
			if pt.WritePCM(pcm[off:min(off+1600, len(pcm))]) != nil {
				return
			}
		}
	}()
	return finalText(collect(t, e), "customer")
}

// counter returns the value of a counter family member from reg: the
// member with a label of that value, or with label "" the counter
// without labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
