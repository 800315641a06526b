package vader

import (
	"math"
	"testing"
)

// The expected compound scores are those printed by the reference
// implementation (npm vader-sentiment 1.1.3) for the same sentences.
func TestScoreMatchesReference(t *testing.T) {
	a, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want float64
	}{
		{"VADER is smart, handsome, and funny.", 0.8316},
		{"VADER is not smart, handsome, nor funny.", -0.7424},
		{"The book was good.", 0.4404},
		{"The book was kind of good.", 0.3832},
		{"At least it isn't a horrible book.", 0.431},
		{"Today SUX!", -0.5461},
		{"Make sure you :) or :D today!", 0.8633},
		{"The plot was good, but the characters are uncompelling and the dialog is not great.", -0.7042},
		{"", 0},
	}
	for _, tt := range tests {
		got := a.Score(tt.text).Compound
		if math.Abs(got-tt.want) > 0.002 {
			t.Errorf("Score(%q).Compound = %.4f, want %.4f", tt.text, got, tt.want)
		}
	}
}

func TestExtraEntries(t *testing.T) {
	a, err := New(map[string]float64{"on hold": -1.5, "delayed": -2})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Score("I was on hold").Compound; got >= 0 {
		t.Errorf("phrase entry: compound %.3f, want negative", got)
	}
	base, _ := New(nil)
	if a.Score("my flight was delayed").Compound >= base.Score("my flight was delayed").Compound {
		t.Error("overriding entry did not make the text more negative")
	}
	if _, err := New(map[string]float64{"x": math.NaN()}); err == nil {
		t.Error("New with NaN valence: want error")
	}
}
