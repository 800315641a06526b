package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// Bot is a virtual agent's record: its draft, the versions published so
// far and which one is live. Definitions are the site's own design (no
// customer content); the record is protected like settings.
type Bot struct {
	ID string `json:"id"`
	// Queue is the human queue of the live version (or of the draft
	// before the first publish): the queue whose supervisors and
	// analysts read the bot's reports.
	Queue string `json:"queue"`
	// Draft is the definition being edited (JSON), nil once published
	// and not changed since.
	Draft          json.RawMessage `json:"draft,omitempty"`
	DraftUpdatedAt time.Time       `json:"draft_updated_at,omitzero"`
	DraftUpdatedBy string          `json:"draft_updated_by,omitempty"`
	// Published is the live version, 0 for none.
	Published int              `json:"published"`
	Versions  []BotVersionInfo `json:"versions"`
	// WidgetKey is the bot's public key: the web widget names the bot
	// with it. It is not a secret; rotating it ends every open widget
	// conversation.
	WidgetKey string `json:"widget_key"`
	// Coach holds the administrators' decisions on suggested phrases:
	// the SHA-256 of the normalised phrase -> "accepted:<intent>" or
	// "rejected".
	Coach     map[string]string `json:"coach,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// BotVersionInfo describes one published version.
type BotVersionInfo struct {
	Version     int       `json:"version"`
	PublishedAt time.Time `json:"published_at"`
	PublishedBy string    `json:"published_by"`
	// SHA256 is the checksum of the definition's JSON.
	SHA256 string `json:"sha256"`
}

// BotVersion is one published version's definition.
type BotVersion struct {
	Bot        string          `json:"bot"`
	Version    int             `json:"version"`
	Definition json.RawMessage `json:"definition"`
	BotVersionInfo
}

// ErrNoVersion is returned for a bot version that does not exist.
var ErrNoVersion = errors.New("store: no such bot version")

func botVersionKey(id string, v int) []byte {
	k := append([]byte(id), 0)
	return binary.BigEndian.AppendUint64(k, uint64(v))
}

func validBotID(id string) error {
	if id == "" || len(id) > 64 || bytes.IndexByte([]byte(id), 0) >= 0 {
		return fmt.Errorf("store: bot id %q: 1 to 64 bytes without NUL", id)
	}
	return nil
}

// CreateBot stores a new bot; ErrExists if the ID is taken.
func (s *Store) CreateBot(ctx context.Context, b Bot, audit ...AuditEntry) error {
	if err := validBotID(b.ID); err != nil {
		s.metrics.rejected.WithLabelValues("bot").Inc()
		return err
	}
	now := time.Now().UTC().Round(0)
	b.CreatedAt, b.UpdatedAt = now, now
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketBots).Get([]byte(b.ID)) != nil {
			return fmt.Errorf("bot %q: %w", b.ID, ErrExists)
		}
		return s.unsafePutRecord(tx, bucketBots, []byte(b.ID), b)
	})
}

// Bot returns one bot.
func (s *Store) Bot(id string) (Bot, error) {
	var b Bot
	err := s.db.View(func(tx *bbolt.Tx) error { return unsafeGetJSON(tx, bucketBots, []byte(id), &b) })
	if errors.Is(err, ErrNotFound) {
		return b, fmt.Errorf("bot %q: %w", id, ErrNotFound)
	}
	return b, err
}

// Bots returns every bot, ordered by ID.
func (s *Store) Bots(ctx context.Context) ([]Bot, error) {
	var out []Bot
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBots).ForEach(func(k, v []byte) error {
			if bytes.IndexByte(k, 0) >= 0 {
				return nil // a version
			}
			var b Bot
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("store: decode bot %s: %w", k, err)
			}
			out = append(out, b)
			return ctx.Err()
		})
	})
	return out, err
}

// UpdateBot applies fn to the stored bot and stores the result, in one
// transaction with the audit entries; fn's error aborts.
func (s *Store) UpdateBot(ctx context.Context, id string, fn func(*Bot) error, audit ...AuditEntry) (Bot, error) {
	var out Bot
	err := s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b, err := txBot(tx, id)
		if err != nil {
			return err
		}
		if err := fn(&b); err != nil {
			return err
		}
		b.ID = id
		b.UpdatedAt = time.Now().UTC().Round(0)
		out = b
		return s.unsafePutRecord(tx, bucketBots, []byte(id), b)
	})
	return out, err
}

// PublishBot stores def as the bot's next version and makes it live, and
// clears the draft, in one transaction. It returns the new version.
func (s *Store) PublishBot(ctx context.Context, id string, def json.RawMessage, queue, by string, audit ...AuditEntry) (int, error) {
	if !json.Valid(def) {
		s.metrics.rejected.WithLabelValues("bot").Inc()
		return 0, errors.New("store: bot definition is not valid JSON")
	}
	var version int
	err := s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b, err := txBot(tx, id)
		if err != nil {
			return err
		}
		version = 1
		for _, v := range b.Versions {
			version = max(version, v.Version+1)
		}
		sum := sha256.Sum256(def)
		info := BotVersionInfo{Version: version, PublishedAt: time.Now().UTC().Round(0), PublishedBy: by, SHA256: hex.EncodeToString(sum[:])}
		if err := s.unsafePutRecord(tx, bucketBots, botVersionKey(id, version), BotVersion{Bot: id, Version: version, Definition: def, BotVersionInfo: info}); err != nil {
			return err
		}
		b.Versions = append(b.Versions, info)
		b.Published, b.Queue, b.Draft = version, queue, nil
		b.UpdatedAt = info.PublishedAt
		return s.unsafePutRecord(tx, bucketBots, []byte(id), b)
	})
	return version, err
}

// RollbackBot makes an earlier published version live again.
func (s *Store) RollbackBot(ctx context.Context, id string, version int, audit ...AuditEntry) (Bot, error) {
	var out Bot
	err := s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b, err := txBot(tx, id)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(b.Versions, func(v BotVersionInfo) bool { return v.Version == version }) {
			return fmt.Errorf("bot %q version %d: %w", id, version, ErrNoVersion)
		}
		var v BotVersion
		if err := unsafeGetJSON(tx, bucketBots, botVersionKey(id, version), &v); err != nil {
			return err
		}
		var q struct {
			Queue string `json:"queue"`
		}
		_ = json.Unmarshal(v.Definition, &q)
		b.Published, b.Queue = version, q.Queue
		b.UpdatedAt = time.Now().UTC().Round(0)
		out = b
		return s.unsafePutRecord(tx, bucketBots, []byte(id), b)
	})
	return out, err
}

// BotVersion returns one published version.
func (s *Store) BotVersion(id string, version int) (BotVersion, error) {
	var v BotVersion
	err := s.db.View(func(tx *bbolt.Tx) error { return unsafeGetJSON(tx, bucketBots, botVersionKey(id, version), &v) })
	if errors.Is(err, ErrNotFound) {
		return v, fmt.Errorf("bot %q version %d: %w", id, version, ErrNoVersion)
	}
	return v, err
}

// DeleteBot removes a bot and every version of it. Its conversations
// stay: they are engagements, retained and purged like any other.
func (s *Store) DeleteBot(ctx context.Context, id string, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketBots)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("bot %q: %w", id, ErrNotFound)
		}
		prefix := append([]byte(id), 0)
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		keys = append(keys, []byte(id))
		for _, k := range keys {
			if err := unsafeDeleteRecord(tx, bucketBots, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// AssignAgent sets the agent of an engagement: a chat a virtual agent
// handed over, taken by a member of staff.
func (s *Store) AssignAgent(ctx context.Context, engagement, agent string, audit ...AuditEntry) error {
	if bytes.IndexByte([]byte(agent), 0) >= 0 {
		return errors.New("store: engagement: agent must not contain NUL")
	}
	return s.updateEngagement(ctx, engagement, func(r *engagementRecord) error {
		r.Agent = agent
		return nil
	}, audit...)
}

// txBot reads a bot in tx.
func txBot(tx *bbolt.Tx, id string) (Bot, error) {
	var b Bot
	err := unsafeGetJSON(tx, bucketBots, []byte(id), &b)
	if errors.Is(err, ErrNotFound) {
		return b, fmt.Errorf("bot %q: %w", id, ErrNotFound)
	}
	return b, err
}
