package bot

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTrials(t *testing.T) {
	sk := &skillsFake{}
	e := newCardEngine(t, sk)
	ts := NewTrials(2, time.Minute)
	clock := ref
	var mu sync.Mutex
	ts.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	id, g, err := ts.Start("card-services", "admin", e)
	if err != nil || !strings.HasPrefix(id, "try_") || len(g.Messages) != 1 {
		t.Fatalf("Start = %q %+v %v", id, g, err)
	}
	turn, err := ts.Say(t.Context(), "card-services", "admin", id, "Hi, I lost my card")
	if err != nil || turn.Intent == nil || turn.Intent.Intent != "lost_card" {
		t.Fatalf("Say = %+v %v", turn, err)
	}
	// Someone else, or another bot, cannot use the trial.
	for _, c := range []struct{ bot, owner string }{{"card-services", "admin2"}, {"other", "admin"}} {
		if _, err := ts.Say(t.Context(), c.bot, c.owner, id, "4321"); !errors.Is(err, ErrTrialNotFound) {
			t.Errorf("Say as %s/%s = %v, want ErrTrialNotFound", c.bot, c.owner, err)
		}
	}
	// The conversation runs to its end; the trial is then forgotten.
	ts.Say(t.Context(), "card-services", "admin", id, "it's 4321")
	turn, _ = ts.Say(t.Context(), "card-services", "admin", id, "yes please")
	if turn.End != "card_blocked" {
		t.Fatalf("last turn = %+v, want the end card_blocked", turn)
	}
	if len(sk.calls) != 1 || sk.calls[0].Conversation != id {
		t.Errorf("skill calls = %+v, want one with the trial's ID", sk.calls)
	}
	if _, err := ts.Say(t.Context(), "card-services", "admin", id, "hello"); !errors.Is(err, ErrTrialNotFound) || ts.Len() != 0 {
		t.Errorf("after the end: %v, %d open", err, ts.Len())
	}

	// Bounded, and idle trials expire.
	a, _, _ := ts.Start("card-services", "admin", e)
	if _, _, err := ts.Start("card-services", "admin", e); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.Start("card-services", "admin", e); !errors.Is(err, ErrTrialsFull) {
		t.Fatalf("third Start = %v, want ErrTrialsFull", err)
	}
	advance(2 * time.Minute)
	if _, err := ts.Say(t.Context(), "card-services", "admin", a, "hi"); !errors.Is(err, ErrTrialNotFound) {
		t.Errorf("idle trial answered: %v", err)
	}
	b, _, err := ts.Start("card-services", "admin", e)
	if err != nil {
		t.Fatalf("Start after expiry: %v", err)
	}
	if err := ts.End("card-services", "admin2", b); !errors.Is(err, ErrTrialNotFound) {
		t.Errorf("End by another user = %v", err)
	}
	ts.Forget("card-services")
	if _, err := ts.Say(t.Context(), "card-services", "admin", b, "hi"); !errors.Is(err, ErrTrialNotFound) {
		t.Errorf("forgotten trial answered: %v", err)
	}
}
