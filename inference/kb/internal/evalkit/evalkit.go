// Package evalkit holds what the knowledge-base evaluation and benchmarks
// share with the bleve comparison module: the stackfaq loader and process
// CPU and heap readings.
package evalkit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// FAQ is one stackfaq entry: Title is the question, Body the answers.
type FAQ struct{ ID, Title, Body string }

// FAQQuery is a paraphrased question and the id of the entry it asks for.
type FAQQuery struct{ Text, Answer string }

// stringList decodes a JSON value that is a string or a list of strings
// (nulls dropped): the stackfaq file uses both.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one *string
	if err := json.Unmarshal(b, &one); err == nil {
		if one != nil {
			*s = []string{*one}
		}
		return nil
	}
	var many []*string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	for _, v := range many {
		if v != nil {
			*s = append(*s, *v)
		}
	}
	return nil
}

// LoadStackFAQ reads <evalDir>/stackfaq/stackExchange-FAQ.json: 125
// entries and the paraphrased questions of two or more tokens (1,249).
func LoadStackFAQ(evalDir string) ([]FAQ, []FAQQuery, error) {
	path := filepath.Join(evalDir, "stackfaq", "stackExchange-FAQ.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var f struct {
		Root struct {
			QAPair []struct {
				Rephr    stringList `json:"rephr"`
				Question string     `json:"question"`
				Answer   stringList `json:"answer"`
			} `json:"qapair"`
		} `json:"root"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, nil, fmt.Errorf("decode %s: %w", path, err)
	}
	var faqs []FAQ
	var qs []FAQQuery
	for i, p := range f.Root.QAPair {
		id := fmt.Sprintf("faq-%03d", i)
		faqs = append(faqs, FAQ{ID: id, Title: p.Question, Body: strings.Join(p.Answer, "\n\n")})
		for _, r := range p.Rephr {
			if len(strings.Fields(r)) >= 2 {
				qs = append(qs, FAQQuery{Text: r, Answer: id})
			}
		}
	}
	return faqs, qs, nil
}

// Scores are retrieval figures over a query set.
type Scores struct{ Hit1, Recall5, MRR10 float64 }

// Add counts one query whose answer came at rank (1-based; 0 = not in the
// first ten).
func (s *Scores) Add(rank int) {
	if rank < 1 || rank > 10 {
		return
	}
	if rank == 1 {
		s.Hit1++
	}
	if rank <= 5 {
		s.Recall5++
	}
	s.MRR10 += 1 / float64(rank)
}

// Mean divides the sums by the number of queries.
func (s Scores) Mean(n int) Scores {
	f := float64(n)
	return Scores{s.Hit1 / f, s.Recall5 / f, s.MRR10 / f}
}

// CPUTime is the process's user+system CPU time: on a shared machine it
// shows the work done, where wall time also counts waiting for a core.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ThreadCPUTime is the CPU time of the calling OS thread (lock the
// goroutine to its thread around a measurement).
func ThreadCPUTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// HeapInUse returns the live heap after two collections.
func HeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
