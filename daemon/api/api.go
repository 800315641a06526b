// Package api holds the request and response bodies of Earshot's HTTP API
// (/api/v1) that the daemon and its clients share: the daemon encodes and
// decodes them, the admin command line (cmd/earshot/cli) calls the API with
// them. Types only: no behaviour beyond their JSON form.
//
// Naming rules of the API, which these types follow: every JSON member is
// snake_case; a duration is a Go duration string ("20s", "720h") or a number
// whose name ends in its unit (_ms, _seconds); times are RFC 3339.
//
// Updates never drop what the caller did not name. POST creates. PATCH
// changes only the members it carries and keeps the others (users, queues,
// plugin settings). PUT replaces: on those records every member is
// required and a missing one is refused naming it; a document that is
// replaced as a whole (a feature setting, the site's lists of intents,
// dispositions and actions, an article, a wrap-up note) is the body, and a
// locked feature setting must restate its lock.
package api

import "time"

// Problem is an RFC 9457 problem details object, the body of every error
// response of the API.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the request field at fault, when there is one.
	Field string `json:"field,omitempty"`
}

// Queue is a queue as the API shows it.
type Queue struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// QueueRequest is the body of POST /queues (name defaults to the ID) and of
// PUT /queues/{id} (name and description required; id optional, equal to
// the path's).
type QueueRequest struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// QueuePatch is the body of PATCH /queues/{id}: the members present change.
type QueuePatch struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

// User is a user as the API shows it.
type User struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name,omitempty"`
	Role        string    `json:"role"`
	Queues      []string  `json:"queues"`
	Licensed    bool      `json:"licensed"`
	Disabled    bool      `json:"disabled"`
	Language    string    `json:"language,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// UserRequest is the body of POST /users and of PUT /users/{id} (every
// member but id required: PUT replaces the user).
type UserRequest struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"display_name"`
	Role        string   `json:"role"`
	Queues      []string `json:"queues"`
	Licensed    bool     `json:"licensed"`
	Disabled    bool     `json:"disabled"`
	// Language is the user's preferred chat language (ISO 639-1), "" for
	// none: auto-translated chats show the user their messages in it.
	Language string `json:"language"`
}

// UserPatch is the body of PATCH /users/{id}: the members present change,
// the others (queues, licence, ...) stay as they are.
type UserPatch struct {
	DisplayName *string   `json:"display_name,omitempty"`
	Role        *string   `json:"role,omitempty"`
	Queues      *[]string `json:"queues,omitempty"`
	Licensed    *bool     `json:"licensed,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
	Language    *string   `json:"language,omitempty"`
}

// TokenRequest is the body of POST /tokens.
type TokenRequest struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	// ExpiresIn is a Go duration ("720h"); empty means no expiry.
	ExpiresIn string `json:"expires_in"`
	// Queues and Sources narrow an ingest user's token: the queues (of
	// the user's) and the sources (api, whip, websocket, upload) it may
	// feed. Empty: all of them.
	Queues  []string `json:"queues,omitempty"`
	Sources []string `json:"sources,omitempty"`
}

// Token is a token as the API shows it: never the secret's hash, and the
// secret only in the answer that created it.
type Token struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Queues    []string  `json:"queues,omitempty"`
	Sources   []string  `json:"sources,omitempty"`
	// Secret is set only in the response that created the token.
	Secret string `json:"secret,omitempty"`
}

// AuditVerify is the answer of GET /audit/verify when the chain holds.
type AuditVerify struct {
	OK     bool        `json:"ok"`
	Report AuditReport `json:"report"`
}

// AuditReport describes the verified audit chain.
type AuditReport struct {
	Entries   int    `json:"entries"`
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	AnchorSeq uint64 `json:"anchor_seq"`
	// Sealed: the protected records and the chain's ends were checked
	// against the integrity seal (Records of them, at Counter).
	Sealed  bool   `json:"sealed"`
	Records int    `json:"records"`
	Counter uint64 `json:"counter"`
	// Checkpoint is what the key store's checkpoint held the seal against:
	// "clean stop", "run" or "none".
	Checkpoint string `json:"checkpoint,omitempty"`
}

// PurgeRequest is the body of POST /purge: exactly one of Engagement,
// CustomerRef, or Queue with From and To.
type PurgeRequest struct {
	Engagement  string    `json:"engagement,omitempty"`
	CustomerRef string    `json:"customer_ref,omitempty"`
	Queue       string    `json:"queue,omitempty"`
	From        time.Time `json:"from,omitzero"`
	To          time.Time `json:"to,omitzero"`
	Reason      string    `json:"reason"`
}

// PurgeResult counts what a purge destroyed.
type PurgeResult struct {
	Engagements int `json:"engagements"`
	Segments    int `json:"segments"`
	Results     int `json:"results"`
	// Held counts engagements kept because of a legal hold.
	Held int `json:"held"`
}

// RotateRequest is the body of POST /keys/rotate.
type RotateRequest struct {
	DestroyOld bool `json:"destroy_old"`
}

// RotateResult reports a key-encryption-key rotation.
type RotateResult struct {
	From      uint32   `json:"from"`
	To        uint32   `json:"to"`
	Rewrapped int      `json:"rewrapped"`
	Destroyed []uint32 `json:"destroyed,omitempty"`
}

// PluginSettings are an administrator's settings of one plugin: the answer
// of the settings routes and the body of PUT /plugins/{name}/settings
// (every member required).
type PluginSettings struct {
	// Enabled: plugins are disabled by default.
	Enabled bool `json:"enabled"`
	// ApprovedScopes: the plugin receives a field only if its manifest asks
	// for the scope and it is listed here.
	ApprovedScopes []string `json:"approved_scopes"`
	// LocalConfirmed: the administrator confirmed that a model plugin
	// declaring runs_locally really runs on this site.
	LocalConfirmed bool `json:"local_confirmed"`
	// Config is handed to the plugin at every start.
	Config map[string]string `json:"config"`
	// ApprovedSHA256 is the checksum of the binary an administrator
	// approved; the plugin runs only while its installed binary has it.
	// Enabling approves the installed binary, so it may be left out.
	ApprovedSHA256 string `json:"approved_sha256,omitempty"`
	// ReadPaths and WritePaths are the files and folders outside its own
	// that the plugin may read, and read and write.
	ReadPaths  []string `json:"read_paths"`
	WritePaths []string `json:"write_paths"`
	// KnowledgeQueue scopes a knowledge plugin's articles to one queue;
	// empty (or left out): every reader of the knowledge base sees them.
	KnowledgeQueue string `json:"knowledge_queue,omitempty"`
}

// PluginSettingsPatch is the body of PATCH /plugins/{name}/settings.
type PluginSettingsPatch struct {
	Enabled        *bool              `json:"enabled,omitempty"`
	ApprovedScopes *[]string          `json:"approved_scopes,omitempty"`
	LocalConfirmed *bool              `json:"local_confirmed,omitempty"`
	Config         *map[string]string `json:"config,omitempty"`
	ApprovedSHA256 *string            `json:"approved_sha256,omitempty"`
	ReadPaths      *[]string          `json:"read_paths,omitempty"`
	WritePaths     *[]string          `json:"write_paths,omitempty"`
	KnowledgeQueue *string            `json:"knowledge_queue,omitempty"`
}

// PluginManifest is what a plugin declares about itself.
type PluginManifest struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	Executable  string   `json:"executable"`
	Kinds       []string `json:"kinds"`
	Scopes      []string `json:"scopes,omitempty"`
	RunsLocally bool     `json:"runs_locally,omitempty"`
	SHA256      string   `json:"sha256,omitempty"`
}

// PluginStatus is an installed plugin's state.
type PluginStatus struct {
	Manifest PluginManifest `json:"manifest"`
	// State is stopped, starting, running, backoff or refused.
	State       string `json:"state"`
	PID         int    `json:"pid,omitempty"`
	Restarts    int    `json:"restarts"`
	LastError   string `json:"last_error,omitempty"`
	BreakerOpen bool   `json:"breaker_open"`
}

// Plugin is an installed plugin with its settings.
type Plugin struct {
	PluginStatus
	Settings PluginSettings `json:"settings"`
}

// PluginList is the answer of GET /plugins.
type PluginList struct {
	Plugins []Plugin `json:"plugins"`
	// Broken lists the plugin folders whose manifest was refused, with why.
	Broken map[string]string `json:"broken"`
	// StoreKeys is the store's keys plugin, when it is the key provider.
	StoreKeys *PluginStatus `json:"store_keys,omitempty"`
}
