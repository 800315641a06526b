package bundle

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	priv, _, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func base() Contents {
	return Contents{Format: Format, FormatVersion: FormatVersion, Schema: 7,
		Queues: []Queue{{ID: "q1", Name: "Cards"}},
		Users:  []User{{ID: "ann", Role: "agent", Queues: []string{"q1"}}},
		Settings: []Setting{{Key: "features", Value: json.RawMessage(`{"account":{"sentiment":{"enabled":true}}}`)},
			{Key: "analytics.intents", Value: nil}},
	}
}

func TestSignOpen(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	s, err := Sign(base(), key)
	if err != nil {
		t.Fatal(err)
	}
	// Re-indented contents keep their signature: it covers the meaning's
	// bytes, compacted.
	doc, _ := json.MarshalIndent(s, "", "    ")
	var again Signed
	if err := json.Unmarshal(doc, &again); err != nil {
		t.Fatal(err)
	}
	c, err := Open(again, []ed25519.PublicKey{pub}, 7)
	if err != nil {
		t.Fatalf("Open of an indented bundle: %v", err)
	}
	want := base()
	want.Normalize()
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("opened contents (-want +got):\n%s", diff)
	}

	newer := base()
	newer.Schema = 8
	sNewer, _ := Sign(newer, key)
	layout := base()
	layout.FormatVersion = FormatVersion + 1
	sLayout, _ := Sign(layout, key)
	other := base()
	other.Format = "something-else"
	sOther, _ := Sign(other, key)
	tampered := s
	tampered.Contents = json.RawMessage(strings.Replace(string(s.Contents), `"agent"`, `"admin"`, 1))
	for _, tc := range []struct {
		name string
		s    Signed
		keys []ed25519.PublicKey
		want error
		says string
	}{
		{"tampered", tampered, []ed25519.PublicKey{pub}, ErrSignature, "does not match"},
		{"no trusted key", s, nil, ErrUntrusted, "not one of the 0 trusted keys"},
		{"other key", s, []ed25519.PublicKey{testKey(t).Public().(ed25519.PublicKey)}, ErrUntrusted, s.KeyID},
		{"newer schema", sNewer, []ed25519.PublicKey{pub}, ErrNewer, "content schema 8, this box is at 7"},
		{"newer layout", sLayout, []ed25519.PublicKey{pub}, ErrNewer, "bundle layout 2"},
		{"not a bundle", sOther, []ed25519.PublicKey{pub}, ErrMalformed, `"something-else"`},
		{"no signature", Signed{Contents: s.Contents, KeyID: s.KeyID}, []ed25519.PublicKey{pub}, ErrMalformed, "signature missing"},
	} {
		_, err := Open(tc.s, tc.keys, 7)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.want, tc.says)
		}
	}
}

func TestDiff(t *testing.T) {
	cur := base()
	cur.Queues = append(cur.Queues, Queue{ID: "local"})
	cur.Users = append(cur.Users, User{ID: "bob", Role: "analyst"}, User{ID: "root", Role: "admin"})
	cur.Articles = []Article{{ID: "a1", Title: "Hours", Body: "Nine to five"}}
	cur.Scorecards = []Scorecard{{ID: "old", Definition: json.RawMessage(`{"id":"old"}`)}}
	cur.Settings = []Setting{{Key: "features", Value: json.RawMessage(`{"account": {"sentiment": {"enabled": true}}}`)}}
	want := base()
	want.Queues[0].Name = "Card services"
	want.Users[0].Queues = []string{"q1", "q2"}
	want.Queues = append(want.Queues, Queue{ID: "q2"})
	want.Settings = append(want.Settings, Setting{Key: "qm.settings", Value: json.RawMessage(`{"topic_interval":"12h"}`)})
	cur.Normalize()
	want.Normalize()

	got := Diff(cur, want, Options{Protect: []string{"root"}})
	line := func(cs []Change) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.String())
		}
		return strings.Join(s, "\n")
	}
	keepAll := `~ queue q1 (name)
+ queue q2
~ user ann (queues)
+ setting qm.settings
= article a1: not in the bundle; kept (prune deletes it)
= scorecard old: scorecards are not deleted (archive it on the box)
= user bob: not in the bundle; kept (prune deletes it)
= user root: the user applying the bundle is never deleted
= queue local: not in the bundle; kept (prune deletes it)`
	if diff := cmp.Diff(keepAll, line(got)); diff != "" {
		t.Errorf("Diff without prune (-want +got):\n%s", diff)
	}
	pruned := Diff(cur, want, Options{Prune: true, Protect: []string{"root"}})
	wantPruned := `~ queue q1 (name)
+ queue q2
~ user ann (queues)
+ setting qm.settings
- article a1
= scorecard old: scorecards are not deleted (archive it on the box)
- user bob
= user root: the user applying the bundle is never deleted
- queue local`
	if diff := cmp.Diff(wantPruned, line(pruned)); diff != "" {
		t.Errorf("Diff with prune (-want +got):\n%s", diff)
	}
	// Equal configurations: nothing but keeps. A setting's null and its
	// absence are the same; key order and spacing are no difference.
	if d := Diff(want, want, Options{}); len(d) != 0 {
		t.Errorf("Diff of a configuration with itself: %v", d)
	}
}
