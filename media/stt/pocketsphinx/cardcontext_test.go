package pocketsphinx

import (
	"context"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/stt"
)

// hearFinal decodes pcm on a new stream of e and returns its finals' text
// and words joined.
func hearFinal(t *testing.T, e *Engine, pcm []int16, narrow bool) stt.Result {
	t.Helper()
	st, err := e.NewStream(context.Background(), stt.StreamOptions{Narrowband: narrow})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var fin stt.Result
	for _, r := range feed(t, st, pcm) {
		if r.Final {
			fin.Text = strings.TrimSpace(fin.Text + " " + r.Text)
			fin.Words = append(fin.Words, r.Words...)
		}
	}
	return fin
}

func TestCardContextExplore(t *testing.T) {
	const digits = "four five three nine one four eight eight zero three four three six four six seven"
	for _, voice := range []string{"awb"} {
		pcm := append(flite(t, voice, "sure my card number is "+digits+" and it expires ten twenty seven"), make([]int16, stt.Rate/2)...)
		for _, narrow := range []bool{false, true} {
			in := pcm
			if narrow {
				in = telephone(t, pcm)
			}
			for _, on := range []bool{true} {
				e := newEngine(t, func(c *Config) { c.CardContextDigits = on })
				got := hearFinal(t, e, in, narrow)
				t.Logf("%s narrow=%v on=%v: %q", voice, narrow, on, got.Text)
			}
		}
	}
}
