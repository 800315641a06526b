// Package tts turns text into speech for the voice virtual agent: engines
// behind one interface (CMU Flite, eSpeak NG, a site's neural server
// speaking the OpenAI-compatible speech API), reading numbers, dates,
// amounts and card digits naturally, per-bot pronunciation lexicons and a
// cache for static prompts.
//
// The voice runtime builds the front once (media/tts/engines.New from the
// daemon's tts: section), tells it each bot's voices and lexicon
// (Front.SetBot, from the bot's definition) and speaks with Front.Speak
// (Prompt{Bot, Text, Lang, Rate, Static}) or, where a tts.Engine is
// wanted, Front.ForBot(bot). Chunks arrive as soon as a sentence is
// synthesised; a receiver may pace them (engines never hold a lock while
// the receiver runs) and stops a prompt by cancelling ctx (barge-in) or
// returning an error.
package tts

import (
	"context"
	"time"
)

// Request is one prompt to speak.
type Request struct {
	// Text is what to say, as written (the engine reads numbers, dates and
	// amounts; a Lexicon applies before).
	Text string
	// Voice names one of the engine's voices; empty for its default.
	Voice string
	// Lang is the BCP 47 language of Text; empty for English.
	Lang string
	// Rate is the sample rate of the PCM produced: 8000 or 16000.
	Rate int
	// Static marks text fixed in a bot's definition (a greeting, a slot
	// prompt, a reprompt): a front that caches speech may keep its audio.
	// Engines ignore it. Never set it on text that holds customer data.
	Static bool
}

// Engine synthesises speech. Implementations are safe for concurrent use.
type Engine interface {
	// Name names the engine: "flite", "espeak-ng", "tts-http".
	Name() string
	// Synthesize speaks req.Text, calling fn with successive chunks of
	// 16-bit mono samples at req.Rate as soon as each is ready, so that
	// playback can start before the whole prompt is synthesised. It returns
	// when the prompt is done, when ctx ends (ctx.Err()), or with fn's
	// error.
	Synthesize(ctx context.Context, req Request, fn func(pcm []int16) error) error
}

// CPUMeter is implemented by engines that synthesise on this machine and
// measure the CPU time they spend (thread CPU time around the synthesis
// calls), cumulative for the process.
type CPUMeter interface {
	CPUTime() time.Duration
}
