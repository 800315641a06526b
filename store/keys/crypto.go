package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrTampered is returned when a sealed value, a wrapped key or a
// checkpoint fails its integrity check: a byte was changed, or a value was
// moved to another key.
var ErrTampered = errors.New("keys: integrity check failed (tampered, corrupted or moved value)")

// sealVersion prefixes every sealed value so the format can evolve.
const sealVersion = 1

// KeySize is the size of every key: AES-256, HMAC-SHA-256.
const KeySize = 32

const nonceSize = 12

// Seal encrypts plaintext with AES-256-GCM under key, binding it to aad:
// version (1) | nonce (12) | ciphertext and tag.
func Seal(key, aad, plaintext []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+gcm.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return gcm.Seal(out, out[1:1+nonceSize], plaintext, aad), nil
}

// Unseal reverses Seal; any change to the value or a different aad gives
// ErrTampered.
func Unseal(key, aad, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+16 || sealed[0] != sealVersion {
		return nil, ErrTampered
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrTampered
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("keys: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// NewKey returns a fresh random 256-bit key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keys: generate key: %w", err)
	}
	return k, nil
}
