package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func TestForecastsKeptPerQueue(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < ForecastsKept+5; i++ {
		f := StoredForecast{Queue: "cards", CreatedAt: t0.Add(time.Duration(i) * time.Hour), ModelVersion: "v1", Payload: json.RawMessage(`{"i":` + itoa(i) + `}`)}
		if err := s.PutForecast(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	s.PutForecast(context.Background(), StoredForecast{Queue: "cardsx", CreatedAt: t0, ModelVersion: "v2", Payload: json.RawMessage(`{}`)})
	if err := s.PutForecast(context.Background(), StoredForecast{Queue: "a\x00b", CreatedAt: t0}); err == nil {
		t.Error("a queue name with NUL was accepted")
	}
	s.Close()
	s, _ = Open(context.Background(), Options{Dir: dir})
	defer s.Close()
	got, err := s.Forecasts(context.Background(), "cards", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != ForecastsKept || string(got[0].Payload) != `{"i":`+itoa(ForecastsKept+4)+`}` || got[0].ModelVersion != "v1" {
		t.Fatalf("forecasts = %d, newest %s; want %d, newest i=%d", len(got), got[0].Payload, ForecastsKept, ForecastsKept+4)
	}
	meta, _ := s.Forecasts(context.Background(), "cards", false)
	if meta[0].Payload != nil {
		t.Error("metadata listing carries payloads")
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
