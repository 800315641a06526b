package plugins

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/plugins/sdk"
)

var fullEngagement = sdk.Engagement{
	EngagementID: "eng-1", Channel: "voice", CustomerRef: "C-1001",
	Intents:    []string{"billing"},
	Transcript: []sdk.Segment{{Speaker: "customer", Start: time.Second, End: 2 * time.Second, Text: "my bill is wrong"}},
	Summary:    "customer disputes a bill", Results: map[string]string{"disposition": "resolved"},
}

func writeCRM(t testing.TB) string {
	t.Helper()
	p := filepath.Join(sharedDir(t), "customers.csv")
	csv := "customer_ref,name,tier,billing.last_invoice,billing.balance,travel.card_status\n" +
		"C-1001,Ada Lovelace,gold,2026-11-01,120.50,active\n" +
		"C-1002,Alan Turing,silver,2026-10-01,0.00,blocked\n"
	if err := os.WriteFile(p, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (th *testHost) crm(t testing.TB, approved []sdk.Scope) {
	t.Helper()
	th.install(t, "crm-csv", Manifest{Name: "crm-csv", Kinds: []sdk.Kind{sdk.KindInfo},
		Scopes: []sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeIntents}})
	csv := writeCRM(t)
	th.set(t, "crm-csv", PluginSettings{Enabled: true, ApprovedScopes: approved,
		Config: map[string]string{"file": csv}, ReadPaths: []string{csv}})
}

func TestCRMCSVCards(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	th.install(t, "crm-csv", Manifest{Name: "crm-csv", Kinds: []sdk.Kind{sdk.KindInfo},
		Scopes: []sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeIntents}})
	ctx := context.Background()

	// Installed plugins are disabled by default.
	if _, err := th.Cards(ctx, "crm-csv", fullEngagement); !errors.Is(err, ErrDisabled) {
		t.Fatalf("Cards before enabling: error = %v, want ErrDisabled", err)
	}
	if st := th.status(t, "crm-csv"); st.State != stateStopped || st.PID != 0 {
		t.Fatalf("disabled plugin status = %+v, want stopped with no process", st)
	}

	csv := writeCRM(t)
	th.set(t, "crm-csv", PluginSettings{Enabled: true,
		ApprovedScopes: []sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeIntents},
		Config:         map[string]string{"file": csv}, ReadPaths: []string{csv}})
	cards, err := th.Cards(ctx, "crm-csv", fullEngagement)
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.Card{
		{Title: "Customer", Fields: []sdk.Field{{Key: "name", Label: "Name", Value: "Ada Lovelace"}, {Key: "tier", Label: "Tier", Value: "gold"}}},
		{Title: "Billing", Fields: []sdk.Field{{Key: "billing.last_invoice", Label: "Last invoice", Value: "2026-11-01"}, {Key: "billing.balance", Label: "Balance", Value: "120.50"}}},
	}
	if diff := cmp.Diff(want, cards); diff != "" {
		t.Errorf("Cards (-want +got):\n%s", diff)
	}

	_, err = th.Cards(ctx, "crm-csv", sdk.Engagement{EngagementID: "eng-2", CustomerRef: "C-9999"})
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Cards(unknown customer) error = %v, want sdk.ErrNotFound", err)
	}

	wantAudit := []handover{
		{Plugin: "crm-csv", Kind: "info", Engagement: "eng-1", Fields: []string{"customer_ref", "intents"}},
		{Plugin: "crm-csv", Kind: "info", Engagement: "eng-2", Fields: []string{"customer_ref"}},
	}
	if diff := cmp.Diff(wantAudit, th.audit.all()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(th.m.handovers.WithLabelValues("crm-csv", "info")); got != 2 {
		t.Errorf("handovers_total = %v, want 2", got)
	}

	// The plugin's own log line (sdk.Logger) reaches the daemon's slog
	// through the adapter, tagged with the plugin; it carries counts only.
	waitFor(t, "the plugin's log line", func() bool { return strings.Contains(th.logs.String(), "customer file loaded") })
	for _, line := range strings.Split(th.logs.String(), "\n") {
		if strings.Contains(line, "customer file loaded") {
			if !strings.Contains(line, `"plugin":"crm-csv"`) || !strings.Contains(line, `"customers":2`) {
				t.Errorf("plugin log line lacks the plugin name or its fields: %s", line)
			}
		}
	}
	if strings.Contains(th.logs.String(), "Ada Lovelace") || strings.Contains(th.logs.String(), "my bill is wrong") {
		t.Error("customer content reached the log")
	}
}

func TestChecksumMismatchRefused(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	f := th.faulty(t, "probe", []sdk.Kind{sdk.KindInfo}, nil, nil)
	ctx := context.Background()
	if _, err := th.Cards(ctx, "probe", fullEngagement); err != nil {
		t.Fatalf("first call: %v", err)
	}
	// Tamper with the installed binary while the plugin is stopped: the
	// next start must refuse it.
	ps, _ := th.settings.PluginSettings(ctx, "probe")
	disabled := ps
	disabled.Enabled = false
	th.set(t, "probe", disabled)
	waitFor(t, "the plugin to stop", func() bool { return th.status(t, "probe").State == stateStopped })
	bin := filepath.Join(th.cfg.Dir, "probe", "probe")
	waitFor(t, "the old process to exit and free its binary", func() bool {
		fh, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return false // ETXTBSY until the process is gone
		}
		defer fh.Close()
		_, err = fh.Write([]byte("tampered"))
		return err == nil
	})
	th.set(t, "probe", ps)
	before := len(f.calls(t))
	_, err := th.Cards(ctx, "probe", fullEngagement)
	if !errors.Is(err, ErrChecksum) || !errors.Is(err, ErrRefused) {
		t.Fatalf("Cards after tampering: error = %v, want ErrChecksum and ErrRefused", err)
	}
	if !strings.Contains(err.Error(), "reinstall") || !strings.Contains(err.Error(), "probe") {
		t.Errorf("error %q should name the plugin and say to reinstall", err)
	}
	if st := th.status(t, "probe"); st.State != stateRefused {
		t.Errorf("status = %+v, want refused", st)
	}
	// Refused plugins are not restarted in a loop, and calls stay refused.
	th.waitTicks(t, 5)
	if _, err := th.Cards(ctx, "probe", fullEngagement); !errors.Is(err, ErrChecksum) {
		t.Errorf("second call: error = %v, want ErrChecksum", err)
	}
	if got := len(f.calls(t)); got != before {
		t.Errorf("the tampered binary received %d calls", got-before)
	}

	// A vendor manifest whose checksum does not match is refused at install.
	src := t.TempDir()
	if err := copyFile(filepath.Join(binDir, "faulty"), filepath.Join(src, "other"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := Manifest{Name: "other", Version: "1.0.0", Executable: "other", Kinds: []sdk.Kind{sdk.KindInfo}, SHA256: strings.Repeat("ab", 32)}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(src, ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := th.Install(src); !errors.Is(err, ErrChecksum) {
		t.Errorf("Install with a wrong vendor checksum: error = %v, want ErrChecksum", err)
	}
}

func TestIncompatibleAPIVersionRefused(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	th.install(t, "faulty-v2", Manifest{Name: "future", Executable: "future", Kinds: []sdk.Kind{sdk.KindInfo}})
	th.set(t, "future", PluginSettings{Enabled: true})
	_, err := th.Cards(context.Background(), "future", fullEngagement)
	if !errors.Is(err, ErrIncompatible) {
		t.Fatalf("Cards on an API 2 plugin: error = %v, want ErrIncompatible", err)
	}
	if !strings.Contains(err.Error(), "plugin speaks API 2.0.0") || !strings.Contains(err.Error(), "host speaks API "+sdk.APIVersion()) {
		t.Errorf("error %q should give both API versions", err)
	}
	if len(th.audit.all()) != 0 {
		t.Errorf("audit has %v for a plugin that never received anything", th.audit.all())
	}
}

func TestManifestKindsMustBeServed(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	th.install(t, "kb-dir", Manifest{Name: "kb-dir", Kinds: []sdk.Kind{sdk.KindKnowledge, sdk.KindSink}})
	docs := sharedDir(t)
	th.set(t, "kb-dir", PluginSettings{Enabled: true, Config: map[string]string{"dir": docs}, ReadPaths: []string{docs}})
	_, err := th.Changes(context.Background(), "kb-dir", "", 10)
	if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), `kind "sink"`) {
		t.Fatalf("Changes on a plugin whose manifest claims an unserved kind: error = %v", err)
	}
}

// decode reads the engagement the plugin recorded for a call.
func decodeEngagement(t *testing.T, r recorded) sdk.Engagement {
	t.Helper()
	switch r.Method {
	case "Cards":
		var e sdk.Engagement
		if err := json.Unmarshal(r.Got, &e); err != nil {
			t.Fatal(err)
		}
		return e
	case "Invoke":
		var req sdk.InvokeRequest
		if err := json.Unmarshal(r.Got, &req); err != nil {
			t.Fatal(err)
		}
		return req.Engagement
	case "Infer":
		var req sdk.InferRequest
		if err := json.Unmarshal(r.Got, &req); err != nil {
			t.Fatal(err)
		}
		return req.Engagement
	case "Deliver":
		var ev sdk.Event
		if err := json.Unmarshal(r.Got, &ev); err != nil {
			t.Fatal(err)
		}
		return ev.Engagement
	}
	t.Fatalf("unexpected method %q", r.Method)
	return sdk.Engagement{}
}

func TestScopesMinimiseWhatPluginsReceive(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	all := []sdk.Kind{sdk.KindInfo, sdk.KindSkill, sdk.KindModel, sdk.KindSink}
	// probe asks for four scopes, the administrator approved two of them
	// plus one it never asked for.
	f := th.faulty(t, "probe", all,
		[]sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeIntents, sdk.ScopeTranscript, sdk.ScopeSummary},
		[]sdk.Scope{sdk.ScopeIntents, sdk.ScopeSummary, sdk.ScopeResults})
	// bare asks for nothing and receives only the engagement's ID and channel.
	g := th.faulty(t, "bare", all, nil, sdk.Scopes)
	ctx := context.Background()

	for _, name := range []string{"probe", "bare"} {
		if _, err := th.Cards(ctx, name, fullEngagement); err != nil {
			t.Fatal(err)
		}
		if _, err := th.Invoke(ctx, name, sdk.InvokeRequest{Skill: "echo", InputJSON: `{"pin":"1234"}`, Engagement: fullEngagement}); err != nil {
			t.Fatal(err)
		}
		if _, err := th.Infer(ctx, name, sdk.InferRequest{Capability: "summarise", Engagement: fullEngagement}); err != nil {
			t.Fatal(err)
		}
		if err := th.Deliver(ctx, name, sdk.Event{ID: "ev-1", Type: "engagement.ended", Time: time.Now(), Engagement: fullEngagement}); err != nil {
			t.Fatal(err)
		}
	}

	wantProbe := sdk.Engagement{EngagementID: "eng-1", Channel: "voice", Intents: []string{"billing"}, Summary: "customer disputes a bill"}
	wantBare := sdk.Engagement{EngagementID: "eng-1", Channel: "voice"}
	for _, tc := range []struct {
		name  string
		files faultyFiles
		want  sdk.Engagement
	}{{"probe", f, wantProbe}, {"bare", g, wantBare}} {
		calls := tc.files.calls(t)
		if len(calls) != 4 {
			t.Fatalf("%s recorded %d calls, want 4", tc.name, len(calls))
		}
		for _, c := range calls {
			if diff := cmp.Diff(tc.want, decodeEngagement(t, c)); diff != "" {
				t.Errorf("%s %s received (-want +got):\n%s", tc.name, c.Method, diff)
			}
		}
	}

	wantAudit := []handover{
		{"probe", "info", "eng-1", []string{"intents", "summary"}},
		{"probe", "skill", "eng-1", []string{"intents", "summary", "skill_input"}},
		{"probe", "model", "eng-1", []string{"intents", "summary"}},
		{"probe", "sink", "eng-1", []string{"intents", "summary"}},
		// bare received no customer content except the skill's input.
		{"bare", "skill", "eng-1", []string{"skill_input"}},
	}
	if diff := cmp.Diff(wantAudit, th.audit.all()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}

	// If the audit log cannot record the hand-over, nothing is handed over.
	th.audit.mu.Lock()
	th.audit.fail = errors.New("disk full")
	th.audit.mu.Unlock()
	if _, err := th.Cards(ctx, "probe", fullEngagement); !errors.Is(err, ErrAudit) {
		t.Errorf("Cards with a failing audit log: error = %v, want ErrAudit", err)
	}
	if got := len(f.calls(t)); got != 4 {
		t.Errorf("probe received a call the audit log did not record (%d calls)", got)
	}
}

func TestModelPluginAndLocalModelsOnly(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	kinds := []sdk.Kind{sdk.KindModel}
	scopes := []sdk.Scope{sdk.ScopeTranscript}
	cloud := th.faulty(t, "cloud-llm", kinds, scopes, scopes)
	th.install(t, "faulty", Manifest{Name: "onprem-llm", Executable: "onprem-llm", Kinds: kinds, Scopes: scopes, RunsLocally: true})
	onprem := func(confirmed bool) {
		th.set(t, "onprem-llm", PluginSettings{Enabled: true, ApprovedScopes: scopes, LocalConfirmed: confirmed})
	}
	ctx := context.Background()
	req := sdk.InferRequest{Capability: "summarise", Engagement: fullEngagement}

	tests := []struct {
		name      string
		localOnly bool
		plugin    string
		confirmed bool
		wantErr   error
	}{
		{name: "local only refuses a third-party model", localOnly: true, plugin: "cloud-llm", wantErr: ErrLocalModelsOnly},
		{name: "runs_locally without confirmation is third-party", localOnly: true, plugin: "onprem-llm", wantErr: ErrLocalModelsOnly},
		{name: "runs_locally confirmed by an admin is allowed", localOnly: true, plugin: "onprem-llm", confirmed: true},
		{name: "third-party allowed when local only is off", localOnly: false, plugin: "cloud-llm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th.settings.SetLocalModelsOnly(tt.localOnly)
			onprem(tt.confirmed)
			before := len(th.audit.all())
			res, err := th.Infer(ctx, tt.plugin, req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Infer(%s) error = %v, want %v", tt.plugin, err, tt.wantErr)
				}
				if _, err := th.Capabilities(ctx, tt.plugin); !errors.Is(err, tt.wantErr) {
					t.Fatalf("Capabilities(%s) error = %v, want %v", tt.plugin, err, tt.wantErr)
				}
				if got := len(th.audit.all()); got != before {
					t.Errorf("a refused model call was audited as a hand-over")
				}
				return
			}
			if err != nil || res.Text != "1 segments" {
				t.Fatalf("Infer(%s) = %+v, %v, want the transcript's 1 segment", tt.plugin, res, err)
			}
		})
	}
	// The refused third-party model never started, let alone received data,
	// while local-models-only was on.
	var inferCalls int
	for _, c := range cloud.calls(t) {
		if c.Method == "Infer" {
			inferCalls++
		}
	}
	if inferCalls != 1 {
		t.Errorf("cloud-llm received %d Infer calls, want 1 (only with local-models-only off)", inferCalls)
	}
}

// liveEngagement stands for the daemon's live work while a plugin fails:
// it calls the healthy crm-csv plugin in a loop and counts failures.
type liveEngagement struct {
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	ok     int
	failed []error
}

func startLive(th *testHost) *liveEngagement {
	l := &liveEngagement{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			_, err := th.Cards(context.Background(), "crm-csv", fullEngagement)
			l.mu.Lock()
			if err != nil {
				l.failed = append(l.failed, err)
			} else {
				l.ok++
			}
			l.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return l
}

func (l *liveEngagement) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failed) > 0 || l.ok == 0 {
		t.Errorf("live calls to the healthy plugin: %d ok, failures %v", l.ok, l.failed)
	}
}

func readPID(t *testing.T, f faultyFiles) int {
	t.Helper()
	b, err := os.ReadFile(f.pid)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func isTransport(err error) bool {
	var re *sdk.RemoteError
	return errors.As(err, &re) && re.Transport()
}

// expectRestart waits for the supervisor to restart the probe plugin and
// checks that a new process answers.
func expectRestart(t *testing.T, th *testHost, f faultyFiles, oldPID int) {
	t.Helper()
	f.setMode(t, "ok")
	waitFor(t, "the plugin to restart", func() bool {
		st := th.status(t, "probe")
		return st.State == stateRunning && st.Restarts >= 1
	})
	if _, err := th.Cards(context.Background(), "probe", fullEngagement); err != nil {
		t.Fatalf("Cards after restart: %v", err)
	}
	if readPID(t, f) == oldPID {
		t.Errorf("the plugin still runs as pid %d: it was not restarted", oldPID)
	}
}

func TestPanickingPluginRestarts(t *testing.T) {
	cfg := testConfig(t)
	cfg.RestartBackoffMin = time.Second
	cfg.RestartBackoffMax = 2 * time.Second
	th := newTestHost(t, cfg)
	th.crm(t, []sdk.Scope{sdk.ScopeCustomerRef})
	f := th.faulty(t, "probe", []sdk.Kind{sdk.KindInfo}, nil, nil)
	ctx := context.Background()
	if _, err := th.Cards(ctx, "probe", fullEngagement); err != nil {
		t.Fatal(err)
	}
	pid1 := readPID(t, f)
	live := startLive(th)

	f.setMode(t, "panic")
	_, err := th.Cards(ctx, "probe", fullEngagement)
	if !isTransport(err) {
		t.Fatalf("Cards on a panicking plugin: error = %v, want a transport error", err)
	}
	// While it waits out its backoff (1 s here), calls fail at once.
	if _, err := th.Cards(ctx, "probe", fullEngagement); !errors.Is(err, ErrRestarting) {
		t.Errorf("Cards during the restart backoff: error = %v, want ErrRestarting", err)
	}
	expectRestart(t, th, f, pid1)
	live.finish(t)
	if got := testutil.ToFloat64(th.m.restarts.WithLabelValues("probe")); got < 1 {
		t.Errorf("restarts_total = %v, want >= 1", got)
	}
	if !strings.Contains(th.logs.String(), "asked to panic") {
		t.Error("the plugin's panic message did not reach the daemon's log")
	}
}

func TestHangingPluginTimesOutTripsBreakerAndRestarts(t *testing.T) {
	cfg := testConfig(t)
	cfg.InfoTimeout = 200 * time.Millisecond
	cfg.MaxInFlight = 2
	cfg.CallTimeout = 3 * time.Second
	th := newTestHost(t, cfg)
	th.crm(t, []sdk.Scope{sdk.ScopeCustomerRef})
	f := th.faulty(t, "probe", []sdk.Kind{sdk.KindInfo, sdk.KindSink}, nil, nil)
	ctx := context.Background()
	// Starting a process takes longer than the 200 ms info deadline on a
	// busy machine; the supervisor starts enabled plugins ahead of calls.
	waitFor(t, "the supervisor to start the plugins", func() bool {
		return th.status(t, "probe").State == stateRunning && th.status(t, "crm-csv").State == stateRunning
	})
	if _, err := th.Cards(ctx, "probe", fullEngagement); err != nil {
		t.Fatal(err)
	}
	pid1 := readPID(t, f)
	live := startLive(th)
	f.setMode(t, "hang")

	// The in-flight bound: with two sink calls hanging (CallTimeout, 3 s),
	// a third call is refused at once.
	var wg sync.WaitGroup
	sinkErrs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			sinkErrs[i] = th.Deliver(ctx, "probe", sdk.Event{ID: fmt.Sprint(i), Engagement: fullEngagement})
		})
	}
	waitFor(t, "two hanging calls", func() bool { return len(f.calls(t)) >= 3 })
	if _, err := th.Cards(ctx, "probe", fullEngagement); !errors.Is(err, ErrBusy) {
		t.Errorf("third call with two in flight: error = %v, want ErrBusy", err)
	}
	wg.Wait()

	// Info calls hit their 200 ms deadline; after BreakerFailures of them
	// (the two sink timeouts count too) the breaker opens and calls fail
	// at once, and the hung process is replaced.
	var sawBreaker bool
	for range cfg.BreakerFailures + 1 {
		_, err := th.Cards(ctx, "probe", fullEngagement)
		switch {
		case errors.Is(err, ErrCircuitOpen):
			sawBreaker = true
		case errors.Is(err, context.DeadlineExceeded):
		default:
			t.Fatalf("Cards on a hanging plugin: error = %v, want deadline exceeded or ErrCircuitOpen", err)
		}
	}
	for _, err := range sinkErrs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("hanging sink call: error = %v, want deadline exceeded", err)
		}
	}
	if !sawBreaker {
		t.Error("the circuit breaker never opened")
	}
	f.setMode(t, "ok")
	waitFor(t, "a new process after the breaker's cooldown", func() bool {
		_, err := th.Cards(ctx, "probe", fullEngagement)
		return err == nil
	})
	if pid2 := readPID(t, f); pid2 == pid1 {
		t.Errorf("the hung process (pid %d) was not replaced", pid1)
	}
	live.finish(t)
}

func TestPluginKilledMidCall(t *testing.T) {
	cfg := testConfig(t)
	cfg.InfoTimeout = time.Minute // the call must fail long before this
	th := newTestHost(t, cfg)
	th.crm(t, []sdk.Scope{sdk.ScopeCustomerRef})
	f := th.faulty(t, "probe", []sdk.Kind{sdk.KindInfo}, nil, nil)
	ctx := context.Background()
	if _, err := th.Cards(ctx, "probe", fullEngagement); err != nil {
		t.Fatal(err)
	}
	pid1 := readPID(t, f)
	live := startLive(th)
	f.setMode(t, "hang")

	errc := make(chan error, 1)
	go func() {
		_, err := th.Cards(ctx, "probe", fullEngagement)
		errc <- err
	}()
	waitFor(t, "the call to reach the plugin", func() bool { return len(f.calls(t)) >= 2 })
	if err := syscall.Kill(pid1, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	if !isTransport(err) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call to a killed plugin: error = %v, want a transport error before the deadline", err)
	}
	expectRestart(t, th, f, pid1)
	live.finish(t)
}

func TestDisableStopsAndRestartBackoffBounds(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	th.faulty(t, "probe", []sdk.Kind{sdk.KindInfo}, nil, nil)
	waitFor(t, "the supervisor to start the enabled plugin", func() bool { return th.status(t, "probe").State == stateRunning })
	th.set(t, "probe", PluginSettings{Enabled: false})
	waitFor(t, "the supervisor to stop the disabled plugin", func() bool { return th.status(t, "probe").State == stateStopped })
	if _, err := th.Cards(context.Background(), "probe", fullEngagement); !errors.Is(err, ErrDisabled) {
		t.Errorf("Cards on a disabled plugin: error = %v, want ErrDisabled", err)
	}

	h := th.Host
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 50 * time.Millisecond}, {2, 100 * time.Millisecond}, {3, 200 * time.Millisecond}, {10, time.Second}, {100, time.Second}} {
		if got := h.backoff(tc.n); got != tc.want {
			t.Errorf("backoff(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestKBDirChanges(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	dir := sharedDir(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(name, body string, mod time.Time) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	write("cards/reset-pin.md", "# Reset a PIN\n\nSteps...", base)
	write("billing.md", "Dispute a bill.", base.Add(time.Hour))
	write("notes.txt", "not an article", base)
	write("travel/notice.md", "intro\n# Travel notice\nbody", base.Add(2*time.Hour))
	th.install(t, "kb-dir", Manifest{Name: "kb-dir", Kinds: []sdk.Kind{sdk.KindKnowledge}})
	th.set(t, "kb-dir", PluginSettings{Enabled: true, Config: map[string]string{"dir": dir, "base_url": "https://kb.invalid/"}, ReadPaths: []string{dir}})
	ctx := context.Background()

	page1, err := th.Changes(ctx, "kb-dir", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	want1 := []sdk.Article{
		{ID: "cards/reset-pin.md", Title: "Reset a PIN", Body: "# Reset a PIN\n\nSteps...", URL: "https://kb.invalid/cards/reset-pin.md", Updated: base},
		{ID: "billing.md", Title: "billing", Body: "Dispute a bill.", URL: "https://kb.invalid/billing.md", Updated: base.Add(time.Hour)},
	}
	if diff := cmp.Diff(want1, page1.Articles); diff != "" || !page1.More {
		t.Fatalf("page 1 (more=%v) (-want +got):\n%s", page1.More, diff)
	}
	page2, err := th.Changes(ctx, "kb-dir", page1.NextCursor, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page2.Articles) != 1 || page2.Articles[0].Title != "Travel notice" || page2.More {
		t.Fatalf("page 2 = %+v", page2)
	}
	// Nothing new, then an edit shows up after the cursor.
	page3, err := th.Changes(ctx, "kb-dir", page2.NextCursor, 2)
	if err != nil || len(page3.Articles) != 0 || page3.NextCursor != page2.NextCursor {
		t.Fatalf("page 3 = %+v, %v, want no changes and the same cursor", page3, err)
	}
	write("billing.md", "Dispute a bill (updated).", base.Add(3*time.Hour))
	page4, err := th.Changes(ctx, "kb-dir", page2.NextCursor, 2)
	if err != nil || len(page4.Articles) != 1 || page4.Articles[0].ID != "billing.md" {
		t.Fatalf("page 4 = %+v, %v, want the edited billing.md", page4, err)
	}
	if _, err := th.Changes(ctx, "kb-dir", "garbage", 2); !errors.Is(err, sdk.ErrInvalidInput) {
		t.Errorf("Changes(bad cursor) error = %v, want ErrInvalidInput", err)
	}
	if len(th.audit.all()) != 0 {
		t.Errorf("knowledge sync handed over customer content: %v", th.audit.all())
	}
}

// verifyStandardWebhook checks a request per the Standard Webhooks spec,
// written here independently of the plugin.
func verifyStandardWebhook(key []byte, id, ts string, body []byte, header string) bool {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(header) {
		if v, ok := strings.CutPrefix(sig, "v1,"); ok && hmac.Equal([]byte(v), []byte(want)) {
			return true
		}
	}
	return false
}

func TestWebhookSink(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	type got struct {
		header http.Header
		body   []byte
	}
	var (
		mu       sync.Mutex
		received []got
		status   = http.StatusNoContent
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, got{r.Header.Clone(), b})
		code := status
		mu.Unlock()
		w.WriteHeader(code)
	}))
	defer srv.Close()

	th := newTestHost(t, testConfig(t))
	th.install(t, "webhook", Manifest{Name: "webhook", Kinds: []sdk.Kind{sdk.KindSink},
		Scopes: []sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeSummary, sdk.ScopeResults}})
	th.set(t, "webhook", PluginSettings{Enabled: true,
		ApprovedScopes: []sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeResults},
		Config:         map[string]string{"url": srv.URL + "/hook", "secret": "whsec_" + base64.StdEncoding.EncodeToString(key)}})
	ctx := context.Background()
	ev := sdk.Event{ID: "msg_1", Type: "engagement.ended", Time: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), Engagement: fullEngagement}
	if err := th.Deliver(ctx, "webhook", ev); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(received) != 1 {
		t.Fatalf("endpoint received %d requests, want 1", len(received))
	}
	r := received[0]
	mu.Unlock()
	if r.header.Get("webhook-id") != "msg_1" {
		t.Errorf("webhook-id = %q", r.header.Get("webhook-id"))
	}
	ts := r.header.Get("webhook-timestamp")
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Hour {
		t.Errorf("webhook-timestamp = %q, want Unix seconds near now", ts)
	}
	if !verifyStandardWebhook(key, "msg_1", ts, r.body, r.header.Get("webhook-signature")) {
		t.Errorf("webhook-signature %q does not verify", r.header.Get("webhook-signature"))
	}
	if verifyStandardWebhook([]byte("another key 0123456789"), "msg_1", ts, r.body, r.header.Get("webhook-signature")) {
		t.Error("signature verifies with the wrong key")
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	wantBody := map[string]any{"type": "engagement.ended", "timestamp": "2026-11-29T12:00:00Z", "data": map[string]any{
		"engagement_id": "eng-1", "channel": "voice", "customer_ref": "C-1001", "results": map[string]any{"disposition": "resolved"},
	}}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	if err := th.Deliver(ctx, "webhook", ev); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("Deliver to a failing endpoint: error = %v, want the 500", err)
	}
}

func TestUnknownPluginAndKind(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	th.crm(t, []sdk.Scope{sdk.ScopeCustomerRef})
	ctx := context.Background()
	if _, err := th.Cards(ctx, "nope", fullEngagement); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("Cards(nope) error = %v, want ErrUnknownPlugin", err)
	}
	if err := th.Deliver(ctx, "crm-csv", sdk.Event{ID: "x"}); !errors.Is(err, ErrKindNotServed) {
		t.Errorf("Deliver to an info plugin: error = %v, want ErrKindNotServed", err)
	}
	if got := th.Enabled(ctx, sdk.KindInfo); !cmp.Equal(got, []string{"crm-csv"}) {
		t.Errorf("Enabled(info) = %v", got)
	}
	all := th.CardsAll(ctx, fullEngagement)
	if len(all) != 1 || all[0].Err != nil || len(all[0].Cards) == 0 {
		t.Errorf("CardsAll = %+v", all)
	}
	if err := th.Uninstall("crm-csv"); err != nil {
		t.Fatal(err)
	}
	if _, err := th.Cards(ctx, "crm-csv", fullEngagement); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("Cards after uninstall: error = %v, want ErrUnknownPlugin", err)
	}
}

func TestKeysPlugin(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	th.faulty(t, "hsm", []sdk.Kind{sdk.KindKeys}, nil, nil)
	ctx := context.Background()
	dek := []byte("0123456789abcdef0123456789abcdef")
	ct, kid, err := th.Wrap(ctx, "hsm", "", dek)
	if err != nil || kid != "kek-1" || string(ct) == string(dek) {
		t.Fatalf("Wrap = %x, %q, %v", ct, kid, err)
	}
	pt, err := th.Unwrap(ctx, "hsm", kid, ct)
	if err != nil || string(pt) != string(dek) {
		t.Fatalf("Unwrap = %q, %v", pt, err)
	}
	if _, err := th.Unwrap(ctx, "hsm", "kek-9", ct); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Unwrap(unknown key) error = %v, want sdk.ErrNotFound", err)
	}
	if len(th.audit.all()) != 0 {
		t.Errorf("key calls were audited as content hand-overs: %v", th.audit.all())
	}
}

func TestReplaceNeedsExplicitReplaceAndApproval(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	f := th.faulty(t, "probe", []sdk.Kind{sdk.KindInfo}, nil, nil)
	ctx := context.Background()
	if _, err := th.Cards(ctx, "probe", fullEngagement); err != nil {
		t.Fatal(err)
	}
	pid1 := readPID(t, f)
	vendor := func(bin, version string, scopes ...sdk.Scope) string {
		src := t.TempDir()
		if err := copyFile(filepath.Join(binDir, bin), filepath.Join(src, "probe"), 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(Manifest{Name: "probe", Version: version, Executable: "probe", Kinds: []sdk.Kind{sdk.KindInfo}, Scopes: scopes})
		if err := os.WriteFile(filepath.Join(src, ManifestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return src
	}

	// A name clash is refused unless the administrator asks to replace.
	if _, err := th.Install(vendor("faulty", "1.1.0", sdk.ScopeCustomerRef)); !errors.Is(err, ErrExists) {
		t.Fatalf("Install over an installed plugin: error = %v, want ErrExists", err)
	}
	if st := th.status(t, "probe"); st.Manifest.Version != "1.0.0" || len(st.Manifest.Scopes) != 0 {
		t.Fatalf("a refused install changed the plugin: %+v", st.Manifest)
	}

	// Same binary, a manifest asking for customer_ref: the process is
	// replaced, and the new scope is not handed over until approved.
	if _, err := th.Replace(vendor("faulty", "1.1.0", sdk.ScopeCustomerRef)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old process to be replaced", func() bool {
		_, err := th.Cards(ctx, "probe", fullEngagement)
		return err == nil && readPID(t, f) != pid1
	})
	calls := f.calls(t)
	if got := decodeEngagement(t, calls[len(calls)-1]).CustomerRef; got != "" {
		t.Errorf("a newly requested scope was handed over before approval: customer_ref %q", got)
	}
	ps, _ := th.settings.PluginSettings(ctx, "probe")
	ps.ApprovedScopes = []sdk.Scope{sdk.ScopeCustomerRef}
	th.set(t, "probe", ps)
	if _, err := th.Cards(ctx, "probe", fullEngagement); err != nil {
		t.Fatal(err)
	}
	calls = f.calls(t)
	if got := decodeEngagement(t, calls[len(calls)-1]).CustomerRef; got != "C-1001" {
		t.Errorf("after approval the plugin got customer_ref %q, want C-1001", got)
	}

	// A new binary stops the plugin until its checksum is approved, even
	// though the plugin stays enabled with its scopes and configuration.
	pid2 := readPID(t, f)
	m, err := th.Replace(vendor("faulty-b", "2.0.0", sdk.ScopeCustomerRef))
	if err != nil {
		t.Fatal(err)
	}
	if m.SHA256 == ps.ApprovedSHA256 {
		t.Fatal("faulty-b has the same checksum as faulty: the test proves nothing")
	}
	waitFor(t, "the unapproved plugin to stop", func() bool {
		st := th.status(t, "probe")
		return st.State == stateStopped && !processAlive(pid2)
	})
	before := len(f.calls(t))
	if _, err := th.Cards(ctx, "probe", fullEngagement); !errors.Is(err, ErrNotApproved) {
		t.Fatalf("Cards on an unapproved binary: error = %v, want ErrNotApproved", err)
	}
	if got := th.Enabled(ctx, sdk.KindInfo); len(got) != 0 {
		t.Errorf("Enabled lists the unapproved plugin: %v", got)
	}
	if got := testutil.ToFloat64(th.m.rejected.WithLabelValues("probe", "not_approved")); got != 1 {
		t.Errorf("calls_rejected_total{not_approved} = %v, want 1", got)
	}
	ps.ApprovedSHA256 = m.SHA256
	th.set(t, "probe", ps)
	if _, err := th.Cards(ctx, "probe", fullEngagement); err != nil {
		t.Fatalf("Cards after approving the new binary: %v", err)
	}
	if got := len(f.calls(t)); got != before+1 {
		t.Errorf("the new binary received %d calls, want 1 (after approval only)", got-before)
	}
	if st := th.status(t, "probe"); st.Manifest.Version != "2.0.0" {
		t.Errorf("status version = %q, want 2.0.0", st.Manifest.Version)
	}
}

func TestGranted(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	th.faulty(t, "dwh", []sdk.Kind{sdk.KindSink}, []sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeTranscript},
		[]sdk.Scope{sdk.ScopeTranscript, sdk.ScopeSummary})
	got, err := th.Granted(context.Background(), "dwh")
	if err != nil || !slices.Equal(got, []sdk.Scope{sdk.ScopeTranscript}) {
		t.Errorf("Granted = %v, %v; want [transcript]: requested and approved", got, err)
	}
	if _, err := th.Granted(context.Background(), "nope"); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("Granted(nope) error = %v, want ErrUnknownPlugin", err)
	}
}
