//go:build eval

// Package evalpass holds one eval that passes, for packaging/make_test.go:
// `make eval` on it must succeed although the filter prints nothing.
package evalpass

import "testing"

func TestEvalPasses(t *testing.T) {}
