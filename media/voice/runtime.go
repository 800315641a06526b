package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/earshot/earshot/media/tts"
)

// InputKind says what a caller's turn was.
type InputKind string

// The kinds of caller input a Brain hears.
const (
	// InputSpeech: the caller said Text (the recogniser's transcript).
	InputSpeech InputKind = "speech"
	// InputDigits: the caller keyed Text (DTMF digits, without the
	// terminator). Digits are sensitive: never log them.
	InputDigits InputKind = "digits"
	// InputNoInput: the caller said nothing for the no-input timeout, as
	// many times as the reprompts allow; the Brain decides how to end.
	InputNoInput InputKind = "no_input"
)

// Input is one caller turn.
type Input struct {
	Kind InputKind
	Text string
	// Partial marks an early hypothesis the runtime offers before the
	// caller's turn has ended (Config.EarlyIntent); a Brain that cannot act
	// on it safely returns Reply{Defer: true}.
	Partial bool
	// At is when the caller's turn ended.
	At time.Time
}

// Reply is what the bot does after a turn.
type Reply struct {
	// Say are the prompts to speak, in order.
	Say []string
	// Digits, when set, asks for the next input as DTMF digits (a digit
	// slot): speech is still heard.
	Digits *DigitSpec
	// Handover hands the call over after Say has been played.
	Handover *Handover
	// End ends the call with this reason after Say has been played.
	End string
	// Defer answers an early (partial) input: nothing is decided yet, wait
	// for the caller's whole turn.
	Defer bool
}

// DigitSpec is how DTMF digits of a digit slot are collected.
type DigitSpec struct {
	// Max ends collection at this many digits (0: only the terminator or
	// the inter-digit timeout end it).
	Max int
	// Terminator ends collection and is not part of the digits ("#" if
	// empty; "none" for no terminator).
	Terminator string
}

// Handover is a hand-over to a human.
type Handover struct {
	// Reason names why (the bot's hand-over reason); it is the BYE reason
	// when the call cannot be transferred.
	Reason string
	// Target is where the call is transferred (a SIP URI); empty to end the
	// call with Reason instead.
	Target string
}

// Brain decides what the bot says: the voice call's view of a virtual
// agent's session. Calls come from one goroutine, one at a time.
type Brain interface {
	// Greet is the bot's first turn.
	Greet(ctx context.Context) Reply
	// Hear answers one caller turn.
	Hear(ctx context.Context, in Input) Reply
}

// Transcript records the bot's side of the call: what it said, with the
// wall-clock times of its first and last audio (the daemon maps them onto
// the engagement's media clock), and what became of the call.
type Transcript interface {
	BotSaid(text string, start, end time.Time)
	// Ended reports how the call ended on the bot's side: "handover" with
	// the hand-over's reason and whether the transfer was accepted, or the
	// end's reason.
	Ended(kind, reason string, transferred bool)
}

// Heard is a caller segment from the recogniser.
type Heard struct {
	Text  string
	Final bool
	// End is the wall-clock time the segment's audio ended (the
	// engagement's media clock origin plus its EndMs).
	End time.Time
}

// Config holds the turn-taking settings. Start from DefaultConfig.
type Config struct {
	// EndOfTurn is the caller's silence after a final segment that ends
	// their turn (counted from the end of their speech; the recogniser's
	// own end-of-utterance silence is part of it).
	EndOfTurn time.Duration `json:"end_of_turn" yaml:"end_of_turn"`
	// NoInput is how long the bot waits for the caller after a prompt;
	// NoInputRetries reprompts (NoInputPrompt then the last prompt) follow
	// before the Brain hears InputNoInput.
	NoInput        time.Duration `json:"no_input" yaml:"no_input"`
	NoInputRetries int           `json:"no_input_retries" yaml:"no_input_retries"`
	NoInputPrompt  string        `json:"no_input_prompt" yaml:"no_input_prompt"`
	// BargeIn stops a prompt when the caller speaks over it.
	BargeIn bool `json:"barge_in" yaml:"barge_in"`
	// EarlyIntent offers partial hypotheses to the Brain (which acts on
	// them only where safe).
	EarlyIntent bool `json:"early_intent" yaml:"early_intent"`
	// DigitTimeout ends digit collection after this long without a key.
	DigitTimeout time.Duration `json:"digit_timeout" yaml:"digit_timeout"`
	// MaxDigits bounds one digit input (a flood is cut there).
	MaxDigits int `json:"max_digits" yaml:"max_digits"`
	// Voice and Lang choose the synthesiser's voice.
	Voice string `json:"voice,omitempty" yaml:"voice"`
	Lang  string `json:"lang,omitempty" yaml:"lang"`
	// ChunkChars splits long prompts at sentence or word boundaries into
	// pieces of at most this many characters, synthesised one after the
	// other (the first plays while the next is synthesised).
	ChunkChars int `json:"chunk_chars" yaml:"chunk_chars"`
	// MaxPromptChars cuts a prompt longer than this.
	MaxPromptChars int `json:"max_prompt_chars" yaml:"max_prompt_chars"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{EndOfTurn: 700 * time.Millisecond, NoInput: 6 * time.Second, NoInputRetries: 2,
		NoInputPrompt: "Sorry, I did not hear anything.", BargeIn: true, DigitTimeout: 4 * time.Second,
		MaxDigits: 32, ChunkChars: 240, MaxPromptChars: 20000}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.EndOfTurn < 0 || c.EndOfTurn > 10*time.Second:
		return fmt.Errorf("voice: end_of_turn must be within 0-10s, got %s", c.EndOfTurn)
	case c.NoInput < time.Second:
		return fmt.Errorf("voice: no_input must be at least 1s, got %s", c.NoInput)
	case c.NoInputRetries < 0 || c.NoInputRetries > 10:
		return fmt.Errorf("voice: no_input_retries must be within 0-10, got %d", c.NoInputRetries)
	case c.DigitTimeout < 500*time.Millisecond:
		return fmt.Errorf("voice: digit_timeout must be at least 500ms, got %s", c.DigitTimeout)
	case c.MaxDigits < 1 || c.MaxDigits > 256:
		return fmt.Errorf("voice: max_digits must be within 1-256, got %d", c.MaxDigits)
	case c.ChunkChars < 20:
		return fmt.Errorf("voice: chunk_chars must be at least 20, got %d", c.ChunkChars)
	case c.MaxPromptChars < c.ChunkChars:
		return fmt.Errorf("voice: max_prompt_chars must be at least chunk_chars, got %d", c.MaxPromptChars)
	}
	return nil
}

// Deps are what a Conversation runs on.
type Deps struct {
	Brain      Brain
	TTS        tts.Engine
	Transcript Transcript
	Metrics    *Metrics // nil: not counted
	Logger     *slog.Logger
	// Static reports whether a prompt's text is fixed in the bot's
	// definition (nil: none is): its audio may be served from the
	// synthesiser's cache (see WarmSpeech). Prompts that carry customer data
	// must never be reported static.
	Static func(text string) bool
	// Heard reports how far the caller's audio has been through the voice
	// activity detector, as a time on the media clock (nil: assume no
	// lag). The caller's turn ends only once their silence has been heard
	// for EndOfTurn: behind a recogniser backlog, speech that resumed
	// after a pause is not yet reported, and ending the turn on the wall
	// clock would answer half a sentence and then be cut by the rest.
	// Likewise the no-input timeout ends only once the caller's audio up
	// to its end has been heard without speech.
	Heard func() (time.Time, bool)
}

// maxHeardLag bounds how long past the wall-clock end of a turn the
// runtime waits for the caller's audio to be heard (a stream that stopped
// altogether never will be).
const maxHeardLag = 3 * time.Second

// unheard is how long until the caller's audio up to t will have been
// heard (0 if it has, or cannot be known).
func (c *Conversation) unheard(t time.Time) time.Duration {
	if c.d.Heard == nil || time.Since(t) > maxHeardLag {
		return 0
	}
	h, ok := c.d.Heard()
	if !ok || !h.Before(t) {
		return 0
	}
	return min(t.Sub(h), 200*time.Millisecond)
}

// Conversation is one bot call's turn-taking: it greets, listens to the
// caller's segments, speech starts and digits, asks the Brain and speaks
// its replies on the Leg. Feed it with Heard, SpeechStarted and DTMF (safe
// from any goroutine, never blocking); it ends when the call is handed
// over or ended, when ctx ends, or on Close.
type Conversation struct {
	cfg  Config
	call Call
	d    Deps
	log  *slog.Logger
	m    *Metrics

	events chan event
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

type eventKind int

const (
	evSpeechStart eventKind = iota
	evHeard
	evDigit
	evReply
	evPlayed
)

type event struct {
	kind  eventKind
	heard Heard
	digit string
	reply Reply
	early bool // evReply: the answer to an early input
	play  *playback
}

// eventQueue bounds the inputs waiting for the conversation's goroutine;
// inputs beyond it are dropped and counted (a DTMF flood).
const eventQueue = 64

// Start begins a conversation on call.Leg and greets the caller. It
// returns at once; the conversation's goroutine is owned by the returned
// Conversation (Close or Done).
func Start(ctx context.Context, cfg Config, call Call, d Deps) (*Conversation, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if call.Leg == nil || d.Brain == nil || d.TTS == nil {
		return nil, errors.New("voice: start: a leg, a brain and a synthesiser are needed")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	m := d.Metrics
	if m == nil {
		m = newMetrics()
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &Conversation{cfg: cfg, call: call, d: d, log: d.Logger.With("component", "voice", "bot", call.Bot, "source", call.Source),
		m: m, events: make(chan event, eventQueue), ctx: cctx, cancel: cancel, done: make(chan struct{})}
	m.calls.WithLabelValues(call.Source).Inc()
	go c.run()
	return c, nil
}

// Done is closed when the conversation has ended.
func (c *Conversation) Done() <-chan struct{} { return c.done }

// Close stops the conversation (the call has ended) and waits for it.
func (c *Conversation) Close() {
	c.cancel()
	<-c.done
}

// SpeechStarted reports that the caller started speaking (the voice
// activity detector's onset): it stops a prompt at once (barge-in) and
// holds off the end of the caller's turn.
func (c *Conversation) SpeechStarted() { c.post(event{kind: evSpeechStart}) }

// Hear passes a caller segment (partial or final) from the recogniser.
func (c *Conversation) Hear(h Heard) { c.post(event{kind: evHeard, heard: h}) }

// DTMF passes one telephone-event digit (0-9 * # A-D).
func (c *Conversation) DTMF(digit string) {
	c.m.dtmf.WithLabelValues(c.call.Source).Inc()
	c.post(event{kind: evDigit, digit: digit})
}

func (c *Conversation) post(ev event) {
	select {
	case c.events <- ev:
	case <-c.done:
	default:
		c.m.dropped.WithLabelValues(c.call.Source).Inc()
	}
}

// playback is one reply being spoken.
type playback struct {
	cancel context.CancelFunc
	// turnEnd is the end of the caller's speech the reply answers (zero
	// for the greeting and reprompts): the turn latency runs from it to
	// the first audio packet.
	turnEnd time.Time
	reply   Reply
	cleared bool
	err     error
}

// state is the run goroutine's.
type state struct {
	playing *playback
	// heard are the caller's final texts of the turn in progress; partial
	// the latest partial after them.
	heard   []string
	partial string
	// speaking: the caller is speaking (speech start seen, no final yet).
	speaking bool
	lastEnd  time.Time // end of the caller's last final segment
	turnAt   *time.Timer
	noInput  *time.Timer
	// noInputDue is when the no-input timeout ends, on the media clock:
	// it fires once the caller's audio up to there has been heard.
	noInputDue time.Time
	digitT     *time.Timer
	// thinking: the Brain is answering; nothing else is asked meanwhile.
	thinking bool
	// early: a partial was offered to the Brain for this turn; pending
	// is the Brain's early answer, held until the caller's turn ends.
	early   bool
	pending *Reply
	// turnEnded: the caller's turn ended while the Brain was thinking;
	// it is answered when the Brain's reply comes.
	turnEnded  bool
	digits     *DigitSpec
	keyed      []byte
	lastPrompt []string
	noInputs   int
	finishing  bool
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

func (c *Conversation) run() {
	defer close(c.done)
	var st state
	var wg sync.WaitGroup // the playbacks and the Brain's calls
	defer func() {
		c.cancel()
		wg.Wait()
		stopTimer(&st.turnAt)
		stopTimer(&st.noInput)
		stopTimer(&st.digitT)
	}()
	timers := make(chan string, 4)
	arm := func(t **time.Timer, d time.Duration, name string) {
		stopTimer(t)
		*t = time.AfterFunc(d, func() {
			select {
			case timers <- name:
			case <-c.ctx.Done():
			}
		})
	}
	// armNoInput starts the wait for the caller after a prompt.
	armNoInput := func() {
		st.noInputDue = time.Now().Add(c.cfg.NoInput)
		arm(&st.noInput, c.cfg.NoInput, "noinput")
	}
	ask := func(in *Input, turnEnd time.Time) {
		st.thinking = true
		early := in != nil && in.Partial
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r Reply
			if in == nil {
				r = c.d.Brain.Greet(c.ctx)
			} else {
				r = c.d.Brain.Hear(c.ctx, *in)
			}
			select {
			case c.events <- event{kind: evReply, reply: r, early: early, heard: Heard{End: turnEnd}}:
			case <-c.ctx.Done():
			}
		}()
	}
	speak := func(r Reply, turnEnd time.Time) {
		pctx, cancel := context.WithCancel(c.ctx)
		p := &playback{cancel: cancel, turnEnd: turnEnd, reply: r}
		st.playing = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.err = c.play(pctx, p)
			select {
			case c.events <- event{kind: evPlayed, play: p}:
			case <-c.ctx.Done():
			}
		}()
	}
	// answer acts on the Brain's reply to a turn that ended at turnEnd.
	answer := func(r Reply, turnEnd time.Time) {
		if r.Digits != nil {
			st.digits = r.Digits
		} else if len(r.Say) > 0 {
			st.digits = nil
		}
		if len(r.Say) > 0 {
			st.lastPrompt = r.Say
		}
		if r.Handover != nil || r.End != "" {
			st.finishing = true
		}
		if st.playing != nil {
			st.playing.cancel()
			c.call.Leg.Clear()
		}
		speak(r, turnEnd)
	}
	// endTurn hands the caller's turn to the Brain, or speaks the answer
	// the Brain gave early.
	endTurn := func() {
		stopTimer(&st.turnAt)
		stopTimer(&st.noInput)
		if st.thinking && !st.finishing {
			st.turnEnded = true
			return
		}
		text := strings.TrimSpace(strings.Join(st.heard, " "))
		pending := st.pending
		st.heard, st.partial, st.early, st.pending, st.turnEnded = nil, "", false, nil, false
		if st.finishing || text == "" && pending == nil {
			return
		}
		st.noInputs = 0
		c.m.turns.WithLabelValues(c.call.Source, string(InputSpeech)).Inc()
		if pending != nil {
			// The Brain acted on the caller's words before the turn ended;
			// the rest of the turn is the answer's, not a new input.
			c.m.early.WithLabelValues(c.call.Source).Inc()
			answer(*pending, st.lastEnd)
			return
		}
		ask(&Input{Kind: InputSpeech, Text: text, At: st.lastEnd}, st.lastEnd)
	}
	endDigits := func() {
		stopTimer(&st.digitT)
		if len(st.keyed) == 0 || st.thinking || st.finishing {
			st.keyed = nil
			return
		}
		d := string(st.keyed)
		st.keyed, st.digits = nil, nil
		st.noInputs = 0
		stopTimer(&st.noInput)
		c.m.turns.WithLabelValues(c.call.Source, string(InputDigits)).Inc()
		now := time.Now()
		ask(&Input{Kind: InputDigits, Text: d, At: now}, now)
	}
	bargeIn := func() {
		if p := st.playing; p != nil && c.cfg.BargeIn && !st.finishing && !p.cleared {
			p.cleared = true
			p.cancel()
			c.call.Leg.Clear()
			c.m.bargeIns.WithLabelValues(c.call.Source).Inc()
		}
	}
	ask(nil, time.Time{})
	for {
		select {
		case <-c.ctx.Done():
			return
		case name := <-timers:
			switch name {
			case "turn":
				if st.turnAt != nil && !st.speaking {
					st.turnAt = nil
					if wait := c.unheard(st.lastEnd.Add(c.cfg.EndOfTurn)); wait > 0 {
						// The silence has not all been heard yet.
						arm(&st.turnAt, wait, "turn")
						continue
					}
					if len(c.events) > 0 {
						// What was heard up to there is still to be read.
						arm(&st.turnAt, 5*time.Millisecond, "turn")
						continue
					}
					endTurn()
				}
			case "digits":
				if st.digitT != nil {
					st.digitT = nil
					endDigits()
				}
			case "noinput":
				if st.noInput == nil || st.thinking || st.playing != nil || st.speaking || st.finishing {
					continue
				}
				st.noInput = nil
				// Behind a recogniser backlog the caller may have spoken
				// in audio not yet heard: the timeout counts on the media
				// clock, not the wall clock.
				if wait := c.unheard(st.noInputDue); wait > 0 {
					arm(&st.noInput, wait, "noinput")
					continue
				}
				if len(c.events) > 0 {
					arm(&st.noInput, 5*time.Millisecond, "noinput")
					continue
				}
				st.noInputs++
				c.m.noInputs.WithLabelValues(c.call.Source).Inc()
				if st.noInputs > c.cfg.NoInputRetries {
					st.noInputs = 0
					c.m.turns.WithLabelValues(c.call.Source, string(InputNoInput)).Inc()
					ask(&Input{Kind: InputNoInput, At: time.Now()}, time.Time{})
					continue
				}
				say := append([]string{c.cfg.NoInputPrompt}, st.lastPrompt...)
				speak(Reply{Say: say, Digits: st.digits}, time.Time{})
			}
		case ev := <-c.events:
			switch ev.kind {
			case evSpeechStart:
				st.speaking = true
				stopTimer(&st.turnAt)
				stopTimer(&st.noInput)
				bargeIn()
			case evHeard:
				h := ev.heard
				if strings.TrimSpace(h.Text) == "" {
					if h.Final {
						// Noise the recogniser made nothing of: the caller is
						// not speaking any more.
						st.speaking = false
						if len(st.heard) == 0 && st.pending != nil {
							// The early answer's turn ended here.
							st.lastEnd = h.End
							if h.End.IsZero() {
								st.lastEnd = time.Now()
							}
						}
						if len(st.heard) > 0 || st.pending != nil {
							arm(&st.turnAt, max(time.Until(st.lastEnd.Add(c.cfg.EndOfTurn)), 0), "turn")
						} else if st.playing == nil && !st.thinking && !st.finishing {
							armNoInput()
						}
					}
					continue
				}
				stopTimer(&st.noInput)
				bargeIn()
				if !h.Final {
					st.speaking = true
					st.partial = h.Text
					stopTimer(&st.turnAt)
					if c.cfg.EarlyIntent && !st.early && !st.thinking && !st.finishing && len(st.heard) == 0 {
						st.early = true
						ask(&Input{Kind: InputSpeech, Text: h.Text, Partial: true, At: time.Now()}, time.Time{})
					}
					continue
				}
				st.speaking = false
				st.heard = append(st.heard, h.Text)
				st.partial = ""
				st.lastEnd = h.End
				if h.End.IsZero() {
					st.lastEnd = time.Now()
				}
				arm(&st.turnAt, max(time.Until(st.lastEnd.Add(c.cfg.EndOfTurn)), 0), "turn")
			case evDigit:
				if st.finishing {
					continue
				}
				stopTimer(&st.noInput)
				bargeIn()
				spec := st.digits
				if spec == nil {
					spec = &DigitSpec{}
				}
				term := spec.Terminator
				if term == "" {
					term = "#"
				}
				if ev.digit == term {
					endDigits()
					continue
				}
				if len(st.keyed) < c.cfg.MaxDigits {
					st.keyed = append(st.keyed, ev.digit...)
				}
				if spec.Max > 0 && len(st.keyed) >= spec.Max || len(st.keyed) >= c.cfg.MaxDigits {
					endDigits()
					continue
				}
				arm(&st.digitT, c.cfg.DigitTimeout, "digits")
			case evReply:
				st.thinking = false
				r := ev.reply
				if ev.early {
					if !r.Defer && (len(r.Say) > 0 || r.Handover != nil || r.End != "") {
						// Acted on early: the answer is held until the
						// caller's turn ends (speaking it now would talk
						// over them), then spoken at once.
						st.pending = &r
					}
					if st.turnEnded {
						endTurn()
					}
					continue
				}
				answer(r, ev.heard.End)
				// A turn the caller finished while the Brain was thinking.
				if st.turnEnded {
					endTurn()
				}
			case evPlayed:
				p := ev.play
				if st.playing == p {
					st.playing = nil
				}
				if errors.Is(p.err, ErrHungUp) {
					c.d.Transcript.Ended("hangup", "caller", false)
					return
				}
				if p.reply.Handover != nil || p.reply.End != "" {
					c.finish(p.reply)
					return
				}
				if st.playing == nil && !st.thinking && !st.speaking && len(st.heard) == 0 {
					armNoInput()
				}
			}
		}
	}
}

// finish hands the call over or ends it, once the last prompt has played.
func (c *Conversation) finish(r Reply) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 35*time.Second)
	defer cancel()
	if h := r.Handover; h != nil {
		reason := h.Reason
		if reason == "" {
			reason = "handover"
		}
		c.m.handovers.WithLabelValues(c.call.Source, reason).Inc()
		if h.Target != "" {
			err := c.call.Leg.Transfer(ctx, h.Target)
			if err == nil {
				c.m.transfers.WithLabelValues(c.call.Source, "accepted").Inc()
				c.d.Transcript.Ended("handover", reason, true)
				return
			}
			result := "refused"
			if errors.Is(err, ErrUnsupported) {
				result = "unsupported"
			}
			c.m.transfers.WithLabelValues(c.call.Source, result).Inc()
			c.log.Warn("transfer failed; ending the call", "err", err)
		}
		c.d.Transcript.Ended("handover", reason, false)
		_ = c.call.Leg.Hangup(ctx, reason)
		return
	}
	c.d.Transcript.Ended("end", r.End, false)
	_ = c.call.Leg.Hangup(ctx, r.End)
}

// play speaks a reply's prompts on the leg, records each as the bot's
// text, and waits until the leg has sent it all.
func (c *Conversation) play(ctx context.Context, p *playback) error {
	rate := c.call.Leg.Rate()
	first := true
	for _, text := range p.reply.Say {
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if len(text) > c.cfg.MaxPromptChars {
			text = text[:c.cfg.MaxPromptChars]
		}
		var start time.Time
		static := c.d.Static != nil && c.d.Static(text)
		for _, chunk := range Chunks(text, c.cfg.ChunkChars) {
			err := c.d.TTS.Synthesize(ctx, tts.Request{Text: chunk, Voice: c.cfg.Voice, Lang: c.cfg.Lang, Rate: synthRate(rate), Static: static},
				func(pcm []int16) error {
					if rate != synthRate(rate) {
						pcm = resample(pcm, synthRate(rate), rate)
					}
					if err := c.call.Leg.Play(ctx, pcm); err != nil {
						return err
					}
					if start.IsZero() {
						start = time.Now()
					}
					if first {
						first = false
						if !p.turnEnd.IsZero() {
							c.m.latency.WithLabelValues(c.call.Source).Observe(time.Since(p.turnEnd).Seconds())
						}
					}
					return nil
				})
			if err != nil {
				if !start.IsZero() {
					c.d.Transcript.BotSaid(text, start, time.Now())
				}
				if errors.Is(err, ErrHungUp) {
					return ErrHungUp
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				c.m.ttsErrors.WithLabelValues(c.d.TTS.Name()).Inc()
				c.log.Warn("prompt not synthesised", "engine", c.d.TTS.Name(), "err", err)
				break
			}
		}
		if !start.IsZero() {
			c.d.Transcript.BotSaid(text, start, time.Now())
		}
	}
	select {
	case <-c.call.Leg.Mark():
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// synthRate is the rate asked of the synthesiser for a leg's rate.
func synthRate(leg int) int {
	if leg == 8000 {
		return 8000
	}
	return 16000
}

// resample converts 16-bit PCM between rates by linear interpolation (a
// synthesiser's 16 kHz to a 48 kHz leg).
func resample(pcm []int16, from, to int) []int16 {
	if from == to || len(pcm) == 0 {
		return pcm
	}
	n := len(pcm) * to / from
	out := make([]int16, n)
	for i := range out {
		pos := float64(i) * float64(from) / float64(to)
		j := int(pos)
		f := pos - float64(j)
		a := float64(pcm[j])
		b := a
		if j+1 < len(pcm) {
			b = float64(pcm[j+1])
		}
		out[i] = int16(a + (b-a)*f)
	}
	return out
}

// Chunks splits text into pieces of at most n bytes, at sentence ends
// where it can, else at spaces, else anywhere (on a rune boundary).
func Chunks(text string, n int) []string {
	var out []string
	for len(text) > n {
		cut := -1
		for i := n; i > n/3; i-- {
			if i < len(text) && (text[i-1] == '.' || text[i-1] == '?' || text[i-1] == '!' || text[i-1] == ';') && text[i] == ' ' {
				cut = i
				break
			}
		}
		if cut < 0 {
			cut = strings.LastIndexFunc(text[:n], unicode.IsSpace)
		}
		if cut <= 0 {
			cut = n
			for cut > 0 && !isRuneStart(text[cut]) {
				cut--
			}
			if cut == 0 {
				cut = n
			}
		}
		if s := strings.TrimSpace(text[:cut]); s != "" {
			out = append(out, s)
		}
		text = strings.TrimSpace(text[cut:])
	}
	if text != "" {
		out = append(out, text)
	}
	return out
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
