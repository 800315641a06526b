package redact

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func mustNew(t testing.TB, p Policy) *Redactor {
	t.Helper()
	r, err := New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"card written", "My card number is 4111 1111 1111 1111 and it expires 03/27, the CVV is 123.",
			"My card number is [CARD ending 1111] and it expires [EXPIRY], the CVV is [CVV]."},
		{"card dashes no context", "charge 5500-0000-0000-0004 please", "charge [CARD ending 0004] please"},
		{"card spoken", "yes the card number is four five three nine one four eight eight zero three four three six four six seven",
			"yes the card number is [CARD ending 6467]"},
		{"card spoken homophones", "card number for one one one one one one one one one one one one one one one",
			"card number [CARD ending 1111]"},
		{"card spoken pairs and doubles", "it's a visa forty one eleven double one triple one one one one eleven eleven",
			"it's a visa [CARD ending 1111]"},
		{"order number failing luhn", "your order number is 4111 1111 1111 1112", "your order number is 4111 1111 1111 1112"},
		{"luhn-valid reference", "my order number is 4111 1111 1111 1111", "my order number is 4111 1111 1111 1111"},
		{"amount and time", "it costs $1,234.56 and I'll call at 3:45", "it costs $1,234.56 and I'll call at 3:45"},
		{"ssn", "my social is 123-45-6789", "my social is [SSN]"},
		{"ssn spoken", "my social is one two three four five six seven eight nine", "my social is [SSN]"},
		{"email", "mail john.smith@example.com today", "mail [EMAIL] today"},
		{"email spoken", "my email is john dot smith at gmail dot com thanks", "my email is [EMAIL] thanks"},
		{"phones", "call me on 07700 900123 or +44 20 7946 0958", "call me on [PHONE] or [PHONE]"},
		{"phone spoken", "my mobile is oh seven seven double oh nine oh oh one two three", "my mobile is [PHONE]"},
		{"phone-like reference", "your case reference is 020 7946 0958", "your case reference is 020 7946 0958"},
		{"address and postcode", "I live at 221B Baker Street, London NW1 6XE", "I live at [ADDRESS], London [POSTCODE]"},
		{"address spoken with zip", "i live at twenty two acacia avenue springfield illinois six two seven oh four",
			"i live at [ADDRESS] springfield illinois [POSTCODE]"},
		{"not an address", "I waited 20 minutes on the high street", "I waited 20 minutes on the high street"},
		{"dob", "date of birth is 14 March 1985", "date of birth is [DOB]"},
		{"dob spoken", "my date of birth is the fourteenth of march nineteen eighty five", "my date of birth is [DOB]"},
		{"date not of birth", "the payment is due on 14 March 2025", "the payment is due on 14 March 2025"},
		{"pin and password", "my pin is four three two one and my password is Tiger77!", "my pin is [PIN] and my password is [PASSWORD]"},
		{"password not given", "I forgot my password, is that okay?", "I forgot my password, is that okay?"},
		{"ni", "my national insurance number is QQ 12 34 56 C", "my national insurance number is [NI NUMBER]"},
		{"ni spoken", "my national insurance number is a b one two three four five six c", "my national insurance number is [NI NUMBER]"},
		{"iban", "IBAN GB82 WEST 1234 5698 7654 32", "IBAN [IBAN]"},
		{"iban bad checksum", "send it to GB83 WEST 1234 5698 7654 32", "send it to GB83 WEST 1234 5698 7654 32"},
		{"sort code and account", "sort code 12-34-56 account number 12345678", "sort code [BANK CODE] account number [ACCOUNT]"},
		{"routing", "routing number 021000021", "routing number [BANK CODE]"},
		{"expiry spoken", "expiry oh three twenty seven", "expiry [EXPIRY]"},
		{"plain", "thank you for calling, how can I help you today", "thank you for calling, how can I help you today"},
	}
	r := mustNew(t, DefaultPolicy())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Redact(SourceChat, tt.in, nil)
			if got.Text != tt.want {
				t.Errorf("Redact(%q) =\n  %q\nwant\n  %q", tt.in, got.Text, tt.want)
			}
			if got.Original != tt.in {
				t.Errorf("Original = %q, want the input", got.Original)
			}
			for _, s := range got.Spans {
				if s.Start < 0 || s.End > len(tt.in) || s.Start >= s.End || got.Text[s.OutStart:s.OutEnd] == "" {
					t.Errorf("span %+v out of range", s)
				}
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	in := "card 4111 1111 1111 1111, email a.b@example.com"
	tests := []struct {
		name string
		p    Policy
		want string
	}{
		{"default", DefaultPolicy(), "card [CARD ending 1111], email [EMAIL]"},
		{"type", Policy{Replacement: ReplaceType}, "card [CARD], email [EMAIL]"},
		{"generic", Policy{Replacement: ReplaceGeneric}, "card [REDACTED], email [REDACTED]"},
		{"cards only", Policy{Types: []Entity{Card}}, "card [CARD ending 1111], email a.b@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustNew(t, tt.p).Redact(SourceChat, in, nil).Text; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	bad := []struct {
		p    Policy
		want string
	}{
		{Policy{Types: []Entity{"cc"}}, "types[0]"},
		{Policy{Types: []Entity{Number}}, "types[0]"},
		{Policy{Replacement: "stars"}, "replacement"},
	}
	for _, b := range bad {
		if _, err := New(b.p, nil); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", b.p, err, b.want)
		}
	}
}

func words(text string, step int64) []Word {
	var out []Word
	for i, f := range strings.Fields(text) {
		out = append(out, Word{Text: f, StartMs: int64(i) * step, EndMs: int64(i)*step + step - 10, Confidence: 0.9})
	}
	return out
}

func TestWords(t *testing.T) {
	text := "my pin is one two three four thanks"
	ws := words(text, 100)
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			p := DefaultPolicy()
			p.KeepWordTimes = keep
			got := mustNew(t, p).Redact(SourceVoice, text, ws).Words
			end := int64(690)
			if !keep {
				end = 300
			}
			want := []Word{ws[0], ws[1], ws[2], {Text: "[PIN]", StartMs: 300, EndMs: end, Confidence: 0.9}, ws[7]}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("words (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNothingLeaks checks that printing or logging a Result shows counts
// only.
func TestNothingLeaks(t *testing.T) {
	r := mustNew(t, DefaultPolicy())
	res := r.Redact(SourceChat, "card 4111 1111 1111 1111 ssn 123-45-6789", nil)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("redacted", "result", res)
	for _, s := range []string{fmt.Sprint(res), fmt.Sprintf("%v %+v %#v %s", res, res, res, res), buf.String()} {
		if strings.Contains(s, "1111") || strings.Contains(s, "6789") {
			t.Errorf("output shows a value: %s", s)
		}
		if !strings.Contains(s, "card") {
			t.Errorf("output lacks the counts: %s", s)
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(DefaultPolicy(), m)
	if err != nil {
		t.Fatal(err)
	}
	r.Redact(SourceChat, "card 4111 1111 1111 1111 and 5500 0000 0000 0004", nil)
	r.Redact("made-up", "my email is a@b.com", nil)
	if got := testutil.ToFloat64(m.entities.WithLabelValues("card", "chat")); got != 2 {
		t.Errorf("card/chat = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.entities.WithLabelValues("email", "other")); got != 1 {
		t.Errorf("email/other = %v, want 1", got)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice succeeded")
	}
}

// release texts by ID.
func texts(rs []Release) map[uint64]string {
	m := map[uint64]string{}
	for _, r := range rs {
		m[r.ID] = r.Result.Text
	}
	return m
}

func TestStreamSplitNumber(t *testing.T) {
	r := mustNew(t, DefaultPolicy())
	st, err := r.NewStream(SourceVoice, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	// The first half of the number ends the first segment: it is held.
	if got := st.Final(Segment{ID: 1, Text: "my card number is four one one one one one one one"}, now); len(got) != 0 {
		t.Fatalf("first segment released at once: %v", texts(got))
	}
	if _, held := st.Deadline(); !held {
		t.Fatal("not held")
	}
	// A partial of the second half is masked conservatively.
	p := st.Partial("one one one one one", nil)
	if strings.Contains(p.Text, "one") {
		t.Errorf("partial shows digits: %q", p.Text)
	}
	got := texts(st.Final(Segment{ID: 2, Text: "one one one one one one one one thanks"}, now.Add(time.Second)))
	want := map[uint64]string{1: "my card number is [CARD]", 2: "[CARD ending 1111] thanks"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}
	if st.Held() {
		t.Error("a segment ending in words is held")
	}
}

func TestStreamExpireAndRevise(t *testing.T) {
	r := mustNew(t, DefaultPolicy())
	st, _ := r.NewStream(SourceVoice, StreamConfig{MaxHold: time.Second, TailTokens: 24})
	now := time.Unix(1000, 0)
	st.Final(Segment{ID: 1, Text: "the card is four one one one one one one one"}, now)
	if got := st.Expire(now.Add(500 * time.Millisecond)); got != nil {
		t.Fatalf("released before the deadline: %v", texts(got))
	}
	rel := st.Expire(now.Add(time.Second))
	// Eight digits after "card" do not make a card yet: released as is
	// (the hub would have shown conservative partials only).
	if len(rel) != 1 || rel[0].ID != 1 || rel[0].Revised {
		t.Fatalf("Expire = %+v", rel)
	}
	// The rest arrives late: segment 1 is revised.
	got := st.Final(Segment{ID: 2, Text: "one one one one one one one one"}, now.Add(3*time.Second))
	var revised bool
	for _, g := range got {
		if g.ID == 1 && g.Revised && g.Result.Text == "the card is [CARD]" {
			revised = true
		}
	}
	if !revised {
		t.Errorf("segment 1 not revised: %+v", got)
	}
	if fl := st.Flush(); len(fl) != 1 || fl[0].ID != 2 || fl[0].Result.Text != "[CARD ending 1111]" {
		t.Errorf("Flush = %+v", fl)
	}
}

func TestStreamPartialConservative(t *testing.T) {
	r := mustNew(t, DefaultPolicy())
	st, _ := r.NewStream(SourceVoice, StreamConfig{})
	for _, tt := range []struct{ in, want string }{
		{"card four one one one one one one one one one one one one one one one", "card [CARD]"},
		{"my number is seven seven", "my number is [NUMBER]"},
		{"it is one two three four and", "it is [NUMBER] and"},
		{"two items please", "two items please"},
		{"my email is john dot smith at", "my email is john dot [NUMBER]"},
	} {
		if got := st.Partial(tt.in, nil).Text; got != tt.want {
			t.Errorf("Partial(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStreamConfigValidate(t *testing.T) {
	r := mustNew(t, DefaultPolicy())
	for _, c := range []StreamConfig{{MaxHold: -1, TailTokens: 24}, {MaxHold: time.Second, TailTokens: 2}} {
		if _, err := r.NewStream(SourceVoice, c); err == nil {
			t.Errorf("NewStream(%+v) accepted", c)
		}
	}
}

// FuzzRedact checks invariants on any input: spans lie inside the text in
// order, the output is the input with each span replaced, and a valid
// card number put anywhere is removed.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"my card is 4111 1111 1111 1111", "call +44 20 7946 0958", "a@b.co", "",
		"password: x", "four four four four four", "double", "the 1st of May 1990 dob", "GB82 WEST 1234 5698 7654 32"} {
		f.Add(s)
	}
	r := mustNew(f, DefaultPolicy())
	f.Fuzz(func(t *testing.T, s string) {
		res := r.Redact(SourceChat, s, nil)
		prev, out := 0, 0
		for _, sp := range res.Spans {
			if sp.Start < prev || sp.End > len(s) || sp.Start >= sp.End {
				t.Fatalf("span %+v out of order or range in %q", sp, s)
			}
			if s[prev:sp.Start] != res.Text[out:out+sp.Start-prev] {
				t.Fatalf("text between spans changed: %q -> %q", s, res.Text)
			}
			out += sp.Start - prev + sp.OutEnd - sp.OutStart
			prev = sp.End
		}
		withCard := s + "\ncard 4111 1111 1111 1111"
		from := len(withCard) - len("4111 1111 1111 1111")
		covered := false
		for _, sp := range r.Redact(SourceChat, withCard, nil).Spans {
			covered = covered || sp.Start <= from && sp.End >= len(withCard)
		}
		if !covered {
			t.Fatalf("card after %q not redacted", s)
		}
	})
}

// TestEngagementParties: each party's numbers are read on their own (an
// agent speaking between the customer's two halves does not break the
// customer's card), and the counts are per engagement.
func TestEngagementParties(t *testing.T) {
	r := mustNew(t, DefaultPolicy())
	e, err := r.NewEngagement(SourceVoice, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	var got []Release
	got = append(got, e.Final("customer", Segment{ID: 1, Text: "my card is four one one one one one one one"}, now)...)
	got = append(got, e.Final("agent", Segment{ID: 2, Text: "go on"}, now)...)
	if at, held := e.Deadline(); !held || !at.Equal(now.Add(2*time.Second)) {
		t.Errorf("Deadline = %v, %v", at, held)
	}
	got = append(got, e.Final("customer", Segment{ID: 3, Text: "one one one one one one one one"}, now)...)
	got = append(got, e.Flush()...)
	want := map[uint64]string{1: "my card is [CARD]", 2: "go on", 3: "[CARD ending 1111]"}
	if diff := cmp.Diff(want, texts(got)); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}
	for _, rel := range got {
		if (rel.ID == 2) != (rel.Party == "agent") {
			t.Errorf("release %d has party %q", rel.ID, rel.Party)
		}
	}
	if c := e.Counts(); c[Card] != 1 {
		t.Errorf("Counts = %v, want one card", c)
	}
}
