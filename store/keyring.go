package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/earshot/earshot/store/keys"
)

// KeysFile is the key store's file name inside the data directory (package
// keys keeps it).
const KeysFile = "keys.db"

// ErrPurged is returned for an engagement whose data key was destroyed.
var ErrPurged = errors.New("store: engagement purged")

// keyErr translates the key store's errors into the store's own.
func keyErr(id engID, err error) error {
	switch {
	case errors.Is(err, keys.ErrShredded):
		return fmt.Errorf("store: engagement %s: %w", id, ErrPurged)
	case errors.Is(err, keys.ErrNoDataKey):
		return fmt.Errorf("store: data key of %s: %w", id, ErrNotFound)
	case errors.Is(err, keys.ErrDataKeyExists):
		return fmt.Errorf("store: data key of %s: %w", id, ErrExists)
	case errors.Is(err, keys.ErrTampered):
		return fmt.Errorf("store: data key of %s: %w", id, ErrTampered)
	}
	return err
}

// dek returns the engagement's unwrapped data key.
func (s *Store) dek(ctx context.Context, id engID) ([]byte, error) {
	dek, err := s.keys.DEK(ctx, id)
	if err != nil {
		return nil, keyErr(id, err)
	}
	return dek, nil
}

// newDEK creates the data key of a new engagement in keys.db.
func (s *Store) newDEK(ctx context.Context, id engID) ([]byte, error) {
	dek, err := s.keys.NewDEK(ctx, id)
	if err != nil {
		return nil, keyErr(id, err)
	}
	return dek, nil
}

// RotateResult reports a KEK rotation.
type RotateResult = keys.RotateResult

// RotateKEK moves every wrapped data key (and the site secrets) to a new KEK
// version without touching content, and audits it as actor (see
// keys.Ring.Rotate: resumable after an interruption). With destroyOld,
// every older KEK version is destroyed at the end and keys.db is
// compacted: from then on old key backups are useless, which closes the
// window in which they could revive purged engagements.
func (s *Store) RotateKEK(ctx context.Context, actor string, destroyOld bool) (RotateResult, error) {
	if actor == "" {
		return RotateResult{}, errors.New("store: rotate: actor is required")
	}
	res, err := s.keys.Rotate(ctx, destroyOld)
	if err != nil {
		return res, fmt.Errorf("store: %w", err)
	}
	detail := map[string]string{"from": strconv.Itoa(int(res.From)), "to": strconv.Itoa(int(res.To)),
		"rewrapped": strconv.Itoa(res.Rewrapped), "provider": s.keys.ProviderName()}
	if destroyOld {
		detail["destroyed_below"] = strconv.Itoa(int(res.To))
	}
	if err := s.AppendAudit(ctx, AuditEntry{Actor: actor, Action: "key.rotate", Detail: detail}); err != nil {
		return res, err
	}
	return res, nil
}

// KEKVersions returns the current KEK version and the target of a rotation
// under way (equal when none is).
func (s *Store) KEKVersions() (current, target uint32, err error) { return s.keys.Versions() }

// sealValue seals a value of bucket b under key with dek.
func (s *Store) sealValue(dek, b, key, plaintext []byte) ([]byte, error) {
	if s.plaintextForBench {
		return append([]byte(nil), plaintext...), nil
	}
	return keys.Seal(dek, valueAAD(b, key), plaintext)
}

// openValue opens a sealed value, counting integrity failures.
func (s *Store) openValue(dek, b, key, sealed []byte) ([]byte, error) {
	if s.plaintextForBench {
		return append([]byte(nil), sealed...), nil
	}
	pt, err := keys.Unseal(dek, valueAAD(b, key), sealed)
	if err != nil {
		s.metrics.tampered.Inc()
		s.logger.Error("sealed value failed its integrity check", "bucket", string(b), "key", fmt.Sprintf("%x", key))
		return nil, fmt.Errorf("store: open %s/%x: %w", b, key, ErrTampered)
	}
	return pt, nil
}

// ErrTampered is returned when a sealed value, a data key or an audit
// entry fails its integrity check: a byte was changed, or a value was moved
// to another key.
var ErrTampered = errors.New("store: integrity check failed (tampered, corrupted or moved value)")

// valueAAD is the additional authenticated data of a sealed value: the
// bucket name and the key, so a value copied under another key or into
// another bucket fails to open.
func valueAAD(bucket, key []byte) []byte {
	aad := make([]byte, 0, len(bucket)+1+len(key))
	aad = append(aad, bucket...)
	aad = append(aad, 0)
	return append(aad, key...)
}
