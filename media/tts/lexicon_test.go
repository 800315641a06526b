package tts

import (
	"strings"
	"testing"
)

func TestLexicon(t *testing.T) {
	l, err := NewLexicon(map[string]string{
		"Earshot":     "ear shot",
		"IBAN":        "eye ban",
		"SMS":         "S M S",
		"Earshot Pro": "ear shot professional",
		"C++":         "C plus plus",
	})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"Welcome to Earshot.":                 "Welcome to ear shot.",
		"earshot pro costs less":              "ear shot professional costs less",
		"Send an sms with your IBAN":          "Send an S M S with your eye ban",
		"Earshots and SMSes stay as they are": "Earshots and SMSes stay as they are",
		"we use C++ here":                     "we use C plus plus here",
	} {
		if got := l.Apply(in); got != want {
			t.Errorf("Apply(%q) = %q, want %q", in, got, want)
		}
	}
	var none *Lexicon
	if got := none.Apply("IBAN"); got != "IBAN" {
		t.Errorf("nil lexicon changed the text: %q", got)
	}
	for name, bad := range map[string]map[string]string{
		"empty key":   {" ": "x"},
		"empty value": {"x": " "},
		"long key":    {strings.Repeat("a", 65): "x"},
		"duplicate":   {"IBAN": "a", "iban": "b"},
	} {
		if _, err := NewLexicon(bad); err == nil {
			t.Errorf("%s: NewLexicon accepted %v", name, bad)
		}
	}
}

func TestCacheBounds(t *testing.T) {
	c := newCache(3, 4000)
	k := func(s string) cacheKey { return keyOf("bot", "flite", "v", "en", 8000, s) }
	for _, s := range []string{"a", "b", "c"} {
		c.put(k(s), make([]int16, 100))
	}
	c.get(k("a")) // a is now the most recent
	c.put(k("d"), make([]int16, 100))
	if _, ok := c.get(k("b")); ok {
		t.Error("the least recently used entry survived a fourth")
	}
	for _, s := range []string{"a", "c", "d"} {
		if _, ok := c.get(k(s)); !ok {
			t.Errorf("entry %s evicted", s)
		}
	}
	c.put(k("big"), make([]int16, 600)) // over a quarter of the bytes: not kept
	if _, ok := c.get(k("big")); ok {
		t.Error("an entry over a quarter of the byte bound was kept")
	}
	c.put(k("e"), make([]int16, 900))
	c.put(k("f"), make([]int16, 900))
	if n, b := c.size(); b > 4000 || n > 3 {
		t.Errorf("cache holds %d entries, %d bytes; bounds 3, 4000", n, b)
	}
	if keyOf("bot", "flite", "v", "en", 8000, "x") == keyOf("bot", "flite", "v", "en", 16000, "x") ||
		keyOf("a", "b", "", "", 8000, "") == keyOf("", "ab", "", "", 8000, "") {
		t.Error("distinct prompts share a cache key")
	}
}
