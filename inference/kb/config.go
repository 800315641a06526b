package kb

import (
	"errors"
	"fmt"
)

// Config tunes an Index. Boosts weight the per-field BM25 scores; the defaults
// were chosen on the stackfaq evaluation (see eval_test.go).
type Config struct {
	// PassageWords is the target passage length in words.
	PassageWords int `json:"passage_words"`
	// K1 and B are the BM25 saturation and length-normalisation parameters.
	K1 float64 `json:"k1"`
	B  float64 `json:"b"`
	// TitleBoost and TagBoost weight title and tag matches against the body (1).
	TitleBoost float64 `json:"title_boost"`
	TagBoost   float64 `json:"tag_boost"`
	// SynonymWeight weights query terms added by synonym expansion (0 disables it).
	SynonymWeight float64 `json:"synonym_weight"`
	// ProximityBoost is the share of a passage's score added when all
	// adjacent query-term pairs also appear adjacent in it (0 disables it).
	ProximityBoost float64 `json:"proximity_boost"`
	// MaxQueryTerms caps the terms of a long query (a conversation
	// window): the heaviest by idf and repetition are kept.
	MaxQueryTerms int `json:"max_query_terms"`
	// RRFK is the reciprocal-rank-fusion constant for hybrid ranking.
	RRFK float64 `json:"rrf_k"`
	// HybridDepth is how many results of each ranking are fused.
	HybridDepth int `json:"hybrid_depth"`
	// MaxTextBytes bounds the article text (titles, bodies, tags) the
	// index holds, and so its memory (about 3.4 times the text, measured
	// on 64 MiB of Zipf-distributed words); an upsert past it fails with
	// ErrIndexFull. 0 means the default, 64 MiB.
	MaxTextBytes int64 `json:"max_text_bytes"`
}

// DefaultMaxTextBytes is MaxTextBytes' default: far above a contact
// centre's knowledge base (thousands of articles of a few kB), about
// 220 MiB of index at most.
const DefaultMaxTextBytes = 64 << 20

// DefaultConfig returns the tuned defaults.
func DefaultConfig() Config {
	return Config{
		PassageWords:   120,
		K1:             1.2,
		B:              0.75,
		TitleBoost:     3.0,
		TagBoost:       1.5,
		SynonymWeight:  0.5,
		ProximityBoost: 0.2,
		MaxQueryTerms:  24,
		RRFK:           60,
		HybridDepth:    50,
	}
}

// Validate checks the configuration; the error names the field.
func (c Config) Validate() error {
	var errs []error
	if c.PassageWords < 10 || c.PassageWords > 2000 {
		errs = append(errs, fmt.Errorf("passage_words must be in 10..2000, got %d", c.PassageWords))
	}
	if c.K1 <= 0 || c.K1 > 10 {
		errs = append(errs, fmt.Errorf("k1 must be in (0, 10], got %g", c.K1))
	}
	if c.B < 0 || c.B > 1 {
		errs = append(errs, fmt.Errorf("b must be in [0, 1], got %g", c.B))
	}
	if c.TitleBoost < 0 || c.TagBoost < 0 || c.SynonymWeight < 0 || c.ProximityBoost < 0 {
		errs = append(errs, errors.New("title_boost, tag_boost, synonym_weight and proximity_boost must not be negative"))
	}
	if c.MaxQueryTerms < 1 {
		errs = append(errs, fmt.Errorf("max_query_terms must be positive, got %d", c.MaxQueryTerms))
	}
	if c.RRFK <= 0 {
		errs = append(errs, fmt.Errorf("rrf_k must be positive, got %g", c.RRFK))
	}
	if c.MaxTextBytes < 0 {
		errs = append(errs, fmt.Errorf("max_text_bytes must not be negative, got %d", c.MaxTextBytes))
	}
	if c.HybridDepth <= 0 {
		errs = append(errs, fmt.Errorf("hybrid_depth must be positive, got %d", c.HybridDepth))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kb: config: %w", err)
	}
	return nil
}
