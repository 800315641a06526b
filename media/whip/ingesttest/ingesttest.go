// Package ingesttest holds the test helpers of the ingest packages (whip,
// wsstream): the PocketSphinx engine their end-to-end tests share, recorded
// speech with its transcripts, and a recorder around a real pipeline
// engagement that keeps the final segments, a copy of each party's decoded
// audio, and how the engagement was closed.
package ingesttest

import (
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// NewEngine returns the PocketSphinx engine a test binary shares (create it
// in TestMain); its pool allows parallel tests.
func NewEngine() (*pocketsphinx.Engine, error) {
	cfg := pocketsphinx.DefaultConfig()
	cfg.MaxDecoders = 16 // decoders are created on demand
	return pocketsphinx.New(cfg, nil)
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
	out := filepath.Join(t.TempDir(), "speech.raw")
	bits := "16"
	if encoding == "mu-law" {
		bits = "8"
	}
	convert(t, id, out, "-r", strconv.Itoa(rate), "-c", "1", "-e", encoding, "-b", bits, "-L", "-t", "raw")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, Utterances[id]
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

// Recording follows a pipeline engagement: it reads its segments and keeps
// the finals, and records the ingest's Close.
type Recording struct {
	PE      *pipeline.Engagement
	mu      sync.Mutex
	finals  []pipeline.Segment
	closes  int
	err     error
	closed  chan struct{}
	drained chan struct{}
}

// Record starts reading pe's segments.
func Record(pe *pipeline.Engagement) *Recording {
	r := &Recording{PE: pe, closed: make(chan struct{}), drained: make(chan struct{})}
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

// Done is closed by the first Close.
func (r *Recording) Done() <-chan struct{} { return r.closed }

// WaitClosed waits for Close, checks it came once, and returns its error.
func (r *Recording) WaitClosed(t *testing.T) error {
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

// Transcript waits for the pipeline to drain and returns a party's final
// text.
func (r *Recording) Transcript(t *testing.T, party string) string {
	t.Helper()
	select {
	case <-r.drained:
	case <-time.After(120 * time.Second):
		t.Fatal("pipeline did not drain within 120 s")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var words []string
	for _, s := range r.finals {
		if s.Party == party && s.Text != "" {
			words = append(words, s.Text)
		}
	}
	return strings.Join(words, " ")
}

// Tap keeps its own decode of every payload of one party (one channel, no
// gap filling) to compare with what was sent.
type Tap struct {
	Format codec.Format
	dec    codec.Decoder
	ch     int
	mu     sync.Mutex
	pcm    []int16
}

// NewTap returns a Tap for channel ch of format f.
func NewTap(f codec.Format, ch int) (*Tap, error) {
	d, err := codec.NewDecoder(f)
	if err != nil {
		return nil, err
	}
	return &Tap{Format: f, dec: d, ch: ch}, nil
}

// Keep decodes one payload; undecodable payloads are skipped.
func (tp *Tap) Keep(payload []byte) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	all, err := tp.dec.Decode(nil, payload)
	if err != nil {
		return
	}
	n := tp.dec.Channels()
	for i := tp.ch; i < len(all); i += n {
		tp.pcm = append(tp.pcm, all[i])
	}
}

// Audio returns a copy of the decoded audio and its rate (0 for a nil Tap).
func (tp *Tap) Audio() ([]int16, int) {
	if tp == nil {
		return nil, 0
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]int16(nil), tp.pcm...), tp.dec.SampleRate()
}

// Seconds returns the duration of the decoded audio.
func (tp *Tap) Seconds() float64 {
	pcm, rate := tp.Audio()
	if rate == 0 {
		return 0
	}
	return float64(len(pcm)) / float64(rate)
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
