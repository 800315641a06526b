package sdk

import (
	"context"
	"errors"
	"time"
)

// Kind names one kind of plugin. A plugin may serve several kinds.
type Kind string

// The plugin kinds.
const (
	KindInfo      Kind = "info"      // customer data cards for the agent (CRM)
	KindKnowledge Kind = "knowledge" // a knowledge source synced into the knowledge base
	KindSkill     Kind = "skill"     // actions for next-best-action and the virtual agent
	KindModel     Kind = "model"     // a model provider serving inference capabilities
	KindKeys      Kind = "keys"      // a key-encryption-key provider for the store
	KindSink      Kind = "sink"      // receives engagement events and results
)

// Kinds lists every kind this SDK version knows, in a fixed order.
var Kinds = []Kind{KindInfo, KindKnowledge, KindSkill, KindModel, KindKeys, KindSink}

// Scope names one field of an engagement that a plugin may ask to receive.
// The host sets a field only if the plugin's manifest requests its scope and
// an administrator approved it.
type Scope string

// The scopes.
const (
	ScopeCustomerRef Scope = "customer_ref" // Engagement.CustomerRef
	ScopeIntents     Scope = "intents"      // Engagement.Intents
	ScopeTranscript  Scope = "transcript"   // Engagement.Transcript
	ScopeSummary     Scope = "summary"      // Engagement.Summary
	ScopeResults     Scope = "results"      // Engagement.Results
)

// Scopes lists every scope, in a fixed order.
var Scopes = []Scope{ScopeCustomerRef, ScopeIntents, ScopeTranscript, ScopeSummary, ScopeResults}

// Errors a plugin may return (wrapped or not) to tell the host what went
// wrong; they cross the wire as gRPC status codes and come back as the same
// sentinels on the host side.
var (
	ErrNotFound     = errors.New("sdk: not found")
	ErrInvalidInput = errors.New("sdk: invalid input")
	ErrUnsupported  = errors.New("sdk: not supported by this plugin")
)

// Engagement is what the host tells a plugin about one engagement (a call
// or chat). EngagementID and Channel are always set; every other field is
// set only when the plugin holds the matching approved Scope.
type Engagement struct {
	EngagementID string
	Channel      string            // "voice", "chat", ...
	CustomerRef  string            // ScopeCustomerRef
	Intents      []string          // ScopeIntents
	Transcript   []Segment         // ScopeTranscript
	Summary      string            // ScopeSummary
	Results      map[string]string // ScopeResults: e.g. "disposition", "sentiment"
}

// Segment is one final transcript segment.
type Segment struct {
	Speaker    string // "agent" or "customer"
	Start, End time.Duration
	Text       string
}

// Card is a titled group of customer data shown to the agent.
type Card struct {
	Title  string
	Fields []Field
	Link   string // optional URL into the source system
}

// Field is one labelled value on a Card.
type Field struct {
	Key, Label, Value string
}

// Article is one knowledge-base article.
type Article struct {
	ID      string
	Title   string
	Body    string // Markdown or plain text
	URL     string
	Updated time.Time
	Tags    []string
}

// Changes is one page of a knowledge source's changes since a cursor.
type Changes struct {
	Articles   []Article
	DeletedIDs []string
	// NextCursor is passed to the next Changes call. The host stores it only
	// after the page has been written to the knowledge base.
	NextCursor string
	// More is true when another page is ready now.
	More bool
}

// Skill describes one action a skill plugin offers.
type Skill struct {
	Name        string
	Description string
	InputSchema string // a JSON Schema document
}

// InvokeRequest asks a skill plugin to run one skill.
type InvokeRequest struct {
	Skill      string
	InputJSON  string // matches the skill's InputSchema
	Engagement Engagement
}

// InvokeResult is a skill's outcome.
type InvokeResult struct {
	ResultJSON string // for the calling component
	Message    string // for the agent or the customer
}

// InferRequest asks a model plugin to run one capability ("summarise",
// "sentiment", ...) over the engagement fields it was granted.
type InferRequest struct {
	Capability string
	Engagement Engagement
	Params     map[string]string
}

// InferResult is a model plugin's answer.
type InferResult struct {
	Text    string
	Score   float64
	Outputs map[string]string
}

// Event is one engagement event delivered to a sink.
type Event struct {
	ID         string // unique per event, for the sink's idempotency
	Type       string // "engagement.started", "engagement.ended", "summary.ready", ...
	Time       time.Time
	Engagement Engagement
}

// PluginInfo is a plugin's answer to the host's Info call.
type PluginInfo struct {
	Name       string
	Version    string
	APIVersion string
	Kinds      []Kind
}

// InfoProvider is kind "info": given an engagement (customer reference,
// channel, detected intents as granted), return cards of customer data for
// the agent. The host calls it live with a short deadline; implementations
// must honour ctx.
type InfoProvider interface {
	Cards(ctx context.Context, e Engagement) ([]Card, error)
}

// KnowledgeSource is kind "knowledge": list the articles changed since a
// cursor ("" for everything), at most limit per page.
type KnowledgeSource interface {
	Changes(ctx context.Context, cursor string, limit int) (Changes, error)
}

// SkillProvider is kind "skill": actions for next-best-action and the
// virtual agent.
type SkillProvider interface {
	Skills(ctx context.Context) ([]Skill, error)
	Invoke(ctx context.Context, req InvokeRequest) (InvokeResult, error)
}

// ModelProvider is kind "model": inference capabilities served by a model
// outside Earshot. The host treats it as a third-party model unless its
// manifest declares it runs locally and an administrator confirmed that.
type ModelProvider interface {
	Capabilities(ctx context.Context) ([]string, error)
	Infer(ctx context.Context, req InferRequest) (InferResult, error)
}

// KeyProvider is kind "keys": a key-encryption-key provider that wraps and
// unwraps the store's data keys. Wrap returns the ciphertext and the ID of
// the key that wrapped it (keyID may be "" for the provider's current key);
// the host keeps that ID with the ciphertext and passes it back to Unwrap.
//
// Wrap must be authenticated encryption (AES-GCM, AES-KWP, an HSM's or key
// service's encrypt call): Unwrap of a modified ciphertext must fail. The
// host relies on it to bind each data key to the record it protects. An
// unknown key ID is an error wrapping ErrNotFound.
type KeyProvider interface {
	Wrap(ctx context.Context, keyID string, plaintext []byte) (ciphertext []byte, usedKeyID string, err error)
	Unwrap(ctx context.Context, keyID string, ciphertext []byte) ([]byte, error)
}

// KeyManager is optionally implemented by a KeyProvider that creates and
// destroys keys by name (API 1.1). The store names one key per key
// version and asks for the next one when an operator rotates keys, then
// destroys the old one once every data key is wrapped again. CreateKey of
// an existing key must succeed and keep it; DestroyKey of a missing key
// must succeed. A provider without KeyManager needs its keys created (and
// retired) in the key service by the operator.
type KeyManager interface {
	CreateKey(ctx context.Context, keyID string) error
	DestroyKey(ctx context.Context, keyID string) error
}

// Sink is kind "sink": receives engagement events and results (CRM
// write-back, data warehouses, webhooks). Deliver must be idempotent on
// Event.ID: the host may deliver an event again after a failure.
type Sink interface {
	Deliver(ctx context.Context, ev Event) error
}
