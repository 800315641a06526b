package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrTampered is returned when a sealed value or an audit entry fails its
// integrity check: a byte was changed, or a value was moved to another key.
var ErrTampered = errors.New("store: integrity check failed (tampered, corrupted or moved value)")

// sealVersion prefixes every sealed value so the format can evolve.
const sealVersion = 1

const (
	keySize   = 32 // AES-256
	nonceSize = 12
)

// seal encrypts plaintext with AES-256-GCM under dek, binding it to aad
// (bucket | 0x00 | key): version (1) | nonce (12) | ciphertext+tag.
func seal(dek, aad, plaintext []byte) ([]byte, error) {
	gcm, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+gcm.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		return nil, fmt.Errorf("store: nonce: %w", err)
	}
	return gcm.Seal(out, out[1:1+nonceSize], plaintext, aad), nil
}

// open reverses seal; any change to the value or a different aad gives
// ErrTampered.
func open(dek, aad, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+16 || sealed[0] != sealVersion {
		return nil, ErrTampered
	}
	gcm, err := newGCM(dek)
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
	if len(key) != keySize {
		return nil, fmt.Errorf("store: key is %d bytes, want %d", len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("store: aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// valueAAD is the additional authenticated data of a sealed value: the
// bucket name and the key, so a value copied under another key or into
// another bucket fails to open.
func valueAAD(bucket, key []byte) []byte {
	aad := make([]byte, 0, len(bucket)+1+len(key))
	aad = append(aad, bucket...)
	aad = append(aad, 0)
	return append(aad, key...)
}

func randomKey() ([]byte, error) {
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("store: generate key: %w", err)
	}
	return k, nil
}
