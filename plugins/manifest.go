package plugins

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"

	"github.com/earshot/earshot/plugins/sdk"
)

// ManifestFile is the manifest's file name inside a plugin's folder.
const ManifestFile = "manifest.json"

// Manifest describes an installed plugin. It is the manifest.json in the
// plugin's folder; a vendor ships it beside the binary and Install records
// the binary's checksum in it.
type Manifest struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	// Executable is the binary's file name inside the plugin's folder.
	Executable string `json:"executable"`
	// Kinds the plugin serves; the plugin must confirm them at start.
	Kinds []sdk.Kind `json:"kinds"`
	// Scopes are the engagement fields the plugin asks to receive.
	Scopes []sdk.Scope `json:"scopes,omitempty"`
	// RunsLocally declares that a model plugin runs its model on this
	// site; it counts only once an administrator confirms it
	// (PluginSettings.LocalConfirmed). Otherwise a model plugin is a
	// third-party model.
	RunsLocally bool `json:"runs_locally,omitempty"`
	// SHA256 is the hex SHA-256 of the executable, recorded at install and
	// verified at every start. A vendor may ship it; Install then refuses
	// a binary that does not match.
	SHA256 string `json:"sha256,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks the manifest; errors name the field.
func (m Manifest) Validate() error {
	if !nameRE.MatchString(m.Name) {
		return fmt.Errorf("%w: name %q must be 1-63 of a-z, 0-9 and -", ErrManifest, m.Name)
	}
	if _, err := sdk.ParseSemver(m.Version); err != nil {
		return fmt.Errorf("%w: %s: version: %w", ErrManifest, m.Name, err)
	}
	if m.Executable == "" || m.Executable != filepath.Base(m.Executable) || m.Executable == "." || m.Executable == ".." || m.Executable == ManifestFile {
		return fmt.Errorf("%w: %s: executable %q must be a plain file name in the plugin's folder", ErrManifest, m.Name, m.Executable)
	}
	if len(m.Kinds) == 0 {
		return fmt.Errorf("%w: %s: kinds is empty", ErrManifest, m.Name)
	}
	for _, k := range m.Kinds {
		if !slices.Contains(sdk.Kinds, k) {
			return fmt.Errorf("%w: %s: kinds: unknown kind %q", ErrManifest, m.Name, k)
		}
	}
	for _, s := range m.Scopes {
		if !slices.Contains(sdk.Scopes, s) {
			return fmt.Errorf("%w: %s: scopes: unknown scope %q", ErrManifest, m.Name, s)
		}
	}
	if m.RunsLocally && !slices.Contains(m.Kinds, sdk.KindModel) {
		return fmt.Errorf("%w: %s: runs_locally is only for kind model", ErrManifest, m.Name)
	}
	if m.SHA256 != "" {
		if b, err := hex.DecodeString(m.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%w: %s: sha256 must be 64 hex digits", ErrManifest, m.Name)
		}
	}
	return nil
}

// ThirdPartyModel reports whether the plugin counts as a third-party model
// given whether an administrator confirmed its runs_locally declaration.
func (m Manifest) ThirdPartyModel(localConfirmed bool) bool {
	return slices.Contains(m.Kinds, sdk.KindModel) && !(m.RunsLocally && localConfirmed)
}

// ParseManifest decodes and validates a manifest; unknown fields are errors.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if dec.More() {
		return Manifest{}, fmt.Errorf("%w: trailing data after the JSON object", ErrManifest)
	}
	return m, m.Validate()
}

// maxManifestBytes bounds manifest.json.
const maxManifestBytes = 64 << 10

// ReadManifest reads dir/manifest.json, which must be a regular file of at
// most 64 KiB.
func ReadManifest(dir string) (Manifest, error) {
	b, err := readRegular(filepath.Join(dir, ManifestFile), maxManifestBytes)
	if err != nil {
		return Manifest{}, err
	}
	m, err := ParseManifest(b)
	if err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

// FileSHA256 returns the hex SHA-256 of a regular file of at most
// DefaultConfig().MaxBinaryBytes.
func FileSHA256(path string) (string, error) {
	return fileSHA256(path, DefaultConfig().MaxBinaryBytes)
}

// openRegular opens path, refusing what is not a regular file (a symlink,
// a device such as /dev/zero, a FIFO that would block) and files over max
// bytes, with an error that says which.
func openRegular(path string, max int64) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%s)", ErrManifest, path, fi.Mode().Type())
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the limit of %d", ErrTooLarge, path, fi.Size(), max)
	}
	// O_NOFOLLOW and O_NONBLOCK: a swap for a symlink or FIFO after the
	// Lstat neither follows nor blocks; the Fstat below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrManifest, path)
	}
	return f, nil
}

func readRegular(path string, max int64) ([]byte, error) {
	f, err := openRegular(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("plugins: read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s grew over the limit of %d bytes", ErrTooLarge, path, max)
	}
	return b, nil
}

// fileSHA256 hashes a regular file of at most max bytes.
func fileSHA256(path string, max int64) (string, error) {
	f, err := openRegular(path, max)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, max+1))
	if err != nil {
		return "", fmt.Errorf("plugins: hash %s: %w", path, err)
	}
	if n > max {
		return "", fmt.Errorf("%w: %s grew over the limit of %d bytes", ErrTooLarge, path, max)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// InstallFolder installs a plugin from src into the plugin directory root
// without a running host, as Host.Install does: the binary's SHA-256 is
// recorded in the installed manifest. A running daemon sees it at its next
// start. It is for the store's keys plugin, which must be installed before
// the daemon's first start.
func InstallFolder(root, src string) (Manifest, error) {
	return installFiles(root, src, DefaultConfig().MaxBinaryBytes, nil)
}

// installFiles installs src into root. check, if not nil, sees the new
// manifest before anything is written and may refuse it.
func installFiles(root, src string, maxBinary int64, check func(Manifest) error) (Manifest, error) {
	m, err := ReadManifest(src)
	if err != nil {
		return Manifest{}, err
	}
	bin := filepath.Join(src, m.Executable)
	sum, err := fileSHA256(bin, maxBinary)
	if err != nil {
		return Manifest{}, err
	}
	if m.SHA256 != "" && m.SHA256 != sum {
		return Manifest{}, fmt.Errorf("%w: %s: the manifest says sha256 %s but %s hashes to %s", ErrChecksum, m.Name, m.SHA256, bin, sum)
	}
	m.SHA256 = sum
	if check != nil {
		if err := check(m); err != nil {
			return Manifest{}, err
		}
	}

	if err := os.MkdirAll(root, 0o755); err != nil { // #nosec G301 -- installed plugin code, readable by the plugins' own users; no secrets in it
		return Manifest{}, fmt.Errorf("plugins: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".install-"+m.Name+"-")
	if err != nil {
		return Manifest{}, fmt.Errorf("plugins: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := copyFile(bin, filepath.Join(tmp, m.Executable), 0o755); err != nil {
		return Manifest{}, err
	}
	// Hash the copy too: what runs is what was checked.
	if got, err := fileSHA256(filepath.Join(tmp, m.Executable), maxBinary); err != nil || got != sum {
		return Manifest{}, fmt.Errorf("%w: %s: binary changed while being installed", ErrChecksum, m.Name)
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("plugins: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), append(mb, '\n'), 0o644); err != nil { // #nosec G306 -- the plugin's manifest, read by its sandboxed process
		return Manifest{}, fmt.Errorf("plugins: %w", err)
	}
	dst := filepath.Join(root, m.Name)
	old := dst + ".old"
	_ = os.RemoveAll(old)
	if _, err := os.Stat(dst); err == nil {
		if err := os.Rename(dst, old); err != nil {
			return Manifest{}, fmt.Errorf("plugins: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Rename(old, dst)
		return Manifest{}, fmt.Errorf("plugins: %w", err)
	}
	_ = os.RemoveAll(old)
	return m, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := openRegular(src, 1<<40)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("plugins: copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("plugins: %w", err)
	}
	return out.Close()
}
