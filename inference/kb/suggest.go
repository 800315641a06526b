package kb

import (
	"context"
	"strings"

	"github.com/earshot/earshot/inference"
)

// SuggestConfig tunes live suggestions for one engagement.
type SuggestConfig struct {
	// Window is how many recent final utterances form the query (default 6).
	Window int `json:"window"`
	// K is the most suggestions returned per utterance (default 3).
	K int `json:"k"`
	// MinScore drops weak matches (lexical score; default 4).
	MinScore float64 `json:"min_score"`
	// RelScore drops matches scoring under this share of the query's best
	// hit, shown before or not (default 0.5): weak side matches of a topic
	// already on screen are noise.
	RelScore float64 `json:"rel_score"`
	// Queue is the engagement's queue: suggestions come from its articles
	// and those for every queue.
	Queue string `json:"queue"`
	// MaxShown bounds the de-duplication memory (default 200 articles).
	MaxShown int `json:"max_shown"`
}

// Suggestion is one passage suggested to the agent. The daemon turns
// ArticleID into an article link.
type Suggestion struct {
	ArticleID string  `json:"article_id"`
	PassageID string  `json:"passage_id"`
	Title     string  `json:"title"`
	Text      string  `json:"text"`
	Score     float64 `json:"score"`
}

// Suggester produces live suggestions for one engagement: on each final
// utterance it queries the index with the recent conversation window and
// returns only articles not suggested before in this engagement. It is
// owned by the engagement's goroutine and is not safe for concurrent use.
type Suggester struct {
	ix     *Index
	cfg    SuggestConfig
	window []string
	shown  map[string]bool
	order  []string
}

// NewSuggester returns a suggester for one engagement.
func (ix *Index) NewSuggester(cfg SuggestConfig) *Suggester {
	if cfg.Window <= 0 {
		cfg.Window = 6
	}
	if cfg.K <= 0 {
		cfg.K = 3
	}
	if cfg.MinScore <= 0 {
		cfg.MinScore = 4
	}
	if cfg.RelScore <= 0 {
		cfg.RelScore = 0.5
	}
	if cfg.MaxShown <= 0 {
		cfg.MaxShown = 200
	}
	return &Suggester{ix: ix, cfg: cfg, shown: map[string]bool{}}
}

// Observe takes one final utterance and returns the new suggestions (none
// is a normal result). The newest utterance counts twice in the query so
// the window leans to what is being said now.
func (s *Suggester) Observe(ctx context.Context, u inference.Utterance) ([]Suggestion, error) {
	text := strings.ReplaceAll(u.Text, `"`, " ") // speech has no phrase operators
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	s.window = append(s.window, text)
	if len(s.window) > s.cfg.Window {
		s.window = s.window[len(s.window)-s.cfg.Window:]
	}
	q := strings.Join(s.window, "\n") + "\n" + text
	hits, err := s.ix.Search(ctx, Query{Text: q, K: s.cfg.K + len(s.shown), Scope: QueueScope(s.cfg.Queue), PerArticle: true})
	if err != nil {
		return nil, err
	}
	var out []Suggestion
	for _, h := range hits {
		if len(out) >= s.cfg.K {
			break
		}
		if h.Lexical < s.cfg.MinScore || h.Lexical < s.cfg.RelScore*hits[0].Lexical || s.shown[h.Passage.ArticleID] {
			continue
		}
		s.remember(h.Passage.ArticleID)
		out = append(out, Suggestion{ArticleID: h.Passage.ArticleID, PassageID: h.Passage.ID,
			Title: h.Passage.Title, Text: h.Passage.Text, Score: h.Score})
	}
	s.ix.m.suggestions.Add(float64(len(out)))
	return out, nil
}

func (s *Suggester) remember(id string) {
	s.shown[id] = true
	s.order = append(s.order, id)
	if len(s.order) > s.cfg.MaxShown {
		delete(s.shown, s.order[0])
		s.order = s.order[1:]
	}
}
