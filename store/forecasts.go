package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// StoredForecast is one forecast kept for a queue, with the model version
// that produced it. Payload is the forecast's own JSON.
type StoredForecast struct {
	Queue        string          `json:"queue"`
	CreatedAt    time.Time       `json:"created_at"`
	CreatedBy    string          `json:"created_by"`
	ModelVersion string          `json:"model_version"`
	Payload      json.RawMessage `json:"payload,omitempty"`
}

// ForecastsKept is how many forecasts a queue keeps; older ones are dropped.
const ForecastsKept = 100

func forecastPrefix(queue string) []byte { return append([]byte(queue), 0) }

// PutForecast stores a forecast for its queue, dropping the oldest beyond
// ForecastsKept.
func (s *Store) PutForecast(ctx context.Context, f StoredForecast) error {
	if f.Queue == "" || bytes.IndexByte([]byte(f.Queue), 0) >= 0 {
		return fmt.Errorf("store: forecast: bad queue %q", f.Queue)
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	prefix := forecastPrefix(f.Queue)
	key := binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), uint64(f.CreatedAt.UnixNano()))
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketForecasts)
		if err := b.Put(key, raw); err != nil {
			return err
		}
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for len(keys) > ForecastsKept {
			if err := b.Delete(keys[0]); err != nil {
				return err
			}
			keys = keys[1:]
		}
		return nil
	})
}

// Forecasts returns a queue's stored forecasts, newest first; with
// withPayload false only their metadata.
func (s *Store) Forecasts(ctx context.Context, queue string, withPayload bool) ([]StoredForecast, error) {
	prefix := forecastPrefix(queue)
	var out []StoredForecast
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketForecasts).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var f StoredForecast
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("store: forecast %q: %w", queue, err)
			}
			if !withPayload {
				f.Payload = nil
			}
			out = append([]StoredForecast{f}, out...)
		}
		return nil
	})
	return out, err
}
