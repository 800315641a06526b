package ingesttest

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Percentile is the p-quantile (0..1, nearest rank below) of ds; 0 for
// none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// LoadAvg is the machine's 1-minute load average ("?" if unknown): evals
// report it next to their figures, the machine being shared.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// CPUTime is the CPU time (user and system) the process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// SampleMax calls f every 100 ms until the returned stop is called; stop
// returns the largest value f gave (an eval's pipeline backlog, say).
func SampleMax(f func() time.Duration) (stop func() time.Duration) {
	var most time.Duration
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				most = max(most, f())
			}
		}
	}()
	return func() time.Duration {
		close(quit)
		<-done
		return most
	}
}
