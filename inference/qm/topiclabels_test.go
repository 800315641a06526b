package qm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/ollama"
)

// replies is a generator that answers its requests with the replies in
// turn (a scripted stand-in for a language model's decoding; the real
// model runs in TestLLMEngineRandomModel) and keeps the requests.
type replies struct {
	out  []string
	err  error // after the replies run out
	reqs []inference.GenerateRequest
}

func (r *replies) Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error) {
	r.reqs = append(r.reqs, req)
	if len(r.out) == 0 {
		return nil, nil, r.err
	}
	ch := make(chan string, 1)
	ch <- r.out[0]
	r.out = r.out[1:]
	close(ch)
	return ch, func() error { return nil }, nil
}

// TestTopicLabelChecks: labels are asked 20 topics at a time under a
// schema the provider accepts; usable labels are kept by topic ID, the
// others (too long, over lines, stray bytes or no letter, a duplicate, a
// topic not asked about, a second label for a topic) left out; a reply that is not JSON or a
// failed request ends the labelling with what was accepted before.
func TestTopicLabelChecks(t *testing.T) {
	var topics []TopicSample
	for i := range 25 {
		topics = append(topics, TopicSample{ID: 100 + i, Keywords: []string{fmt.Sprintf("kw%d", i)},
			Examples: []string{"my card has not arrived", "where is my card", "card still missing", "a fourth example"}})
	}
	first := `{"labels":[{"topic":0,"label":"  card   not arrived "},{"topic":1,"label":"Card not arrived"},` +
		`{"topic":2,"label":"one two three four five six seven"},{"topic":3,"label":"two\nlines"},{"topic":20,"label":"out of batch"},` +
		`{"topic":4,"label":"exchange rates"},{"topic":4,"label":"second label"},{"topic":5,"label":"` + strings.Repeat("x", 61) + `"},` +
		`{"topic":6,"label":"<0x93><0x9C>?aaa"},{"topic":7,"label":"42"},{"topic":8,"label":"top-up (card) & fees"}]}`
	cases := []struct {
		name    string
		gen     *replies
		want    map[int]string
		wantErr error
		reqs    int
	}{
		{"two batches", &replies{out: []string{first, `{"labels":[{"topic":0,"label":"top up failed"},{"topic":4,"label":"exchange rates"}]}`}},
			map[int]string{100: "card not arrived", 104: "exchange rates", 108: "top-up (card) & fees", 120: "top up failed"}, nil, 2},
		{"second reply not JSON", &replies{out: []string{first, `labels: none`}},
			map[int]string{100: "card not arrived", 104: "exchange rates", 108: "top-up (card) & fees"}, ErrBadReply, 2},
		{"server down", &replies{err: inference.ErrUnavailable}, map[int]string{}, inference.ErrUnavailable, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := GenerateTopicLabels(t.Context(), c.gen, topics)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("labels (-want +got):\n%s", d)
			}
			if len(c.gen.reqs) != c.reqs {
				t.Fatalf("%d requests, want %d", len(c.gen.reqs), c.reqs)
			}
			req := c.gen.reqs[0]
			if _, err := ollama.ParseSchema(req.Schema); err != nil {
				t.Errorf("schema refused by the provider: %v", err)
			}
			if !strings.Contains(req.Prompt, "Topic 19\nKeywords: kw19") || strings.Contains(req.Prompt, "Topic 20") || strings.Contains(req.Prompt, "a fourth example") {
				t.Errorf("first request does not hold topics 0-19 with three examples each:\n%s", req.Prompt)
			}
		})
	}
}
