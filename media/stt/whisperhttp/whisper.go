// Package whisperhttp is the speech-to-text engine for a local
// Whisper-class server that the site runs: the whisper.cpp server
// (POST /inference) or the OpenAI-compatible POST /v1/audio/transcriptions
// of faster-whisper / speaches. It is fed one utterance at a time (the
// pipeline's VAD decides the utterance ends), sent as a 16 kHz mono WAV, and
// produces no partial hypotheses. The server must be local (loopback or the
// site's network); it counts as a local model.
package whisperhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wav"
)

// API flavours.
const (
	APIWhisperCpp = "whisper.cpp" // POST {base}/inference
	APIOpenAI     = "openai"      // POST {base}/v1/audio/transcriptions
)

// Config configures the engine.
type Config struct {
	URL   string `json:"url"`   // base URL, e.g. http://127.0.0.1:8080
	API   string `json:"api"`   // APIWhisperCpp or APIOpenAI
	Model string `json:"model"` // model name for the OpenAI API (e.g. "Systran/faster-whisper-small.en")
	// Language hint (ISO 639-1), default "en".
	Language string `json:"language"`
	// Timeout per utterance request (default 30 s).
	Timeout time.Duration `json:"timeout"`
	// MaxStreams bounds concurrent streams (default 8).
	MaxStreams int `json:"max_streams"`
	// MaxUtterance caps the audio sent in one request (default 30 s, the
	// Whisper window); longer utterances are sent in pieces.
	MaxUtterance time.Duration `json:"max_utterance"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("whisperhttp: url %q must be an http(s) URL", c.URL)
	}
	if c.API != APIWhisperCpp && c.API != APIOpenAI {
		return fmt.Errorf("whisperhttp: api must be %q or %q, got %q", APIWhisperCpp, APIOpenAI, c.API)
	}
	if c.MaxStreams < 0 || c.Timeout < 0 || c.MaxUtterance < 0 {
		return errors.New("whisperhttp: max_streams, timeout and max_utterance must not be negative")
	}
	return nil
}

// Engine talks to one Whisper server.
type Engine struct {
	cfg   Config
	c     *Client
	slots chan struct{}
}

var _ stt.Engine = (*Engine)(nil)

// New returns the engine; hc nil means a client with cfg.Timeout.
func New(cfg Config, hc *http.Client) (*Engine, error) {
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 8
	}
	if cfg.MaxUtterance == 0 {
		cfg.MaxUtterance = 30 * time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := NewClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, c: c, slots: make(chan struct{}, cfg.MaxStreams)}, nil
}

// Name implements stt.Engine.
func (e *Engine) Name() string { return "whisper-http" }

// NewStream implements stt.Engine.
func (e *Engine) NewStream(ctx context.Context, _ stt.StreamOptions) (stt.Stream, error) {
	select {
	case e.slots <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: %d whisper streams in use", stt.ErrBusy, e.cfg.MaxStreams)
	}
	return &stream{e: e, ctx: ctx}, nil
}

type stream struct {
	e      *Engine
	ctx    context.Context
	buf    []int16
	fed    int64 // samples written
	start  int64 // fed index of buf[0]
	closed bool
}

func (s *stream) Write(pcm []int16) ([]stt.Result, error) {
	if s.closed {
		return nil, errors.New("whisperhttp: stream closed")
	}
	s.buf = append(s.buf, pcm...)
	s.fed += int64(len(pcm))
	if max := int(s.e.cfg.MaxUtterance.Seconds() * stt.Rate); len(s.buf) >= max {
		return s.EndUtterance()
	}
	return nil, nil
}

func (s *stream) EndUtterance() ([]stt.Result, error) {
	if s.closed {
		return nil, errors.New("whisperhttp: stream closed")
	}
	if len(s.buf) == 0 {
		return nil, nil
	}
	pcm := s.buf
	start := s.start
	s.buf = nil
	s.start = s.fed
	text, words, err := s.e.c.Transcribe(s.ctx, pcm)
	if err != nil {
		return nil, err
	}
	ms := func(samples int64) int64 { return samples * 1000 / stt.Rate }
	r := stt.Result{Text: text, Final: true, StartMs: ms(start), EndMs: ms(start + int64(len(pcm)))}
	for _, w := range words {
		w.StartMs += ms(start)
		w.EndMs += ms(start)
		r.Words = append(r.Words, w)
	}
	return []stt.Result{r}, nil
}

func (s *stream) Close() error {
	if !s.closed {
		s.closed = true
		<-s.e.slots
	}
	return nil
}

// Errors of a request, for callers that count failures by kind.
var (
	// ErrStatus: the server answered with a status other than 200.
	ErrStatus = errors.New("whisperhttp: server error status")
	// ErrBadResponse: the answer is not the JSON transcript asked for
	// (wrong content type, malformed or oversized body).
	ErrBadResponse = errors.New("whisperhttp: bad response")
)

// maxResponse bounds the body read from a server.
const maxResponse = 4 << 20

// Client talks to one Whisper-class server. It is safe for concurrent use.
type Client struct {
	base, api, model, language string
	hc                         *http.Client
}

// NewClient returns a client for the server of cfg (URL, API, Model,
// Language); hc nil means a client with cfg.Timeout (default 30 s).
func NewClient(cfg Config, hc *http.Client) (*Client, error) {
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	return &Client{base: strings.TrimRight(cfg.URL, "/"), api: cfg.API, model: cfg.Model, language: cfg.Language, hc: hc}, nil
}

// Transcribe posts one utterance (16 kHz mono PCM) and returns its text
// and words (times relative to the utterance).
func (c *Client) Transcribe(ctx context.Context, pcm []int16) (string, []stt.Word, error) {
	body := &bytes.Buffer{}
	mw := multipart.NewWriter(body)
	fw, err := mw.CreateFormFile("file", "utterance.wav")
	if err != nil {
		return "", nil, err
	}
	fw.Write(wav.Encode(wav.Format{Encoding: wav.PCM, SampleRate: stt.Rate, Channels: 1, BitsPerSample: 16}, audio.Bytes(nil, pcm)))
	path := "/inference"
	fields := map[string]string{"response_format": "verbose_json", "language": c.language, "temperature": "0"}
	if c.api == APIOpenAI {
		path = "/v1/audio/transcriptions"
		fields["timestamp_granularities[]"] = "word"
		if c.model != "" {
			fields["model"] = c.model
		}
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, body)
	if err != nil {
		return "", nil, fmt.Errorf("whisperhttp: %w", err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("whisperhttp: post %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return "", nil, fmt.Errorf("whisperhttp: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%w: post %s: %d", ErrStatus, path, resp.StatusCode)
	}
	if len(b) > maxResponse {
		return "", nil, fmt.Errorf("%w: more than %d bytes", ErrBadResponse, maxResponse)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return "", nil, fmt.Errorf("%w: content type %q", ErrBadResponse, resp.Header.Get("Content-Type"))
	}
	// verbose_json of both servers: {"text", "segments": [{"start","end","text",
	// "avg_logprob", "words": [{"word","start","end","probability"}]}],
	// "words": [...]} (OpenAI puts words at the top level).
	var v struct {
		Text     *string `json:"text"`
		Segments []struct {
			Words []whisperWord `json:"words"`
		} `json:"segments"`
		Words []whisperWord `json:"words"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if v.Text == nil {
		return "", nil, fmt.Errorf("%w: no text", ErrBadResponse)
	}
	ws := v.Words
	if len(ws) == 0 {
		for _, s := range v.Segments {
			ws = append(ws, s.Words...)
		}
	}
	var words []stt.Word
	for _, w := range ws {
		t := strings.TrimSpace(w.Word)
		if t == "" {
			continue
		}
		p := w.Probability
		if p <= 0 || p > 1 {
			p = 1
		}
		words = append(words, stt.Word{Text: t, StartMs: int64(w.Start * 1000), EndMs: int64(w.End * 1000), Confidence: p})
	}
	return strings.TrimSpace(*v.Text), words, nil
}

// Health asks the server's health endpoint (path, e.g. "/health"); any
// answer but 200 is an error.
func (c *Client) Health(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("whisperhttp: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("whisperhttp: health: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: health: %d", ErrStatus, resp.StatusCode)
	}
	return nil
}

type whisperWord struct {
	Word        string  `json:"word"`
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
	Probability float64 `json:"probability"`
}
