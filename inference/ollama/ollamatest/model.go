package ollamatest

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"github.com/ollama/ollama/fs/ggml"
)

// Dimensions of the tiny model: small enough to load in milliseconds and to
// generate hundreds of tokens a second on one CPU thread.
const (
	vocabSpecial = 3 // <unk>, <s>, </s>
	vocabSize    = vocabSpecial + 256
	embd         = 32
	heads        = 2
	headDim      = embd / heads
	ffn          = 64
	layers       = 2
	contextLen   = 4096
)

// EmbeddingLength is the length of the tiny model's embedding vectors.
const EmbeddingLength = embd

// GGUF token types (llama.cpp llama_token_type).
const (
	tokenNormal  = 1
	tokenUnknown = 2
	tokenControl = 3
	tokenByte    = 6
)

// WriteTinyModel writes a tiny llama-architecture GGUF model with random
// weights drawn from seed to path. Its tokenizer is byte-level (a
// SentencePiece vocabulary of the 256 byte tokens), so it reads any text and
// can spell any ASCII reply, and any grammar Ollama derives from a JSON
// Schema can be followed.
// What it writes is noise: tests may rely only on what a grammar, a token
// limit or the server guarantees.
func WriteTinyModel(path string, seed uint64) error {
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{tokenUnknown, tokenControl, tokenControl}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		// Bytes 0x80-0xFF stay in the vocabulary, so that any input
		// tokenizes, but as control tokens: their text is then the ASCII
		// name ("<0x80>") both for the grammar and in the reply. Noise
		// written byte by byte could otherwise be invalid UTF-8, which the
		// grammar and a JSON decoder count differently.
		typ := int32(tokenByte)
		if b >= 0x80 {
			typ = tokenControl
		}
		types = append(types, typ)
	}
	scores := make([]float32, len(tokens))
	kv := ggml.KV{
		"general.architecture":                   "llama",
		"general.name":                           "earshot-tiny-random",
		"general.file_type":                      uint32(0), // all F32
		"llama.context_length":                   uint32(contextLen),
		"llama.embedding_length":                 uint32(embd),
		"llama.block_count":                      uint32(layers),
		"llama.feed_forward_length":              uint32(ffn),
		"llama.attention.head_count":             uint32(heads),
		"llama.attention.head_count_kv":          uint32(heads),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"llama.rope.dimension_count":             uint32(headDim),
		"llama.vocab_size":                       uint32(vocabSize),
		"tokenizer.ggml.model":                   "llama",
		"tokenizer.ggml.tokens":                  tokens,
		"tokenizer.ggml.scores":                  scores,
		"tokenizer.ggml.token_type":              types,
		"tokenizer.ggml.unknown_token_id":        uint32(0),
		"tokenizer.ggml.bos_token_id":            uint32(1),
		"tokenizer.ggml.eos_token_id":            uint32(2),
		"tokenizer.ggml.add_bos_token":           true,
		"tokenizer.ggml.add_eos_token":           false,
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// Shapes are in row-major order (rows, columns); the writer reverses
	// them into GGUF's order.
	var ts []ggml.Tensor
	add := func(name string, std float64, shape ...uint64) {
		n := uint64(1)
		for _, d := range shape {
			n *= d
		}
		w := make([]float32, n)
		for i := range w {
			if std == 0 {
				w[i] = 1 // norm weights
			} else {
				w[i] = float32(rng.NormFloat64() * std)
			}
		}
		ts = append(ts, ggml.Tensor{Name: name, Kind: 0, Shape: shape, WriterTo: f32s(w)})
	}
	add("token_embd.weight", 1, vocabSize, embd)
	add("output_norm.weight", 0, embd)
	add("output.weight", 1/math.Sqrt(embd), vocabSize, embd)
	for i := range layers {
		p := fmt.Sprintf("blk.%d.", i)
		add(p+"attn_norm.weight", 0, embd)
		add(p+"attn_q.weight", 0.2, heads*headDim, embd)
		add(p+"attn_k.weight", 0.2, heads*headDim, embd)
		add(p+"attn_v.weight", 0.2, heads*headDim, embd)
		add(p+"attn_output.weight", 0.2, embd, heads*headDim)
		add(p+"ffn_norm.weight", 0, embd)
		add(p+"ffn_gate.weight", 0.2, ffn, embd)
		add(p+"ffn_up.weight", 0.2, ffn, embd)
		add(p+"ffn_down.weight", 0.2, embd, ffn)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("ollamatest: create model: %w", err)
	}
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		f.Close()
		return fmt.Errorf("ollamatest: write model: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ollamatest: write model: %w", err)
	}
	return nil
}

// f32s writes float32 values in little-endian order.
type f32s []float32

func (w f32s) WriteTo(dst io.Writer) (int64, error) {
	b := make([]byte, 4*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	n, err := dst.Write(b)
	return int64(n), err
}
