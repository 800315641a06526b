package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/forecast"
)

var out = flag.String("svg", "", "write the test chart to this file")

// series builds 5 weeks of a weekday 08:00-18:00 queue with a smooth profile.
func series() *forecast.Series {
	s := &forecast.Series{Queue: "cards", Step: 30 * time.Minute, Location: time.UTC}
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 35; d++ {
		day := start.AddDate(0, 0, d)
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			continue
		}
		for h := 16; h < 36; h++ {
			t := day.Add(time.Duration(h) * 30 * time.Minute)
			v := 50 + 30*math.Sin(float64(h-16)/20*math.Pi) + float64((d*7+h*3)%11)
			s.Points = append(s.Points, forecast.Point{Start: t, Offered: v, Handled: v, AHT: 200 + float64(h)})
		}
	}
	return s
}

type svgDoc struct {
	Width  string `xml:"width,attr"`
	Height string `xml:"height,attr"`
	Paths  []struct {
		Class string `xml:"class,attr"`
		D     string `xml:"d,attr"`
	} `xml:"path"`
	Texts []string `xml:"text"`
}

func TestSVG(t *testing.T) {
	s := series()
	m, err := forecast.Fit(s, forecast.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Forecast(7)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := SVG(&buf, s, f, Options{Title: "Queue <cards> & co", HistoryDays: 7}); err != nil {
		t.Fatal(err)
	}
	if *out != "" {
		os.WriteFile(*out, buf.Bytes(), 0o644)
	}
	var doc svgDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("SVG is not well-formed XML: %v", err)
	}
	count := map[string]int{}
	for _, p := range doc.Paths {
		count[p.Class]++
		// Every coordinate lies inside the canvas.
		for _, f := range strings.FieldsFunc(p.D, func(r rune) bool { return r == 'M' || r == 'L' || r == 'Z' || r == ' ' }) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || v < 0 || v > 1000 {
				t.Fatalf("path %s: coordinate %q outside the canvas", p.Class, f)
			}
		}
	}
	// 5 history weekdays in the last 7 days, 5 forecast weekdays: closed
	// nights and weekends break every curve and band.
	want := map[string]int{"history": 5, "forecast": 5, "band80": 5, "band95": 5}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%d %q paths, want %d (all: %v)", count[k], k, v, count)
		}
	}
	if !strings.Contains(buf.String(), "Queue &lt;cards&gt; &amp; co") {
		t.Errorf("title not escaped")
	}
	// Compact axis: same curves, every point within the plot, the forecast's
	// first point right of the last history point, one tick a day.
	buf.Reset()
	if err := SVG(&buf, s, f, Options{Compact: true, HistoryDays: 7}); err != nil {
		t.Fatal(err)
	}
	if *out != "" {
		os.WriteFile(strings.TrimSuffix(*out, ".svg")+"-compact.svg", buf.Bytes(), 0o644)
	}
	var cdoc svgDoc
	if err := xml.Unmarshal(buf.Bytes(), &cdoc); err != nil {
		t.Fatal(err)
	}
	var lastHist, firstFc float64 = -1, -1
	for _, p := range cdoc.Paths {
		xs := strings.FieldsFunc(p.D, func(r rune) bool { return r == 'M' || r == 'L' || r == ' ' })
		first, _ := strconv.ParseFloat(xs[0], 64)
		last, _ := strconv.ParseFloat(xs[len(xs)-2], 64)
		switch p.Class {
		case "history":
			lastHist = math.Max(lastHist, last)
		case "forecast":
			if firstFc < 0 {
				firstFc = first
			}
		}
	}
	if !(lastHist > 0 && firstFc > lastHist && firstFc-lastHist < 20) {
		t.Errorf("compact: last history x %.1f, first forecast x %.1f", lastHist, firstFc)
	}
	if n := strings.Count(buf.String(), "text-anchor=\"middle\""); n != 10 {
		t.Errorf("compact: %d day labels, want 10", n)
	}
	// AHT chart.
	buf.Reset()
	if err := SVG(&buf, s, f, Options{Target: forecast.TargetAHT}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Average handle time") {
		t.Errorf("AHT chart has no AHT title")
	}
}

func TestSVGErrors(t *testing.T) {
	if err := SVG(io.Discard, nil, nil, Options{}); !errors.Is(err, ErrNothingToDraw) {
		t.Errorf("empty: err %v, want ErrNothingToDraw", err)
	}
	if err := SVG(io.Discard, series(), nil, Options{Width: 10}); err == nil {
		t.Errorf("width 10: no error")
	}
	// Opening hours hide history outside them.
	var hb bytes.Buffer
	h, _ := forecast.ParseHours("mon-fri 09:00-17:00")
	if err := SVG(&hb, series(), nil, Options{Hours: h}); err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	SVG(&all, series(), nil, Options{})
	if hb.Len() >= all.Len() {
		t.Errorf("hours did not hide the intervals outside 09:00-17:00")
	}
	// History only.
	var buf bytes.Buffer
	if err := SVG(&buf, series(), nil, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `class="band80"`) {
		t.Errorf("history-only chart draws bands")
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct{ max, top, step float64 }{
		{0, 1, 0.25}, {7, 8, 2}, {98, 100, 20}, {1234, 1500, 500}, {0.3, 0.3, 0.1},
	}
	for _, tt := range tests {
		top, step := niceScale(tt.max)
		if math.Abs(top-tt.top) > 1e-9 || math.Abs(step-tt.step) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tt.max, top, step, tt.top, tt.step)
		}
	}
}
