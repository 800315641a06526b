package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/plugins/sdk/sdktest"
)

// echo implements every kind and remembers what it received, so the test
// can check both directions of every conversion.
type echo struct {
	gotEngagement sdk.Engagement
	gotEvent      sdk.Event
	config        map[string]string
}

func (e *echo) Cards(_ context.Context, g sdk.Engagement) ([]sdk.Card, error) {
	e.gotEngagement = g
	if g.CustomerRef == "missing" {
		return nil, fmt.Errorf("customer %s: %w", g.CustomerRef, sdk.ErrNotFound)
	}
	return []sdk.Card{{Title: "Customer", Link: "https://crm.invalid/c/1", Fields: []sdk.Field{
		{Key: "name", Label: "Name", Value: "Ada"}, {Key: "tier", Label: "Tier", Value: "gold"},
	}}}, nil
}

func (e *echo) Changes(_ context.Context, cursor string, limit int) (sdk.Changes, error) {
	return sdk.Changes{
		Articles: []sdk.Article{{ID: "a/" + cursor, Title: "T", Body: "B", URL: "u", Tags: []string{"x"},
			Updated: time.UnixMilli(1700000000123).UTC()}},
		DeletedIDs: []string{"gone"}, NextCursor: fmt.Sprint(limit), More: true,
	}, nil
}

func (e *echo) Skills(context.Context) ([]sdk.Skill, error) {
	return []sdk.Skill{{Name: "reset_pin", Description: "Reset a card PIN", InputSchema: `{"type":"object"}`}}, nil
}

func (e *echo) Invoke(_ context.Context, req sdk.InvokeRequest) (sdk.InvokeResult, error) {
	if req.Skill != "reset_pin" {
		return sdk.InvokeResult{}, fmt.Errorf("skill %q: %w", req.Skill, sdk.ErrInvalidInput)
	}
	e.gotEngagement = req.Engagement
	return sdk.InvokeResult{ResultJSON: req.InputJSON, Message: "done"}, nil
}

func (e *echo) Capabilities(context.Context) ([]string, error) { return []string{"summarise"}, nil }

func (e *echo) Infer(_ context.Context, req sdk.InferRequest) (sdk.InferResult, error) {
	e.gotEngagement = req.Engagement
	return sdk.InferResult{Text: req.Capability, Score: 0.25, Outputs: req.Params}, nil
}

func (e *echo) Wrap(_ context.Context, keyID string, pt []byte) ([]byte, string, error) {
	out := make([]byte, len(pt))
	for i, b := range pt {
		out[i] = b ^ 0x5a
	}
	return out, keyID + "#1", nil
}

func (e *echo) Unwrap(ctx context.Context, keyID string, ct []byte) ([]byte, error) {
	out, _, err := e.Wrap(ctx, keyID, ct)
	return out, err
}

func (e *echo) Deliver(ctx context.Context, ev sdk.Event) error {
	e.gotEvent = ev
	<-ctx.Done() // only returns when the caller gives up
	return ctx.Err()
}

func TestRoundTripAllKinds(t *testing.T) {
	impl := &echo{}
	r := sdktest.Start(t, &sdk.Plugin{
		Name: "echo", Version: "0.1.0",
		Configure: func(_ context.Context, c map[string]string) error { impl.config = c; return nil },
		Info:      impl, Knowledge: impl, Skills: impl, Model: impl, Keys: impl, Sink: impl,
	}, map[string]string{"path": "/x"})
	ctx := context.Background()

	if diff := cmp.Diff(map[string]string{"path": "/x"}, impl.config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	info, err := r.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := sdk.PluginInfo{Name: "echo", Version: "0.1.0", APIVersion: sdk.APIVersion(), Kinds: sdk.Kinds}
	if diff := cmp.Diff(wantInfo, info); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}

	eng := sdk.Engagement{
		EngagementID: "e1", Channel: "voice", CustomerRef: "C-42", Intents: []string{"billing"},
		Transcript: []sdk.Segment{{Speaker: "customer", Start: 1500 * time.Millisecond, End: 3 * time.Second, Text: "hello"}},
		Summary:    "s", Results: map[string]string{"disposition": "resolved"},
	}
	cards, err := r.Cards(ctx, eng)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(eng, impl.gotEngagement); diff != "" {
		t.Errorf("engagement received (-want +got):\n%s", diff)
	}
	if len(cards) != 1 || cards[0].Fields[1].Value != "gold" || cards[0].Link == "" {
		t.Errorf("Cards = %+v", cards)
	}
	if _, err := r.Cards(ctx, sdk.Engagement{CustomerRef: "missing"}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Cards(missing) error = %v, want ErrNotFound", err)
	}

	ch, err := r.Changes(ctx, "c0", 7)
	if err != nil {
		t.Fatal(err)
	}
	wantCh := sdk.Changes{Articles: []sdk.Article{{ID: "a/c0", Title: "T", Body: "B", URL: "u", Tags: []string{"x"},
		Updated: time.UnixMilli(1700000000123).UTC()}}, DeletedIDs: []string{"gone"}, NextCursor: "7", More: true}
	if diff := cmp.Diff(wantCh, ch); diff != "" {
		t.Errorf("Changes (-want +got):\n%s", diff)
	}

	sk, err := r.Skills(ctx)
	if err != nil || len(sk) != 1 || sk[0].Name != "reset_pin" {
		t.Errorf("Skills = %+v, %v", sk, err)
	}
	res, err := r.Invoke(ctx, sdk.InvokeRequest{Skill: "reset_pin", InputJSON: `{"card":"1"}`, Engagement: eng})
	if err != nil || res.ResultJSON != `{"card":"1"}` || res.Message != "done" {
		t.Errorf("Invoke = %+v, %v", res, err)
	}
	if _, err := r.Invoke(ctx, sdk.InvokeRequest{Skill: "nope"}); !errors.Is(err, sdk.ErrInvalidInput) {
		t.Errorf("Invoke(nope) error = %v, want ErrInvalidInput", err)
	}

	inf, err := r.Infer(ctx, sdk.InferRequest{Capability: "summarise", Params: map[string]string{"k": "v"}, Engagement: eng})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sdk.InferResult{Text: "summarise", Score: 0.25, Outputs: map[string]string{"k": "v"}}, inf); diff != "" {
		t.Errorf("Infer (-want +got):\n%s", diff)
	}

	ct, kid, err := r.Wrap(ctx, "kek", []byte("secret"))
	if err != nil || kid != "kek#1" {
		t.Fatalf("Wrap = %v, %q, %v", ct, kid, err)
	}
	pt, err := r.Unwrap(ctx, kid, ct)
	if err != nil || string(pt) != "secret" {
		t.Errorf("Unwrap = %q, %v", pt, err)
	}

	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	ev := sdk.Event{ID: "ev1", Type: "engagement.ended", Time: time.UnixMilli(1700000000000).UTC(), Engagement: eng}
	if err := r.Deliver(dctx, ev); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Deliver error = %v, want deadline exceeded", err)
	}
	if diff := cmp.Diff(ev, impl.gotEvent); diff != "" {
		t.Errorf("event received (-want +got):\n%s", diff)
	}
}

func TestUnservedKindIsUnsupported(t *testing.T) {
	r := sdktest.Start(t, &sdk.Plugin{Name: "only-info", Version: "1.0.0", Info: &echo{}}, nil)
	if _, err := r.Infer(context.Background(), sdk.InferRequest{Capability: "x"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("Infer on an info-only plugin: error = %v, want ErrUnsupported", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       *sdk.Plugin
		wantErr string
	}{
		{name: "nil", p: nil, wantErr: "nil plugin"},
		{name: "no name", p: &sdk.Plugin{Version: "1.0.0", Info: &echo{}}, wantErr: "name is empty"},
		{name: "bad version", p: &sdk.Plugin{Name: "x", Version: "one", Info: &echo{}}, wantErr: "version"},
		{name: "no kind", p: &sdk.Plugin{Name: "x", Version: "1.0.0"}, wantErr: "implements no kind"},
		{name: "ok", p: &sdk.Plugin{Name: "x", Version: "1.0.0", Sink: &echo{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tt.wantErr == "") != (err == nil) || (tt.wantErr != "" && !strings.Contains(got, tt.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// managedKeys is a KeyProvider that also manages keys (API 1.1).
type managedKeys struct {
	echo
	created, destroyed []string
}

func (m *managedKeys) CreateKey(_ context.Context, keyID string) error {
	if keyID == "" {
		return fmt.Errorf("empty key id: %w", sdk.ErrInvalidInput)
	}
	m.created = append(m.created, keyID)
	return nil
}

func (m *managedKeys) DestroyKey(_ context.Context, keyID string) error {
	m.destroyed = append(m.destroyed, keyID)
	return nil
}

func TestKeyManager(t *testing.T) {
	ctx := context.Background()
	impl := &managedKeys{}
	r := sdktest.Start(t, &sdk.Plugin{Name: "hsm", Version: "1.0.0", Keys: impl}, nil)
	if err := r.CreateKey(ctx, "kek-2"); err != nil {
		t.Fatal(err)
	}
	if err := r.DestroyKey(ctx, "kek-1"); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateKey(ctx, ""); !errors.Is(err, sdk.ErrInvalidInput) {
		t.Errorf("CreateKey(\"\") error = %v, want ErrInvalidInput", err)
	}
	if !cmp.Equal(impl.created, []string{"kek-2"}) || !cmp.Equal(impl.destroyed, []string{"kek-1"}) {
		t.Errorf("created %v, destroyed %v", impl.created, impl.destroyed)
	}

	// A key provider without KeyManager answers Unsupported, as a plugin
	// built against API 1.0 does.
	plain := sdktest.Start(t, &sdk.Plugin{Name: "kms", Version: "1.0.0", Keys: &echo{}}, nil)
	if err := plain.CreateKey(ctx, "kek-2"); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("CreateKey without KeyManager: error = %v, want ErrUnsupported", err)
	}
	if err := plain.DestroyKey(ctx, "kek-1"); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("DestroyKey without KeyManager: error = %v, want ErrUnsupported", err)
	}
}
