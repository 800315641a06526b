package voice

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		n    int
		want []string
	}{
		{"short", "Hello there.", 40, []string{"Hello there."}},
		{"sentences", "One two three. Four five six. Seven.", 20, []string{"One two three.", "Four five six.", "Seven."}},
		{"words", "alpha beta gamma delta epsilon", 12, []string{"alpha beta", "gamma delta", "epsilon"}},
		{"no spaces", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"runes", "ééééé", 3, []string{"é", "é", "é", "é", "é"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Chunks(tc.text, tc.n)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Chunks (-want +got):\n%s", d)
			}
		})
	}
}

// TestChunksLong: a 10,000-character prompt is split into valid UTF-8
// pieces within the bound that together keep every word.
func TestChunksLong(t *testing.T) {
	text := strings.Repeat("Your statement lists every payment made this month, in order — ", 160)[:10000]
	text = strings.ToValidUTF8(text, "")
	got := Chunks(text, 240)
	if len(got) < 40 {
		t.Fatalf("%d chunks", len(got))
	}
	for i, c := range got {
		if len(c) > 240 || !utf8.ValidString(c) || c == "" {
			t.Fatalf("chunk %d: %d bytes, valid %v", i, len(c), utf8.ValidString(c))
		}
	}
	if j := strings.Join(got, " "); strings.Join(strings.Fields(j), " ") != strings.Join(strings.Fields(text), " ") {
		t.Error("the chunks lose or change words")
	}
}

func TestConfigValidate(t *testing.T) {
	mod := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"default", DefaultConfig(), ""},
		{"end of turn", mod(func(c *Config) { c.EndOfTurn = 11 * time.Second }), "end_of_turn"},
		{"no input", mod(func(c *Config) { c.NoInput = 0 }), "no_input"},
		{"retries", mod(func(c *Config) { c.NoInputRetries = -1 }), "no_input_retries"},
		{"digit timeout", mod(func(c *Config) { c.DigitTimeout = time.Millisecond }), "digit_timeout"},
		{"max digits", mod(func(c *Config) { c.MaxDigits = 0 }), "max_digits"},
		{"chunk", mod(func(c *Config) { c.ChunkChars = 5 }), "chunk_chars"},
		{"max prompt", mod(func(c *Config) { c.MaxPromptChars = 10 }), "max_prompt_chars"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestResample(t *testing.T) {
	in := []int16{0, 100, 200, 300}
	if d := cmp.Diff([]int16{0, 50, 100, 150, 200, 250, 300, 300}, resample(in, 8000, 16000)); d != "" {
		t.Errorf("resample (-want +got):\n%s", d)
	}
	if got := resample(in, 16000, 16000); len(got) != 4 {
		t.Errorf("same rate: %v", got)
	}
}
