// Package ttshttp is the text-to-speech engine for a site's neural speech
// server speaking the OpenAI-compatible POST /v1/audio/speech (Piper,
// Kokoro and Coqui servers do): JSON {model, voice, input,
// response_format} in, audio out, streamed. The server must be local
// (loopback or the site's network); it counts as a local model.
//
// Each sentence is one request (tts.Sentences), so the first audio of a
// long prompt comes after its first sentence. The response is read as it
// arrives and handed on in chunks; a server that does not answer within
// FirstByteTimeout, stops sending for StallTimeout, returns an error
// status or something that is not audio fails the call with an error the
// front (media/tts) counts and answers by falling back to the built-in
// voice for the turn.
package ttshttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/tts"
)

// Response formats.
const (
	FormatPCM = "pcm" // raw 16-bit little-endian mono at PCMRate
	FormatWAV = "wav" // RIFF/WAVE, 16-bit PCM, rate from its header
)

// Errors, wrapped, for counting by cause; each wraps the tts cause the
// front counts its fallbacks by.
var (
	ErrTimeout     = fmt.Errorf("ttshttp: server timed out (%w)", tts.ErrTimeout)
	ErrStatus      = fmt.Errorf("ttshttp: server error status (%w)", tts.ErrServer)
	ErrContentType = fmt.Errorf("ttshttp: response is not audio (%w)", tts.ErrServer)
	ErrFormat      = fmt.Errorf("ttshttp: malformed audio (%w)", tts.ErrServer)
	ErrBusy        = fmt.Errorf("ttshttp: too many requests in flight (%w)", tts.ErrBusy)
)

// Config configures the engine.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8880.
	URL string `json:"url"`
	// Model is the request's model ("kokoro", "tts-1", a Piper voice
	// file's name); some servers ignore it.
	Model string `json:"model"`
	// DefaultVoice is the request's voice when the caller names none.
	DefaultVoice string `json:"default_voice"`
	// Format is FormatPCM or FormatWAV (default wav, which carries its
	// rate).
	Format string `json:"response_format"`
	// PCMRate is the rate of raw PCM responses (default 24000, the
	// OpenAI API's).
	PCMRate int `json:"pcm_rate"`
	// Speed is the request's speed (0.25..4; 0 leaves it out).
	Speed float64 `json:"speed"`
	// FirstByteTimeout bounds the wait for the response's first audio
	// (default 3 s); StallTimeout the silence between two reads of the
	// body (default 2 s); RequestTimeout one sentence's request
	// (default 30 s).
	FirstByteTimeout time.Duration `json:"first_byte_timeout"`
	StallTimeout     time.Duration `json:"stall_timeout"`
	RequestTimeout   time.Duration `json:"request_timeout"`
	// MaxInFlight bounds concurrent requests (default 8); a call beyond
	// it fails at once with ErrBusy (the front falls back).
	MaxInFlight int `json:"max_in_flight"`
	// MaxChunkChars bounds one request's input (default
	// tts.DefaultMaxChunkChars).
	MaxChunkChars int `json:"max_chunk_chars"`
	// APIKey, if set, is sent as a bearer token.
	APIKey string `json:"api_key"`
}

// DefaultConfig returns the defaults (URL and model must be set).
func DefaultConfig() Config {
	return Config{Format: FormatWAV, PCMRate: 24000, FirstByteTimeout: 3 * time.Second,
		StallTimeout: 2 * time.Second, RequestTimeout: 30 * time.Second, MaxInFlight: 8}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("ttshttp: url %q must be an http(s) URL", c.URL)
	case c.Format != FormatPCM && c.Format != FormatWAV:
		return fmt.Errorf("ttshttp: response_format must be %q or %q, got %q", FormatPCM, FormatWAV, c.Format)
	case c.PCMRate < 8000 || c.PCMRate > 48000:
		return fmt.Errorf("ttshttp: pcm_rate must be in 8000..48000, got %d", c.PCMRate)
	case c.Speed != 0 && (c.Speed < 0.25 || c.Speed > 4):
		return fmt.Errorf("ttshttp: speed must be in 0.25..4, got %v", c.Speed)
	case c.FirstByteTimeout <= 0 || c.StallTimeout <= 0 || c.RequestTimeout <= 0:
		return errors.New("ttshttp: first_byte_timeout, stall_timeout and request_timeout must be positive")
	case c.MaxInFlight <= 0:
		return fmt.Errorf("ttshttp: max_in_flight must be positive, got %d", c.MaxInFlight)
	case c.MaxChunkChars < 0:
		return fmt.Errorf("ttshttp: max_chunk_chars must not be negative, got %d", c.MaxChunkChars)
	}
	return nil
}

// Engine talks to one server. It is safe for concurrent use.
type Engine struct {
	cfg      Config
	hc       *http.Client
	endpoint string
	logger   *slog.Logger
	inFlight atomic.Int64
}

// New returns the engine; hc nil means a client of its own (the
// timeouts are the engine's, per request).
func New(cfg Config, logger *slog.Logger, hc *http.Client) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Engine{cfg: cfg, hc: hc, logger: logger,
		endpoint: strings.TrimRight(cfg.URL, "/") + "/v1/audio/speech"}, nil
}

// Name implements tts.Engine.
func (e *Engine) Name() string { return "tts-http" }

type speechRequest struct {
	Model          string  `json:"model"`
	Input          string  `json:"input"`
	Voice          string  `json:"voice,omitempty"`
	ResponseFormat string  `json:"response_format"`
	Speed          float64 `json:"speed,omitempty"`
}

// Synthesize implements tts.Engine. req.Lang is not sent (the voice
// implies it).
func (e *Engine) Synthesize(ctx context.Context, req tts.Request, fn func(pcm []int16) error) error {
	if err := tts.CheckRequest(req); err != nil {
		return err
	}
	if n := e.inFlight.Add(1); n > int64(e.cfg.MaxInFlight) {
		e.inFlight.Add(-1)
		return fmt.Errorf("%w (%d)", ErrBusy, e.cfg.MaxInFlight)
	}
	defer e.inFlight.Add(-1)
	voice := req.Voice
	if voice == "" {
		voice = e.cfg.DefaultVoice
	}
	var out *tts.Output
	inRate := 0
	for _, sentence := range tts.Sentences(tts.StripControl(req.Text), e.cfg.MaxChunkChars) {
		err := e.request(ctx, speechRequest{Model: e.cfg.Model, Input: sentence, Voice: voice,
			ResponseFormat: e.cfg.Format, Speed: e.cfg.Speed}, func(rate int, pcm []int16) error {
			if out == nil || rate != inRate {
				if out != nil {
					if err := out.Flush(); err != nil {
						return err
					}
				}
				var err error
				if out, err = tts.NewOutput(rate, req.Rate, fn); err != nil {
					return err
				}
				inRate = rate
			}
			return out.Write(pcm)
		})
		if err != nil {
			return err
		}
	}
	if out != nil {
		return out.Flush()
	}
	return nil
}

// request posts one sentence and streams the audio of the response to
// fn at its native rate.
func (e *Engine) request(ctx context.Context, sr speechRequest, fn func(rate int, pcm []int16) error) error {
	body, err := json.Marshal(sr)
	if err != nil {
		return fmt.Errorf("ttshttp: %w", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, e.cfg.RequestTimeout, ErrTimeout)
	defer cancel()
	// The watchdog cancels the request when the server is silent for too
	// long: first FirstByteTimeout, then StallTimeout between reads.
	ctx, stall := context.WithCancelCause(ctx)
	defer stall(nil)
	dog := time.AfterFunc(e.cfg.FirstByteTimeout, func() {
		stall(fmt.Errorf("%w: no audio for %s", ErrTimeout, e.cfg.FirstByteTimeout))
	})
	defer dog.Stop()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("ttshttp: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if e.cfg.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+e.cfg.APIKey)
	}
	resp, err := e.hc.Do(hreq)
	if err != nil {
		return e.cause(ctx, fmt.Errorf("ttshttp: post: %w (%w)", err, tts.ErrServer))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The body may echo the input (customer content): it is neither
		// logged nor returned.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%w %d", ErrStatus, resp.StatusCode)
	}
	ct, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	r := &watchedReader{r: resp.Body, dog: dog, stall: e.cfg.StallTimeout}
	br := bufio.NewReaderSize(r, 8192)
	var rate int
	switch {
	case e.cfg.Format == FormatWAV && isWAVType(ct):
		if rate, err = readWAVHeader(br); err != nil {
			return e.cause(ctx, err)
		}
	case e.cfg.Format == FormatPCM && isPCMType(ct):
		rate = e.cfg.PCMRate
		if s := params["rate"]; s != "" {
			if n, err := strconv.Atoi(s); err == nil && n >= 8000 && n <= 48000 {
				rate = n
			}
		}
	default:
		return fmt.Errorf("%w: content type %q for %s", ErrContentType, ct, e.cfg.Format)
	}
	buf := make([]byte, 4096)
	var odd []byte
	for {
		n, rerr := br.Read(buf)
		if n > 0 {
			b := append(odd, buf[:n]...)
			whole := len(b) &^ 1
			pcm := audio.LE16(nil, b[:whole])
			odd = append([]byte(nil), b[whole:]...)
			// The receiver's time (a paced playback) is not the server's
			// silence: the watchdog rests meanwhile.
			dog.Stop()
			if ctx.Err() != nil {
				// The caller cancelled (or a timeout fired) during the
				// last chunk: what is still buffered is not handed on.
				return e.cause(ctx, ctx.Err())
			}
			if err := fn(rate, pcm); err != nil {
				return err
			}
			dog.Reset(e.cfg.StallTimeout)
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return e.cause(ctx, fmt.Errorf("ttshttp: read: %w", rerr))
		}
	}
}

// cause replaces a transport error by the reason the context ended,
// when it did (a timeout of ours, or the caller's cancellation).
func (e *Engine) cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		return c
	}
	return err
}

// watchedReader re-arms the watchdog on every read that returns data.
type watchedReader struct {
	r     io.Reader
	dog   *time.Timer
	stall time.Duration
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.dog.Reset(w.stall)
	}
	return n, err
}

func isWAVType(ct string) bool {
	switch ct {
	case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "application/octet-stream":
		return true
	}
	return false
}

func isPCMType(ct string) bool {
	switch ct {
	case "audio/pcm", "audio/l16", "audio/raw", "application/octet-stream":
		return true
	}
	return false
}

// readWAVHeader reads a streamed WAV's header up to its data chunk and
// returns the sample rate. Streaming servers write an unknown data size
// (0 or 0xFFFFFFFF), so the data runs to the end of the body.
func readWAVHeader(r *bufio.Reader) (int, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return 0, fmt.Errorf("%w: not RIFF/WAVE", ErrFormat)
	}
	rate := 0
	for range 16 {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return 0, fmt.Errorf("%w: chunk: %w", ErrFormat, err)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > 64 {
				return 0, fmt.Errorf("%w: fmt chunk of %d bytes", ErrFormat, size)
			}
			f := make([]byte, size+size&1)
			if _, err := io.ReadFull(r, f); err != nil {
				return 0, fmt.Errorf("%w: fmt: %w", ErrFormat, err)
			}
			tag, ch, bits := binary.LittleEndian.Uint16(f[0:]), binary.LittleEndian.Uint16(f[2:]), binary.LittleEndian.Uint16(f[14:])
			rate = int(binary.LittleEndian.Uint32(f[4:]))
			if (tag != 1 && tag != 0xFFFE) || ch != 1 || bits != 16 || rate < 8000 || rate > 48000 {
				return 0, fmt.Errorf("%w: want 16-bit mono PCM at 8..48 kHz, got format %d, %d channels, %d bits, %d Hz",
					ErrFormat, tag, ch, bits, rate)
			}
		case "data":
			if rate == 0 {
				return 0, fmt.Errorf("%w: data before fmt", ErrFormat)
			}
			return rate, nil
		default:
			if size > 1<<16 {
				return 0, fmt.Errorf("%w: %q chunk of %d bytes before the data", ErrFormat, id, size)
			}
			if _, err := r.Discard(int(size + size&1)); err != nil {
				return 0, fmt.Errorf("%w: %w", ErrFormat, err)
			}
		}
	}
	return 0, fmt.Errorf("%w: no data chunk", ErrFormat)
}
