package wfm

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRosterCSVRoundTrip(t *testing.T) {
	want := synthRoster(5, 40, []string{"retail", "cards"}, AllDays)
	var b bytes.Buffer
	if err := WriteRosterCSV(&b, &want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRosterCSV(&b)
	if err != nil {
		t.Fatalf("ReadRosterCSV: %v\n%s", err, b.String())
	}
	norm := func(r Roster) Roster {
		for i := range r.Agents {
			for _, w := range []*Window{&r.Agents[i].Available, &r.Agents[i].Preferred} {
				w.Days = w.days()
			}
		}
		return r
	}
	if d := cmp.Diff(norm(want), norm(*got)); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestRosterCSVBadRows(t *testing.T) {
	const head = "id,name,skills,hours_per_week,shifts,available_days,available_from,available_to\n"
	for _, tc := range []struct {
		name string
		csv  string
		want []string // every error the import must report
	}{
		{"hours not a number", head + "ana,Ana,billing,lots,,,,\n", []string{"line 2, column hours_per_week"}},
		{"hours out of range", head + "ana,Ana,billing,90,,,,\n", []string{"line 2, column hours_per_week", "(0, 80]"}},
		{"bad days", head + "ana,Ana,billing,20,,mon-funday,,\n", []string{"line 2, column available_days"}},
		{"bad time", head + "ana,Ana,billing,20,,,7h,\n", []string{"line 2, column available_from"}},
		{"window backwards", head + "ana,Ana,billing,20,,,12:00,09:00\n", []string{"line 2, column available_to"}},
		{"no skills", head + "ana,Ana,,20,,,,\n", []string{"line 2, column skills"}},
		{"bad id", head + "-ana,Ana,billing,20,,,,\n", []string{"line 2, column id"}},
		{"duplicate id", head + "ana,Ana,billing,20,,,,\nben,Ben,billing,20,,,,\nana,Ana B,billing,30,,,,\n", []string{"line 4, column id", "already on line 2"}},
		{"every bad row listed", head + "ana,Ana,billing,x,,,,\nben,Ben,billing,20,,,,\ncy,Cy,billing,20,,sun-mon,,\ndee,Dee,billing,20,,,,49:00\n",
			[]string{"line 2, column hours_per_week", "line 4, column available_days", "line 5, column available_to"}},
		{"wrong field count", head + "ana,Ana,billing,20\n", []string{"line 2:", "4 fields, the header has 8"}},
		{"unknown column", "id,skills,hours_per_week,shoe_size\nana,billing,20,9\n", []string{"line 1, column shoe_size", "unknown column"}},
		{"missing column", "id,name\nana,Ana\n", []string{"line 1, column skills", "required column missing"}},
		{"empty", head, []string{"no agents"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReadRosterCSV(strings.NewReader(tc.csv))
			if err == nil {
				t.Fatalf("ReadRosterCSV succeeded with %d agents", len(r.Agents))
			}
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("error %v does not match ErrBadInput", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestReadRules(t *testing.T) {
	r, err := ReadRules(strings.NewReader(`{"min_rest":"12h","max_consecutive_days":5,"shifts":[{"name":"early","length":"7h30m","starts":"06:00-09:00/30m","breaks":[{"name":"lunch","length":"30m","after":"3h","before":"5h"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.MinRest.D().Hours() != 12 || r.MaxConsecutiveDays != 5 || r.MinDaysOffPerWeek != 2 || len(r.Shifts) != 1 || len(r.Shifts[0].Starts) != 7 {
		t.Errorf("ReadRules = %+v", r)
	}
	for _, tc := range []struct{ in, field string }{
		{`{"min_rest":12}`, "min_rest"},
		{`{"max_consecutive_days":"five"}`, "max_consecutive_days"},
		{`{"shoe_size":9}`, "shoe_size"},
		{`{"max_consecutive_days":0}`, "max_consecutive_days"},
		{`{"shifts":[{"name":"x","length":"8h","starts":"07:07"}]}`, "shifts"},
	} {
		_, err := ReadRules(strings.NewReader(tc.in))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("ReadRules(%s) = %v, want a FieldError", tc.in, err)
			continue
		}
		if !strings.Contains(fe.Field, tc.field) {
			t.Errorf("ReadRules(%s): field %q, want %q (%v)", tc.in, fe.Field, tc.field, err)
		}
	}
}

func TestScheduleCSV(t *testing.T) {
	p := handProblem(t, 7)
	var b bytes.Buffer
	if err := WriteScheduleCSV(&b, validWeek(t, p)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 16 {
		t.Fatalf("%d lines, want 16:\n%s", len(lines), b.String())
	}
	if want := "ana,2024-06-03,day8,2024-06-03T08:00:00+02:00,2024-06-03T16:00:00+02:00,7.5,break 10:00-10:15; lunch 12:00-12:30"; lines[1] != want {
		t.Errorf("first row %q, want %q", lines[1], want)
	}
}
