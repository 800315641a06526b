package kb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
)

// Segment is one retrievable piece of an engagement for ask-anything: a
// final transcript segment, or a result such as a summary (Kind "summary",
// Speaker empty). Started is the engagement's start time. Seq orders the
// segments of one kind and must be unique within (engagement, kind).
type Segment struct {
	EngagementID string          `json:"engagement_id"`
	Queue        string          `json:"queue"`
	Started      time.Time       `json:"started"`
	Kind         string          `json:"kind"` // "segment" or a result kind ("summary")
	Seq          int             `json:"seq"`
	Speaker      inference.Party `json:"speaker,omitempty"`
	StartMS      int64           `json:"start_ms"`
	EndMS        int64           `json:"end_ms"`
	Text         string          `json:"text"`
}

func (s Segment) key() string { return fmt.Sprintf("%s/%s/%d", s.EngagementID, s.Kind, s.Seq) }

// AskIndex retrieves over transcript segments and results. Each segment is
// indexed with its neighbours as a low-weight context field, so a short
// reply ("yes, on Thursday") is found by the question it answers. It holds
// customer content in memory only; the daemon builds it from decrypted
// store records (per request, or kept and updated per engagement).
type AskIndex struct {
	ix *Index

	mu sync.RWMutex
	// +checklocks:mu
	segs map[string]Segment
	// +checklocks:mu
	byEng map[string][]string
}

// NewAskIndex returns an empty ask-anything index. It registers no metrics
// (the daemon counts and audits asks).
func NewAskIndex(logger *slog.Logger, syn *Synonyms) (*AskIndex, error) {
	cfg := DefaultConfig()
	cfg.TitleBoost = 0.6 // the title field holds the previous segment
	cfg.PassageWords = 2000
	ix, err := New(cfg, logger, nil, syn, nil)
	if err != nil {
		return nil, err
	}
	return &AskIndex{ix: ix, segs: map[string]Segment{}, byEng: map[string][]string{}}, nil
}

// AddEngagement indexes one engagement's segments (in order) and results,
// replacing what was indexed for it before.
func (a *AskIndex) AddEngagement(ctx context.Context, segs []Segment) error {
	if len(segs) == 0 {
		return nil
	}
	segs = slices.Clone(segs) // Kind defaults are filled in below
	eng := segs[0].EngagementID
	// Check everything before changing anything.
	keys := map[string]bool{}
	for i := range segs {
		s := &segs[i]
		if s.EngagementID != eng {
			return fmt.Errorf("kb: ask: segment %d belongs to %q, not %q", i, s.EngagementID, eng)
		}
		if s.Kind == "" {
			s.Kind = "segment"
		}
		if keys[s.key()] {
			return fmt.Errorf("kb: ask: segment %d: duplicate kind %q and seq %d in engagement %q", i, s.Kind, s.Seq, eng)
		}
		keys[s.key()] = true
	}
	a.RemoveEngagement(eng)
	var arts []Article
	a.mu.Lock()
	for i, s := range segs {
		var ctxText []string
		// The previous segment is what this one replies to.
		if s.Kind == "segment" && i > 0 && segs[i-1].Kind == s.Kind {
			ctxText = append(ctxText, segs[i-1].Text)
		}
		k := s.key()
		a.segs[k] = s
		a.byEng[eng] = append(a.byEng[eng], k)
		if strings.TrimSpace(s.Text) == "" {
			continue
		}
		arts = append(arts, Article{ID: k, Title: truncateUTF8(strings.Join(ctxText, " "), MaxTitleLen), Body: s.Text})
	}
	a.mu.Unlock()
	_, errs := a.ix.Load(ctx, arts, 1)
	return errors.Join(errs...)
}

// RemoveEngagement drops an engagement (on purge or retention).
func (a *AskIndex) RemoveEngagement(id string) {
	a.mu.Lock()
	keys := a.byEng[id]
	delete(a.byEng, id)
	for _, k := range keys {
		delete(a.segs, k)
	}
	a.mu.Unlock()
	for _, k := range keys {
		_ = a.ix.Delete(k) // a segment with no text was never indexed
	}
}

// AskQuery is one ask-anything question. Allow is required: it decides,
// per segment, whether the caller may see it, and is applied before
// ranking, so a segment it rejects can neither be returned nor displace an
// allowed one. The scope fields narrow further.
type AskQuery struct {
	Question     string
	K            int                 // cited segments (default 5)
	Allow        func(Segment) bool  // required
	EngagementID string              // scope: one engagement, or
	Queue        string              // scope: a queue
	From, To     time.Time           // scope: engagement start in [From, To)
	Generator    inference.Generator // optional: generated answer
	Model        string
}

// SegmentCitation cites one segment of one engagement.
type SegmentCitation struct {
	N            int             `json:"n"`
	EngagementID string          `json:"engagement_id"`
	Kind         string          `json:"kind"`
	Speaker      inference.Party `json:"speaker,omitempty"`
	StartMS      int64           `json:"start_ms"`
	EndMS        int64           `json:"end_ms"`
	Text         string          `json:"text"`
	Score        float64         `json:"score"`
}

// AskAnswer is the answer with [n] markers referring to Citations.
type AskAnswer struct {
	Text      string            `json:"text"`
	Citations []SegmentCitation `json:"citations"`
	Generated bool              `json:"generated"`
	inference.Provenance
}

// ErrNoFilter is returned by Ask without an Allow function.
var ErrNoFilter = errors.New("kb: ask: no access filter")

// Ask answers a question over the segments the caller may see.
func (a *AskIndex) Ask(ctx context.Context, q AskQuery) (AskAnswer, error) {
	if q.Allow == nil {
		return AskAnswer{}, ErrNoFilter
	}
	if q.K <= 0 {
		q.K = 5
	}
	allow := func(p *Passage) bool {
		a.mu.RLock()
		s, ok := a.segs[p.ArticleID]
		a.mu.RUnlock()
		if !ok {
			return false
		}
		switch {
		case q.EngagementID != "" && s.EngagementID != q.EngagementID,
			q.Queue != "" && s.Queue != q.Queue,
			!q.From.IsZero() && s.Started.Before(q.From),
			!q.To.IsZero() && !s.Started.Before(q.To):
			return false
		}
		return q.Allow(s)
	}
	hits, err := a.ix.Search(ctx, Query{Text: q.Question, K: q.K, Allow: allow})
	if err != nil || len(hits) == 0 {
		return AskAnswer{}, err
	}
	cites := make([]SegmentCitation, len(hits))
	srcs := make([]source, len(hits))
	a.mu.RLock()
	for i, h := range hits {
		s := a.segs[h.Passage.ArticleID]
		cites[i] = SegmentCitation{N: i + 1, EngagementID: s.EngagementID, Kind: s.Kind, Speaker: s.Speaker,
			StartMS: s.StartMS, EndMS: s.EndMS, Text: s.Text, Score: h.Score}
		srcs[i] = source{title: fmt.Sprintf("engagement %s, %s at %s", s.EngagementID, speakerOf(s), clock(s.StartMS)), text: s.Text}
	}
	a.mu.RUnlock()
	if q.Generator != nil {
		text, used, err := generateGrounded(ctx, q.Generator, q.Question, srcs)
		if err == nil && len(used) > 0 {
			out := AskAnswer{Text: text, Generated: true, Provenance: inference.Provenance{Provider: "ollama", Model: q.Model}}
			for _, n := range used {
				out.Citations = append(out.Citations, cites[n-1])
			}
			return out, nil
		}
	}
	// Extractive: every retrieved segment is cited, best first, so answers
	// that span engagements list each of them.
	var b strings.Builder
	for i, c := range cites {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[%d] %s", c.N, c.Text)
	}
	return AskAnswer{Text: b.String(), Citations: cites,
		Provenance: inference.Provenance{Provider: "builtin", Model: "kb-extractive"}}, nil
}

func speakerOf(s Segment) string {
	if s.Speaker == "" {
		return s.Kind
	}
	return string(s.Speaker)
}

func clock(ms int64) string {
	sec := ms / 1000
	return fmt.Sprintf("%02d:%02d", sec/60, sec%60)
}

// truncateUTF8 cuts s to at most n bytes at a rune boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
