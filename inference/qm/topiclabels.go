package qm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
)

// TopicSample is what a language model sees of one discovered topic: its
// keywords and a few representative customer utterances.
type TopicSample struct {
	ID       int
	Keywords []string
	Examples []string
}

// Bounds of topic labelling.
const (
	maxLabelTopics   = 20 // topics per request
	maxLabelExamples = 3  // utterances per topic
	maxLabelExample  = 200
	maxLabelRunes    = 60
	maxLabelWords    = 6
)

// topicLabelSchema is the JSON schema of a labelling reply for n topics
// numbered 0..n-1 in the prompt.
func topicLabelSchema(n int) []byte {
	return fmt.Appendf(nil, `{"type":"object","additionalProperties":false,"properties":{
"labels":{"type":"array","maxItems":%d,"items":{"type":"object","additionalProperties":false,"properties":{
"topic":{"type":"integer","minimum":0,"maximum":%d},"label":{"type":"string","minLength":1,"maxLength":%d}},
"required":["topic","label"]}}},"required":["labels"]}`, n, n-1, maxLabelRunes)
}

// GenerateTopicLabels asks a language model for a short label per topic,
// maxLabelTopics topics per request, under a JSON schema. It returns the
// labels it accepted by topic ID: a label that is empty, longer than six
// words or 60 characters, spread over lines, made of anything but words
// (symbols, stray bytes), given twice, or given to a topic not asked
// about is left out, and the topic keeps its keyword
// label. A failed request ends the labelling: the labels accepted so far
// come back with the error.
func GenerateTopicLabels(ctx context.Context, gen inference.Generator, topics []TopicSample) (map[int]string, error) {
	out := map[int]string{}
	used := map[string]bool{}
	for lo := 0; lo < len(topics); lo += maxLabelTopics {
		batch := topics[lo:min(lo+maxLabelTopics, len(topics))]
		var b strings.Builder
		for i, tp := range batch {
			fmt.Fprintf(&b, "Topic %d\nKeywords: %s\n", i, strings.Join(tp.Keywords, ", "))
			for _, ex := range tp.Examples[:min(len(tp.Examples), maxLabelExamples)] {
				if r := []rune(ex); len(r) > maxLabelExample {
					ex = string(r[:maxLabelExample]) + "..."
				}
				fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(ex, "\n", " "))
			}
		}
		req := inference.GenerateRequest{
			System: "You name the topics of a contact centre's customer conversations for its analysts. Answer in JSON only.",
			Prompt: "Each topic below is a cluster of customer utterances, with its keywords and examples.\n\n" + b.String() +
				"\nGive every topic a short label (two to five words, e.g. \"card not arrived\") that says what the customers want.",
			Schema: topicLabelSchema(len(batch)),
		}
		text, err := collect(ctx, gen, req)
		if err != nil {
			return out, err
		}
		var reply struct {
			Labels []struct {
				Topic int    `json:"topic"`
				Label string `json:"label"`
			} `json:"labels"`
		}
		if err := json.Unmarshal([]byte(text), &reply); err != nil {
			return out, fmt.Errorf("%w: %v", ErrBadReply, err)
		}
		for _, l := range reply.Labels {
			label := strings.Join(strings.Fields(l.Label), " ")
			if l.Topic < 0 || l.Topic >= len(batch) || !usableLabel(l.Label, label) || used[strings.ToLower(label)] {
				continue
			}
			id := batch[l.Topic].ID
			if _, done := out[id]; done {
				continue
			}
			out[id] = label
			used[strings.ToLower(label)] = true
		}
	}
	return out, nil
}

// usableLabel reports whether a model's label (raw, and with its spaces
// folded) can name a topic: one to six words of letters and digits (with
// a little punctuation), at least one letter, one line, 60 characters at
// most.
func usableLabel(raw, label string) bool {
	n := len(strings.Fields(label))
	if n == 0 || n > maxLabelWords || len([]rune(label)) > maxLabelRunes || strings.ContainsAny(raw, "\n\r") || !utf8.ValidString(label) {
		return false
	}
	letters := 0
	for _, r := range label {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r) || r == ' ' || strings.ContainsRune("-'&/,.()", r):
		default:
			return false
		}
	}
	return letters > 0
}
