package voice

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/tts"
)

// A bot call's first turn would otherwise wait for what its first use
// builds: a recogniser decoder (PocketSphinx loads about 90 MB of models
// for each, over half a second), the synthesiser's voice and its first
// synthesis, and the speech of the bot's fixed prompts. WarmRecognizer
// and WarmSpeech do that work ahead of the calls: at start and whenever a
// bot is published.

// WarmRecognizer readies n streams of the recogniser for calls opened
// with opts (a pooled engine keeps the decoders it made): it opens n
// streams at once, then closes them.
func WarmRecognizer(ctx context.Context, e stt.Engine, opts stt.StreamOptions, n int) error {
	var open []stt.Stream
	defer func() {
		for _, s := range open {
			_ = s.Close()
		}
	}()
	for range n {
		s, err := e.NewStream(ctx, opts)
		if err != nil {
			if errors.Is(err, stt.ErrBusy) && len(open) > 0 {
				return nil // as many as the pool has room for
			}
			return fmt.Errorf("voice: warm recogniser: %w", err)
		}
		open = append(open, s)
	}
	return nil
}

// Prompts is a bot's speech set-up for Warm: its voice settings and the
// texts fixed in its definition.
type Prompts struct {
	Voice string
	Lang  string
	// Rates are the legs' sample rates the bot answers on (8000 for
	// SIP and Twilio, 16000 or 48000 for the widget).
	Rates []int
	// Static are the fixed prompts (greeting, slot prompts, reprompts).
	Static []string
	// ChunkChars is the runtime's chunk size (Config.ChunkChars), so that
	// the cached pieces are the ones a call asks for.
	ChunkChars int
}

// WarmSpeech synthesises every static prompt at every rate through synth
// as a call would (same chunks, marked static, so a caching front keeps
// them), discarding the audio. With no static prompt it synthesises one
// short word, which loads the voice.
func WarmSpeech(ctx context.Context, synth tts.Engine, p Prompts) error {
	texts := p.Static
	static := true
	if len(texts) == 0 {
		texts, static = []string{"Hello."}, false
	}
	chunk := p.ChunkChars
	if chunk <= 0 {
		chunk = DefaultConfig().ChunkChars
	}
	discard := func([]int16) error { return nil }
	var errs []error
	for _, rate := range p.Rates {
		for _, text := range texts {
			for _, c := range Chunks(strings.TrimSpace(text), chunk) {
				err := synth.Synthesize(ctx, tts.Request{Text: c, Voice: p.Voice, Lang: p.Lang, Rate: synthRate(rate), Static: static}, discard)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					errs = append(errs, err)
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("voice: warm speech: %d of the prompts failed: %w", len(errs), errs[0])
	}
	return nil
}
