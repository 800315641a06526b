package inference

import (
	"context"
	"errors"
	"time"
)

// Party names who spoke an utterance.
type Party string

// The parties of an engagement.
const (
	PartyCustomer Party = "customer"
	PartyAgent    Party = "agent"
	PartyBot      Party = "bot"
)

// Utterance is one final transcript segment or chat message, the unit every
// analyzer consumes. StartMS and EndMS are offsets from the engagement start.
type Utterance struct {
	Party   Party  `json:"party"`
	Text    string `json:"text"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
}

// Provenance tells which provider and model produced a result; it is stored
// with every result so that results can be traced and recomputed.
type Provenance struct {
	Provider string `json:"provider"` // "builtin", "ollama", "plugin:<name>"
	Model    string `json:"model"`    // model name and version
}

// ErrUnavailable is returned by a provider that cannot serve a request right
// now (server down, circuit open); callers fall back to the built-in provider.
var ErrUnavailable = errors.New("inference: provider unavailable")

// Sentiment is the polarity of one text.
type Sentiment struct {
	Label      string  `json:"label"`      // "negative", "neutral" or "positive"
	Score      float64 `json:"score"`      // -1 (most negative) .. 1 (most positive)
	Confidence float64 `json:"confidence"` // 0..1
}

// SentimentAnalyzer scores the sentiment of a single utterance.
type SentimentAnalyzer interface {
	Sentiment(ctx context.Context, text string) (Sentiment, error)
}

// Intent is one detected intent with its confidence (0..1).
type Intent struct {
	Name       string  `json:"name"`
	Confidence float64 `json:"confidence"`
}

// IntentDetector returns the intents of a text, most likely first; an empty
// slice means no intent passed the detector's threshold.
type IntentDetector interface {
	DetectIntents(ctx context.Context, text string) ([]Intent, error)
}

// Keyword is a salient term of a conversation with its weight.
type Keyword struct {
	Term   string  `json:"term"`
	Weight float64 `json:"weight"`
}

// Summary is a short summary of an engagement with its keywords; the
// keywords are what a console highlights.
type Summary struct {
	Text     string    `json:"text"`
	Keywords []Keyword `json:"keywords"`
	Provenance
}

// Summarizer summarises a whole engagement.
type Summarizer interface {
	Summarize(ctx context.Context, conv []Utterance) (Summary, error)
}

// Notes is a draft wrap-up note that the agent edits and saves.
type Notes struct {
	Reason    string   `json:"reason"`
	Actions   string   `json:"actions"`
	Outcome   string   `json:"outcome"`
	FollowUps []string `json:"follow_ups"`
	Provenance
}

// NoteWriter drafts the wrap-up note of an engagement.
type NoteWriter interface {
	WriteNotes(ctx context.Context, conv []Utterance) (Notes, error)
}

// Task is a follow-up commitment made during an engagement.
type Task struct {
	Text  string `json:"text"`
	Owner Party  `json:"owner"`         // who committed to it
	Due   string `json:"due,omitempty"` // RFC 3339 date, resolved against the engagement date; empty if none was said
	// EvidenceMS is the start offset of the utterance the task came from.
	EvidenceMS int64 `json:"evidence_ms"`
}

// TaskExtractor finds follow-up tasks; ref is the engagement's start time,
// against which relative dates ("by Friday") are resolved.
type TaskExtractor interface {
	ExtractTasks(ctx context.Context, conv []Utterance, ref time.Time) ([]Task, error)
}

// DispositionCode is one of the site's own disposition codes.
type DispositionCode struct {
	Code        string   `json:"code"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Examples    []string `json:"examples,omitempty"`
}

// Disposition is a recommended disposition code with its confidence.
type Disposition struct {
	Code       string  `json:"code"`
	Confidence float64 `json:"confidence"`
	Provenance
}

// DispositionClassifier recommends one of codes for an engagement.
type DispositionClassifier interface {
	ClassifyDisposition(ctx context.Context, conv []Utterance, codes []DispositionCode) (Disposition, error)
}

// KeywordExtractor returns up to n keywords or topics of a conversation.
type KeywordExtractor interface {
	Keywords(ctx context.Context, conv []Utterance, n int) ([]Keyword, error)
}

// GenerateRequest asks a generative model for text. When Schema is set the
// reply must be JSON valid against it.
type GenerateRequest struct {
	System string
	Prompt string
	Schema []byte // JSON Schema, optional
}

// Generator produces text. The returned channel carries chunks of the reply
// as they are produced; the generator closes it when the reply is complete or
// ctx is done. Errors after the call returns are reported by Err.
type Generator interface {
	Generate(ctx context.Context, req GenerateRequest) (<-chan string, func() error, error)
}

// Embedder turns texts into vectors for hybrid retrieval.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Topic is a subject of an engagement: a detected intent (when the site
// has trained intents) or a key phrase.
type Topic struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"` // 0..1
	Source string  `json:"source"` // "intent" or "keyword"
}

// TopicDetector returns up to n topics of a conversation, heaviest first.
type TopicDetector interface {
	Topics(ctx context.Context, conv []Utterance, n int) ([]Topic, error)
}

// NextStep is a model's wording of a recommended next step, in one or two
// sentences the agent can say.
type NextStep struct {
	Wording string `json:"wording"`
	Provenance
}

// NextStepWorder words a recommended action for the conversation so far.
// A provider without the capability is simply not routed; one that fails
// returns an error wrapping ErrUnavailable, and the agent keeps the
// catalogue's own text.
type NextStepWorder interface {
	WordNextStep(ctx context.Context, conv []Utterance, action string) (NextStep, error)
}
