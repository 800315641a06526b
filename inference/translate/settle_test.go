package translate

import "testing"

func TestSettler(t *testing.T) {
	id := newTestIdentifier(t)
	st := DefaultSettler()
	observe := func(s LanguageState, msgs ...string) LanguageState {
		for _, m := range msgs {
			s = st.Observe(s, id.Detect(m))
		}
		return s
	}
	tests := []struct {
		name   string
		start  LanguageState
		msgs   []string
		want   Lang
		source string
	}{
		{"one clear message settles", LanguageState{}, []string{"Buenas tardes, quiero cancelar mi suscripción"}, Spanish, SourceDetected},
		{"greetings alone do not settle", LanguageState{}, []string{"ok", "hi"}, "", ""},
		{"settles on the leader after three messages", LanguageState{}, []string{"ok", "vale", "de acuerdo", "gracias"}, Spanish, SourceDetected},
		{"a customer who switches is followed", LanguageState{}, []string{
			"Buenas tardes, quiero cancelar mi suscripción",
			"Sorry, can we continue in English please?",
			"I would like to cancel my subscription today"}, English, SourceDetected},
		{"one message in another language does not switch", LanguageState{}, []string{
			"Buenas tardes, quiero cancelar mi suscripción",
			"Thank you very much for the quick answer",
			"Necesito el número de referencia de la orden"}, Spanish, SourceDetected},
		{"a queue fixes the language", Fixed(Catalan), []string{"Buenas tardes, quiero cancelar mi suscripción"}, Catalan, SourceQueue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := observe(tt.start, tt.msgs...)
			if got.Lang != tt.want || got.Source != tt.source {
				t.Errorf("settled on %q (%q), want %q (%q)", got.Lang, got.Source, tt.want, tt.source)
			}
		})
	}
	// A customer's choice holds against detection; a queue's against both.
	s := st.Set(LanguageState{}, Portuguese)
	s = observe(s, "Buenas tardes, quiero cancelar mi suscripción", "Necesito el número de referencia")
	if s.Lang != Portuguese || s.Source != SourceCustomer {
		t.Errorf("after Set: %q (%q), want pt (customer)", s.Lang, s.Source)
	}
	if q := st.Set(Fixed(Catalan), Spanish); q.Lang != Catalan {
		t.Errorf("Set on a queue-fixed state changed it to %q", q.Lang)
	}
}
