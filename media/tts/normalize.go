package tts

import (
	"regexp"
	"strconv"
	"strings"
)

// Normalizer rewrites English text so that an engine reads it as a
// contact-centre agent would: card endings and card numbers digit by
// digit ("ending in four two one one"), phone numbers in digit groups,
// amounts of money ("twelve dollars and fifty cents"), dates ("December
// sixth, twenty twenty six"), times ("two thirty p m"), ordinals,
// percentages, decimals, and long reference numbers digit by digit.
// Engines read what is left (words, small numbers) themselves. Other
// languages pass through unchanged: eSpeak NG reads their numbers.
type Normalizer struct {
	// DayFirst reads 06/12/2026 as the 6th of December (en-GB); otherwise
	// it is June 12th (en-US).
	DayFirst bool
}

var (
	reCardEnding = regexp.MustCompile(`(?i)\b(ending|ends|end) (in|with) (\d[\d -]{0,8}\d|\d)\b`)
	reCardNumber = regexp.MustCompile(`\b\d{4}(?:[ -]\d{4}){2,3}\b|\b\d{4}[ -]\d{6}[ -]\d{5}\b`)
	rePhone      = regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\b\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}\b|\+\d{8,15}\b`)
	reMoney      = regexp.MustCompile(`([$£€])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?:\s?(million|billion|thousand)\b)?`)
	reMoneyCode  = regexp.MustCompile(`\b(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s?(USD|EUR|GBP)\b`)
	reISODate    = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})\b`)
	reSlashDate  = regexp.MustCompile(`\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b`)
	reMonthDay   = regexp.MustCompile(`\b(` + monthAlt + `)\.? (\d{1,2})(?:st|nd|rd|th)?\b(?:,? (\d{4})\b)?`)
	reDayMonth   = regexp.MustCompile(`(?:\b[Tt]he )?\b(\d{1,2})(?:st|nd|rd|th)? (?:of )?(` + monthAlt + `)\b\.?(?:,? (\d{4})\b)?`)
	reTime       = regexp.MustCompile(`(?i)\b(\d{1,2})(?::(\d{2}))?\s?([ap])\.?m\b|\b(\d{1,2}):(\d{2})\b`)
	reYear       = regexp.MustCompile(`(?i)\b(in|since|from|until|till|year|of|by) (1[89]\d\d|20\d\d)\b`)
	rePercent    = regexp.MustCompile(`\b(\d+(?:\.\d+)?)\s?%`)
	reOrdinal    = regexp.MustCompile(`\b(\d+)(st|nd|rd|th)\b`)
	reDecimal    = regexp.MustCompile(`\b(\d+)\.(\d+)\b`)
	reGrouped    = regexp.MustCompile(`\b\d{1,3}(?:,\d{3})+\b`)
	reInteger    = regexp.MustCompile(`\b\d+\b`)
	reSymbols    = strings.NewReplacer("&", " and ", "#", " number ", "@", " at ", "+", " plus ")
)

const monthAlt = `January|February|March|April|May|June|July|August|September|October|November|December|` +
	`Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec`

var months = []string{"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}

func monthIndex(s string) int {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	for i, m := range months {
		if strings.HasPrefix(strings.ToLower(m), s) && len(s) >= 3 {
			return i
		}
	}
	return -1
}

// Normalize rewrites text (English).
func (n Normalizer) Normalize(text string) string {
	t := text
	t = reCardEnding.ReplaceAllStringFunc(t, func(m string) string {
		g := reCardEnding.FindStringSubmatch(m)
		return g[1] + " " + g[2] + " " + digits(g[3], "zero")
	})
	t = reCardNumber.ReplaceAllStringFunc(t, func(m string) string { return digitGroups(m, "zero") })
	t = rePhone.ReplaceAllStringFunc(t, func(m string) string {
		lead := ""
		if strings.HasPrefix(m, "+") {
			lead = "plus "
		}
		return lead + digitGroups(m, "oh")
	})
	t = reMoney.ReplaceAllStringFunc(t, func(m string) string {
		g := reMoney.FindStringSubmatch(m)
		return money(g[2], g[3], g[4], currencies[g[1]])
	})
	t = reMoneyCode.ReplaceAllStringFunc(t, func(m string) string {
		g := reMoneyCode.FindStringSubmatch(m)
		return money(g[1], g[2], "", currencies[g[3]])
	})
	t = reISODate.ReplaceAllStringFunc(t, func(m string) string {
		g := reISODate.FindStringSubmatch(m)
		y, _ := strconv.Atoi(g[1])
		mo, _ := strconv.Atoi(g[2])
		d, _ := strconv.Atoi(g[3])
		return n.date(d, mo-1, y, m)
	})
	t = reSlashDate.ReplaceAllStringFunc(t, func(m string) string {
		g := reSlashDate.FindStringSubmatch(m)
		a, _ := strconv.Atoi(g[1])
		b, _ := strconv.Atoi(g[2])
		y, _ := strconv.Atoi(g[3])
		if len(g[3]) == 2 {
			y += 2000
		}
		d, mo := b, a
		if n.DayFirst {
			d, mo = a, b
		}
		return n.date(d, mo-1, y, m)
	})
	t = reMonthDay.ReplaceAllStringFunc(t, func(m string) string {
		g := reMonthDay.FindStringSubmatch(m)
		d, _ := strconv.Atoi(g[2])
		y := 0
		if g[3] != "" {
			y, _ = strconv.Atoi(g[3])
		}
		return n.date(d, monthIndex(g[1]), y, m)
	})
	t = reDayMonth.ReplaceAllStringFunc(t, func(m string) string {
		g := reDayMonth.FindStringSubmatch(m)
		d, _ := strconv.Atoi(g[1])
		mo := monthIndex(g[2])
		if d < 1 || d > 31 || mo < 0 {
			return m
		}
		s := "the " + Ordinal(d) + " of " + months[mo]
		if g[3] != "" {
			y, _ := strconv.Atoi(g[3])
			s += " " + Year(y)
		}
		return s
	})
	t = reYear.ReplaceAllStringFunc(t, func(m string) string {
		g := reYear.FindStringSubmatch(m)
		y, _ := strconv.Atoi(g[2])
		return g[1] + " " + Year(y)
	})
	t = reTime.ReplaceAllStringFunc(t, clock)
	t = rePercent.ReplaceAllStringFunc(t, func(m string) string {
		return decimal(rePercent.FindStringSubmatch(m)[1]) + " percent"
	})
	t = reOrdinal.ReplaceAllStringFunc(t, func(m string) string {
		g := reOrdinal.FindStringSubmatch(m)
		v, err := strconv.Atoi(g[1])
		if err != nil || v > 1_000_000 {
			return m
		}
		return Ordinal(v)
	})
	t = reDecimal.ReplaceAllStringFunc(t, decimal)
	t = reGrouped.ReplaceAllStringFunc(t, func(m string) string {
		v, err := strconv.ParseInt(strings.ReplaceAll(m, ",", ""), 10, 64)
		if err != nil {
			return m
		}
		return Cardinal(v)
	})
	t = reInteger.ReplaceAllStringFunc(t, func(m string) string {
		// Five digits and more without separators are identifiers
		// (reference, account, order numbers): read digit by digit. A
		// leading zero marks one too.
		if len(m) >= 5 || (len(m) > 1 && m[0] == '0') {
			return digits(m, "zero")
		}
		v, _ := strconv.ParseInt(m, 10, 64)
		return Cardinal(v)
	})
	t = reSymbols.Replace(t)
	return strings.Join(strings.Fields(t), " ")
}

var currencies = map[string][2]string{
	"$": {"dollar", "cent"}, "USD": {"dollar", "cent"},
	"£": {"pound", "penny"}, "GBP": {"pound", "penny"},
	"€": {"euro", "cent"}, "EUR": {"euro", "cent"},
}

func plural(n int64, unit string) string {
	if n == 1 {
		return unit
	}
	if unit == "penny" {
		return "pence"
	}
	return unit + "s"
}

// money reads an amount: whole units, cents (one or two digits after the
// point), an optional scale word.
func money(whole, frac, scale string, cur [2]string) string {
	w, err := strconv.ParseInt(strings.ReplaceAll(whole, ",", ""), 10, 64)
	if err != nil {
		return whole
	}
	c := int64(0)
	if frac != "" {
		c, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			c *= 10
		}
	}
	if scale != "" {
		s := Cardinal(w)
		if c > 0 {
			s = decimal(whole + "." + frac)
		}
		return s + " " + scale + " " + cur[0] + "s"
	}
	switch {
	case c == 0:
		return Cardinal(w) + " " + plural(w, cur[0])
	case w == 0:
		return Cardinal(c) + " " + plural(c, cur[1])
	}
	return Cardinal(w) + " " + plural(w, cur[0]) + " and " + Cardinal(c) + " " + plural(c, cur[1])
}

// date reads a day, month (0-based) and year (0: none); orig is returned
// for impossible dates.
func (n Normalizer) date(d, mo, y int, orig string) string {
	if mo < 0 || mo > 11 || d < 1 || d > 31 {
		return orig
	}
	s := months[mo] + " " + Ordinal(d)
	if y > 0 {
		s += ", " + Year(y)
	}
	return s
}

// clock reads a time of day: "9am" "nine a m", "14:30" "two thirty p m",
// "9:00" "nine o'clock", "10:05 pm" "ten oh five p m".
func clock(m string) string {
	g := reTime.FindStringSubmatch(m)
	var h, min int
	suffix := ""
	if g[1] != "" {
		h, _ = strconv.Atoi(g[1])
		if g[2] != "" {
			min, _ = strconv.Atoi(g[2])
		}
		suffix = strings.ToLower(g[3]) + " m"
	} else {
		h, _ = strconv.Atoi(g[4])
		min, _ = strconv.Atoi(g[5])
		if h > 12 && h < 24 {
			h, suffix = h-12, "p m"
		} else if h == 0 {
			h, suffix = 12, "a m"
		}
	}
	if h > 23 || min > 59 || (suffix != "" && h > 12) {
		return m
	}
	s := Cardinal(int64(h))
	switch {
	case min == 0 && suffix == "":
		s += " o'clock"
	case min == 0:
	case min < 10:
		s += " oh " + Cardinal(int64(min))
	default:
		s += " " + Cardinal(int64(min))
	}
	if suffix != "" {
		s += " " + suffix
	}
	return s
}

// decimal reads "3.75" as "three point seven five" (m is the number).
func decimal(m string) string {
	whole, frac, ok := strings.Cut(m, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || len(whole) > 15 {
		return digits(m, "zero")
	}
	s := Cardinal(w)
	if ok {
		s += " point " + digits(frac, "zero")
	}
	return s
}

var digitWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// digits reads every digit of s one by one ("oh" or "zero" for 0),
// ignoring everything else.
func digits(s, zero string) string {
	var w []string
	for _, r := range s {
		if r >= '0' && r <= '9' {
			if r == '0' {
				w = append(w, zero)
			} else {
				w = append(w, digitWords[r-'0'])
			}
		}
	}
	return strings.Join(w, " ")
}

// digitGroups reads the digit groups of s one digit at a time, with a
// pause (comma) between groups.
func digitGroups(s, zero string) string {
	groups := strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, digits(g, zero))
	}
	return strings.Join(out, ", ")
}

var (
	ones = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tens   = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	scales = []struct {
		v    int64
		name string
	}{{1_000_000_000_000, "trillion"}, {1_000_000_000, "billion"}, {1_000_000, "million"}, {1000, "thousand"}}
)

// Cardinal reads n in words: 1234 "one thousand two hundred thirty four".
func Cardinal(n int64) string {
	if n < 0 {
		return "minus " + Cardinal(-n)
	}
	if n < 20 {
		return ones[n]
	}
	if n < 100 {
		if n%10 == 0 {
			return tens[n/10]
		}
		return tens[n/10] + " " + ones[n%10]
	}
	if n < 1000 {
		s := ones[n/100] + " hundred"
		if n%100 != 0 {
			s += " " + Cardinal(n%100)
		}
		return s
	}
	for _, sc := range scales {
		if n >= sc.v {
			s := Cardinal(n/sc.v) + " " + sc.name
			if n%sc.v != 0 {
				s += " " + Cardinal(n%sc.v)
			}
			return s
		}
	}
	return strconv.FormatInt(n, 10)
}

var ordinalWords = map[string]string{"one": "first", "two": "second", "three": "third", "five": "fifth",
	"eight": "eighth", "nine": "ninth", "twelve": "twelfth"}

// Ordinal reads n as an ordinal: 21 "twenty first".
func Ordinal(n int) string {
	c := Cardinal(int64(n))
	i := strings.LastIndexByte(c, ' ')
	last := c[i+1:]
	switch {
	case ordinalWords[last] != "":
		last = ordinalWords[last]
	case strings.HasSuffix(last, "y"):
		last = strings.TrimSuffix(last, "y") + "ieth"
	default:
		last += "th"
	}
	return c[:i+1] + last
}

// Year reads a year as people say it: 2026 "twenty twenty six", 2005
// "two thousand five", 1999 "nineteen ninety nine", 1900 "nineteen
// hundred".
func Year(y int) string {
	switch {
	case y >= 2000 && y < 2010, y%1000 == 0, y < 1000 || y > 9999:
		return Cardinal(int64(y))
	case y%100 == 0:
		return Cardinal(int64(y/100)) + " hundred"
	case y%100 < 10:
		return Cardinal(int64(y/100)) + " oh " + Cardinal(int64(y%100))
	}
	return Cardinal(int64(y/100)) + " " + Cardinal(int64(y%100))
}
