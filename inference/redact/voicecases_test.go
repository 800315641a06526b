package redact

import "testing"

// redactCase is one recognised text and what redaction must make of it.
type redactCase struct {
	name, in, want string
}

// checkVoiceRedactions redacts each case as recognised speech with the
// default policy and compares the text.
func checkVoiceRedactions(t *testing.T, tests []redactCase) {
	t.Helper()
	r := mustNew(t, DefaultPolicy())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Redact(SourceVoice, tt.in, nil).Text; got != tt.want {
				t.Errorf("Redact(%q) =\n  %q\nwant\n  %q", tt.in, got, tt.want)
			}
		})
	}
}
