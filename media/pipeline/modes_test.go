package pipeline_test

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/prometheus/client_golang/prometheus"
)

func pcmBytes(pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

// TestModeTriggers: when the agent's final holds a trigger phrase, the
// customer's next utterance is heard with the digits grammar (real
// PocketSphinx: only digit words come out of a spoken sentence), and
// the one after it with the language model again. The trigger here is a
// phrase PocketSphinx hears in the agent's recording ("young man").
func TestModeTriggers(t *testing.T) {
	cfg := pipeline.DefaultConfig()
	cfg.ModeTriggers = map[stt.Mode][]string{stt.ModeDigits: {"young man"}}
	reg := prometheus.NewRegistry()
	p := newPipeline(t, cfg, reg)
	e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "modes", Source: "file", Offline: true, Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	format := codec.Format{Codec: codec.S16LE, SampleRate: 16000}
	agent, err := e.AddParty(pipeline.PartyOptions{Name: "agent", Format: format})
	if err != nil {
		t.Fatal(err)
	}
	customer, err := e.AddParty(pipeline.PartyOptions{Name: "customer", Format: format})
	if err != nil {
		t.Fatal(err)
	}
	finals := make(chan pipeline.Segment, 16)
	go func() {
		defer close(finals)
		for s := range e.Segments() {
			if s.Final {
				finals <- s
			}
		}
	}()
	next := func(party string) pipeline.Segment {
		t.Helper()
		deadline := time.After(time.Minute)
		for {
			select {
			case s, ok := <-finals:
				if !ok {
					t.Fatalf("no final of %s", party)
				}
				if s.Party == party {
					return s
				}
				t.Logf("final of %s: %q", s.Party, s.Text)
			case <-deadline:
				t.Fatalf("no final of %s within a minute", party)
			}
		}
	}
	silence := make([]int16, 16000)
	sentence := append(load16k(t, librivox+"sense_and_sensibility_01_austen_64kb-0890.wav"), silence...)

	if err := agent.Write(pcmBytes(append(load16k(t, file0880), silence...))); err != nil {
		t.Fatal(err)
	}
	if s := next("agent"); !strings.Contains(s.Text, "young man") {
		t.Fatalf("the agent's final %q lacks the trigger phrase", s.Text)
	}
	// The customer's recogniser is switched before anyone sees the
	// agent's final and before the customer says anything: a reply sent
	// on seeing the question meets the digits mode.
	for deadline := time.Now().Add(10 * time.Second); counter(t, reg, "earshot_pipeline_mode_switches_total", "digits") != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the trigger phrase did not switch the customer's recogniser before the customer spoke")
		}
		time.Sleep(10 * time.Millisecond)
	}
	digits := map[string]bool{}
	for _, w := range strings.Fields("zero oh one two three four five six seven eight nine double triple") {
		digits[w] = true
	}
	for i, wantDigits := range []bool{true, false} {
		if err := customer.Write(pcmBytes(sentence)); err != nil {
			t.Fatal(err)
		}
		s := next("customer")
		t.Logf("customer's utterance %d: %q", i+1, s.Text)
		onlyDigits := s.Text != ""
		for _, w := range strings.Fields(s.Text) {
			onlyDigits = onlyDigits && digits[w]
		}
		if onlyDigits != wantDigits {
			t.Errorf("customer's utterance %d heard as %q: only digit words %v, want %v", i+1, s.Text, onlyDigits, wantDigits)
		}
	}
	e.Close()
	for range finals {
	}
}
