package ollamatest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
)

// TestWriteTinyModel reads the written model back with Ollama's own GGUF
// decoder and checks what the server relies on.
func TestWriteTinyModel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.gguf")
	if err := WriteTinyModel(path, 7); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, _, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatalf("decode the written model: %v", err)
	}
	kv := g.KV()
	if kv.Architecture() != "llama" || kv.BlockCount() != layers || kv.EmbeddingLength() != embd {
		t.Errorf("architecture %q, blocks %d, embedding %d; want llama, %d, %d",
			kv.Architecture(), kv.BlockCount(), kv.EmbeddingLength(), layers, embd)
	}
	tokens := kv.Strings("tokenizer.ggml.tokens")
	if len(tokens) != vocabSize || tokens[vocabSpecial+'{'] != "<0x7B>" {
		t.Errorf("vocabulary of %d tokens, want %d byte-level ones", len(tokens), vocabSize)
	}
	if n := len(g.Tensors().Items()); n != 3+9*layers {
		t.Errorf("%d tensors, want %d", n, 3+9*layers)
	}

	// The same seed writes the same model; another seed another one.
	again := filepath.Join(dir, "again.gguf")
	other := filepath.Join(dir, "other.gguf")
	if err := WriteTinyModel(again, 7); err != nil {
		t.Fatal(err)
	}
	if err := WriteTinyModel(other, 8); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(again)
	c, _ := os.ReadFile(other)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) != len(c) {
		t.Errorf("seeded writes: same seed equal %v, other seed equal %v", bytes.Equal(a, b), bytes.Equal(a, c))
	}
}
