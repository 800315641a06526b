package keys

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// ErrNoCheckpoint is returned by Checkpoint when none was ever written (a
// key store from before checkpoints).
var ErrNoCheckpoint = errors.New("keys: no checkpoint")

// The checkpoint is a small record the store keeps in keys.db, apart from
// the content database: the state of the content database's integrity
// seal (a counter, the audit chain's head) at each start and clean stop.
// It is authenticated under a key derived from the site secrets, which the
// KEK wraps, so it cannot be forged without the KEK; once one was written,
// the (KEK-authenticated) site secrets say so, and a missing checkpoint is
// tampering.

func (r *Ring) checkpointKey() ([]byte, error) {
	return hkdf.Key(sha256.New, r.auditKey, nil, "earshot keys checkpoint v1", KeySize)
}

func (r *Ring) checkpointMAC(payload []byte) ([]byte, error) {
	k, err := r.checkpointKey()
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write(payload)
	return m.Sum(nil), nil
}

// Checkpoint returns the payload of the last checkpoint written:
// ErrNoCheckpoint if none ever was, ErrTampered if it was removed or does
// not verify.
func (r *Ring) Checkpoint() ([]byte, error) {
	var rec []byte
	if err := r.view(func(tx *bbolt.Tx) error {
		rec = bytes.Clone(tx.Bucket(bucketMeta).Get(keyCheckpoint))
		return nil
	}); err != nil {
		return nil, err
	}
	switch {
	case rec == nil && r.checkpointed.Load():
		return nil, fmt.Errorf("keys: checkpoint removed: %w", ErrTampered)
	case rec == nil:
		return nil, ErrNoCheckpoint
	case len(rec) < sha256.Size:
		return nil, fmt.Errorf("keys: checkpoint: %w", ErrTampered)
	}
	payload, mac := rec[:len(rec)-sha256.Size], rec[len(rec)-sha256.Size:]
	want, err := r.checkpointMAC(payload)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(mac, want) {
		return nil, fmt.Errorf("keys: checkpoint: %w", ErrTampered)
	}
	return payload, nil
}

// PutCheckpoint replaces the checkpoint. The first one also marks the site
// secrets, so that removing the checkpoint later is detected.
func (r *Ring) PutCheckpoint(ctx context.Context, payload []byte) error {
	mac, err := r.checkpointMAC(payload)
	if err != nil {
		return err
	}
	rec := append(bytes.Clone(payload), mac...)
	if r.checkpointed.Load() {
		return r.update(ctx, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyCheckpoint, rec) })
	}
	// First checkpoint: re-wrap the site secrets with the flag, under the
	// version they are wrapped under, in the same transaction. A rotation
	// re-wraps them too: hold it off.
	r.rotateMu.Lock()
	defer r.rotateMu.Unlock()
	var wrapped []byte
	r.view(func(tx *bbolt.Tx) error { wrapped = bytes.Clone(tx.Bucket(bucketMeta).Get(keySiteSecrets)); return nil })
	if len(wrapped) < 5 {
		return fmt.Errorf("keys: site secrets record: %w", ErrTampered)
	}
	v := binary.BigEndian.Uint32(wrapped)
	secrets := append(append(bytes.Clone(r.indexKey), r.auditKey...), flagCheckpointed)
	w, err := r.provider.Wrap(ctx, v, secrets, siteSecretsAAD)
	if err != nil {
		return fmt.Errorf("keys: wrap site secrets: %w", err)
	}
	err = r.update(ctx, func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if !bytes.Equal(m.Get(keySiteSecrets), wrapped) {
			return errors.New("keys: site secrets changed meanwhile")
		}
		if err := m.Put(keySiteSecrets, append(binary.BigEndian.AppendUint32(nil, v), w...)); err != nil {
			return err
		}
		return m.Put(keyCheckpoint, rec)
	})
	if err != nil {
		return fmt.Errorf("keys: checkpoint: %w", err)
	}
	r.checkpointed.Store(true)
	return nil
}
