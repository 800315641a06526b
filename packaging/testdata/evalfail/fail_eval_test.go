//go:build eval

// Package evalfail holds one eval that fails, for packaging/make_test.go:
// `make eval` on it must fail. Under testdata, ./... never includes it.
package evalfail

import "testing"

func TestEvalFails(t *testing.T) { t.Error("this eval fails on purpose") }
