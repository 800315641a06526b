package redact

import (
	"regexp"
	"slices"
	"testing"
	"time"
)

// benchTexts are the evaluation set's utterances, written and as a
// recogniser writes them: one segment each.
func benchTexts(b *testing.B) []string {
	var out []string
	for _, u := range loadEvalSet(b) {
		out = append(out, u.Written, u.Spoken)
	}
	return out
}

// reportPercentiles times each call and reports the 50th and 99th
// percentiles per segment.
func reportPercentiles(b *testing.B, texts []string, f func(string)) {
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := texts[i%len(texts)]
		start := time.Now()
		f(t)
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns/seg")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns/seg")
}

// BenchmarkRedactSegment is the cost of redacting one segment with every
// detector on (target p99 < 0.5 ms).
func BenchmarkRedactSegment(b *testing.B) {
	texts := benchTexts(b)
	r := mustNew(b, DefaultPolicy())
	b.ReportAllocs()
	reportPercentiles(b, texts, func(s string) { r.Redact(SourceVoice, s, nil) })
}

// BenchmarkStreamFinal is the live path's cost per final segment: read
// with the previous segment's tail.
func BenchmarkStreamFinal(b *testing.B) {
	texts := benchTexts(b)
	r := mustNew(b, DefaultPolicy())
	st, err := r.NewStream(SourceVoice, StreamConfig{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	var id uint64
	b.ReportAllocs()
	reportPercentiles(b, texts, func(s string) {
		id++
		st.Final(Segment{ID: id, Text: s}, now)
	})
}

// BenchmarkCardRegexPeer is a peer measured in the same run: one plain
// regular expression for card-like digit runs over the same segments.
func BenchmarkCardRegexPeer(b *testing.B) {
	texts := benchTexts(b)
	re := regexp.MustCompile(`\b(?:\d[ -]?){12,18}\d\b`)
	b.ReportAllocs()
	reportPercentiles(b, texts, func(s string) { re.ReplaceAllString(s, "[CARD]") })
}

// BenchmarkStreamPartial is the live path's cost per partial hypothesis
// (every detector and the conservative masking), read after the previous
// final's tail.
func BenchmarkStreamPartial(b *testing.B) {
	texts := benchTexts(b)
	r := mustNew(b, DefaultPolicy())
	st, err := r.NewStream(SourceVoice, StreamConfig{})
	if err != nil {
		b.Fatal(err)
	}
	st.Final(Segment{ID: 1, Text: "my card number is"}, time.Now())
	b.ReportAllocs()
	reportPercentiles(b, texts, func(s string) { st.Partial(s, nil) })
}
