package store

import (
	"context"
	"fmt"
)

// ProbeKeys wraps and unwraps a random key through the key provider under
// the KEK version new wraps use (keys.Ring.Probe), for the daemon's
// self-check. It returns the provider's name and that version.
func (s *Store) ProbeKeys(ctx context.Context) (provider string, version uint32, err error) {
	version, err = s.keys.Probe(ctx)
	if err != nil {
		return s.keys.ProviderName(), version, fmt.Errorf("store: %w", err)
	}
	return s.keys.ProviderName(), version, nil
}
