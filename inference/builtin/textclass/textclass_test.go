package textclass

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var toyExamples = []Example{
	{"I lost my card", "lost_card"},
	{"my card was stolen yesterday", "lost_card"},
	{"I cannot find my debit card anywhere", "lost_card"},
	{"someone stole my wallet with the card", "lost_card"},
	{"what is my balance", "balance"},
	{"how much money is in my account", "balance"},
	{"show me the account balance please", "balance"},
	{"tell me my current balance", "balance"},
	{"I want to close my account", "close_account"},
	{"please cancel and close the account", "close_account"},
	{"how do I shut down my account for good", "close_account"},
	{"I'd like to terminate my account", "close_account"},
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Don't STOP, me-now!", []string{"dont", "stop", "me", "now"}},
		{"  ", nil},
		{"café 42x", []string{"café", "42x"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Tokens(tt.in)); diff != "" {
			t.Errorf("Tokens(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestTrainPredictRoundTrip(t *testing.T) {
	m, err := Train(DefaultTrainConfig(), toyExamples)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ text, want string }{
		{"my card has been stolen", "lost_card"},
		{"what's the balance on my account", "balance"},
		{"close my account", "close_account"},
	}
	for _, tt := range tests {
		if got, p := m.Predict(tt.text); got != tt.want || p <= 0 || p > 1 {
			t.Errorf("Predict(%q) = %q (p=%.3f), want %q", tt.text, got, p, tt.want)
		}
	}
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var m2 Model
	if err := m2.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if diff := cmp.Diff(m.Scores(tt.text), m2.Scores(tt.text)); diff != "" {
			t.Errorf("scores after round trip differ for %q (-want +got):\n%s", tt.text, diff)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	cfg := DefaultTrainConfig()
	cfg.Workers = 1
	a, err := Train(cfg, toyExamples)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workers = 3
	b, err := Train(cfg, toyExamples)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.W, b.W); diff != "" {
		t.Errorf("weights depend on worker count (-1 worker +3 workers):\n%s", diff)
	}
}

func TestTrainErrors(t *testing.T) {
	if _, err := Train(DefaultTrainConfig(), toyExamples[:4]); err == nil {
		t.Error("Train with one label: want error")
	}
	bad := append([]Example{{"x", ""}}, toyExamples...)
	if _, err := Train(DefaultTrainConfig(), bad); err == nil {
		t.Error("Train with an empty label: want error")
	}
}

func TestUnmarshalRejectsGarbage(t *testing.T) {
	var m Model
	for _, in := range [][]byte{nil, []byte("not a model"), {0xff, 0x00, 0x13}} {
		if err := m.UnmarshalBinary(in); err == nil {
			t.Errorf("UnmarshalBinary(%q): want error", in)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	m, err := Train(DefaultTrainConfig(), toyExamples)
	if err != nil {
		f.Fatal(err)
	}
	data, _ := m.MarshalBinary()
	f.Add(data)
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Model
		if err := m.UnmarshalBinary(b); err == nil {
			m.Scores("hello there")
		}
	})
}

// TestTrainContextCancelled: a cancelled context stops training and
// returns its error instead of a model, so a daemon stopping during its
// first start does not wait for the shipped intent set to finish.
func TestTrainContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m, err := TrainContext(ctx, DefaultTrainConfig(), toyExamples)
	if !errors.Is(err, context.Canceled) || m != nil {
		t.Fatalf("TrainContext(cancelled) = %v, %v; want nil, context.Canceled", m, err)
	}
	if _, err := TrainContext(context.Background(), DefaultTrainConfig(), toyExamples); err != nil {
		t.Fatalf("TrainContext(live context) = %v", err)
	}
}

// The word block's and the character block's scores, with the bias, add
// up to the model's score for every label; a message of words only the
// character block knows scores on that block alone.
func TestBlockScores(t *testing.T) {
	m, err := Train(DefaultTrainConfig(), toyExamples)
	if err != nil {
		t.Fatal(err)
	}
	dim := m.Vec.Dim()
	for _, q := range []string{"I lost my card", "balance", "closing accounts", "zzzz"} {
		x := m.Vec.Transform(q)
		words, chars := m.BlockScores(x)
		for _, s := range m.ScoresVec(x) {
			c := -1
			for i, l := range m.Labels {
				if l == s.Label {
					c = i
				}
			}
			if got := words[c] + chars[c] + float64(m.W[c][dim]); abs(got-s.Score) > 1e-5 {
				t.Errorf("%q, %s: words %.5f + chars %.5f + bias = %.5f, want the score %.5f", q, s.Label, words[c], chars[c], got, s.Score)
			}
		}
	}
	_, chars := m.BlockScores(m.Vec.Transform("closing accounts"))
	words, _ := m.BlockScores(m.Vec.Transform("closing accounts"))
	var nw, nc float64
	for c := range m.Labels {
		nw, nc = nw+abs(words[c]), nc+abs(chars[c])
	}
	if nw != 0 || nc == 0 {
		t.Errorf("closing accounts (no known word, known spellings): word block %v, char block %v; want zero and non-zero", words, chars)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
