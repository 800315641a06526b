package slots

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var monthNames = map[string]time.Month{
	"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
	"may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
	"sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}

var weekdayNames = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "tues": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "thur": time.Thursday, "thurs": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

var (
	isoDateRE     = regexp.MustCompile(`\b(\d{4})-(\d{1,2})-(\d{1,2})\b`)
	numericDateRE = regexp.MustCompile(`\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b`)
)

// findDate finds a date in text and resolves it against ref. Understood:
// ISO dates (2024-11-06), numeric month/day[/year] (US order, or day/month
// when the first number cannot be a month), "today", "yesterday",
// "tomorrow", "the day before yesterday", "<weekday>", "last/next/this
// <weekday>", "last/next week|month", "N days/weeks/months ago", "in N
// days/weeks", "<month> <day>[, <year>]", "<day> <month> [<year>]", "the
// <day>th", "<month> [<year>]" (the first of the month). dir is "past",
// "future" or "" for the nearest.
func findDate(text string, ref time.Time, dir string) (time.Time, bool) {
	day := time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, ref.Location())
	mk := func(y int, m time.Month, d int) (time.Time, bool) {
		t := time.Date(y, m, d, 0, 0, 0, 0, ref.Location())
		if t.Month() != m || t.Day() != d {
			return time.Time{}, false // 31 February
		}
		return t, true
	}
	if m := isoDateRE.FindStringSubmatch(text); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		if mo >= 1 && mo <= 12 {
			if t, ok := mk(y, time.Month(mo), d); ok {
				return t, true
			}
		}
	}
	if m := numericDateRE.FindStringSubmatch(text); m != nil {
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		mo, d := a, b
		if mo > 12 && d <= 12 {
			mo, d = b, a
		}
		if mo >= 1 && mo <= 12 && d >= 1 && d <= 31 {
			if m[3] != "" {
				y, _ := strconv.Atoi(m[3])
				if y < 100 {
					y += 2000
					if y > ref.Year()+20 {
						y -= 100
					}
				}
				if t, ok := mk(y, time.Month(mo), d); ok {
					return t, true
				}
			} else if t, ok := nearestMonthDay(day, time.Month(mo), d, dir); ok {
				return t, true
			}
		}
	}
	ws := words(text)
	for i := 0; i < len(ws); i++ {
		w, prev, next := ws[i], at(ws, i-1), at(ws, i+1)
		switch {
		case w == "today" || w == "tonight" || w == "now":
			return day, true
		case w == "yesterday":
			if prev == "before" && at(ws, i-2) == "day" {
				return day.AddDate(0, 0, -2), true
			}
			return day.AddDate(0, 0, -1), true
		case w == "tomorrow":
			if prev == "after" && at(ws, i-2) == "day" {
				return day.AddDate(0, 0, 2), true
			}
			return day.AddDate(0, 0, 1), true
		case w == "ago" && i >= 2:
			if n, ok := countWord(ws[i-2]); ok {
				if t, ok := shift(day, n, ws[i-1], -1); ok {
					return t, true
				}
			} else if ws[i-2] == "a" || ws[i-2] == "an" {
				if t, ok := shift(day, 1, ws[i-1], -1); ok {
					return t, true
				}
			}
		case w == "in" && i+2 < len(ws):
			if n, ok := countWord(next); ok {
				if t, ok := shift(day, n, ws[i+2], 1); ok {
					return t, true
				}
			}
		case (w == "last" || w == "next" || w == "this") && (next == "week" || next == "month"):
			sign := map[string]int{"last": -1, "next": 1, "this": 0}[w]
			if next == "week" {
				return day.AddDate(0, 0, 7*sign), true
			}
			return time.Date(day.Year(), day.Month()+time.Month(sign), 1, 0, 0, 0, 0, day.Location()), true
		case isWeekday(w):
			wd := weekdayNames[w]
			switch prev {
			case "last":
				return weekdayBefore(day, wd), true
			case "next":
				return weekdayAfter(day, wd).AddDate(0, 0, weekIfSame(day, weekdayAfter(day, wd))), true
			case "this":
				return weekdayAfter(day.AddDate(0, 0, -1), wd), true
			}
			// A weekday alone: nearest on the slot's side (past by default
			// reads better for "I paid on Monday"; future when asked).
			if dir == "future" {
				return weekdayAfter(day, wd), true
			}
			return weekdayBefore(day, wd), true
		case monthNames[w] != 0 && !(w == "may" && !mayIsMonth(ws, i)):
			mo := monthNames[w]
			// <month> <day>[,] [<year>]
			if d := dayOfMonth(next); d > 0 {
				if y, ok := year(at(ws, i+2)); ok {
					if t, ok := mk(y, mo, d); ok {
						return t, true
					}
				}
				if t, ok := nearestMonthDay(day, mo, d, dir); ok {
					return t, true
				}
			}
			// <day> [of] <month> [<year>]
			d := dayOfMonth(prev)
			if prev == "of" {
				d = dayOfMonth(at(ws, i-2))
			}
			if d > 0 {
				if y, ok := year(next); ok {
					if t, ok := mk(y, mo, d); ok {
						return t, true
					}
				}
				if t, ok := nearestMonthDay(day, mo, d, dir); ok {
					return t, true
				}
			}
			// <month> [<year>]: the first of that month.
			if y, ok := year(next); ok {
				return time.Date(y, mo, 1, 0, 0, 0, 0, day.Location()), true
			}
			return nearestMonth(day, mo, dir), true
		case prev == "the" && isOrdinal(w) && dayOfMonth(w) > 0:
			d := dayOfMonth(w)
			t, ok := mk(day.Year(), day.Month(), d)
			if !ok {
				continue
			}
			switch {
			case dir == "past" && t.After(day):
				t = t.AddDate(0, -1, 0)
			case dir != "past" && t.Before(day) && dir == "future":
				t = t.AddDate(0, 1, 0)
			}
			return t, true
		}
	}
	return time.Time{}, false
}

func at(ws []string, i int) string {
	if i < 0 || i >= len(ws) {
		return ""
	}
	return ws[i]
}

func isWeekday(w string) bool { _, ok := weekdayNames[w]; return ok }

// mayIsMonth tells the month from the verb: "in may", "may 5", "5 may",
// "may 2024" name the month.
func mayIsMonth(ws []string, i int) bool {
	prev, next := at(ws, i-1), at(ws, i+1)
	if prev == "in" || prev == "of" || dayOfMonth(prev) > 0 || dayOfMonth(next) > 0 {
		return true
	}
	_, ok := year(next)
	return ok
}

func countWord(w string) (int, bool) {
	if n, err := strconv.Atoi(w); err == nil && n >= 0 && n < 1000 {
		return n, true
	}
	if n, ok := smallNumbers[w]; ok {
		return n, true
	}
	if n, ok := tens[w]; ok {
		return n, true
	}
	switch w {
	case "a", "an":
		return 1, true
	case "couple":
		return 2, true
	case "few":
		return 3, true
	}
	return 0, false
}

func shift(day time.Time, n int, unit string, sign int) (time.Time, bool) {
	switch strings.TrimSuffix(unit, "s") {
	case "day":
		return day.AddDate(0, 0, sign*n), true
	case "week":
		return day.AddDate(0, 0, sign*7*n), true
	case "month":
		return day.AddDate(0, sign*n, 0), true
	case "year":
		return day.AddDate(sign*n, 0, 0), true
	}
	return time.Time{}, false
}

func isOrdinal(w string) bool {
	for _, s := range []string{"st", "nd", "rd", "th"} {
		if strings.HasSuffix(w, s) {
			return true
		}
	}
	return false
}

var ordinalWords = []string{"", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
	"eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"}

// dayOfMonth parses "15", "15th", "1st", "first" as a day of month
// (1..31), else 0.
func dayOfMonth(w string) int {
	if i := slices.Index(ordinalWords, w); i > 0 {
		return i
	}
	w = strings.TrimRight(w, "stndrh")
	n, err := strconv.Atoi(w)
	if err != nil || n < 1 || n > 31 {
		return 0
	}
	return n
}

func year(w string) (int, bool) {
	if len(w) != 4 {
		return 0, false
	}
	y, err := strconv.Atoi(w)
	return y, err == nil && y >= 1900 && y <= 2200
}

// nearestMonthDay resolves a month and day without a year: the nearest
// occurrence on dir's side of day ("" takes this year's unless it is more
// than six months away).
func nearestMonthDay(day time.Time, m time.Month, d int, dir string) (time.Time, bool) {
	t := time.Date(day.Year(), m, d, 0, 0, 0, 0, day.Location())
	if t.Month() != m {
		return time.Time{}, false
	}
	switch dir {
	case "past":
		if t.After(day) {
			t = t.AddDate(-1, 0, 0)
		}
	case "future":
		if t.Before(day) {
			t = t.AddDate(1, 0, 0)
		}
	default:
		if t.Sub(day) > 183*24*time.Hour {
			t = t.AddDate(-1, 0, 0)
		} else if day.Sub(t) > 183*24*time.Hour {
			t = t.AddDate(1, 0, 0)
		}
	}
	return t, true
}

// nearestMonth resolves a month alone to the first day of its nearest
// occurrence on dir's side ("in November", said in February, is last
// November in the past and next November in the future).
func nearestMonth(day time.Time, m time.Month, dir string) time.Time {
	t := time.Date(day.Year(), m, 1, 0, 0, 0, 0, day.Location())
	thisMonth := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, day.Location())
	switch dir {
	case "past":
		if t.After(thisMonth) {
			t = t.AddDate(-1, 0, 0)
		}
	case "future":
		if t.Before(thisMonth) {
			t = t.AddDate(1, 0, 0)
		}
	default:
		if t.Sub(thisMonth) > 183*24*time.Hour {
			t = t.AddDate(-1, 0, 0)
		} else if thisMonth.Sub(t) > 183*24*time.Hour {
			t = t.AddDate(1, 0, 0)
		}
	}
	return t
}

// weekdayBefore is the latest wd strictly before day.
func weekdayBefore(day time.Time, wd time.Weekday) time.Time {
	d := day.AddDate(0, 0, -1)
	for d.Weekday() != wd {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// weekdayAfter is the earliest wd strictly after day.
func weekdayAfter(day time.Time, wd time.Weekday) time.Time {
	d := day.AddDate(0, 0, 1)
	for d.Weekday() != wd {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// weekIfSame returns 7 when "next <weekday>" lands in the current week
// (said on Monday, "next Friday" is the Friday after this one).
func weekIfSame(day, d time.Time) int {
	ay, aw := day.ISOWeek()
	by, bw := d.ISOWeek()
	if ay == by && aw == bw {
		return 7
	}
	return 0
}

var clockRE = regexp.MustCompile(`(?i)\b(\d{1,2})(?:[:.h](\d{2}))?\s*(a\.?m\.?|p\.?m\.?|o'?clock|h\b)?`)

// findTime finds a clock time: "15:30", "3pm", "3:30 p.m.", "9 o'clock",
// "noon", "midnight", "half past three", "quarter to five".
func findTime(text string) (h, m int, ok bool) {
	ws := words(text)
	for i, w := range ws {
		switch w {
		case "noon", "midday":
			return 12, 0, true
		case "midnight":
			return 0, 0, true
		case "half", "quarter":
			if at(ws, i+1) == "past" || at(ws, i+1) == "to" {
				hh, okh := countWord(at(ws, i+2))
				if !okh || hh < 1 || hh > 12 {
					continue
				}
				mm := 30
				if w == "quarter" {
					mm = 15
				}
				if at(ws, i+1) == "to" {
					hh, mm = (hh+11)%12, 60-mm
					if hh == 0 {
						hh = 12
					}
				}
				return hh % 24, mm, true
			}
		}
	}
	for _, mt := range clockRE.FindAllStringSubmatch(text, -1) {
		hh, _ := strconv.Atoi(mt[1])
		mm := 0
		if mt[2] != "" {
			mm, _ = strconv.Atoi(mt[2])
		}
		suffix := strings.ToLower(strings.ReplaceAll(mt[3], ".", ""))
		if mt[2] == "" && suffix == "" {
			continue // a bare number is not a time
		}
		if hh > 23 || mm > 59 {
			continue
		}
		switch {
		case strings.HasPrefix(suffix, "p") && hh < 12:
			hh += 12
		case strings.HasPrefix(suffix, "a") && hh == 12:
			hh = 0
		}
		return hh, mm, true
	}
	return 0, 0, false
}
