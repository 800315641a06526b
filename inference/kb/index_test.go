package kb

import (
	"testing"
)

func newTestIndex(t testing.TB, emb Embedder) *Index {
	t.Helper()
	ix, err := New(DefaultConfig(), nil, nil, BuiltinSynonyms(), emb)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}
