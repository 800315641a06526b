// Package espeak is the text-to-speech engine for the languages Flite
// does not speak: eSpeak NG through cgo (Debian libespeak-ng-dev at build
// time, libespeak-ng1 and its data at run time). It is intelligible
// rather than natural; a site wanting natural voices in other languages
// points a bot at its neural server (media/tts/ttshttp).
//
// eSpeak NG's state is process-global (one synthesis callback, one
// current voice and rate), so the engine serialises it process-wide,
// sentence by sentence: a long prompt holds the lock for one sentence at
// a time and other calls' sentences interleave with it. Its 22.05 kHz
// output is resampled to the requested rate.
package espeak

/*
#cgo LDFLAGS: -lespeak-ng
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <espeak-ng/speak_lib.h>

extern int goEspeakChunk(uintptr_t h, short *wav, int n);

static int earshot_espeak_cb(short *wav, int n, espeak_EVENT *ev) {
	uintptr_t h = 0;
	if (ev != NULL) h = (uintptr_t)ev->user_data;
	if (wav == NULL || n <= 0 || h == 0) return 0;
	return goEspeakChunk(h, wav, n);
}

static int earshot_espeak_init(const char *path) {
	int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, path, espeakINITIALIZE_DONT_EXIT);
	if (rate > 0) espeak_SetSynthCallback(earshot_espeak_cb);
	return rate;
}

static int64_t earshot_thread_cpu_ns(void) {
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// earshot_espeak_speak speaks text with the voice, adding the thread CPU
// time it took to *cpu; it returns 0, 1000+error when the voice is
// unknown, or eSpeak NG's error.
static int earshot_espeak_speak(const char *voice, int wpm, const char *text, uintptr_t h, int64_t *cpu) {
	int64_t t0 = earshot_thread_cpu_ns();
	espeak_ERROR err = espeak_SetVoiceByName(voice);
	if (err != EE_OK) return 1000 + err;
	espeak_SetParameter(espeakRATE, wpm, 0);
	err = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, (void *)h);
	if (err == EE_OK) err = espeak_Synchronize();
	*cpu += earshot_thread_cpu_ns() - t0;
	return err;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/earshot/earshot/media/tts"
)

// Config configures the engine.
type Config struct {
	// DefaultVoice is the eSpeak NG voice used when a request names neither
	// a voice nor a language ("en-us").
	DefaultVoice string `json:"default_voice"`
	// WordsPerMinute is the speaking rate (80..450; eSpeak NG's default is
	// 175).
	WordsPerMinute int `json:"words_per_minute"`
	// DataPath is the espeak-ng-data directory; "" uses the library's.
	DataPath string `json:"data_path"`
	// MaxChunkChars bounds the text of one synthesis call (see
	// tts.Sentences); 0 uses tts.DefaultMaxChunkChars.
	MaxChunkChars int `json:"max_chunk_chars"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{DefaultVoice: "en-us", WordsPerMinute: 165} }

var voiceRe = regexp.MustCompile(`^[A-Za-z0-9_+-]{1,40}(/[A-Za-z0-9_+-]{1,40})?$`)

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case !voiceRe.MatchString(c.DefaultVoice):
		return fmt.Errorf("espeak: default_voice %q is not a voice name", c.DefaultVoice)
	case c.WordsPerMinute < 80 || c.WordsPerMinute > 450:
		return fmt.Errorf("espeak: words_per_minute must be in 80..450, got %d", c.WordsPerMinute)
	case c.MaxChunkChars < 0:
		return fmt.Errorf("espeak: max_chunk_chars must not be negative, got %d", c.MaxChunkChars)
	}
	return nil
}

var (
	// mu serialises every call into eSpeak NG (see the package comment).
	mu       sync.Mutex
	initOnce sync.Once
	rate     int
	initErr  error
	// cpuNanos is the thread CPU time spent in eSpeak NG, process-wide.
	cpuNanos atomic.Int64
)

// CPUTime returns the CPU time spent synthesising with eSpeak NG in this
// process.
func (e *Engine) CPUTime() time.Duration { return time.Duration(cpuNanos.Load()) }

// Engine is the eSpeak NG engine. It is safe for concurrent use.
type Engine struct {
	cfg    Config
	logger *slog.Logger
}

// New initialises eSpeak NG (once per process) and checks the default
// voice by speaking a word with it.
func New(cfg Config, logger *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	initOnce.Do(func() {
		var cpath *C.char
		if cfg.DataPath != "" {
			cpath = C.CString(cfg.DataPath)
			defer C.free(unsafe.Pointer(cpath))
		}
		mu.Lock()
		r := C.earshot_espeak_init(cpath)
		mu.Unlock()
		if r <= 0 {
			initErr = fmt.Errorf("espeak: initialisation failed (%d); is espeak-ng-data installed?", int(r))
			return
		}
		rate = int(r)
	})
	if initErr != nil {
		return nil, initErr
	}
	e := &Engine{cfg: cfg, logger: logger}
	if err := e.Synthesize(context.Background(), tts.Request{Text: "ok", Voice: cfg.DefaultVoice, Rate: 8000},
		func([]int16) error { return nil }); err != nil {
		return nil, err
	}
	return e, nil
}

// Name implements tts.Engine.
func (e *Engine) Name() string { return "espeak-ng" }

// ErrUnknownVoice is returned for a voice or language eSpeak NG lacks.
var ErrUnknownVoice = errors.New("espeak: unknown voice")

type synth struct {
	ctx context.Context
	q   *tts.Queue
}

// Synthesize implements tts.Engine. The voice is req.Voice, else the
// language req.Lang (eSpeak NG names its voices by language: "es",
// "fr", "pt-br"), else the default voice.
func (e *Engine) Synthesize(ctx context.Context, req tts.Request, fn func(pcm []int16) error) error {
	if err := tts.CheckRequest(req); err != nil {
		return err
	}
	name := req.Voice
	if name == "" {
		name = strings.ToLower(req.Lang)
	}
	if name == "" {
		name = e.cfg.DefaultVoice
	}
	if !voiceRe.MatchString(name) {
		return fmt.Errorf("%w %q", ErrUnknownVoice, name)
	}
	cvoice := C.CString(name)
	defer C.free(unsafe.Pointer(cvoice))
	s := &synth{ctx: ctx}
	h := cgo.NewHandle(s)
	defer h.Delete()
	return tts.Stream(ctx, tts.Sentences(noMarkup.Replace(tts.StripControl(req.Text)), e.cfg.MaxChunkChars),
		func(sentence string, q *tts.Queue) error {
			s.q = q
			ctext := C.CString(sentence)
			defer C.free(unsafe.Pointer(ctext))
			var cpu C.int64_t
			mu.Lock()
			r := C.earshot_espeak_speak(cvoice, C.int(e.cfg.WordsPerMinute), ctext, C.uintptr_t(h), &cpu)
			mu.Unlock()
			cpuNanos.Add(int64(cpu))
			switch {
			case r >= 1000:
				return fmt.Errorf("%w %q", ErrUnknownVoice, name)
			case r != 0:
				return fmt.Errorf("espeak: synthesis of a %d-character sentence failed (%d)", len(sentence), int(r))
			}
			return nil
		},
		func() int { return rate }, req.Rate, fn)
}

//export goEspeakChunk
func goEspeakChunk(h C.uintptr_t, wav *C.short, n C.int) C.int {
	s := cgo.Handle(h).Value().(*synth)
	if s.q.Stopped() || s.ctx.Err() != nil {
		return 1 // abort
	}
	pcm := make([]int16, int(n))
	copy(pcm, unsafe.Slice((*int16)(unsafe.Pointer(wav)), int(n)))
	s.q.Push(pcm)
	return 0
}

// noMarkup keeps angle brackets out of the text: it is never SSML, and
// eSpeak NG reads some markup even without its SSML flag.
var noMarkup = strings.NewReplacer("<", " ", ">", " ")
