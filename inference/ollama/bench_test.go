package ollama

import (
	"context"
	"testing"
)

func BenchmarkSchemaValidate(b *testing.B) {
	doc := []byte(`{"tasks":[{"text":"send the confirmation email","owner":"agent","due":"friday","utterance":2},` +
		`{"text":"check the card works abroad","owner":"customer","due":"none","utterance":3}]}`)
	s := tasksSchema(testConv)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDisposition measures one structured call through the real
// server with the tiny model: the provider's and the server's overhead per
// call, not a real model's speed.
func BenchmarkDisposition(b *testing.B) {
	srv := sharedServer(b)
	p, _, fb := newTestProvider(b, testConfig(srv.URL))
	ctx := context.Background()
	if _, err := p.ClassifyDisposition(ctx, testConv, testCodes); err != nil { // load the model
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.ClassifyDisposition(ctx, testConv, testCodes); err != nil {
			b.Fatal(err)
		}
	}
	if fb.total() != 0 {
		b.Fatalf("fell back: %v", fb.calls)
	}
}
