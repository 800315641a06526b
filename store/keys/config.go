package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
)

// Provider names.
const (
	ProviderFile   = "file"
	ProviderPKCS11 = "pkcs11"
	ProviderPlugin = "plugin"
)

// Config selects and configures the KEK provider (`store.keys` in the
// daemon's configuration file).
type Config struct {
	// Provider is "file" (default), "pkcs11" or "plugin".
	Provider string `yaml:"provider" json:"provider"`
	// File configures the file provider.
	File FileConfig `yaml:"file" json:"file"`
	// PKCS11 configures the PKCS#11 (HSM) provider.
	PKCS11 PKCS11Config `yaml:"pkcs11" json:"pkcs11"`
	// Plugin configures a keys plugin as the provider. The daemon starts
	// it before the store and passes it in as the Provider.
	Plugin PluginConfig `yaml:"plugin" json:"plugin"`
}

// PluginConfig names the keys plugin serving as the KEK provider. Its
// settings live here, in the configuration file, because the plugin
// settings kept in the store cannot be read before the store is open.
type PluginConfig struct {
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

// FileConfig configures the file provider.
type FileConfig struct {
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

// DefaultConfig returns the defaults: the file provider in the data
// directory.
func DefaultConfig() Config {
	return Config{
		Provider: ProviderFile,
		PKCS11:   PKCS11Config{KeyLabel: "earshot-kek"},
		Plugin:   PluginConfig{KeyPrefix: "earshot-kek"},
	}
}

// Validate reports the first invalid field, named by its path below
// `keys`.
func (c Config) Validate() error {
	switch c.Provider {
	case ProviderFile:
	case ProviderPKCS11:
		p := c.PKCS11
		if p.Module == "" {
			return errors.New("keys: pkcs11.module is required")
		}
		if p.TokenLabel == "" {
			return errors.New("keys: pkcs11.token_label is required")
		}
		if p.PIN == "" && p.PINFile == "" && p.PINEnv == "" {
			return errors.New("keys: pkcs11 needs one of pin, pin_file, pin_env")
		}
		if p.KeyLabel == "" {
			return errors.New("keys: pkcs11.key_label is required")
		}
	case ProviderPlugin:
		p := c.Plugin
		if p.Name == "" {
			return errors.New("keys: plugin.name is required")
		}
		if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != sha256.Size {
			return errors.New("keys: plugin.sha256 must be the 64 hex digits of the plugin binary's SHA-256 (sha256sum)")
		}
		if p.KeyPrefix == "" {
			return errors.New("keys: plugin.key_prefix is required")
		}
	default:
		return fmt.Errorf("keys: provider %q unknown (want %q, %q or %q)", c.Provider, ProviderFile, ProviderPKCS11, ProviderPlugin)
	}
	return nil
}

// FileDir is the file provider's KEK directory: File.Dir, or "kek" in the
// data directory.
func (c Config) FileDir(dataDir string) string {
	if c.File.Dir != "" {
		return c.File.Dir
	}
	return filepath.Join(dataDir, "kek")
}

// NewProvider returns the file or PKCS#11 provider the configuration names;
// dataDir locates the file provider's default directory. A plugin provider
// is started by the daemon, not here.
func NewProvider(c Config, dataDir string) (Provider, error) {
	switch c.Provider {
	case ProviderFile, "":
		return NewFileProvider(c.FileDir(dataDir))
	case ProviderPKCS11:
		return NewPKCS11Provider(c.PKCS11)
	case ProviderPlugin:
		return nil, errors.New("keys: provider plugin: the daemon starts the plugin and passes it in")
	}
	return nil, fmt.Errorf("keys: provider %q unknown", c.Provider)
}
