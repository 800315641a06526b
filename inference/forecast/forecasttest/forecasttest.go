// Package forecasttest builds interval histories for the tests of the
// forecast package's callers (the daemon's API, the command line).
package forecasttest

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/earshot/earshot/inference/forecast"
)

// Weekdays is 20 weeks of weekday history at 30 minutes from Monday
// 2026-01-05, open 08:00-18:00 UTC: a smooth intraday curve, weekday
// levels and a little noise, with an AHT per interval.
func Weekdays() []forecast.Point {
	var pts []forecast.Point
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 140; d++ {
		day := start.AddDate(0, 0, d)
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			continue
		}
		for s := 16; s < 36; s++ {
			v := math.Round((40 + 25*math.Sin(float64(s-16)/20*math.Pi)) * (1 + 0.1*float64(day.Weekday()%3)) * (1 + 0.05*math.Sin(float64(d*s))))
			pts = append(pts, forecast.Point{Start: day.Add(time.Duration(s) * 30 * time.Minute), Offered: v, Handled: v, AHT: 200 + float64(s)})
		}
	}
	return pts
}

// CSV writes points as an ACD export without a queue column:
// timestamp,count,aht.
func CSV(pts []forecast.Point) string {
	var b strings.Builder
	b.WriteString("timestamp,count,aht\n")
	for _, p := range pts {
		fmt.Fprintf(&b, "%s,%g,%g\n", p.Start.Format("2006-01-02 15:04"), p.Offered, p.AHT)
	}
	return b.String()
}
