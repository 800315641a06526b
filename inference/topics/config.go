package topics

import (
	"errors"
	"fmt"
)

// Config controls discovery. The defaults were chosen on a development
// split of the banking77 training set (see eval_test.go), never on the
// set that is reported.
type Config struct {
	// Dims is the number of latent dimensions of the SVD.
	Dims int `json:"dims"`
	// Threshold is the average cosine distance above which two clusters
	// are not merged; it decides how many topics there are.
	Threshold float64 `json:"threshold"`
	// MinTopicSize is the smallest cluster kept as a topic; smaller ones
	// join their nearest topic.
	MinTopicSize int `json:"min_topic_size"`
	// MaxTexts caps the texts clustered at once (memory grows with its
	// square); the rest of a larger set is assigned to the topics found.
	MaxTexts int `json:"max_texts"`
	// MinTexts is the smallest set worth clustering.
	MinTexts int `json:"min_texts"`
	// MinScore is the cosine similarity to a topic's centroid below which
	// Assign leaves a text without a topic.
	MinScore float64 `json:"min_score"`
	// Keywords and Representatives per topic.
	Keywords        int `json:"keywords"`
	Representatives int `json:"representatives"`
	// Seed makes discovery reproducible.
	Seed uint64 `json:"seed"`
}

// DefaultConfig returns the settings measured on the development split.
func DefaultConfig() Config {
	return Config{Dims: 150, Threshold: 0.70, MinTopicSize: 5, MaxTexts: 4000, MinTexts: 20,
		MinScore: 0.25, Keywords: 5, Representatives: 3, Seed: 1}
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.Dims < 2 || c.Dims > 1000:
		return fmt.Errorf("topics: dims %d must be within 2..1000", c.Dims)
	case c.Threshold <= 0 || c.Threshold >= 2:
		return fmt.Errorf("topics: threshold %g must be within (0, 2)", c.Threshold)
	case c.MinTopicSize < 1:
		return errors.New("topics: min_topic_size must be at least 1")
	case c.MaxTexts < 10 || c.MaxTexts > 20000:
		return fmt.Errorf("topics: max_texts %d must be within 10..20000", c.MaxTexts)
	case c.MinTexts < 2 || c.MinTexts > c.MaxTexts:
		return fmt.Errorf("topics: min_texts %d must be within 2..max_texts", c.MinTexts)
	case c.MinScore < 0 || c.MinScore >= 1:
		return fmt.Errorf("topics: min_score %g must be within [0, 1)", c.MinScore)
	case c.Keywords < 1 || c.Representatives < 0:
		return errors.New("topics: keywords must be positive and representatives not negative")
	}
	return nil
}
