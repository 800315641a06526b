package builtin

import (
	"strconv"
	"strings"
	"time"
)

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

var months = map[string]time.Month{
	"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
	"may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
	"sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}

var numberWords = map[string]int{
	"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "fourteen": 14, "thirty": 30, "couple": 2, "few": 3,
}

// addBusinessDays adds n working days (Monday to Friday).
func addBusinessDays(d time.Time, n int) time.Time {
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
			n--
		}
	}
	return d
}

// resolveDue finds a due date in lowercased words and resolves it against
// ref (the engagement date). It returns "" when no date is said.
// Understood: today, tonight, end of (the) day, tomorrow, (by|on|this|next)
// <weekday>, end of (the) week, next week, end of (the) month, within/in N
// hours|days|business days|working days|weeks, <month> <day>, the <day>th,
// and numeric m/d.
func resolveDue(ws []string, ref time.Time) string {
	day := time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, ref.Location())
	out := func(t time.Time) string { return t.Format("2006-01-02") }
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		prev := ""
		if i > 0 {
			prev = ws[i-1]
		}
		next := ""
		if i+1 < len(ws) {
			next = ws[i+1]
		}
		switch {
		case w == "today" || w == "tonight":
			return out(day)
		case w == "tomorrow":
			return out(day.AddDate(0, 0, 1))
		case w == "end" && next == "of":
			rest := strings.Join(ws[i+2:min(len(ws), i+4)], " ")
			switch {
			case strings.HasPrefix(rest, "the day") || strings.HasPrefix(rest, "day") || strings.HasPrefix(rest, "business"):
				return out(day)
			case strings.HasPrefix(rest, "the week") || strings.HasPrefix(rest, "week"):
				return out(nextWeekday(day, time.Friday, true))
			case strings.HasPrefix(rest, "the month") || strings.HasPrefix(rest, "month"):
				return out(time.Date(day.Year(), day.Month()+1, 0, 0, 0, 0, 0, day.Location()))
			}
		case weekdayOK(w):
			wd := weekdays[w]
			if prev == "next" {
				// "next Friday": the Friday of next week
				d := nextWeekday(day, wd, false)
				if d.Sub(day) < 7*24*time.Hour && sameWeek(day, d) {
					d = d.AddDate(0, 0, 7)
				}
				return out(d)
			}
			return out(nextWeekday(day, wd, false))
		case w == "next" && next == "week":
			return out(nextWeekday(day, time.Monday, false))
		case w == "week" && (prev == "this"):
			return out(nextWeekday(day, time.Friday, true))
		case (w == "within" || w == "in") && i+2 < len(ws):
			n, unitAt := parseCount(ws, i+1)
			if n <= 0 || unitAt >= len(ws) {
				continue
			}
			unit := ws[unitAt]
			if (unit == "business" || unit == "working") && unitAt+1 < len(ws) && strings.HasPrefix(ws[unitAt+1], "day") {
				return out(addBusinessDays(day, n))
			}
			switch {
			case strings.HasPrefix(unit, "hour"):
				return out(ref.Add(time.Duration(n) * time.Hour))
			case strings.HasPrefix(unit, "day"):
				return out(day.AddDate(0, 0, n))
			case strings.HasPrefix(unit, "week"):
				return out(day.AddDate(0, 0, 7*n))
			}
		case months[w] != 0 && next != "" && dayNumber(next) > 0:
			return out(nextDate(day, months[w], dayNumber(next)))
		case dayNumber(w) > 0 && months[next] != 0:
			return out(nextDate(day, months[next], dayNumber(w)))
		case dayNumber(w) > 0 && next == "of" && i+2 < len(ws) && months[ws[i+2]] != 0:
			return out(nextDate(day, months[ws[i+2]], dayNumber(w)))
		case prev == "the" && isOrdinal(w) && dayNumber(w) > 0:
			d := time.Date(day.Year(), day.Month(), dayNumber(w), 0, 0, 0, 0, day.Location())
			if d.Before(day) {
				d = d.AddDate(0, 1, 0)
			}
			return out(d)
		}
	}
	return ""
}

func weekdayOK(w string) bool { _, ok := weekdays[w]; return ok }

func sameWeek(a, b time.Time) bool {
	ay, aw := a.ISOWeek()
	by, bw := b.ISOWeek()
	return ay == by && aw == bw
}

// nextWeekday returns the next wd after day (or day itself if orToday).
func nextWeekday(day time.Time, wd time.Weekday, orToday bool) time.Time {
	d := day
	if !orToday || d.Weekday() != wd {
		d = d.AddDate(0, 0, 1)
		for d.Weekday() != wd {
			d = d.AddDate(0, 0, 1)
		}
	}
	return d
}

func nextDate(day time.Time, m time.Month, dom int) time.Time {
	d := time.Date(day.Year(), m, dom, 0, 0, 0, 0, day.Location())
	if d.Before(day) {
		d = d.AddDate(1, 0, 0)
	}
	return d
}

func isOrdinal(w string) bool {
	return strings.HasSuffix(w, "st") || strings.HasSuffix(w, "nd") || strings.HasSuffix(w, "rd") || strings.HasSuffix(w, "th")
}

// dayNumber parses "15", "15th", "1st" as a day of month (1..31), else 0.
func dayNumber(w string) int {
	w = strings.TrimRight(w, "stndrh")
	n, err := strconv.Atoi(w)
	if err != nil || n < 1 || n > 31 {
		return 0
	}
	return n
}

// parseCount reads "3", "three", "a couple of", "24" at ws[i]; it returns
// the number and the index of the unit word.
func parseCount(ws []string, i int) (int, int) {
	if i < len(ws) && (ws[i] == "the" || ws[i] == "next") {
		i++
	}
	if i >= len(ws) {
		return 0, i
	}
	if n, err := strconv.Atoi(ws[i]); err == nil {
		return n, i + 1
	}
	if n, ok := numberWords[ws[i]]; ok {
		j := i + 1
		if j < len(ws) && (ws[j] == "couple" || ws[j] == "few") {
			n = numberWords[ws[j]]
			j++
		}
		if j < len(ws) && ws[j] == "of" {
			j++
		}
		return n, j
	}
	return 0, i
}
