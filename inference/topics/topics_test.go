package topics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// corpus builds texts from three unrelated subjects, with varied wording.
func corpus() (texts []string, subject []int) {
	subjects := [][]string{
		{"my card has not arrived yet", "when will my new card arrive", "the card you sent never arrived in the post",
			"still waiting for my card to arrive", "card delivery is taking too long", "has my replacement card been posted"},
		{"i want to dispute a charge on my statement", "there is a charge i do not recognise", "someone charged me twice for one purchase",
			"please refund the duplicate charge", "a merchant charged me the wrong amount", "unknown charge from a shop i never visited"},
		{"how do i reset my online banking password", "i forgot my password and cannot log in", "the app says my password is wrong",
			"locked out of online banking after three password attempts", "reset password link does not work", "change my login password please"},
	}
	for round := range 4 {
		for s, list := range subjects {
			for i, t := range list {
				texts = append(texts, fmt.Sprintf("%s %s", t, []string{"", "today", "again", "thanks"}[(round+i)%4]))
				subject = append(subject, s)
			}
		}
	}
	return texts, subject
}

func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.Dims = 30
	cfg.MinTopicSize = 3
	return cfg
}

func TestDiscoverSeparatesSubjects(t *testing.T) {
	texts, subject := corpus()
	m, assign, err := Discover(context.Background(), smallConfig(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Topics) < 3 {
		t.Fatalf("found %d topics, want at least 3", len(m.Topics))
	}
	// Every topic is pure: all its texts share one subject.
	owner := map[int]int{}
	for i, tp := range assign {
		if tp < 0 {
			t.Fatalf("text %d has no topic", i)
		}
		if s, ok := owner[tp]; ok && s != subject[i] {
			t.Errorf("topic %d (%q) mixes subjects %d and %d", tp, m.Topics[tp].Label, s, subject[i])
		}
		owner[tp] = subject[i]
	}
	sizes := 0
	for _, tp := range m.Topics {
		sizes += tp.Size
		if tp.Label == "" || len(tp.Keywords) == 0 || len(tp.Representatives) == 0 {
			t.Errorf("topic %d lacks label, keywords or representatives: %+v", tp.ID, tp)
		}
		for _, r := range tp.Representatives {
			if assign[r] != tp.ID {
				t.Errorf("representative %d of topic %d belongs to topic %d", r, tp.ID, assign[r])
			}
		}
	}
	if sizes != len(texts) {
		t.Errorf("topic sizes add up to %d, want %d", sizes, len(texts))
	}
	// A card topic is labelled with card words.
	card := m.Topics[assign[0]]
	if !strings.Contains(strings.Join(card.Keywords, " "), "card") {
		t.Errorf("card topic keywords %v lack %q", card.Keywords, "card")
	}
}

func TestAssignAndRoundTrip(t *testing.T) {
	texts, _ := corpus()
	m, assign, err := Discover(context.Background(), smallConfig(), texts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := back.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.Topics, back.Topics); diff != "" {
		t.Errorf("topics after round trip (-want +got):\n%s", diff)
	}
	_, subject := corpus()
	owner := map[int]int{}
	for i, tp := range assign {
		owner[tp] = subject[i]
	}
	for _, tc := range []struct {
		text    string
		subject int
	}{
		{"my new card still has not arrived", 0},
		{"i do not recognise this charge", 1},
		{"forgot my banking password", 2},
	} {
		got, score := back.Assign(tc.text)
		if got < 0 || owner[got] != tc.subject {
			t.Errorf("Assign(%q) = topic %d (%.2f) of subject %d, want subject %d", tc.text, got, score, owner[got], tc.subject)
		}
	}
	if got, score := back.Assign("zebra giraffe xylophone"); got != -1 {
		t.Errorf("Assign(unrelated) = %d (%.2f), want -1", got, score)
	}
	if err := back.UnmarshalBinary(raw[:len(raw)/2]); err == nil {
		t.Error("UnmarshalBinary(truncated) succeeded")
	}
}

func TestDiscoverTooFewAndCancel(t *testing.T) {
	if _, _, err := Discover(context.Background(), DefaultConfig(), []string{"a card", "", "card again"}); !errors.Is(err, ErrTooFew) {
		t.Errorf("Discover(3 texts) error = %v, want ErrTooFew", err)
	}
	texts, _ := corpus()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Discover(ctx, smallConfig(), texts); !errors.Is(err, context.Canceled) {
		t.Errorf("Discover(cancelled) error = %v, want context.Canceled", err)
	}
}

func TestWithLabels(t *testing.T) {
	texts, _ := corpus()
	m, _, err := Discover(context.Background(), smallConfig(), texts)
	if err != nil {
		t.Fatal(err)
	}
	l := m.WithLabels([]string{" Card delivery ", ""})
	if l.Topics[0].Label != "Card delivery" || l.Topics[1].Label != m.Topics[1].Label {
		t.Errorf("labels = %q, %q", l.Topics[0].Label, l.Topics[1].Label)
	}
	if m.Topics[0].Label == "Card delivery" {
		t.Error("WithLabels changed the original model")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"dims", func(c *Config) { c.Dims = 1 }, "dims"},
		{"threshold", func(c *Config) { c.Threshold = 0 }, "threshold"},
		{"min size", func(c *Config) { c.MinTopicSize = 0 }, "min_topic_size"},
		{"max texts", func(c *Config) { c.MaxTexts = 5 }, "max_texts"},
		{"min score", func(c *Config) { c.MinScore = 1 }, "min_score"},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		err := c.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}
