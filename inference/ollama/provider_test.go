package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
)

// testBuiltin stands in for the built-in provider (inference/builtin, which
// is being written in parallel) as the fallback target. It is a fake on
// purpose: these tests are about when the Ollama provider hands a call over,
// so the fallback only records calls and answers recognisably.
type testBuiltin struct {
	mu    sync.Mutex
	calls map[string]int
}

var testProvenance = inference.Provenance{Provider: "builtin", Model: "test"}

func (b *testBuiltin) record(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calls == nil {
		b.calls = map[string]int{}
	}
	b.calls[name]++
}

func (b *testBuiltin) count(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[name]
}

func (b *testBuiltin) total() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.calls {
		n += c
	}
	return n
}

func (b *testBuiltin) Summarize(ctx context.Context, conv []inference.Utterance) (inference.Summary, error) {
	b.record("summary")
	return inference.Summary{Text: "builtin summary", Keywords: []inference.Keyword{}, Provenance: testProvenance}, nil
}

func (b *testBuiltin) WriteNotes(ctx context.Context, conv []inference.Utterance) (inference.Notes, error) {
	b.record("notes")
	return inference.Notes{Reason: "builtin", FollowUps: []string{}, Provenance: testProvenance}, nil
}

func (b *testBuiltin) ExtractTasks(ctx context.Context, conv []inference.Utterance, ref time.Time) ([]inference.Task, error) {
	b.record("tasks")
	return []inference.Task{{Text: "builtin task", Owner: inference.PartyAgent}}, nil
}

func (b *testBuiltin) ClassifyDisposition(ctx context.Context, conv []inference.Utterance, codes []inference.DispositionCode) (inference.Disposition, error) {
	b.record("disposition")
	return inference.Disposition{Code: codes[0].Code, Confidence: 0.5, Provenance: testProvenance}, nil
}

func (b *testBuiltin) Keywords(ctx context.Context, conv []inference.Utterance, n int) ([]inference.Keyword, error) {
	b.record("keywords")
	return []inference.Keyword{{Term: "builtin", Weight: 1}}, nil
}

func (b *testBuiltin) Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error) {
	b.record("generate")
	ch := make(chan string, 1)
	ch <- "builtin reply"
	close(ch)
	return ch, func() error { return nil }, nil
}

// The server shared by the tests that do not stop it; started on first use
// and stopped by TestMain.
var shared struct {
	once sync.Once
	dir  string
	srv  *ollamatest.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func sharedServer(t testing.TB) *ollamatest.Server {
	t.Helper()
	bin := ollamatest.Binary(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "earshot-ollama-test-")
		if shared.err == nil {
			shared.srv, shared.err = ollamatest.StartBinary(bin, shared.dir, ollamatest.Options{})
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// ownServer starts a server of the test's own, which it may pause or stop,
// on the shared model directory.
func ownServer(t *testing.T) *ollamatest.Server {
	t.Helper()
	sharedServer(t)
	return ollamatest.Start(t, ollamatest.Options{ModelsDir: filepath.Join(shared.dir, "models")})
}

// testConfig serves every feature with the tiny model on one thread with a
// fixed seed.
func testConfig(url string) Config {
	cfg := DefaultConfig()
	cfg.URL = url
	for _, f := range Features {
		cfg.Models[f] = ollamatest.Model
	}
	cfg.NumThread, cfg.Seed, cfg.NumCtx = 1, 42, 4096
	cfg.MaxTokens = 24
	cfg.Timeout = 90 * time.Second // generous: CI machines are slow and busy
	cfg.RetryAfter = 300 * time.Millisecond
	return cfg
}

func newTestProvider(t testing.TB, cfg Config) (*Provider, *prometheus.Registry, *testBuiltin) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	fb := &testBuiltin{}
	p, err := New(cfg, nil, reg, FallbackFrom(fb))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, reg, fb
}

// metric returns the value of the counter, gauge or histogram (its count)
// name whose labels include labels; 0 when there is none.
func metric(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
					return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}) {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

var testCodes = []inference.DispositionCode{
	{Code: "RESOLVED", Name: "Resolved", Description: "The customer's issue was solved during the call.", Examples: []string{"card unblocked"}},
	{Code: "CALLBACK", Name: "Callback", Description: "The agent must get back to the customer."},
	{Code: "ESCALATED", Name: "Escalated", Description: "Handed to a specialist team."},
}

func checkLen(t *testing.T, what, s string, lo, hi int) {
	t.Helper()
	if n := utf8.RuneCountInString(s); n < lo || n > hi {
		t.Errorf("%s has %d characters, want %d..%d", what, n, lo, hi)
	}
}

func checkOllama(t *testing.T, what string, pv inference.Provenance) {
	t.Helper()
	if pv.Provider != ProviderName || !strings.HasPrefix(pv.Model, ollamatest.Model) {
		t.Errorf("%s provenance = %+v, want provider %q and model %q", what, pv, ProviderName, ollamatest.Model)
	}
}

// TestStructuredOutputs runs every structured feature against the real
// server. The random model writes noise, so the test checks only what the
// schema grammar guarantees: each reply passes validation (no fallback) and
// stays within its bounds.
func TestStructuredOutputs(t *testing.T) {
	srv := sharedServer(t)
	p, reg, fb := newTestProvider(t, testConfig(srv.URL))
	ctx := context.Background()
	if err := p.Check(ctx); err != nil {
		t.Fatalf("Check() = %v, want nil: the server has the model (as %s:latest)", err, ollamatest.Model)
	}

	sum, err := p.Summarize(ctx, testConv)
	if err != nil {
		t.Fatal(err)
	}
	checkOllama(t, "summary", sum.Provenance)
	checkLen(t, "summary", sum.Text, 0, summaryMaxChars)
	if len(sum.Keywords) > summaryKeywords {
		t.Errorf("summary has %d keywords, want at most %d", len(sum.Keywords), summaryKeywords)
	}
	for _, k := range sum.Keywords {
		if !strings.Contains(strings.ToLower(convText(testConv)), strings.ToLower(k.Term)) || k.Weight <= 0 || k.Weight > 1 {
			t.Errorf("summary keyword %+v: not in the conversation or weight out of (0,1]", k)
		}
	}

	notes, err := p.WriteNotes(ctx, testConv)
	if err != nil {
		t.Fatal(err)
	}
	checkOllama(t, "notes", notes.Provenance)
	checkLen(t, "notes reason", notes.Reason, 0, notesReasonChars)
	checkLen(t, "notes actions", notes.Actions, 0, notesActionChars)
	checkLen(t, "notes outcome", notes.Outcome, 0, notesOutcomeChar)
	if len(notes.FollowUps) > notesFollowUps {
		t.Errorf("notes have %d follow-ups, want at most %d", len(notes.FollowUps), notesFollowUps)
	}
	for i, f := range notes.FollowUps {
		checkLen(t, "follow-up "+string(rune('0'+i)), f, 1, followUpChars)
	}

	ref := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	tasks, err := p.ExtractTasks(ctx, testConv, ref)
	if err != nil {
		t.Fatal(err)
	}
	if tasks == nil || len(tasks) > tasksMax {
		t.Errorf("ExtractTasks returned %d tasks (nil %v), want a non-nil list of at most %d", len(tasks), tasks == nil, tasksMax)
	}
	for i, task := range tasks {
		checkLen(t, "task text", task.Text, 1, taskChars)
		if task.Owner != inference.PartyAgent && task.Owner != inference.PartyCustomer {
			t.Errorf("task %d owner %q is not a party of the conversation", i, task.Owner)
		}
		if task.Due != "" {
			d, err := time.Parse(time.DateOnly, task.Due)
			if err != nil || d.Before(ref.Truncate(24*time.Hour)) || d.After(ref.AddDate(0, 2, 0)) {
				t.Errorf("task %d due %q is not a date from the engagement day to two months later", i, task.Due)
			}
		}
		if !slices.ContainsFunc(testConv, func(u inference.Utterance) bool { return u.StartMS == task.EvidenceMS }) {
			t.Errorf("task %d evidence %d ms is not the start of an utterance", i, task.EvidenceMS)
		}
	}

	disp, err := p.ClassifyDisposition(ctx, testConv, testCodes)
	if err != nil {
		t.Fatal(err)
	}
	checkOllama(t, "disposition", disp.Provenance)
	if !slices.ContainsFunc(testCodes, func(c inference.DispositionCode) bool { return c.Code == disp.Code }) ||
		disp.Confidence < 0 || disp.Confidence > 1 {
		t.Errorf("disposition = %+v, want one of the codes with a confidence in 0..1", disp)
	}

	kws, err := p.Keywords(ctx, testConv, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(kws) > 3 {
		t.Errorf("Keywords(n=3) returned %d", len(kws))
	}
	for _, k := range kws {
		checkLen(t, "keyword", k.Term, 1, keywordMaxChars)
	}

	// A caller's own schema through the Generator.
	schema := `{"type":"object","properties":{"answer":{"type":"string","enum":["yes","no"]},` +
		`"reason":{"type":"string","maxLength":50}},"required":["answer","reason"],"additionalProperties":false}`
	ch, errf, err := p.Generator(FeatureNextStep).Generate(ctx, inference.GenerateRequest{
		System: "Answer the question.", Prompt: "Is the card unblocked?", Schema: []byte(schema),
	})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []string
	for c := range ch {
		chunks = append(chunks, c)
	}
	if err := errf(); err != nil {
		t.Fatal(err)
	}
	var reply struct{ Answer, Reason string }
	if len(chunks) != 1 || json.Unmarshal([]byte(chunks[0]), &reply) != nil || (reply.Answer != "yes" && reply.Answer != "no") {
		t.Errorf("structured Generate gave %d chunks, want one JSON object with answer yes or no", len(chunks))
	}

	t.Logf("summary %d chars, %d keywords; notes %d/%d/%d chars, %d follow-ups; %d tasks; disposition %s %.2f; %d keywords",
		utf8.RuneCountInString(sum.Text), len(sum.Keywords), utf8.RuneCountInString(notes.Reason),
		utf8.RuneCountInString(notes.Actions), utf8.RuneCountInString(notes.Outcome), len(notes.FollowUps),
		len(tasks), disp.Code, disp.Confidence, len(kws))
	if n := fb.total(); n != 0 {
		t.Errorf("the built-in fallback was called %d times (%v); every reply should have passed its schema", n, fb.calls)
	}
	if n := metric(t, reg, "earshot_inference_ollama_failures_total"); n != 0 {
		t.Errorf("failures_total = %v, want 0", n)
	}
	if n := metric(t, reg, "earshot_inference_ollama_requests_total", "outcome", "ok"); n != 6 {
		t.Errorf("requests_total{outcome=ok} = %v, want 6", n)
	}
	if n := metric(t, reg, "earshot_inference_ollama_tokens_total", "feature", "summary", "kind", "reply"); n <= 0 {
		t.Errorf("no reply tokens counted for summary")
	}
}

// TestStreaming checks that a free-text reply arrives as a stream that is
// closed at the end, bounded by max_tokens.
func TestStreaming(t *testing.T) {
	srv := sharedServer(t)
	p, reg, fb := newTestProvider(t, testConfig(srv.URL))
	ch, errf, err := p.Generate(context.Background(), inference.GenerateRequest{
		System: "You are helpful.", Prompt: "Suggest the next step for the agent.",
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	if err := errf(); err != nil {
		t.Fatalf("stream error: %v", err)
	}
	reply := metric(t, reg, "earshot_inference_ollama_tokens_total", "feature", "generate", "kind", "reply")
	if n == 0 && reply > 0 {
		t.Errorf("the server generated %v tokens but no chunk arrived", reply)
	}
	if reply > float64(p.cfg.MaxTokens) {
		t.Errorf("reply has %v tokens, max_tokens is %d", reply, p.cfg.MaxTokens)
	}
	if got := metric(t, reg, "earshot_inference_ollama_requests_total", "feature", "generate", "outcome", "ok"); got != 1 {
		t.Errorf("requests_total{generate,ok} = %v, want 1", got)
	}
	if fb.total() != 0 {
		t.Errorf("fallback called: %v", fb.calls)
	}
	t.Logf("%d chunks, %v reply tokens", n, reply)

	// Cancelling mid-stream closes the channel and reports the cancellation.
	cfg := testConfig(srv.URL)
	cfg.MaxTokens = 4000
	p, _, _ = newTestProvider(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, errf, err = p.Generate(ctx, inference.GenerateRequest{Prompt: "Write a long story."})
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	cancel()
	for range ch {
	}
	if err := errf(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel, Err() = %v, want nil (already done) or context.Canceled", err)
	}
}

func TestEmbed(t *testing.T) {
	srv := sharedServer(t)
	p, _, _ := newTestProvider(t, testConfig(srv.URL))
	vs, err := p.Embed(context.Background(), []string{"my card is blocked", "I want a mortgage", "my card is blocked"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("Embed returned %d vectors for 3 texts", len(vs))
	}
	for i, v := range vs {
		if len(v) != ollamatest.EmbeddingLength {
			t.Errorf("vector %d has %d dimensions, want %d", i, len(v), ollamatest.EmbeddingLength)
		}
	}
	if !slices.Equal(vs[0], vs[2]) || slices.Equal(vs[0], vs[1]) {
		t.Errorf("equal texts must embed equally and different texts differently")
	}
	if p.EmbeddingModel() != ollamatest.Model {
		t.Errorf("EmbeddingModel() = %q", p.EmbeddingModel())
	}
	if vs, err := p.Embed(context.Background(), nil); err != nil || len(vs) != 0 {
		t.Errorf("Embed(nil) = %v, %v; want an empty result", vs, err)
	}
}

// TestSchemaFailureFallsBack uses a schema whose bound the grammar cannot
// express (number ranges are checked only here), so the random model's
// number fails validation and the call falls back.
func TestSchemaFailureFallsBack(t *testing.T) {
	srv := sharedServer(t)
	p, reg, fb := newTestProvider(t, testConfig(srv.URL))
	schema := `{"type":"object","properties":{"x":{"type":"number","minimum":-123456.789,"maximum":-123456.789}},` +
		`"required":["x"],"additionalProperties":false}`
	ch, errf, err := p.Generate(context.Background(), inference.GenerateRequest{Prompt: "Pick a number.", Schema: []byte(schema)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for c := range ch {
		got = append(got, c)
	}
	if err := errf(); err != nil || len(got) != 1 || got[0] != "builtin reply" {
		t.Fatalf("Generate = %q, %v; want the built-in reply", got, err)
	}
	if fb.count("generate") != 1 {
		t.Errorf("built-in Generate called %d times, want 1", fb.count("generate"))
	}
	if n := metric(t, reg, "earshot_inference_ollama_fallbacks_total", "feature", "generate", "reason", "schema"); n != 1 {
		t.Errorf("fallbacks_total{generate,schema} = %v, want 1", n)
	}
}

func TestUnknownModelFallsBackWithoutOpeningBreaker(t *testing.T) {
	srv := sharedServer(t)
	cfg := testConfig(srv.URL)
	cfg.Models[FeatureSummary] = "no-such-model"
	p, reg, fb := newTestProvider(t, cfg)
	for range cfg.FailureThreshold + 1 {
		s, err := p.Summarize(context.Background(), testConv)
		if err != nil || s.Provenance != testProvenance {
			t.Fatalf("Summarize = %+v, %v; want the built-in summary", s, err)
		}
	}
	if n := metric(t, reg, "earshot_inference_ollama_fallbacks_total", "feature", "summary", "reason", "error"); n != float64(cfg.FailureThreshold+1) {
		t.Errorf("fallbacks_total{summary,error} = %v, want %d", n, cfg.FailureThreshold+1)
	}
	if p.breaker.open() || fb.count("summary") != cfg.FailureThreshold+1 {
		t.Errorf("breaker open %v, fallbacks %d: an unknown model must not open the breaker", p.breaker.open(), fb.count("summary"))
	}
	if err := p.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "no-such-model (summary)") {
		t.Errorf("Check() = %v, want it to name the missing model", err)
	}
}

// TestTimeoutsOpenBreaker pauses a real server (SIGSTOP): calls time out and
// fall back, the breaker opens so that later calls fall back at once, and
// after the server resumes a health check closes it again.
func TestTimeoutsOpenBreaker(t *testing.T) {
	srv := ownServer(t)
	cfg := testConfig(srv.URL)
	cfg.Timeouts = map[Feature]time.Duration{FeatureDisposition: 300 * time.Millisecond}
	p, reg, fb := newTestProvider(t, cfg)
	ctx := context.Background()
	// Warm up (load the model) with a feature on the long timeout.
	if k, err := p.Keywords(ctx, testConv, 2); err != nil || fb.total() != 0 {
		t.Fatalf("warm-up Keywords = %v, %v, fallbacks %v", k, err, fb.calls)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Resume() })
	for i := range cfg.FailureThreshold + 2 {
		d, err := p.ClassifyDisposition(ctx, testConv, testCodes)
		if err != nil || d.Provenance != testProvenance {
			t.Fatalf("call %d on a paused server = %+v, %v; want the built-in result", i, d, err)
		}
	}
	for _, c := range []struct {
		reason string
		want   float64
	}{{"timeout", float64(cfg.FailureThreshold)}, {"circuit_open", 2}} {
		if n := metric(t, reg, "earshot_inference_ollama_fallbacks_total", "feature", "disposition", "reason", c.reason); n != c.want {
			t.Errorf("fallbacks_total{disposition,%s} = %v, want %v", c.reason, n, c.want)
		}
	}
	if n := metric(t, reg, "earshot_inference_ollama_circuit_open"); n != 1 {
		t.Errorf("circuit_open = %v, want 1", n)
	}

	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(cfg.RetryAfter + 50*time.Millisecond)
	// The summary has the long default timeout: the resumed server may
	// still be finishing the abandoned requests.
	s, err := p.Summarize(ctx, testConv)
	if err != nil || s.Provider != ProviderName {
		t.Fatalf("Summarize after resume = %+v, %v; want the server's summary", s, err)
	}
	if n := metric(t, reg, "earshot_inference_ollama_circuit_open"); n != 0 {
		t.Errorf("circuit_open after recovery = %v, want 0", n)
	}
	if fb.count("summary") != 0 {
		t.Errorf("summary fell back after recovery")
	}
}

// TestServerStopped stops a real server: calls fall back (streaming ones
// too), embeddings fail with ErrUnavailable.
func TestServerStopped(t *testing.T) {
	srv := ownServer(t)
	p, reg, fb := newTestProvider(t, testConfig(srv.URL))
	ctx := context.Background()
	if k, err := p.Keywords(ctx, testConv, 2); err != nil || len(k) > 2 {
		t.Fatalf("Keywords on the running server = %v, %v", k, err)
	}
	if fb.total() != 0 {
		t.Fatalf("fallback used while the server runs: %v", fb.calls)
	}
	srv.Stop()

	if s, err := p.Summarize(ctx, testConv); err != nil || s.Provenance != testProvenance {
		t.Errorf("Summarize on a stopped server = %+v, %v; want the built-in summary", s, err)
	}
	ch, errf, err := p.Generate(ctx, inference.GenerateRequest{Prompt: "next step?"})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-ch; got != "builtin reply" || errf() != nil {
		t.Errorf("streamed Generate on a stopped server = %q, want the built-in reply", got)
	}
	if _, err := p.Embed(ctx, []string{"hello"}); !errors.Is(err, inference.ErrUnavailable) {
		t.Errorf("Embed on a stopped server: error %v, want one wrapping inference.ErrUnavailable", err)
	}
	if err := p.Check(ctx); !errors.Is(err, inference.ErrUnavailable) {
		t.Errorf("Check on a stopped server: %v, want ErrUnavailable", err)
	}
	for _, f := range []string{"summary", "generate"} {
		if n := metric(t, reg, "earshot_inference_ollama_fallbacks_total", "feature", f, "reason", "unavailable"); n != 1 {
			t.Errorf("fallbacks_total{%s,unavailable} = %v, want 1", f, n)
		}
	}
	if n := metric(t, reg, "earshot_inference_ollama_failures_total", "feature", "embed", "reason", "unavailable"); n != 1 {
		t.Errorf("failures_total{embed,unavailable} = %v, want 1", n)
	}
	// Three connection failures opened the breaker.
	if _, err := p.WriteNotes(ctx, testConv); err != nil {
		t.Fatal(err)
	}
	if n := metric(t, reg, "earshot_inference_ollama_fallbacks_total", "feature", "notes", "reason", "circuit_open"); n != 1 {
		t.Errorf("fallbacks_total{notes,circuit_open} = %v, want 1", n)
	}
}
