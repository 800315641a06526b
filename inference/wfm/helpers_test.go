package wfm

import (
	"testing"
	"time"
)

// handProblem is a one-week, one-queue problem with plain rules for
// hand-made schedules: "day8" 8 h (starts 07:00-13:00 every 30 min, a
// 15-minute paid break 1h30-3h in, an unpaid 30-minute lunch 3h30-5h in),
// "part4" 4 h with no break; 11 h rest, 5 days in a row, 2 days off,
// contracts exact, half the weekends.
func handProblem(t testing.TB, days int) *Problem {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	per := NewPeriod(time.Date(2024, 6, 3, 0, 0, 0, 0, loc), loc, days, 30*time.Minute) // a Monday
	r := Rules{
		Shifts: []ShiftTemplate{
			{Name: "day8", Length: Duration(8 * time.Hour), Starts: mustClockSet("07:00-13:00/30m"), Breaks: []Break{
				{Name: "break", Length: Duration(15 * time.Minute), Paid: true, After: Duration(90 * time.Minute), Before: Duration(3 * time.Hour)},
				{Name: "lunch", Length: Duration(30 * time.Minute), After: Duration(210 * time.Minute), Before: Duration(5 * time.Hour)},
			}},
			{Name: "part4", Length: Duration(4 * time.Hour), Starts: mustClockSet("07:00-17:00/30m")},
		},
		MinRest: Duration(11 * time.Hour), MaxConsecutiveDays: 5, MinDaysOffPerWeek: 2,
		MaxWeekendShare: 0.5, PreferenceWeight: 1,
	}
	p := &Problem{Period: per, Rules: r, Roster: Roster{Agents: []Agent{
		{ID: "ana", Name: "Ana", Skills: []string{"billing"}, HoursPerWeek: 37.5, Shifts: []string{"day8"}},
		{ID: "ben", Name: "Ben", Skills: []string{"billing"}, HoursPerWeek: 20, Shifts: []string{"part4"}, Available: Window{From: 7 * 60, To: 16 * 60}},
		{ID: "cy", Name: "Cy", Skills: []string{"billing"}, HoursPerWeek: 37.5, Shifts: []string{"day8"}, Available: Window{Days: mustDays("mon-fri")}},
	}}}
	p.Demand = []Demand{synthDemand(per, "billing", 3, AllDays, 0)}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// shiftAt builds agent's shift of template on period day d at clock hh:mm
// with its breaks at the given offsets (minutes after the start).
func shiftAt(t testing.TB, p *Problem, agent, template string, d int, clock string, breakOffsets ...int) Shift {
	t.Helper()
	c, err := ParseClock(clock)
	if err != nil {
		t.Fatal(err)
	}
	day := p.Period.Day(d)
	st := time.Date(day.Year(), day.Month(), day.Day(), int(c)/60, int(c)%60, 0, 0, day.Location())
	tm, ok := p.Rules.template(template)
	if !ok {
		t.Fatalf("no template %q", template)
	}
	sh := Shift{Agent: agent, Template: template, Start: st, End: st.Add(tm.Length.D())}
	for j, off := range breakOffsets {
		b := tm.Breaks[j]
		bs := st.Add(time.Duration(off) * time.Minute)
		sh.Breaks = append(sh.Breaks, Activity{Name: b.Name, Start: bs, End: bs.Add(b.Length.D()), Paid: b.Paid})
	}
	return sh
}

// validWeek is a schedule of handProblem(7) that keeps every rule: Ana and
// Cy Monday to Friday, Ben 4 hours Monday to Friday.
func validWeek(t testing.TB, p *Problem) *Schedule {
	s := &Schedule{Period: p.Period}
	for d := range 5 {
		s.Shifts = append(s.Shifts,
			shiftAt(t, p, "ana", "day8", d, "08:00", 120, 240),
			shiftAt(t, p, "ben", "part4", d, "09:00"),
			shiftAt(t, p, "cy", "day8", d, "12:00", 90, 210))
	}
	return s
}
