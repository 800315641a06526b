// Package intents holds the default intent training sets that ship with
// Earshot, for sites that have not trained their own intents yet.
//
// banking77: 10,003 customer-service queries labelled with 77 retail
// banking intents (card_arrival, lost_or_stolen_card, ...), CC BY 4.0; see
// banking77/NOTICE for the attribution.
package intents

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
)

//go:embed banking77/train.csv.gz
var files embed.FS

// Banking77 is the name of the banking77 set.
const Banking77 = "banking77"

// Names lists the shipped sets.
var Names = []string{Banking77}

// Set is one intent's training phrases.
type Set struct {
	Intent  string
	Phrases []string
}

// Load returns the training phrases of the named set, by intent, sorted
// by intent name.
func Load(name string) ([]Set, error) {
	if name != Banking77 {
		return nil, fmt.Errorf("intents: no default set %q (have %v)", name, Names)
	}
	raw, err := files.ReadFile("banking77/train.csv.gz")
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("intents: %s: %w", name, err)
	}
	r := csv.NewReader(zr)
	r.FieldsPerRecord = 2
	byIntent := map[string][]string{}
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("intents: %s: %w", name, err)
		}
		if first && rec[0] == "text" {
			continue
		}
		byIntent[rec[1]] = append(byIntent[rec[1]], rec[0])
	}
	out := make([]Set, 0, len(byIntent))
	for intent, phrases := range byIntent {
		out = append(out, Set{Intent: intent, Phrases: phrases})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Intent < out[j].Intent })
	return out, nil
}
