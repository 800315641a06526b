package bot

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// script is a customer's side of a card-services conversation; each
// session plays it from the start.
var script = []string{"Hi, I lost my card", "it's 4321", "no", "what is my balance", "4321",
	"what fees do you charge abroad?", "the weather on mars", "thanks"}

// benchTurns plays the script over fresh sessions b.N times in all and
// reports the turn latency the runtime itself adds (skills and the
// knowledge base are in-memory stand-ins, and the runtime subtracts the
// time spent in them): p50 and p99 in milliseconds.
func benchTurns(b *testing.B, e *Engine) {
	lat := make([]time.Duration, 0, b.N)
	var s *Session
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(script)
		if k == 0 || s == nil || !s.Active() {
			s = e.NewSession("bench", ref)
		}
		start := time.Now()
		t := s.Handle(context.Background(), Input{Text: script[k], Time: ref})
		lat = append(lat, time.Since(start)-t.External)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkTurn: the card-services bot (3 intents, 32 phrases).
func BenchmarkTurn(b *testing.B) {
	benchTurns(b, newCardEngine(b, &skillsFake{}))
}

// BenchmarkTurnBanking77: the card-services flows behind 77 intents and
// their 10,003 banking77 training phrases (the detector's nearest-phrase
// features cost most here). Needs ../shared/eval/banking77.
func BenchmarkTurnBanking77(b *testing.B) {
	e, err := banking77Engine(b)
	if err != nil {
		b.Fatal(err)
	}
	benchTurns(b, e)
}

// banking77Engine builds the 77-intent engine once per process: training
// its detector takes minutes on a busy machine, and the benchmark function
// runs more than once.
var banking77Engine = func() func(b *testing.B) (*Engine, error) {
	var (
		once sync.Once
		e    *Engine
		err  error
	)
	return func(b *testing.B) (*Engine, error) {
		d := loadCardBot(b)
		f, ferr := os.Open(filepath.Join("..", "..", "..", "shared", "eval", "banking77", "train.csv"))
		if ferr != nil {
			b.Skipf("banking77 not found: %v", ferr)
		}
		f.Close()
		once.Do(func() { e, err = buildBanking77(d, f.Name()) })
		return e, err
	}
}()

func buildBanking77(d Definition, path string) (*Engine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		return nil, err
	}
	byIntent := map[string][]string{}
	for _, r := range rows[1:] {
		byIntent[r[1]] = append(byIntent[r[1]], r[0])
	}
	for _, name := range slices.Sorted(mapKeys(byIntent)) {
		switch name {
		case "lost_or_stolen_card":
			d.Intents[0].Phrases = append(d.Intents[0].Phrases, byIntent[name]...)
		default:
			// banking77 spells one label "reverted_card_payment?";
			// intent names are identifiers.
			id := strings.TrimRight(name, "?")
			d.Intents = append(d.Intents, Intent{Name: id, Phrases: byIntent[name], Answer: "kb"})
		}
	}
	e, _, err := NewEngine(context.Background(), DefaultConfig(), d, 1, okEnv, Deps{Skills: &skillsFake{}, Knowledge: kbFake{}})
	return e, err
}

// BenchmarkSessionMemory reports the heap one open conversation of the
// card-services bot holds in the runtime (after its greeting and two
// turns: an intent and a collected slot), measured over b.N sessions held
// at once after a collection: "B/session". The connection, the
// engagement and the store are not included (the widget load eval in
// daemon/ measures a whole widget session).
func BenchmarkSessionMemory(b *testing.B) {
	e := newCardEngine(b, &skillsFake{})
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	b.ReportAllocs()
	before := heap()
	sessions := make([]*Session, b.N)
	b.ResetTimer()
	for i := range sessions {
		s := e.NewSession(fmt.Sprintf("bench-%d", i), ref)
		s.Greeting()
		s.Handle(context.Background(), Input{Text: script[0], Time: ref})
		s.Handle(context.Background(), Input{Text: script[1], Time: ref})
		sessions[i] = s
	}
	b.StopTimer()
	after := heap()
	b.ReportMetric(float64(int64(after)-int64(before))/float64(b.N), "B/session")
	runtime.KeepAlive(sessions)
}

// BenchmarkClassifierPeer is the floor the runtime is compared with: the
// bare built-in classifier (textclass) on the same messages, trained on the
// card-services phrases, without calibration, detector or flows.
func BenchmarkClassifierPeer(b *testing.B) {
	d := loadCardBot(b)
	var ex []textclass.Example
	for _, it := range d.Intents {
		for _, p := range it.Phrases {
			ex = append(ex, textclass.Example{Text: p, Label: it.Name})
		}
	}
	m, err := textclass.Train(textclass.DefaultTrainConfig(), ex)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Predict(script[i%len(script)])
	}
}

func ExampleDecode() {
	d, err := Decode([]byte(`
id: hello
name: Hello bot
queue: support
intents:
  - {name: hours, answer: kb, phrases: [when are you open]}
  - {name: human, flow: human, phrases: [talk to someone]}
flows:
  - {name: human, steps: [{handover: asked}]}
`), YAML)
	fmt.Println(d.ID, len(d.Intents), err)
	// Output: hello 2 <nil>
}
