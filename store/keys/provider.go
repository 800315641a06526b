package keys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/earshot/earshot/store/internal/dbfile"
)

// Provider holds the site's key-encryption keys (KEKs), by version, and
// wraps and unwraps data keys with them. KEK material never leaves a
// provider that can keep it (an HSM); the file provider keeps it in 0600
// files. Implementations must be safe for concurrent use; a Ring calls
// Close once, at its own Close.
type Provider interface {
	// Name identifies the provider in logs and audit entries.
	Name() string
	// CreateKEK makes KEK version v exist, generating it if missing; an
	// existing version is kept (so a customer may pre-create it).
	CreateKEK(ctx context.Context, v uint32) error
	// Wrap seals a data key under KEK version v, bound to aad.
	Wrap(ctx context.Context, v uint32, dek, aad []byte) ([]byte, error)
	// Unwrap reverses Wrap.
	Unwrap(ctx context.Context, v uint32, wrapped, aad []byte) ([]byte, error)
	// DestroyKEK deletes KEK version v; a missing version is not an error.
	DestroyKEK(ctx context.Context, v uint32) error
	Close() error
}

// ErrNoKEK is returned when a KEK version a value needs is missing.
var ErrNoKEK = errors.New("keys: key-encryption key not available")

// FileProvider keeps KEK versions as 32-byte files kek-<v>.key (mode 0600)
// in a directory, and wraps with AES-256-GCM.
type FileProvider struct {
	dir string
}

var _ Provider = (*FileProvider)(nil)

// NewFileProvider returns a provider keeping its keys in dir (created 0700).
func NewFileProvider(dir string) (*FileProvider, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: kek directory: %w", err)
	}
	return &FileProvider{dir: dir}, nil
}

// Name implements Provider.
func (p *FileProvider) Name() string { return ProviderFile }

func (p *FileProvider) path(v uint32) string {
	return filepath.Join(p.dir, "kek-"+strconv.FormatUint(uint64(v), 10)+".key")
}

// CreateKEK implements Provider.
func (p *FileProvider) CreateKEK(_ context.Context, v uint32) error {
	if _, err := p.key(v); err == nil {
		return nil
	}
	k, err := NewKey()
	if err != nil {
		return err
	}
	tmp := p.path(v) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("keys: create kek: %w", err)
	}
	if _, err := f.Write(k); err != nil {
		f.Close()
		return fmt.Errorf("keys: write kek: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keys: sync kek: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keys: close kek: %w", err)
	}
	if err := os.Rename(tmp, p.path(v)); err != nil {
		return fmt.Errorf("keys: install kek: %w", err)
	}
	return dbfile.SyncDir(p.dir)
}

func (p *FileProvider) key(v uint32) ([]byte, error) {
	k, err := os.ReadFile(p.path(v))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kek version %d (%s): %w", v, p.path(v), ErrNoKEK)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read kek: %w", err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("keys: kek file %s is %d bytes, want %d", p.path(v), len(k), KeySize)
	}
	return k, nil
}

// Wrap implements Provider.
func (p *FileProvider) Wrap(_ context.Context, v uint32, dek, aad []byte) ([]byte, error) {
	k, err := p.key(v)
	if err != nil {
		return nil, err
	}
	return Seal(k, aad, dek)
}

// Unwrap implements Provider.
func (p *FileProvider) Unwrap(_ context.Context, v uint32, wrapped, aad []byte) ([]byte, error) {
	k, err := p.key(v)
	if err != nil {
		return nil, err
	}
	return Unseal(k, aad, wrapped)
}

// DestroyKEK implements Provider: the file is overwritten, then removed.
func (p *FileProvider) DestroyKEK(_ context.Context, v uint32) error {
	path := p.path(v)
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		f.Write(make([]byte, KeySize))
		f.Sync()
		f.Close()
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keys: destroy kek: %w", err)
	}
	return dbfile.SyncDir(p.dir)
}

// Versions lists the KEK versions present, for diagnostics.
func (p *FileProvider) Versions() ([]uint32, error) {
	ents, err := os.ReadDir(p.dir)
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "kek-")
		if !ok {
			continue
		}
		n, ok = strings.CutSuffix(n, ".key")
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(n, 10, 32); err == nil {
			out = append(out, uint32(v))
		}
	}
	return out, nil
}

// Close implements Provider.
func (p *FileProvider) Close() error { return nil }
