package kb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
)

// Citation points an answer at the passage it came from.
type Citation struct {
	N         int     `json:"n"` // the [n] marker in the answer text
	ArticleID string  `json:"article_id"`
	PassageID string  `json:"passage_id"`
	Title     string  `json:"title"`
	Score     float64 `json:"score"`
}

// Answer is a knowledge-base answer: Text carries [n] markers that refer to
// Citations. Generated is false for the built-in extractive answer.
type Answer struct {
	Text      string     `json:"text"`
	Citations []Citation `json:"citations"`
	Passages  []Hit      `json:"passages"`
	Generated bool       `json:"generated"`
	inference.Provenance
}

// AnswerOptions tune Answer.
type AnswerOptions struct {
	K         int                 // passages retrieved (default 3)
	Scope     Scope               // the queues whose articles the reader may receive
	Sentences int                 // sentences in an extractive answer (default 2)
	Generator inference.Generator // nil: extractive only
	Model     string              // provenance of the generator
}

// Answer answers a question from the knowledge base: the best sentences of
// the best passages with citations, or, with a Generator, a reply grounded
// only in the retrieved passages. A generator failure, or a reply that cites
// nothing, falls back to the extractive answer. No passage: empty Text.
func (ix *Index) Answer(ctx context.Context, question string, opt AnswerOptions) (Answer, error) {
	if opt.K <= 0 {
		opt.K = 3
	}
	if opt.Sentences <= 0 {
		opt.Sentences = 2
	}
	hits, err := ix.Search(ctx, Query{Text: question, K: opt.K, Scope: opt.Scope, PerArticle: true})
	if err != nil || len(hits) == 0 {
		return Answer{Passages: hits}, err
	}
	srcs := make([]source, len(hits))
	for i, h := range hits {
		srcs[i] = source{text: h.Passage.Text, title: h.Passage.Title}
	}
	cites := make([]Citation, len(hits))
	for i, h := range hits {
		cites[i] = Citation{N: i + 1, ArticleID: h.Passage.ArticleID, PassageID: h.Passage.ID, Title: h.Passage.Title, Score: h.Score}
	}
	if opt.Generator != nil {
		text, used, err := generateGrounded(ctx, opt.Generator, question, srcs)
		if err == nil && len(used) > 0 {
			a := Answer{Text: text, Passages: hits, Generated: true,
				Provenance: inference.Provenance{Provider: "ollama", Model: opt.Model}}
			for _, n := range used {
				a.Citations = append(a.Citations, cites[n-1])
			}
			return a, nil
		}
		ix.log.Warn("generated kb answer unusable; answering extractively", "err", err, "cited", len(used))
	}
	text, used := extractive(question, srcs, opt.Sentences)
	a := Answer{Text: text, Passages: hits, Provenance: inference.Provenance{Provider: "builtin", Model: "kb-extractive"}}
	for _, n := range used {
		a.Citations = append(a.Citations, cites[n-1])
	}
	return a, nil
}

// source is one retrieved text an answer may quote.
type source struct{ title, text string }

// extractive picks the sentences of the sources that cover the question's
// terms best (sources earlier in the ranking win ties) and returns them with
// [n] markers, and the source numbers used, ascending.
func extractive(question string, srcs []source, maxSentences int) (string, []int) {
	qterms := map[string]bool{}
	for _, t := range analyze(question) {
		qterms[t.term] = true
	}
	type cand struct {
		src, pos int
		text     string
		score    float64
	}
	var cands []cand
	for si, s := range srcs {
		for pi, sent := range sentences(strings.ReplaceAll(s.text, "\n", " ")) {
			matched := map[string]bool{}
			for _, t := range analyze(sent) {
				if qterms[t.term] {
					matched[t.term] = true
				}
			}
			// Coverage of the question, a little rank decay, and a short bias
			// to the opening sentence of a passage.
			sc := float64(len(matched)) / math.Max(1, float64(len(qterms)))
			sc *= 1 / (1 + 0.15*float64(si))
			if pi == 0 {
				sc += 0.01
			}
			cands = append(cands, cand{si, pi, sent, sc})
		}
	}
	if len(cands) == 0 {
		return "", nil
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	pick := cands[:min(maxSentences, len(cands))]
	// Further sentences must come close to the best one.
	for i := 1; i < len(pick); i++ {
		if pick[i].score < 0.6*pick[0].score || pick[i].score <= 0.01 {
			pick = pick[:i]
			break
		}
	}
	// Keep reading order: by source then position.
	sort.Slice(pick, func(i, j int) bool {
		if pick[i].src != pick[j].src {
			return pick[i].src < pick[j].src
		}
		return pick[i].pos < pick[j].pos
	})
	var b strings.Builder
	var used []int
	for i, c := range pick {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s [%d]", c.text, c.src+1)
		if !contains(used, c.src+1) {
			used = append(used, c.src+1)
		}
	}
	sort.Ints(used)
	return b.String(), used
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

var citeMarker = regexp.MustCompile(`\[(\d+)\]`)

const groundedSystem = `You answer questions for contact-centre staff using ONLY the numbered sources given.
Cite every statement with the number of its source in square brackets, like [1].
If the sources do not contain the answer, reply exactly: I don't know.`

// generateGrounded asks the generator for an answer grounded in srcs and
// returns it with the valid source numbers it cites.
// maxGeneratedChars bounds a generated answer.
const maxGeneratedChars = 1200

// linkRE finds web links (with what follows up to a space).
var linkRE = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s)\]]*`)

func generateGrounded(ctx context.Context, g inference.Generator, question string, srcs []source) (string, []int, error) {
	var p strings.Builder
	for i, s := range srcs {
		fmt.Fprintf(&p, "[%d] %s\n%s\n\n", i+1, s.title, s.text)
	}
	fmt.Fprintf(&p, "Question: %s\nAnswer:", question)
	ch, errf, err := g.Generate(ctx, inference.GenerateRequest{System: groundedSystem, Prompt: p.String()})
	if err != nil {
		return "", nil, fmt.Errorf("kb: generate answer: %w", err)
	}
	var b strings.Builder
	for chunk := range ch {
		b.WriteString(chunk)
	}
	if err := errf(); err != nil {
		return "", nil, fmt.Errorf("kb: generate answer: %w", err)
	}
	text := strings.TrimSpace(b.String())
	// The reply is read out to customers: bounded, and with no link that
	// none of its sources has (the question may be a customer's, asking
	// the model for one).
	if utf8.RuneCountInString(text) > maxGeneratedChars {
		return "", nil, fmt.Errorf("kb: generated answer longer than %d characters", maxGeneratedChars)
	}
	for _, l := range linkRE.FindAllString(text, -1) {
		if !slices.ContainsFunc(srcs, func(s source) bool { return strings.Contains(strings.ToLower(s.text), strings.ToLower(l)) }) {
			return "", nil, errors.New("kb: generated answer has a link none of its sources has")
		}
	}
	var used []int
	for _, m := range citeMarker.FindAllStringSubmatch(text, -1) {
		n, err := strconv.Atoi(m[1])
		if err == nil && n >= 1 && n <= len(srcs) && !contains(used, n) {
			used = append(used, n)
		}
	}
	sort.Ints(used)
	return text, used, nil
}
