// Package ingesttest holds the test helpers of the ingest protocols (sip,
// whip, wsstream) and of the daemon's ingest tests: the PocketSphinx engine
// their end-to-end tests share, recorded speech with its transcripts, free
// loopback ports, and a Recording: an ingest.Engagement around a real
// pipeline engagement that keeps the final segments, a copy of each party's
// audio, the DTMF digits and how the engagement was closed.
//
// It is a test helper package (like net/http/httptest) rather than an
// internal one because the daemon's tests, outside media/, use it too.
package ingesttest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// NewEngine returns the PocketSphinx engine a test binary shares (create it
// in TestMain); its pool allows parallel tests.
func NewEngine() (*pocketsphinx.Engine, error) {
	cfg := pocketsphinx.DefaultConfig()
	cfg.MaxDecoders = 16 // decoders are created on demand
	return pocketsphinx.New(cfg, nil)
}

// Main is the TestMain of a package whose tests share one PocketSphinx
// engine: it sets *engine (or exits naming the Debian packages PocketSphinx
// needs), runs the tests, closes the engine and exits.
func Main(m *testing.M, pkg string, engine **pocketsphinx.Engine) {
	e, err := NewEngine()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests need PocketSphinx (Debian pocketsphinx-en-us, libpocketsphinx-dev): %v\n", pkg, err)
		os.Exit(1)
	}
	*engine = e
	code := m.Run()
	_ = e.Close()
	os.Exit(code)
}

// dataDir holds recorded read speech from Debian's pocketsphinx-testdata
// (LibriVox, public domain).
const dataDir = "/usr/share/pocketsphinx/test/data/librivox/"

// Utterances are the recordings the tests use, by id, with what is said.
var Utterances = map[string]string{
	"0880": "he was not an ill disposed young man",
	"0890": "unless to be rather cold hearted and rather selfish is to be ill disposed",
	"0920": "had he married a more a amiable woman he might have been made still more respectable than he was",
	"0930": "he might even have been made amiable himself",
}

// convert runs sox on recording id with half a second of silence before and
// after, writing out with the given output options.
func convert(t *testing.T, id, out string, opts ...string) {
	t.Helper()
	src := dataDir + "sense_and_sensibility_01_austen_64kb-" + id + ".wav"
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("test speech missing (Debian package pocketsphinx-testdata, in the Makefile's DEBS_TEST): %v", err)
	}
	args := append(append([]string{src}, opts...), out, "pad", "0.5", "0.5")
	if b, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, b)
	}
}

// SpeechWAV converts recording id to a mono 16-bit WAV file at rate and
// returns the file, its samples and what is said.
func SpeechWAV(t *testing.T, id string, rate int) (string, []int16, string) {
	t.Helper()
	wav := filepath.Join(t.TempDir(), "speech.wav")
	convert(t, id, wav, "-r", strconv.Itoa(rate), "-c", "1", "-b", "16", "-e", "signed-integer")
	raw := filepath.Join(t.TempDir(), "speech.raw")
	convert(t, id, raw, "-r", strconv.Itoa(rate), "-c", "1", "-b", "16", "-e", "signed-integer", "-L", "-t", "raw")
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	return wav, LE16(b), Utterances[id]
}

// SpeechRaw converts recording id to headerless mono audio: encoding
// "mu-law" (8-bit) or "signed-integer" (16-bit little-endian) at rate.
func SpeechRaw(t *testing.T, id, encoding string, rate int) ([]byte, string) {
	t.Helper()
	_, b, said := SpeechRawFile(t, id, encoding, rate)
	return b, said
}

// SpeechRawFile is SpeechRaw that also returns the file (for clients such
// as SIPp that read it).
func SpeechRawFile(t *testing.T, id, encoding string, rate int) (string, []byte, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), id+".raw")
	bits := "16"
	if encoding == "mu-law" {
		bits = "8"
	}
	convert(t, id, out, "-r", strconv.Itoa(rate), "-c", "1", "-e", encoding, "-b", bits, "-L", "-t", "raw")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, b, Utterances[id]
}

// LE16 decodes little-endian 16-bit samples.
func LE16(b []byte) []int16 {
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

// WordsFound returns how many of want's words occur in got, and how many
// words want has.
func WordsFound(want, got string) (int, int) {
	have := map[string]bool{}
	for _, w := range strings.Fields(strings.ToLower(got)) {
		have[w] = true
	}
	n := 0
	ws := strings.Fields(strings.ToLower(want))
	for _, w := range ws {
		if have[w] {
			n++
		}
	}
	return n, len(ws)
}

// Recording is an ingest.Engagement that runs a real pipeline engagement
// and records what the ingest did with it: each party's payloads (a Tap in
// front of the pipeline party), the final segments, DTMF digits, the
// KeepAlive calls and Close. End ends it from the engagement's side, as the
// daemon's hub does (ingest.Ender).
type Recording struct {
	PE *pipeline.Engagement

	ended      chan struct{}
	endOnce    sync.Once
	keepAlives atomic.Int64

	mu      sync.Mutex
	finals  []pipeline.Segment
	parties map[ingest.Party]*Tap
	digits  []string
	closes  int
	err     error
	closed  chan struct{}
	drained chan struct{}
}

var (
	_ ingest.Engagement   = (*Recording)(nil)
	_ ingest.DTMFReceiver = (*Recording)(nil)
	_ ingest.Ender        = (*Recording)(nil)
	_ ingest.Keeper       = (*Recording)(nil)
)

// Record starts reading pe's segments.
func Record(pe *pipeline.Engagement) *Recording {
	r := &Recording{PE: pe, parties: map[ingest.Party]*Tap{}, closed: make(chan struct{}), drained: make(chan struct{}),
		ended: make(chan struct{})}
	go func() {
		defer close(r.drained)
		for seg := range pe.Segments() {
			if seg.Final {
				r.mu.Lock()
				r.finals = append(r.finals, seg)
				r.mu.Unlock()
			}
		}
	}()
	return r
}

// AddParty adds the party to the pipeline engagement behind a Tap.
func (r *Recording) AddParty(p ingest.Party, f codec.Format, ch int) (ingest.Sink, error) {
	inner, err := ingest.FromPipeline(r.PE).AddParty(p, f, ch)
	if err != nil {
		return nil, err
	}
	tap, err := NewTap(inner, f, ch)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.parties[p] = tap
	r.mu.Unlock()
	return tap, nil
}

// Party returns the Tap of a party, nil if the ingest did not add it.
func (r *Recording) Party(p ingest.Party) *Tap {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parties[p]
}

// DTMF records a digit as "party:digit".
func (r *Recording) DTMF(p ingest.Party, digit string) {
	r.mu.Lock()
	r.digits = append(r.digits, string(p)+":"+digit)
	r.mu.Unlock()
}

// Digits returns the DTMF digits received, as "party:digit".
func (r *Recording) Digits() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.digits...)
}

// Close records the ingest's Close and drains the pipeline engagement on
// the first call.
func (r *Recording) Close(err error) {
	r.mu.Lock()
	r.closes++
	n := r.closes
	r.err = err
	r.mu.Unlock()
	if n == 1 {
		r.PE.Close()
		close(r.closed)
	}
}

// End ends the engagement from its own side: Ended closes, and the ingest
// session must end and Close it.
func (r *Recording) End() { r.endOnce.Do(func() { close(r.ended) }) }

// Ended is closed by End.
func (r *Recording) Ended() <-chan struct{} { return r.ended }

// KeepAlive counts the ingest's keep-alives.
func (r *Recording) KeepAlive() { r.keepAlives.Add(1) }

// KeepAlives returns the number of KeepAlive calls.
func (r *Recording) KeepAlives() int64 { return r.keepAlives.Load() }

// Done is closed by the first Close.
func (r *Recording) Done() <-chan struct{} { return r.closed }

// WaitClosed waits for Close, checks it came once, and returns its error.
func (r *Recording) WaitClosed(t testing.TB) error {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(20 * time.Second):
		t.Fatal("engagement not closed within 20 s")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closes != 1 {
		t.Errorf("engagement closed %d times, want 1", r.closes)
	}
	return r.err
}

// Err returns the error of the last Close.
func (r *Recording) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Finals waits for the pipeline to drain and returns the final segments
// in the order the pipeline emitted them.
func (r *Recording) Finals(t testing.TB) []pipeline.Segment {
	t.Helper()
	select {
	case <-r.drained:
	case <-time.After(120 * time.Second):
		t.Fatal("pipeline did not drain within 120 s")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pipeline.Segment(nil), r.finals...)
}

// Transcript waits for the pipeline to drain and returns a party's final
// text.
func (r *Recording) Transcript(t testing.TB, p ingest.Party) string {
	t.Helper()
	var words []string
	for _, s := range r.Finals(t) {
		if s.Party == string(p) && s.Text != "" {
			words = append(words, s.Text)
		}
	}
	return strings.Join(words, " ")
}

// Tap stands in front of one party's Sink: it counts the payloads, keeps
// them, and keeps its own decode of them (one channel, no gap filling) to
// compare with what was sent.
type Tap struct {
	Format codec.Format
	inner  ingest.Sink
	dec    codec.Decoder
	ch     int

	mu      sync.Mutex
	pcm     []int16
	raw     []byte
	packets int
	backs   int // RTP sequence numbers that did not increase
	lastSeq uint16
}

// NewTap returns a Tap for channel ch of format f in front of inner.
func NewTap(inner ingest.Sink, f codec.Format, ch int) (*Tap, error) {
	d, err := codec.NewDecoder(f)
	if err != nil {
		return nil, err
	}
	return &Tap{Format: f, inner: inner, dec: d, ch: ch}, nil
}

// WriteRTP implements ingest.Sink.
func (tp *Tap) WriteRTP(seq uint16, ts uint32, payload []byte) error {
	tp.mu.Lock()
	if tp.packets > 0 && int16(seq-tp.lastSeq) <= 0 {
		tp.backs++
	}
	tp.lastSeq = seq
	tp.mu.Unlock()
	tp.keep(payload)
	return tp.inner.WriteRTP(seq, ts, payload)
}

// Unwrap returns the Sink behind the Tap (for ingest.Place).
func (tp *Tap) Unwrap() ingest.Sink { return tp.inner }

// Write implements ingest.Sink.
func (tp *Tap) Write(payload []byte) error {
	tp.keep(payload)
	return tp.inner.Write(payload)
}

// keep counts and decodes one payload; undecodable payloads are kept raw
// but not decoded.
func (tp *Tap) keep(payload []byte) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.packets++
	tp.raw = append(tp.raw, payload...)
	all, err := tp.dec.Decode(nil, payload)
	if err != nil {
		return
	}
	n := tp.dec.Channels()
	for i := tp.ch; i < len(all); i += n {
		tp.pcm = append(tp.pcm, all[i])
	}
}

// Audio returns a copy of the decoded audio and its rate (nothing for a
// nil Tap).
func (tp *Tap) Audio() ([]int16, int) {
	if tp == nil {
		return nil, 0
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]int16(nil), tp.pcm...), tp.dec.SampleRate()
}

// Seconds returns the duration of the decoded audio (0 for a nil Tap).
func (tp *Tap) Seconds() float64 {
	pcm, rate := tp.Audio()
	if rate == 0 {
		return 0
	}
	return float64(len(pcm)) / float64(rate)
}

// Packets returns the payloads received and how many of them came with an
// RTP sequence number that did not increase.
func (tp *Tap) Packets() (n, outOfOrder int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.packets, tp.backs
}

// Raw returns a copy of the payloads received, concatenated.
func (tp *Tap) Raw() []byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]byte(nil), tp.raw...)
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// FreeMediaPorts finds an even port whose next three ports are free too:
// SIPp binds its RTP and RTCP ports and the pair of its second stream.
func FreeMediaPorts(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := FreeUDPPort(t) &^ 1
		ok := true
		var held []*net.UDPConn
		for i := range 4 {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + i})
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok && p < 65530 {
			return p
		}
	}
	t.Fatal("no free media ports")
	return 0
}

// WaitFor polls cond every 20 ms until it holds, failing the test after
// 30 s with what it waited for.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Allocated returns the bytes the whole process allocated on the heap
// while f ran (runtime.MemStats.TotalAlloc, freed or not): an upper bound
// of what f made the server hold, noisy only by what other goroutines
// allocated meanwhile. A resource-bound test runs it outside t.Parallel.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TranscribeMulaw runs 8 kHz mu-law frames (RTP payloads in order, each
// stamped with the samples before it) through a real pipeline on eng and
// returns what it heard: how the tests check what a bot said.
func TranscribeMulaw(t *testing.T, eng stt.Engine, id string, frames [][]byte) string {
	t.Helper()
	return TranscribeRTP(t, eng, id, codec.Format{Codec: codec.PCMU, SampleRate: 8000, Channels: 1}, 0, frames)
}

// TranscribeRTP is TranscribeMulaw for payloads in format f, whose RTP
// timestamps advance by step per payload (0: by its length in bytes, as
// G.711's do).
func TranscribeRTP(t *testing.T, eng stt.Engine, id string, f codec.Format, step uint32, frames [][]byte) string {
	t.Helper()
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, nil, eng)
	if err != nil {
		t.Fatal(err)
	}
	pe, err := p.Open(context.Background(), pipeline.OpenOptions{ID: id, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rec := Record(pe)
	sink, err := rec.AddParty(ingest.PartyAgent, f, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ts uint32
	for i, fr := range frames {
		if err := sink.WriteRTP(uint16(i+1), ts, fr); err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			ts += uint32(len(fr))
		} else {
			ts += step
		}
	}
	rec.Close(nil)
	return rec.Transcript(t, ingest.PartyAgent)
}
