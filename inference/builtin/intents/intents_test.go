package intents

import (
	"sort"
	"testing"
)

func TestLoadBanking77(t *testing.T) {
	sets, err := Load(Banking77)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range sets {
		if s.Intent == "" || len(s.Phrases) == 0 {
			t.Errorf("empty set %+v", s)
		}
		n += len(s.Phrases)
	}
	if len(sets) != 77 || n != 10003 {
		t.Errorf("banking77: %d intents, %d phrases; want 77 and 10003", len(sets), n)
	}
	if !sort.SliceIsSorted(sets, func(i, j int) bool { return sets[i].Intent < sets[j].Intent }) {
		t.Error("sets are not sorted by intent")
	}
	if _, err := Load("nope"); err == nil {
		t.Error("an unknown set loaded")
	}
}
