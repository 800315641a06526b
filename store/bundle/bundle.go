// Package bundle is the site configuration bundle: the settings every box
// of a fleet shares (queues, users without their tokens, feature
// controls, redaction policies, analytics and quality settings, bots,
// scorecards, knowledge-base articles), exported from one box, signed
// with a site-held ed25519 key and applied to the others.
//
// A bundle is a JSON document: the contents, compact JSON, and an ed25519
// signature over a domain-separation prefix and those exact bytes. A box
// applies only bundles signed by a key it trusts, of a layout and a
// schema it knows (a bundle of a newer schema is refused: upgrade the box
// first). Diff compares a box's configuration with a bundle's, item by
// item; applying what it lists makes the two equal, and applying the same
// bundle again lists nothing. Records present on the box and absent from
// the bundle are kept unless the caller asks to prune them.
//
// The package knows the records' shapes, not their meaning: the daemon
// validates and writes them.
package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// Format names a site configuration bundle; FormatVersion is the layout
// this build writes and the newest it reads.
const (
	Format        = "earshot-site-config"
	FormatVersion = 1
)

// signingContext prefixes the signed bytes, so that a signature made for
// a bundle is never valid for anything else the same key signs.
const signingContext = "earshot site configuration bundle v1\x00"

// Errors of Open. Each is wrapped with the detail.
var (
	// ErrMalformed: the document is not a bundle.
	ErrMalformed = errors.New("bundle: malformed")
	// ErrUntrusted: signed by a key the box does not trust.
	ErrUntrusted = errors.New("bundle: signed by an untrusted key")
	// ErrSignature: the signature does not match the contents (changed
	// after signing).
	ErrSignature = errors.New("bundle: signature does not match the contents")
	// ErrNewer: written by a newer earshot (layout or schema).
	ErrNewer = errors.New("bundle: written by a newer earshot")
)

// Queue is a queue's configuration (no timestamps: they are each box's).
type Queue struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// User is a user's configuration. Tokens are not part of it: each box
// issues its own.
type User struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"display_name,omitempty"`
	Role        string   `json:"role"`
	Queues      []string `json:"queues,omitempty"`
	Licensed    bool     `json:"licensed"`
	Language    string   `json:"language,omitempty"`
	Disabled    bool     `json:"disabled,omitempty"`
}

// Bot is a virtual agent: its draft and its live definition (the
// published version's; version numbers are each box's), its widget key
// (public: the web widget names the bot with it, so every box behind one
// web front needs the same) and the administrators' coaching decisions.
type Bot struct {
	ID        string          `json:"id"`
	Queue     string          `json:"queue"`
	Draft     json.RawMessage `json:"draft,omitempty"`
	Live      json.RawMessage `json:"live,omitempty"`
	WidgetKey string          `json:"widget_key"`
	Coach     []CoachDecision `json:"coach,omitempty"`
}

// CoachDecision is an administrator's decision on a suggested phrase:
// "accepted:<intent>" or "rejected".
type CoachDecision struct {
	PhraseSHA256 string `json:"phrase_sha256"`
	Decision     string `json:"decision"`
}

// CoachList and CoachMap convert a bot's decisions between the store's
// map and the bundle's sorted list.
func CoachList(m map[string]string) []CoachDecision {
	out := make([]CoachDecision, 0, len(m))
	for k, v := range m {
		out = append(out, CoachDecision{PhraseSHA256: k, Decision: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PhraseSHA256 < out[j].PhraseSHA256 })
	if len(out) == 0 {
		return nil
	}
	return out
}

// CoachMap is the inverse of CoachList (nil for none).
func CoachMap(l []CoachDecision) map[string]string {
	if len(l) == 0 {
		return nil
	}
	m := make(map[string]string, len(l))
	for _, c := range l {
		m[c.PhraseSHA256] = c.Decision
	}
	return m
}

// Setting is one site setting; a null value is unset (the box's
// defaults).
type Setting struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Scorecard is the latest version of a scorecard, without its version
// number and authorship (each box numbers its own versions).
type Scorecard struct {
	ID         string          `json:"id"`
	Definition json.RawMessage `json:"definition"`
}

// Article is a knowledge-base article. Updated is carried along but is
// not a difference on its own.
type Article struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Tags    []string  `json:"tags,omitempty"`
	Queue   string    `json:"queue,omitempty"`
	Source  string    `json:"source,omitempty"`
	Updated time.Time `json:"updated"`
}

// Contents is a site's configuration.
type Contents struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// Schema is the content schema of the exporting box's store.
	Schema     uint64    `json:"schema"`
	Exporter   string    `json:"exporter,omitempty"` // earshot version
	ExportedAt time.Time `json:"exported_at"`
	Queues     []Queue   `json:"queues"`
	Users      []User    `json:"users"`
	// Settings are the site settings the bundle carries, by key.
	Settings   []Setting   `json:"settings"`
	Bots       []Bot       `json:"bots"`
	Scorecards []Scorecard `json:"scorecards"`
	Articles   []Article   `json:"articles"`
}

// Setting returns the value of a setting (nil when absent or null).
func (c Contents) Setting(key string) json.RawMessage {
	for _, s := range c.Settings {
		if s.Key == key {
			return Canonical(s.Value)
		}
	}
	return nil
}

// Normalize sorts every list by ID and makes missing lists empty, so that
// two exports of the same configuration are byte for byte equal.
func (c *Contents) Normalize() {
	c.Queues = orEmpty(c.Queues)
	c.Users = orEmpty(c.Users)
	c.Bots = orEmpty(c.Bots)
	c.Scorecards = orEmpty(c.Scorecards)
	c.Articles = orEmpty(c.Articles)
	c.Settings = orEmpty(c.Settings)
	sort.Slice(c.Settings, func(i, j int) bool { return c.Settings[i].Key < c.Settings[j].Key })
	sort.Slice(c.Queues, func(i, j int) bool { return c.Queues[i].ID < c.Queues[j].ID })
	sort.Slice(c.Users, func(i, j int) bool { return c.Users[i].ID < c.Users[j].ID })
	sort.Slice(c.Bots, func(i, j int) bool { return c.Bots[i].ID < c.Bots[j].ID })
	sort.Slice(c.Scorecards, func(i, j int) bool { return c.Scorecards[i].ID < c.Scorecards[j].ID })
	sort.Slice(c.Articles, func(i, j int) bool { return c.Articles[i].ID < c.Articles[j].ID })
	for i := range c.Users {
		slices.Sort(c.Users[i].Queues)
	}
	for i := range c.Settings {
		c.Settings[i].Value = Canonical(c.Settings[i].Value)
	}
	for i := range c.Bots {
		c.Bots[i].Draft, c.Bots[i].Live = Canonical(c.Bots[i].Draft), Canonical(c.Bots[i].Live)
	}
	for i := range c.Scorecards {
		c.Scorecards[i].Definition = Canonical(c.Scorecards[i].Definition)
	}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Signed is a bundle as written to a file and sent to a box.
type Signed struct {
	// Contents is the compact JSON of a Contents, exactly as signed.
	Contents json.RawMessage `json:"contents"`
	// KeyID names the signing key: KeyID of its public key.
	KeyID string `json:"key_id"`
	// Signature is ed25519 over signingContext and Contents (base64).
	Signature []byte `json:"signature"`
}

// KeyID is the first 16 bytes of the SHA-256 of a public key, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:16])
}

// Sign normalises c and signs it with key.
func Sign(c Contents, key ed25519.PrivateKey) (Signed, error) {
	// A copy is normalised: c's lists stay as the caller has them.
	raw, err := json.Marshal(c)
	if err != nil {
		return Signed{}, fmt.Errorf("bundle: sign: %w", err)
	}
	var n Contents
	if err := json.Unmarshal(raw, &n); err != nil {
		return Signed{}, fmt.Errorf("bundle: sign: %w", err)
	}
	n.Normalize()
	if raw, err = json.Marshal(n); err != nil {
		return Signed{}, fmt.Errorf("bundle: sign: %w", err)
	}
	return Signed{Contents: raw, KeyID: KeyID(key.Public().(ed25519.PublicKey)),
		Signature: ed25519.Sign(key, append([]byte(signingContext), raw...))}, nil
}

// SHA256 is the checksum of the signed contents, in hex: the bundle's
// name in audit entries.
func (s Signed) SHA256() string {
	h := sha256.Sum256(compact(s.Contents))
	return hex.EncodeToString(h[:])
}

func compact(raw []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// Open verifies s against the trusted keys and decodes its contents. A
// bundle of a layout newer than FormatVersion or of a content schema newer
// than schema is refused with ErrNewer.
func Open(s Signed, trusted []ed25519.PublicKey, schema uint64) (Contents, error) {
	var c Contents
	if len(s.Contents) == 0 || string(s.Contents) == "null" {
		return c, fmt.Errorf("%w: contents missing", ErrMalformed)
	}
	if len(s.Signature) == 0 {
		return c, fmt.Errorf("%w: signature missing", ErrMalformed)
	}
	var key ed25519.PublicKey
	for _, k := range trusted {
		if KeyID(k) == s.KeyID {
			key = k
		}
	}
	if key == nil {
		return c, fmt.Errorf("%w: key %q is not one of the %d trusted keys", ErrUntrusted, s.KeyID, len(trusted))
	}
	// JSON re-encoding may change whitespace, never meaning: the
	// signature covers the compact form.
	if !ed25519.Verify(key, append([]byte(signingContext), compact(s.Contents)...), s.Signature) {
		return c, fmt.Errorf("%w (signed by key %s)", ErrSignature, s.KeyID)
	}
	// The format is checked before the strict decoding, so that a newer
	// layout's new fields say "newer" rather than "unknown field".
	var head struct {
		Format        string `json:"format"`
		FormatVersion int    `json:"format_version"`
		Schema        uint64 `json:"schema"`
	}
	if err := json.Unmarshal(s.Contents, &head); err != nil {
		return c, fmt.Errorf("%w: contents: %v", ErrMalformed, err)
	}
	switch {
	case head.Format != Format:
		return c, fmt.Errorf("%w: contents.format is %q, not %q", ErrMalformed, head.Format, Format)
	case head.FormatVersion > FormatVersion:
		return c, fmt.Errorf("%w: bundle layout %d, this build reads up to %d; upgrade this box first", ErrNewer, head.FormatVersion, FormatVersion)
	case head.FormatVersion < 1:
		return c, fmt.Errorf("%w: contents.format_version %d", ErrMalformed, head.FormatVersion)
	case head.Schema > schema:
		return c, fmt.Errorf("%w: bundle exported at content schema %d, this box is at %d; upgrade this box first", ErrNewer, head.Schema, schema)
	}
	dec := json.NewDecoder(bytes.NewReader(compact(s.Contents)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: contents: %v", ErrMalformed, err)
	}
	c.Normalize()
	return c, nil
}

// GenerateKey makes a site signing key and returns the private key and
// the public key as PEM (PKCS #8 and PKIX).
func GenerateKey() (private, public []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}), nil
}

// ParsePrivateKey reads an ed25519 private key in PEM (PKCS #8).
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("bundle: not a PEM private key (PKCS #8)")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bundle: private key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("bundle: private key is %T, not ed25519", k)
	}
	return ek, nil
}

// ParsePublicKey reads an ed25519 public key in PEM (PKIX).
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("bundle: not a PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bundle: public key: %w", err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("bundle: public key is %T, not ed25519", k)
	}
	return ek, nil
}

// Kinds of items, in the order they are applied (a user names queues, a
// bot and a scorecard name queues). Deletions go in reverse order.
const (
	KindQueue     = "queue"
	KindUser      = "user"
	KindSetting   = "setting"
	KindBot       = "bot"
	KindScorecard = "scorecard"
	KindArticle   = "article"
)

// Operations of a change.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
	// OpKeep: on the box, not in the bundle, and kept (no pruning, or
	// a record the bundle may not delete).
	OpKeep = "keep"
)

// Change is one difference between a box and a bundle.
type Change struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Op   string `json:"op"`
	// Fields are the top-level fields that differ, for an update.
	Fields []string `json:"fields,omitempty"`
	// Note says why a record is kept.
	Note string `json:"note,omitempty"`
}

// String is the change as one line of a plan: "+ queue q1",
// "~ user u1 (role, queues)", "- article a1", "= bot b1 (kept: ...)".
func (c Change) String() string {
	sign := map[string]string{OpCreate: "+", OpUpdate: "~", OpDelete: "-", OpKeep: "="}[c.Op]
	s := fmt.Sprintf("%s %s %s", sign, c.Kind, c.ID)
	if len(c.Fields) > 0 {
		s += " (" + strings.Join(c.Fields, ", ") + ")"
	}
	if c.Note != "" {
		s += ": " + c.Note
	}
	return s
}

// Options of Diff.
type Options struct {
	// Prune deletes queues, users, bots and articles absent from the
	// bundle; without it they are kept (OpKeep).
	Prune bool
	// Protect names users never deleted (the caller applying the bundle).
	Protect []string
}

// Diff lists the changes that make cur equal to want, in the order they
// are to be applied: creations and updates kind by kind, then deletions
// in reverse kind order. Both must be normalised.
func Diff(cur, want Contents, o Options) []Change {
	var ups, dels []Change
	diffKind(&ups, &dels, KindQueue, cur.Queues, want.Queues, func(q Queue) string { return q.ID }, o, nil)
	diffKind(&ups, &dels, KindUser, cur.Users, want.Users, func(u User) string { return u.ID }, o, func(u User) string {
		if slices.Contains(o.Protect, u.ID) {
			return "the user applying the bundle is never deleted"
		}
		return ""
	})
	// Settings: the bundle owns the keys it carries; a null value and a
	// missing setting are the same.
	for _, s := range want.Settings {
		k, w, c := s.Key, s.Value, cur.Setting(s.Key)
		if equalJSON(w, c) {
			continue
		}
		op := OpUpdate
		if isNull(c) {
			op = OpCreate
		} else if isNull(w) {
			op = OpDelete
		}
		ups = append(ups, Change{Kind: KindSetting, ID: k, Op: op})
	}
	diffKind(&ups, &dels, KindBot, cur.Bots, want.Bots, func(b Bot) string { return b.ID }, o, nil)
	// Scorecards are versioned and referenced by evaluations: never
	// deleted here.
	diffKind(&ups, &dels, KindScorecard, cur.Scorecards, want.Scorecards, func(s Scorecard) string { return s.ID }, Options{}, func(Scorecard) string {
		return "scorecards are not deleted (archive it on the box)"
	})
	diffKind(&ups, &dels, KindArticle, cur.Articles, want.Articles, func(a Article) string { return a.ID }, o, nil)
	slices.Reverse(dels)
	return append(ups, dels...)
}

// diffKind appends the creations and updates of one kind to ups and its
// deletions (or keeps) to dels. keep, when not nil, says why a record
// absent from the bundle is kept even when pruning.
func diffKind[T any](ups, dels *[]Change, kind string, cur, want []T, id func(T) string, o Options, keep func(T) string) {
	have := make(map[string]T, len(cur))
	for _, c := range cur {
		have[id(c)] = c
	}
	wanted := make(map[string]bool, len(want))
	for _, w := range want {
		wanted[id(w)] = true
		c, ok := have[id(w)]
		if !ok {
			*ups = append(*ups, Change{Kind: kind, ID: id(w), Op: OpCreate})
			continue
		}
		if f := changedFields(c, w); len(f) > 0 {
			*ups = append(*ups, Change{Kind: kind, ID: id(w), Op: OpUpdate, Fields: f})
		}
	}
	var gone []Change
	for _, c := range cur {
		if wanted[id(c)] {
			continue
		}
		ch := Change{Kind: kind, ID: id(c), Op: OpDelete}
		if keep != nil {
			if note := keep(c); note != "" {
				ch.Op, ch.Note = OpKeep, note
			}
		}
		if ch.Op == OpDelete && !o.Prune {
			ch.Op, ch.Note = OpKeep, "not in the bundle; kept (prune deletes it)"
		}
		gone = append(gone, ch)
	}
	// Deletions are reversed as a whole later; keep each kind's in ID order.
	slices.Reverse(gone)
	*dels = append(*dels, gone...)
}

// changedFields names the top-level JSON fields of a and b that differ
// (an article's Updated alone is no difference).
func changedFields(a, b any) []string {
	ma, mb := fieldMap(a), fieldMap(b)
	delete(ma, "updated")
	delete(mb, "updated")
	var out []string
	for k, v := range ma {
		if !reflect.DeepEqual(v, mb[k]) {
			out = append(out, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func fieldMap(v any) map[string]any {
	raw, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// equalJSON compares two JSON values by meaning (key order and spacing
// aside); null and absent are equal.
func equalJSON(a, b json.RawMessage) bool {
	if isNull(a) || isNull(b) {
		return isNull(a) && isNull(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

// Canonical re-encodes a JSON value with sorted keys and no spacing, so
// that equal values have equal bytes (null for nothing).
func Canonical(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return nil
	}
	// Numbers stay as written (no float64 round trip).
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	out, _ := json.Marshal(v)
	return out
}
