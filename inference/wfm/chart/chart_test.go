package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/wfm"
)

func problem(t *testing.T) (*wfm.Problem, *wfm.Schedule) {
	t.Helper()
	loc := time.UTC
	per := wfm.NewPeriod(time.Date(2024, 6, 3, 0, 0, 0, 0, loc), loc, 7, 30*time.Minute)
	p := &wfm.Problem{Period: per, Rules: wfm.DefaultRules()}
	for _, id := range []string{"ana", "ben", "cy"} {
		p.Roster.Agents = append(p.Roster.Agents, wfm.Agent{ID: id, Name: "Name of " + id, Skills: []string{"billing"}, HoursPerWeek: 37.5, Shifts: []string{"day8"}})
	}
	d := make([]int, per.Intervals())
	for i := range d {
		if t := per.IntervalStart(i); t.Weekday() != time.Sunday && t.Hour() >= 8 && t.Hour() < 18 {
			d[i] = 2
		}
	}
	p.Demand = []wfm.Demand{{Queue: "billing", Agents: d}}
	cfg := wfm.DefaultConfig()
	cfg.MaxRounds = 200
	s, err := wfm.Solve(t.Context(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

// wellFormed parses the SVG and returns how many elements of each class
// it holds.
func wellFormed(t *testing.T, b []byte) map[string]int {
	t.Helper()
	classes := map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "class" {
					classes[a.Value]++
				}
			}
		}
	}
	return classes
}

func TestCoverage(t *testing.T) {
	p, s := problem(t)
	cov, err := wfm.Evaluate(p, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, compact := range []bool{false, true} {
		var b bytes.Buffer
		if err := Coverage(&b, cov, p.Period.Step, Options{Title: "Billing <week 23>", Compact: compact}); err != nil {
			t.Fatal(err)
		}
		c := wellFormed(t, b.Bytes())
		if c["staffed"] != 1 || c["required"] != 1 || c["under"] != 1 {
			t.Errorf("compact %v: classes %v", compact, c)
		}
		if !strings.Contains(b.String(), "Billing &lt;week 23&gt;") {
			t.Error("title not escaped")
		}
		// Three agents cannot cover two all week: the red area has steps.
		if s.Stats.Under > 0 && !strings.Contains(b.String(), `class="under" d="M`) {
			t.Error("under-staffing not drawn")
		}
	}
	if err := Coverage(io.Discard, cov, p.Period.Step, Options{Queue: "sales"}); err == nil {
		t.Error("unknown queue accepted")
	}
	if err := Coverage(io.Discard, &wfm.Coverage{}, p.Period.Step, Options{}); !errors.Is(err, ErrNothingToDraw) {
		t.Errorf("empty coverage: %v", err)
	}
}

func TestWeek(t *testing.T) {
	p, s := problem(t)
	var b bytes.Buffer
	if err := Week(&b, s, 0, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	c := wellFormed(t, b.Bytes())
	// Each shift is drawn as its pieces between breaks.
	want := 0
	for _, sh := range s.Shifts {
		want += len(sh.Breaks) + 1
	}
	if c["shift"] != want {
		t.Errorf("%d bar pieces, want %d", c["shift"], want)
	}
	for _, a := range p.Roster.Agents {
		if strings.Contains(b.String(), a.Name) {
			t.Errorf("agent name %q in the chart", a.Name)
		}
		if !strings.Contains(b.String(), ">"+a.ID+"<") {
			t.Errorf("agent %s has no row", a.ID)
		}
	}
	if err := Week(io.Discard, s, 1, nil, Options{}); err == nil {
		t.Error("week 2 of a one-week period accepted")
	}
}
