// Package flite is the built-in text-to-speech engine: CMU Flite through
// cgo (Debian flite1-dev at build time, libflite1 at run time) with the
// four US English voices Debian ships (cmu_us_slt, cmu_us_kal16,
// cmu_us_awb, cmu_us_rms).
//
// Flite keeps process-global state (the lexicon and its caches, the
// voice list, its error jump buffer) and a voice's feature set is written
// during synthesis (the streaming callback is a voice feature), so the
// engine serialises synthesis process-wide. It does so sentence by
// sentence: a long prompt holds the lock for one sentence at a time and
// other calls' sentences interleave with it. At Flite's speed (see the
// benchmark, a few hundredths of a second of CPU per second of speech)
// one core carries dozens of calls in real time.
//
// Audio is streamed: Flite's audio streaming callback hands over each
// piece of waveform as it is synthesised; it is resampled from the
// voice's native rate to the requested one and passed on in chunks.
package flite

/*
#cgo CFLAGS: -I/usr/include/flite
#cgo LDFLAGS: -lflite_cmu_us_slt -lflite_cmu_us_kal16 -lflite_cmu_us_awb -lflite_cmu_us_rms -lflite_usenglish -lflite_cmulex -lflite -lm
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <flite.h>

cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_kal16(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);

extern int goFliteChunk(uintptr_t h, short *samples, int n, int rate, int last);

static int earshot_flite_chunk(const cst_wave *w, int start, int size, int last, cst_audio_streaming_info *asi) {
	return goFliteChunk((uintptr_t)asi->userdata, w->samples + start, size, w->sample_rate, last);
}

static cst_voice *earshot_flite_register(int which) {
	cst_voice *v = NULL;
	switch (which) {
	case 0: v = register_cmu_us_slt(NULL); break;
	case 1: v = register_cmu_us_kal16(NULL); break;
	case 2: v = register_cmu_us_awb(NULL); break;
	case 3: v = register_cmu_us_rms(NULL); break;
	}
	if (v == NULL) return NULL;
	cst_audio_streaming_info *asi = new_audio_streaming_info();
	asi->asc = earshot_flite_chunk;
	// The voice's feature set owns asi from here on.
	feat_set(v->features, "streaming_info", audio_streaming_info_val(asi));
	return v;
}

static int64_t earshot_thread_cpu_ns(void) {
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// earshot_flite_speak synthesises text with v, streaming through the
// callback with handle h, and adds the thread CPU time it took to *cpu.
// It returns 0, or -1 when Flite produced no utterance.
static int earshot_flite_speak(cst_voice *v, const char *text, uintptr_t h, int64_t *cpu) {
	int64_t t0 = earshot_thread_cpu_ns();
	const cst_val *sv = feat_val(v->features, "streaming_info");
	cst_audio_streaming_info *asi = val_audio_streaming_info(sv);
	asi->userdata = (void *)h;
	cst_utterance *u = flite_synth_text(text, v);
	asi->userdata = NULL;
	if (u != NULL) delete_utterance(u);
	*cpu += earshot_thread_cpu_ns() - t0;
	return u == NULL ? -1 : 0;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/earshot/earshot/media/tts"
)

// Voices are the voices the engine offers, in Debian flite1-dev.
var Voices = []string{"cmu_us_slt", "cmu_us_kal16", "cmu_us_awb", "cmu_us_rms"}

// DefaultVoice is the default English voice, chosen by round-trip word
// error rate on the development half of the TTS eval (see
// tts.DefaultEnglishVoice).
const DefaultVoice = "cmu_us_rms"

// Config configures the engine.
type Config struct {
	// DefaultVoice is used when a request names none.
	DefaultVoice string `json:"default_voice"`
	// MaxChunkChars bounds the text of one synthesis call (see
	// tts.Sentences); 0 uses tts.DefaultMaxChunkChars.
	MaxChunkChars int `json:"max_chunk_chars"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{DefaultVoice: DefaultVoice} }

// Validate checks the configuration.
func (c Config) Validate() error {
	if voiceIndex(c.DefaultVoice) < 0 {
		return fmt.Errorf("flite: default_voice %q is not one of %s", c.DefaultVoice, strings.Join(Voices, ", "))
	}
	if c.MaxChunkChars < 0 {
		return fmt.Errorf("flite: max_chunk_chars must not be negative, got %d", c.MaxChunkChars)
	}
	return nil
}

func voiceIndex(name string) int {
	for i, v := range Voices {
		if v == name {
			return i
		}
	}
	return -1
}

var (
	// mu serialises every call into Flite (see the package comment).
	mu       sync.Mutex
	initOnce sync.Once
	voices   [4]*C.cst_voice
	regOnce  [4]sync.Once
	// cpuNanos is the thread CPU time spent in Flite (the streaming
	// callbacks included, which only copy), process-wide.
	cpuNanos atomic.Int64
)

// CPUTime returns the CPU time spent synthesising with Flite in this
// process (every Engine together: Flite is one per process).
func (e *Engine) CPUTime() time.Duration { return time.Duration(cpuNanos.Load()) }

// voice returns the registered voice i, registering it on first use.
// The caller holds mu.
func voice(i int) (*C.cst_voice, error) {
	initOnce.Do(func() { C.flite_init() })
	regOnce[i].Do(func() { voices[i] = C.earshot_flite_register(C.int(i)) })
	if voices[i] == nil {
		return nil, fmt.Errorf("flite: voice %s did not register", Voices[i])
	}
	return voices[i], nil
}

// Engine is the Flite engine. It is safe for concurrent use.
type Engine struct {
	cfg    Config
	logger *slog.Logger
}

// New returns the engine; it registers the default voice so that a
// broken installation fails at start, not on the first call.
func New(cfg Config, logger *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mu.Lock()
	_, err := voice(voiceIndex(cfg.DefaultVoice))
	mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, logger: logger}, nil
}

// Name implements tts.Engine.
func (e *Engine) Name() string { return "flite" }

// Voices lists the engine's voices.
func (e *Engine) Voices() []string { return append([]string(nil), Voices...) }

// synth is the state of one synthesis call, reached from the streaming
// callback through a cgo.Handle.
type synth struct {
	ctx  context.Context
	q    *tts.Queue
	rate atomic.Int32 // the voice's native rate, learnt from the first chunk
}

// ErrUnknownVoice is returned for a voice the engine does not have.
var ErrUnknownVoice = errors.New("flite: unknown voice")

// Synthesize implements tts.Engine. Only English is spoken; a request in
// another language is refused (the front routes those to espeak-ng).
//
// Synthesis runs on a goroutine of its own (it holds the process-wide
// Flite lock sentence by sentence); the chunks reach fn on the caller's
// goroutine (tts.Stream), so a receiver that paces playback never holds
// the lock.
func (e *Engine) Synthesize(ctx context.Context, req tts.Request, fn func(pcm []int16) error) error {
	if err := tts.CheckRequest(req); err != nil {
		return err
	}
	if req.Lang != "" && !strings.HasPrefix(strings.ToLower(req.Lang), "en") {
		return fmt.Errorf("flite: language %q is not spoken (English only)", req.Lang)
	}
	name := req.Voice
	if name == "" {
		name = e.cfg.DefaultVoice
	}
	vi := voiceIndex(name)
	if vi < 0 {
		return fmt.Errorf("%w %q", ErrUnknownVoice, name)
	}
	s := &synth{ctx: ctx}
	h := cgo.NewHandle(s)
	defer h.Delete()
	return tts.Stream(ctx, tts.Sentences(tts.StripControl(req.Text), e.cfg.MaxChunkChars),
		func(sentence string, q *tts.Queue) error {
			s.q = q
			return speak(vi, sentence, h)
		},
		func() int { return int(s.rate.Load()) }, req.Rate, fn)
}

func speak(vi int, text string, h cgo.Handle) error {
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	mu.Lock()
	defer mu.Unlock()
	v, err := voice(vi)
	if err != nil {
		return err
	}
	var cpu C.int64_t
	r := C.earshot_flite_speak(v, ctext, C.uintptr_t(h), &cpu)
	cpuNanos.Add(int64(cpu))
	if r != 0 {
		return fmt.Errorf("flite: synthesis of a %d-character sentence failed", len(text))
	}
	return nil
}

//export goFliteChunk
func goFliteChunk(h C.uintptr_t, samples *C.short, n, rate, last C.int) C.int {
	s := cgo.Handle(h).Value().(*synth)
	if s.q.Stopped() || s.ctx.Err() != nil {
		return C.CST_AUDIO_STREAM_STOP
	}
	s.rate.CompareAndSwap(0, int32(rate))
	if n > 0 {
		// Copy out of Flite's buffer: it is reused once we return.
		pcm := make([]int16, int(n))
		copy(pcm, unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n)))
		s.q.Push(pcm)
	}
	return C.CST_AUDIO_STREAM_CONT
}
