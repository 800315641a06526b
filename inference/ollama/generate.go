package ollama

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/ollama/ollama/api"

	"github.com/earshot/earshot/inference"
)

// generated is a reply being produced: a chunk channel and its error.
type generated struct {
	ch  <-chan string
	err func() error
}

// Generate produces text with the model of FeatureGenerate; see
// Generator.
func (p *Provider) Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error) {
	return p.generate(ctx, FeatureGenerate, req)
}

// Generator returns an inference.Generator that uses feature f's model,
// timeout and metrics, for example Generator(FeatureNextStep) for the
// wording of next best actions.
//
// Without a schema the reply is streamed: chunks arrive as the model writes
// them, the channel is closed when the reply is complete, when the feature's
// timeout expires or when ctx is done, and the error function (which waits
// for the close) tells which. The caller must read the channel to its end
// or cancel ctx. Failures before the first chunk fall back; later ones
// cannot, since part of the reply is already out.
//
// With a schema (GenerateRequest.Schema, in the subset ParseSchema accepts)
// the reply is validated whole and delivered as one chunk, or falls back.
func (p *Provider) Generator(f Feature) inference.Generator {
	return featureGenerator{p: p, f: f}
}

type featureGenerator struct {
	p *Provider
	f Feature
}

func (g featureGenerator) Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error) {
	return g.p.generate(ctx, g.f, req)
}

func (p *Provider) generate(ctx context.Context, f Feature, req inference.GenerateRequest) (<-chan string, func() error, error) {
	if !f.valid() || f == FeatureEmbed {
		return nil, nil, p.invalid(FeatureGenerate, "feature %q does not generate text", f)
	}
	if strings.TrimSpace(req.Prompt) == "" {
		return nil, nil, p.invalid(f, "prompt is empty")
	}
	if !utf8.ValidString(req.Prompt) || !utf8.ValidString(req.System) {
		return nil, nil, p.invalid(f, "prompt or system text is not valid UTF-8")
	}
	var schema *Schema
	if req.Schema != nil {
		var err error
		if schema, err = ParseSchema(req.Schema); err != nil {
			return nil, nil, p.invalid(f, "request schema: %v", err)
		}
	}
	var fb func() (generated, error)
	if p.fb.Generator != nil {
		fb = func() (generated, error) {
			ch, errf, err := p.fb.Generator.Generate(ctx, req)
			return generated{ch, errf}, err
		}
	}
	g, err := serve(p, ctx, f, func(s *session) (generated, error) {
		if schema != nil {
			raw, _, err := s.chatJSON(schema, req.System, req.Prompt)
			if err != nil {
				return generated{}, err
			}
			ch := make(chan string, 1)
			ch <- string(raw)
			close(ch)
			return generated{ch, func() error { return nil }}, nil
		}
		return s.stream(req)
	}, fb)
	return g.ch, g.err, err
}

// stream starts a streamed chat and returns once the first chunk (or the
// end of an empty reply) has arrived; an error before that is returned so
// that the caller can fall back. After that the session belongs to the
// streaming goroutine, which ends it.
func (s *session) stream(req inference.GenerateRequest) (generated, error) {
	var msgs []api.Message
	if req.System != "" {
		msgs = append(msgs, api.Message{Role: "system", Content: req.System})
	}
	msgs = append(msgs, api.Message{Role: "user", Content: req.Prompt})
	on := true
	chunks := make(chan string, 16)
	first := make(chan error, 1)
	finished := make(chan struct{})
	var streamErr error
	go func() {
		started, done := false, false
		err := s.p.client.Chat(s.ctx, &api.ChatRequest{
			Model: s.model, Messages: msgs, Stream: &on,
			KeepAlive: s.p.keepAlive(), Options: s.p.options(s.p.cfg.MaxTokens),
		}, func(r api.ChatResponse) error {
			if r.Done {
				done = true
				s.p.countTokens(s.f, r.Metrics)
			}
			if !started && (r.Message.Content != "" || r.Done) {
				started = true
				first <- nil
			}
			if r.Message.Content == "" {
				return nil
			}
			select {
			case chunks <- r.Message.Content:
				return nil
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
		})
		if err == nil && !done {
			err = cutShort(s.ctx)
		}
		if !started {
			first <- err // the caller ends the session and falls back
			return
		}
		reason := s.end(err)
		outcome := outcomeOK
		if err != nil {
			outcome = outcomeError
			streamErr = fmt.Errorf("ollama: %s: reply interrupted: %w", s.f, err)
			if reason != "" {
				s.p.metrics.failures.WithLabelValues(string(s.f), reason).Inc()
			}
		}
		s.p.metrics.requests.WithLabelValues(string(s.f), outcome).Inc()
		close(chunks)
		close(finished)
	}()
	if err := <-first; err != nil {
		return generated{}, err
	}
	s.detached = true
	return generated{chunks, func() error { <-finished; return streamErr }}, nil
}

// Embed returns one vector per text from the model of FeatureEmbed. There
// is no fallback (see Fallback); failures wrap inference.ErrUnavailable.
func (p *Provider) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return nil, p.invalid(FeatureEmbed, "texts[%d] is empty", i)
		}
		if !utf8.ValidString(t) {
			return nil, p.invalid(FeatureEmbed, "texts[%d] is not valid UTF-8", i)
		}
	}
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	return serve(p, ctx, FeatureEmbed, func(s *session) ([][]float32, error) {
		truncate := true
		opts := s.p.options(0)
		delete(opts, "num_predict")
		resp, err := s.p.client.Embed(s.ctx, &api.EmbedRequest{
			Model: s.model, Input: texts, KeepAlive: s.p.keepAlive(), Truncate: &truncate, Options: opts,
		})
		if err != nil {
			return nil, err
		}
		s.p.metrics.tokens.WithLabelValues(string(s.f), "prompt").Add(float64(resp.PromptEvalCount))
		if err := checkVectors(resp.Embeddings, len(texts)); err != nil {
			return nil, err
		}
		return resp.Embeddings, nil
	}, nil)
}

// EmbeddingModel names the model behind Embed, to be stored with the
// vectors: vectors of different models must never be compared.
func (p *Provider) EmbeddingModel() string { return p.cfg.Models[FeatureEmbed] }

// checkVectors checks n vectors of one positive dimension and finite values.
func checkVectors(vs [][]float32, n int) error {
	if len(vs) != n {
		return fmt.Errorf("%w: %d embeddings for %d texts", ErrSchema, len(vs), n)
	}
	for i, v := range vs {
		if len(v) == 0 || len(v) != len(vs[0]) {
			return fmt.Errorf("%w: embedding %d has %d dimensions, want %d > 0", ErrSchema, i, len(v), len(vs[0]))
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("%w: embedding %d is not finite", ErrSchema, i)
			}
		}
	}
	return nil
}
