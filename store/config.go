package store

import (
	"fmt"
	"time"

	"github.com/earshot/earshot/store/keys"
)

// Config is the store's part of the daemon configuration (`store:` in the
// YAML file). Zero fields are not defaults: start from DefaultConfig.
type Config struct {
	// Retention windows per data class.
	Retention Retention `yaml:"retention" json:"retention"`
	// Keys chooses and configures the key-encryption key provider.
	Keys keys.Config `yaml:"keys" json:"keys"`
	// GroupCommit tunes the batching of transcript segment writes.
	GroupCommit GroupCommitConfig `yaml:"group_commit" json:"group_commit"`
	// SweepInterval is how often the retention sweeper runs.
	SweepInterval time.Duration `yaml:"sweep_interval" json:"sweep_interval"`
}

// Retention holds the retention windows, in days.
type Retention struct {
	// AudioDays: 0 (the default) means call audio is never stored.
	AudioDays int `yaml:"audio_days" json:"audio_days"`
	// TranscriptDays: transcript segments are deleted this many days after
	// the engagement ended (default 30); 0 keeps them until purged.
	TranscriptDays int `yaml:"transcript_days" json:"transcript_days"`
	// OutputDays: feature results (summaries, notes, tasks, dispositions)
	// are deleted this many days after the engagement ended; 0 (the
	// default) keeps them until purged.
	OutputDays int `yaml:"output_days" json:"output_days"`
	// AuditDays: audit entries older than this are removed (default 400,
	// never below MinAuditDays).
	AuditDays int `yaml:"audit_days" json:"audit_days"`
}

// MinAuditDays is the shortest audit retention Validate accepts.
const MinAuditDays = 90

// GroupCommitConfig bounds the batching of segment writes.
type GroupCommitConfig struct {
	// MaxDelay is the longest a segment waits for others to join its batch
	// before the batch is committed (default 10ms).
	MaxDelay time.Duration `yaml:"max_delay" json:"max_delay"`
	// MaxBatch caps the segments per transaction (default 2000).
	MaxBatch int `yaml:"max_batch" json:"max_batch"`
}

// DefaultConfig returns the store's defaults: file KEK in the data
// directory, audio not stored, transcripts 30 days, outputs until purged,
// audit 400 days.
func DefaultConfig() Config {
	return Config{
		Retention:     Retention{AudioDays: 0, TranscriptDays: 30, OutputDays: 0, AuditDays: 400},
		Keys:          keys.DefaultConfig(),
		GroupCommit:   GroupCommitConfig{MaxDelay: 10 * time.Millisecond, MaxBatch: 2000},
		SweepInterval: time.Hour,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	r := c.Retention
	switch {
	case r.AudioDays < 0:
		return fmt.Errorf("store: retention.audio_days must not be negative, got %d", r.AudioDays)
	case r.TranscriptDays < 0:
		return fmt.Errorf("store: retention.transcript_days must not be negative, got %d", r.TranscriptDays)
	case r.OutputDays < 0:
		return fmt.Errorf("store: retention.output_days must not be negative, got %d", r.OutputDays)
	case r.AuditDays < MinAuditDays:
		return fmt.Errorf("store: retention.audit_days must be at least %d, got %d", MinAuditDays, r.AuditDays)
	}
	if err := c.Keys.Validate(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if c.GroupCommit.MaxDelay < 0 || c.GroupCommit.MaxDelay > time.Second {
		return fmt.Errorf("store: group_commit.max_delay must be within 0..1s, got %s", c.GroupCommit.MaxDelay)
	}
	if c.GroupCommit.MaxBatch <= 0 {
		return fmt.Errorf("store: group_commit.max_batch must be positive, got %d", c.GroupCommit.MaxBatch)
	}
	if c.SweepInterval < time.Minute {
		return fmt.Errorf("store: sweep_interval must be at least 1m, got %s", c.SweepInterval)
	}
	return nil
}
