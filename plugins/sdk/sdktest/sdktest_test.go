package sdktest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/plugins/sdk/sdktest"
)

type sink struct{ got []string }

func (s *sink) Deliver(_ context.Context, ev sdk.Event) error {
	s.got = append(s.got, ev.ID)
	return nil
}

func TestServeRefusesInvalidPlugin(t *testing.T) {
	if _, err := sdktest.Serve(&sdk.Plugin{Name: "x", Version: "1.0.0"}); err == nil || !strings.Contains(err.Error(), "no kind") {
		t.Fatalf("Serve(no kinds) error = %v", err)
	}
}

func TestStartConfiguresAndCloses(t *testing.T) {
	s := &sink{}
	var cfg map[string]string
	p := &sdk.Plugin{Name: "s", Version: "1.0.0", Sink: s,
		Configure: func(_ context.Context, c map[string]string) error { cfg = c; return nil }}
	r := sdktest.Start(t, p, map[string]string{"url": "http://127.0.0.1:1"})
	if cfg["url"] != "http://127.0.0.1:1" {
		t.Errorf("Configure got %v", cfg)
	}
	if err := r.Deliver(context.Background(), sdk.Event{ID: "ev1"}); err != nil || len(s.got) != 1 {
		t.Fatalf("Deliver = %v, got %v", err, s.got)
	}

	c, err := sdktest.Serve(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	err = c.Remote.Deliver(context.Background(), sdk.Event{ID: "ev2"})
	var re *sdk.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("Deliver after Close: error = %v, want a RemoteError", err)
	}
}
