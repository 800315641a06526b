package builtin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
)

// multilingual holds one conversation per language the appliance meets in
// chats: every line starts or ends with a multi-byte rune, where byte
// slicing splits it.
var multilingual = map[string][]inference.Utterance{
	"spanish": {
		{Party: "customer", Text: "¿Me pueden ayudar? Mi tarjeta fue cobrada dos veces y quiero hablar con un gerente.", StartMS: 0, EndMS: 3000},
		{Party: "agent", Text: "¡Claro que sí! Revisaré el cargo duplicado ahora mismo.", StartMS: 4000, EndMS: 6000},
		{Party: "customer", Text: "¿Cuándo recibiré el reembolso? Es la tercera vez que llamo, ¡qué desastre!", StartMS: 7000, EndMS: 9000},
		{Party: "agent", Text: "«Reembolso» aprobado. I will email you the confirmation by Friday.", StartMS: 10000, EndMS: 12000},
	},
	"german": {
		{Party: "customer", Text: "Überweisung fehlgeschlagen, äußerst ärgerlich. Ich möchte mein Konto schließen.", StartMS: 0, EndMS: 3000},
		{Party: "agent", Text: "Über die Gebühr sprechen wir gleich; ich prüfe die Überweisung.", StartMS: 4000, EndMS: 6000},
		{Party: "customer", Text: "Öffnen Sie bitte eine Beschwerde, das ist unglaublich.", StartMS: 7000, EndMS: 9000},
	},
	"turkish": {
		{Party: "customer", Text: "İyi günler, kartım çalındı. Lütfen kartımı iptal edin!", StartMS: 0, EndMS: 3000},
		{Party: "agent", Text: "Şifrenizi değiştirmeniz gerekiyor; kartınızı şimdi iptal ediyorum.", StartMS: 4000, EndMS: 6000},
		{Party: "customer", Text: "Çok teşekkür ederim, ığdır şubesine gideceğim.", StartMS: 7000, EndMS: 9000},
	},
	"greek": {
		{Party: "customer", Text: "Καλημέρα, η κάρτα μου χρεώθηκε δύο φορές. Θέλω επιστροφή χρημάτων.", StartMS: 0, EndMS: 3000},
		{Party: "agent", Text: "Ελέγχω τη χρέωση τώρα. Ευχαριστώ για την υπομονή σας.", StartMS: 4000, EndMS: 6000},
		{Party: "customer", Text: "ένα λεπτό, θα σας καλέσω ξανά αύριο.", StartMS: 7000, EndMS: 9000},
	},
	"chinese": {
		{Party: "customer", Text: "你好，我的信用卡被扣了两次钱。请帮我退款。", StartMS: 0, EndMS: 3000},
		{Party: "agent", Text: "好的，我现在查一下。 您的退款已经处理。", StartMS: 4000, EndMS: 6000},
		{Party: "customer", Text: "谢谢！ 这是第三次了。", StartMS: 7000, EndMS: 9000},
	},
	"emoji": {
		{Party: "customer", Text: "😡😡 I was charged twice for my card 💳! This is the third time I call. 🙏", StartMS: 0, EndMS: 3000},
		{Party: "agent", Text: "👍 I will refund the duplicate charge today and I will email you the receipt tomorrow.", StartMS: 4000, EndMS: 6000},
		{Party: "customer", Text: "🙂 thanks, that's great 🎉", StartMS: 7000, EndMS: 9000},
	},
}

// checkText fails the test when any string in v (as JSON) is not valid
// UTF-8 or holds a replacement character none of the inputs had.
func checkText(t *testing.T, what string, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	// json.Marshal writes invalid bytes as \ufffd: that is how a split
	// rune shows in the API.
	if strings.Contains(string(raw), `\ufffd`) || strings.ContainsRune(string(raw), utf8.RuneError) || !utf8.Valid(raw) {
		t.Errorf("%s has a broken character: %s", what, raw)
	}
}

func TestAnalyzersKeepRunesWhole(t *testing.T) {
	p := newTestProvider(t)
	ctx := context.Background()
	intents := append(testIntents, IntentPhrases{Intent: "reembolso", Phrases: []string{"¿Cuándo recibiré el reembolso?",
		"quiero un reembolso", "devuélvanme el dinero", "退款", "επιστροφή χρημάτων"}})
	if err := p.TrainIntents(ctx, intents); err != nil {
		t.Fatal(err)
	}
	cat, err := NewCatalogue([]CatalogueEntry{{Intent: "reembolso", Action: "¿Ofrecer el reembolso? Explique «plazo» de 5 días 💶", MinConfidence: 0.01},
		{Intent: "lost_card", Action: "Kartı iptal edin ve yenisini sipariş edin", MinConfidence: 0.01}})
	if err != nil {
		t.Fatal(err)
	}
	codes := []inference.DispositionCode{{Code: "reembolso", Name: "Reembolso emitido", Description: "se devolvió un cargo duplicado"},
		{Code: "kündigung", Name: "Kündigung", Description: "der Kunde möchte das Konto schließen"}}
	ref := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	for lang, conv := range multilingual {
		t.Run(lang, func(t *testing.T) {
			post, err := p.PostEngagement(ctx, conv, ref, codes)
			if err != nil {
				t.Fatal(err)
			}
			checkText(t, "post-engagement results", post)
			notes, err := p.WriteNotes(ctx, conv)
			if err != nil {
				t.Fatal(err)
			}
			checkText(t, "notes", notes)
			kws, err := p.Keywords(ctx, conv, 10)
			if err != nil {
				t.Fatal(err)
			}
			checkText(t, "keywords", kws)
			live := p.NewLive(cat, EscalationConfig{LongSilence: time.Second, UsualHandleTime: 5 * time.Second})
			for _, u := range conv {
				res, err := live.Segment(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				checkText(t, "live result (sentiment, intents, next best actions, escalation reasons)", res)
			}
			checkText(t, "escalation after a silence", live.Tick(60_000))
			past := []PastEngagement{{ID: "e1", Start: ref.Add(-48 * time.Hour), Summary: post.Summary.Text, Disposition: "reembolso", Sentiment: -0.5},
				{ID: "e2", Start: ref.Add(-time.Hour), Summary: strings.Repeat(conv[0].Text, 8), OpenTasks: []string{conv[1].Text}}}
			checkText(t, "preview", EngagementPreview(past, ref))
		})
	}
	// The defect as reported: a Spanish question opening the summary.
	s, err := p.Summarize(ctx, multilingual["spanish"][:1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Text, "¿Me pueden ayudar?") {
		t.Errorf("summary %q lost the opening question", s.Text)
	}
}

func TestCapitaliseAndTruncate(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"¿me pueden ayudar?", "¿Me pueden ayudar?"},
		{"über die Gebühr", "Über die Gebühr"},
		{"«reembolso» aprobado", "«Reembolso» aprobado"},
		{"ένα λεπτό", "Ένα λεπτό"},
		{"你好", "你好"},
		{"😡 charged twice", "😡 Charged twice"},
		{"3 cards", "3 cards"},
		{"", ""},
		{"¿", "¿"},
	} {
		if got := capitalise(tt.in); got != tt.want {
			t.Errorf("capitalise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"¿Me pueden?", 3, "¿Me…"},
		{"你好世界", 2, "你好…"},
		{"😡😡😡", 1, "😡…"},
		{"short", 10, "short"},
	} {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
