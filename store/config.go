package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Config is the store's part of the daemon configuration (`store:` in the
// YAML file). Zero fields are not defaults: start from DefaultConfig.
type Config struct {
	// Retention windows per data class.
	Retention Retention `yaml:"retention" json:"retention"`
	// Keys chooses and configures the key-encryption key provider.
	Keys KeysConfig `yaml:"keys" json:"keys"`
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

// Key provider names.
const (
	ProviderFile   = "file"
	ProviderPKCS11 = "pkcs11"
	ProviderPlugin = "plugin"
)

// KeysConfig selects the KEK provider.
type KeysConfig struct {
	// Provider is "file" (default), "pkcs11" or "plugin".
	Provider string `yaml:"provider" json:"provider"`
	// File configures the file provider.
	File FileKeyConfig `yaml:"file" json:"file"`
	// PKCS11 configures the PKCS#11 (HSM) provider.
	PKCS11 PKCS11Config `yaml:"pkcs11" json:"pkcs11"`
	// Plugin configures a keys plugin as the provider. The daemon starts
	// it before the store and passes it as Options.Provider.
	Plugin PluginKeyConfig `yaml:"plugin" json:"plugin"`
}

// PluginKeyConfig names the keys plugin serving as the KEK provider. Its
// settings live here, in the configuration file, because the plugin
// settings kept in the store cannot be read before the store is open.
type PluginKeyConfig struct {
	// Name is the plugin's folder in the plugin directory (plugins.dir).
	Name string `yaml:"name" json:"name"`
	// SHA256 pins the plugin's binary (hex); the installed manifest must
	// record exactly this checksum.
	SHA256 string `yaml:"sha256" json:"sha256"`
	// KeyPrefix names the plugin's keys: KEK version v is the key
	// "<key_prefix>-<v>" (default "earshot-kek").
	KeyPrefix string `yaml:"key_prefix" json:"key_prefix"`
	// Config is handed to the plugin when it starts (key service address,
	// credentials files).
	Config map[string]string `yaml:"config" json:"config"`
	// ReadPaths and WritePaths are what the plugin's sandbox lets it read,
	// and read and write (key files, a token's folder), outside the data
	// directory; it can reach nothing else on disk.
	ReadPaths  []string `yaml:"read_paths" json:"read_paths"`
	WritePaths []string `yaml:"write_paths" json:"write_paths"`
}

// FileKeyConfig configures the file provider.
type FileKeyConfig struct {
	// Dir holds the KEK files (kek-<version>.key, mode 0600); empty means
	// "<data dir>/kek". Keep it out of content backups.
	Dir string `yaml:"dir" json:"dir"`
}

// PKCS11Config configures the PKCS#11 provider. The KEK versions are AES-256
// secret keys on the token labelled "<KeyLabel>-<version>"; a missing
// version is generated on the token (non-extractable, sensitive).
type PKCS11Config struct {
	// Module is the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
	Module string `yaml:"module" json:"module"`
	// TokenLabel selects the token (slot) by label.
	TokenLabel string `yaml:"token_label" json:"token_label"`
	// PIN is the user PIN; prefer PINFile or PINEnv.
	PIN string `yaml:"pin" json:"pin"`
	// PINFile is a file holding the user PIN.
	PINFile string `yaml:"pin_file" json:"pin_file"`
	// PINEnv names an environment variable holding the user PIN.
	PINEnv string `yaml:"pin_env" json:"pin_env"`
	// KeyLabel is the label prefix of the KEK objects (default "earshot-kek").
	KeyLabel string `yaml:"key_label" json:"key_label"`
}

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
		Retention: Retention{AudioDays: 0, TranscriptDays: 30, OutputDays: 0, AuditDays: 400},
		Keys: KeysConfig{
			Provider: ProviderFile,
			PKCS11:   PKCS11Config{KeyLabel: "earshot-kek"},
			Plugin:   PluginKeyConfig{KeyPrefix: "earshot-kek"},
		},
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
	switch c.Keys.Provider {
	case ProviderFile:
	case ProviderPKCS11:
		p := c.Keys.PKCS11
		if p.Module == "" {
			return errors.New("store: keys.pkcs11.module is required")
		}
		if p.TokenLabel == "" {
			return errors.New("store: keys.pkcs11.token_label is required")
		}
		if p.PIN == "" && p.PINFile == "" && p.PINEnv == "" {
			return errors.New("store: keys.pkcs11 needs one of pin, pin_file, pin_env")
		}
		if p.KeyLabel == "" {
			return errors.New("store: keys.pkcs11.key_label is required")
		}
	case ProviderPlugin:
		p := c.Keys.Plugin
		if p.Name == "" {
			return errors.New("store: keys.plugin.name is required")
		}
		if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != sha256.Size {
			return errors.New("store: keys.plugin.sha256 must be the 64 hex digits of the plugin binary's SHA-256 (sha256sum)")
		}
		if p.KeyPrefix == "" {
			return errors.New("store: keys.plugin.key_prefix is required")
		}
	default:
		return fmt.Errorf("store: keys.provider %q unknown (want %q, %q or %q)", c.Keys.Provider, ProviderFile, ProviderPKCS11, ProviderPlugin)
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
