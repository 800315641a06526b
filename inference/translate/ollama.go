package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
)

// generator is what the Ollama engine needs of a generative provider: the
// inference/ollama Provider's Generator(FeatureGenerate) satisfies it.
type generator interface {
	Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error)
}

// OllamaConfig configures the Ollama engine.
type OllamaConfig struct {
	// Languages lists the languages the model translates between. Default:
	// every language the identifier knows but German.
	Languages []Lang `json:"languages"`
	// Local reports whether the Ollama server runs on the site's own
	// machines (it does unless the provider was configured with
	// allow_remote for a server elsewhere). Default true.
	Local bool `json:"local"`
}

// DefaultOllamaConfig returns the defaults.
func DefaultOllamaConfig() OllamaConfig {
	return OllamaConfig{Languages: []Lang{English, Spanish, Catalan, Galician, Portuguese, French, Italian}, Local: true}
}

// ErrImplausible marks a model reply that cannot be a translation: empty,
// far too long or short, or not in the target language.
var ErrImplausible = errors.New("translate: implausible translation")

// maxOllamaChars bounds the messages sent to a model: the reply's schema
// allows twice the input, within Ollama's 8192-character schema limit.
const maxOllamaChars = 4000

// Ollama translates with a local language model through the Ollama
// provider, asking for JSON under a schema ({"translation": "..."}) and
// checking that the reply is plausibly a translation into the target
// language; anything else is an error, and the Translator hands the message
// to the next engine (Apertium).
type Ollama struct {
	cfg   OllamaConfig
	gen   generator
	id    *Identifier
	pairs []Pair
}

var _ Engine = (*Ollama)(nil)

// NewOllama returns the engine over gen.
func NewOllama(cfg OllamaConfig, gen generator) (*Ollama, error) {
	if gen == nil {
		return nil, errors.New("translate: ollama: no generator")
	}
	if len(cfg.Languages) < 2 {
		return nil, errors.New("translate: ollama.languages must list at least two languages")
	}
	id, err := NewIdentifier(DefaultIdentifierConfig())
	if err != nil {
		return nil, err
	}
	o := &Ollama{cfg: cfg, gen: gen, id: id}
	for i, a := range cfg.Languages {
		if !a.Known() {
			return nil, fmt.Errorf("translate: ollama.languages[%d]: unknown language %q", i, a)
		}
		for _, b := range cfg.Languages {
			if a != b {
				o.pairs = append(o.pairs, Pair{a, b})
			}
		}
	}
	return o, nil
}

// Name implements Engine.
func (o *Ollama) Name() string { return "ollama" }

// Local implements Engine.
func (o *Ollama) Local() bool { return o.cfg.Local }

// Pairs implements Engine.
func (o *Ollama) Pairs() []Pair { return o.pairs }

const ollamaSystem = `You translate chat messages between a customer and a contact-centre agent.
Translate the user's message from %s into %s. Keep the meaning, tone and formatting.
Copy words that start with "Zxq" unchanged: they stand for names. Reply with JSON only.`

// Translate implements Engine.
func (o *Ollama) Translate(ctx context.Context, p Pair, text string) (string, error) {
	n := utf8.RuneCountInString(text)
	if n > maxOllamaChars {
		return "", fmt.Errorf("translate: ollama: message of %d characters is over %d", n, maxOllamaChars)
	}
	schema := fmt.Sprintf(`{"type":"object","properties":{"translation":{"type":"string","minLength":1,"maxLength":%d}},"required":["translation"],"additionalProperties":false}`,
		min(8192, 2*n+64))
	ch, errf, err := o.gen.Generate(ctx, inference.GenerateRequest{
		System: fmt.Sprintf(ollamaSystem, p.From.Name(), p.To.Name()),
		Prompt: text,
		Schema: []byte(schema),
	})
	if err != nil {
		return "", fmt.Errorf("translate: ollama: %w", err)
	}
	var b strings.Builder
	for c := range ch {
		b.WriteString(c)
	}
	if err := errf(); err != nil {
		return "", fmt.Errorf("translate: ollama: %w", err)
	}
	var reply struct {
		Translation string `json:"translation"`
	}
	if err := json.Unmarshal([]byte(b.String()), &reply); err != nil {
		return "", fmt.Errorf("translate: ollama: reply: %w", err)
	}
	return o.check(p, text, strings.TrimSpace(reply.Translation))
}

// check accepts a reply of a plausible length whose language, when there is
// enough of it to tell, is the target.
func (o *Ollama) check(p Pair, src, out string) (string, error) {
	in, got := utf8.RuneCountInString(src), utf8.RuneCountInString(out)
	if got == 0 || got > 3*in+20 || 3*got+20 < in {
		return "", fmt.Errorf("%w: %d characters for %d", ErrImplausible, got, in)
	}
	if d := o.id.Detect(out); d.Letters >= minSegmentLetters && d.Lang != p.To {
		return "", fmt.Errorf("%w: reply is not in %s", ErrImplausible, p.To.Name())
	}
	if !utf8.ValidString(out) || strings.IndexFunc(out, func(r rune) bool { return !printable(r) }) >= 0 {
		return "", fmt.Errorf("%w: control characters", ErrImplausible)
	}
	// A translation carries over the message's links, numbers and markup
	// and adds none: a customer's message may ask the model for a link to
	// show the agent, a number to call or a template to fill.
	for _, re := range []*regexp.Regexp{linkRE, numberRE, markupRE} {
		for _, x := range re.FindAllString(out, -1) {
			if !strings.Contains(strings.ToLower(src), strings.ToLower(x)) {
				return "", fmt.Errorf("%w: reply adds %q", ErrImplausible, kind(re))
			}
		}
	}
	return out, nil
}

var (
	linkRE   = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s)\]]*|[\w.+-]+@[\w-]+\.[\w.-]+`)
	numberRE = regexp.MustCompile(`\d{3,}`)
	markupRE = regexp.MustCompile(`\{\{|\}\}|<[a-zA-Z/][^>]*>`)
)

// kind names what a pattern finds, for errors that carry no content.
func kind(re *regexp.Regexp) string {
	switch re {
	case linkRE:
		return "link"
	case numberRE:
		return "number"
	}
	return "markup"
}
