package translate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// TestApertiumPoolMatchesCLI: the pool's null-flush pipelines, with this
// package's deformatter and reformatter, give byte for byte what the
// apertium command line gives, including the stream format's special
// characters, runs of blanks and line breaks.
func TestApertiumPoolMatchesCLI(t *testing.T) {
	a := newTestApertium(t, DefaultApertiumConfig())
	texts := []string{
		"Hola, ¿cómo estás?",
		"Tengo un problema con mi tarjeta de crédito y quiero hablar con alguien.",
		"El cargo de 49,99 € aparece dos veces en mi cuenta [ref: AB-12/3].",
		"Escríbeme a ana@example.com o llama al 555-1234 ^_^ <3 {ok} \\o/ $5 ~ 100% #ayuda *urgente*",
		"Primera línea.\nSegunda línea.\n\nTercera   con  espacios\ty tabulador.",
		"NO PUEDO ENTRAR EN LA APLICACIÓN!!!",
	}
	for _, text := range texts {
		got, err := a.Translate(context.Background(), Pair{Spanish, English}, text)
		if err != nil {
			t.Fatalf("Translate(%q): %v", text, err)
		}
		want := strings.TrimSuffix(apertiumCLI(t, "spa-eng", text), "\n")
		if got != want {
			t.Errorf("pool %q\n  cli %q\n for %q", got, want, text)
		}
	}
}

// TestApertiumConcurrent: many messages at once through a pool of two
// pipelines each get their own translation.
func TestApertiumConcurrent(t *testing.T) {
	a := newTestApertium(t, DefaultApertiumConfig())
	msgs := []string{"Buenos días.", "Quiero cancelar mi pedido.", "Gracias por su ayuda.", "¿Dónde está mi paquete?"}
	want := map[string]string{}
	for _, m := range msgs {
		out, err := a.Translate(context.Background(), Pair{Spanish, English}, m)
		if err != nil {
			t.Fatal(err)
		}
		want[m] = out
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := msgs[i%len(msgs)]
			out, err := a.Translate(context.Background(), Pair{Spanish, English}, m)
			if err != nil || out != want[m] {
				errs <- fmt.Errorf("%q: %q, %v; want %q", m, out, err, want[m])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(a.Processes()); n > DefaultApertiumConfig().ProcsPerPair {
		t.Errorf("%d pipelines for one direction, want at most %d", n, DefaultApertiumConfig().ProcsPerPair)
	}
}

// TestApertiumPipelineDies kills the chosen pipeline's process group just
// before the message is written: the pool replaces it and retries once;
// when the retry's pipeline dies too, the message fails with
// ErrEngineFailed and the Translator delivers it untranslated with a
// notice.
func TestApertiumPipelineDies(t *testing.T) {
	reg := prometheus.NewRegistry()
	needApertium(t, "spa-eng")
	a, err := NewApertium(DefaultApertiumConfig(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var kills atomic.Int32
	killFirst := int32(1)
	a.beforeSend = func(pid int) {
		if kills.Load() < killFirst {
			kills.Add(1)
			if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
		}
	}
	out, err := a.Translate(context.Background(), Pair{Spanish, English}, "Gracias por su ayuda.")
	if err != nil || out != "Thank you By his help." {
		t.Fatalf("after one death: %q, %v; want the translation from the retry", out, err)
	}
	if got := testutil.ToFloat64(a.metrics.restarts.WithLabelValues("es-en")); got != 1 {
		t.Errorf("restarts = %v, want 1", got)
	}

	killFirst = 1 << 30 // every pipeline dies
	tr, err := New(DefaultConfig(), nil, nil, a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Translate(context.Background(), Pair{Spanish, English}, "Gracias.")
	if !errors.Is(err, ErrEngineFailed) {
		t.Errorf("when every pipeline dies: %v, want ErrEngineFailed", err)
	}
	res, err := tr.Translate(context.Background(), Request{Text: "Gracias por su ayuda, de verdad.", From: Spanish, To: English})
	if err != nil || res.Translated || res.Notice != NoticeEngineFailed || res.Text != "Gracias por su ayuda, de verdad." {
		t.Errorf("Translator result %+v, %v; want the original, untranslated, notice %q", res, err, NoticeEngineFailed)
	}

	// The pool recovers once pipelines stop dying.
	killFirst = 0
	if out, err := a.Translate(context.Background(), Pair{Spanish, English}, "Gracias."); err != nil || out != "Thank you." {
		t.Errorf("after recovery: %q, %v", out, err)
	}
}

// TestApertiumBadInput: control characters (a NUL above all, the
// pipelines' message delimiter) are removed before the pipeline sees them,
// and a 10 kB message is translated whole.
func TestApertiumBadInput(t *testing.T) {
	a := newTestApertium(t, DefaultApertiumConfig())
	reg := prometheus.NewRegistry()
	tr, err := New(DefaultConfig(), nil, reg, a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := tr.Translate(ctx, Request{Text: "Hola\x00, tengo\x07 un problema\x1b[31m.", From: Spanish, To: English})
	if err != nil || !res.Translated || strings.ContainsAny(res.Text, "\x00\x07\x1b") {
		t.Fatalf("control characters: %+v, %v", res, err)
	}
	if got := testutil.ToFloat64(tr.m.badInput.WithLabelValues("control_characters")); got != 1 {
		t.Errorf("bad_input_total{control_characters} = %v, want 1", got)
	}
	// The pipeline is still in step: the next message gets its own reply.
	if res, _ := tr.Translate(ctx, Request{Text: "Gracias.", From: Spanish, To: English}); res.Text != "Thank you." {
		t.Errorf("next message after a NUL: %q, want %q", res.Text, "Thank you.")
	}
	long := strings.TrimSpace(strings.Repeat("Mi tarjeta no funciona desde ayer por la tarde. ", 220))
	if len(long) < 10240 {
		t.Fatalf("test message of %d bytes, want 10 kB", len(long))
	}
	res, err = tr.Translate(ctx, Request{Text: long, From: Spanish, To: English})
	if err != nil || !res.Translated || !strings.Contains(res.Text, "My card does not work") || len(res.Text) < 8000 {
		t.Errorf("10 kB message: translated %v, %d bytes, %v", res.Translated, len(res.Text), err)
	}
	tooLong := strings.Repeat("a", DefaultConfig().MaxChars+1)
	if res, _ := tr.Translate(ctx, Request{Text: tooLong, From: Spanish, To: English}); res.Translated || res.Notice != NoticeTooLong {
		t.Errorf("over max_chars: translated %v, notice %q", res.Translated, res.Notice)
	}
	if res, _ := tr.Translate(ctx, Request{Text: "\xff\xfeHola amigo", From: Spanish, To: English}); !res.Translated {
		t.Errorf("invalid UTF-8: %+v", res)
	}
}

func TestDeformatReformat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a  b", "a[  ]b[]"},
		{"a\n\nb", "a[][\n\n]b[]"},
		{"a \n b", "a[ \n ]b[]"},
		{"x~y", "x[~]y[]"},
		{`[a] \b ^c$ @d /e <f> {g}`, `\[a\] \\b \^c\$ \@d \/e \<f\> \{g\}[]`},
	}
	for _, tt := range tests {
		if got := deformat(tt.in); got != tt.want {
			t.Errorf("deformat(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := reformat(deformat(tt.in)); got != tt.in {
			t.Errorf("reformat(deformat(%q)) = %q", tt.in, got)
		}
	}
}
