// Command crm-csv is an example Earshot info plugin: it answers with cards
// of customer data read from a CSV file.
//
// Configuration (set by the administrator):
//
//	file   path of the CSV file (required)
//
// The file's header names the columns. The column customer_ref identifies
// the customer. Other plain columns (name, tier, ...) form the "Customer"
// card. A column named INTENT.FIELD (e.g. billing.last_invoice) forms a
// card for that intent and is returned only when the intent was detected.
// Labels come from the column names ("last_invoice" -> "Last invoice").
// The file is re-read when its modification time changes.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/earshot/earshot/plugins/sdk"
)

func main() {
	c := &crm{}
	sdk.Serve(&sdk.Plugin{Name: "crm-csv", Version: "1.0.0", Configure: c.configure, Info: c})
}

type column struct {
	intent string // "" for the Customer card
	key    string
	label  string
}

type crm struct {
	mu      sync.Mutex
	path    string
	modTime time.Time
	cols    []column
	rows    map[string][]string // customer_ref -> row
}

func (c *crm) configure(_ context.Context, cfg map[string]string) error {
	path := cfg["file"]
	if path == "" {
		return fmt.Errorf("crm-csv: config file is required: %w", sdk.ErrInvalidInput)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.path = path
	return c.loadLocked()
}

func (c *crm) loadLocked() error {
	st, err := os.Stat(c.path)
	if err != nil {
		return fmt.Errorf("crm-csv: %w", err)
	}
	if st.ModTime().Equal(c.modTime) && c.rows != nil {
		return nil
	}
	f, err := os.Open(c.path)
	if err != nil {
		return fmt.Errorf("crm-csv: %w", err)
	}
	defer f.Close()
	cols, rows, err := parse(f)
	if err != nil {
		return fmt.Errorf("crm-csv: %s: %w", c.path, err)
	}
	c.cols, c.rows, c.modTime = cols, rows, st.ModTime()
	sdk.Logger().Info("customer file loaded", "customers", len(rows), "columns", len(cols))
	return nil
}

// parse reads the CSV; errors name the row (1-based, header = row 1).
func parse(r io.Reader) ([]column, map[string][]string, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("row 1: header: %w", err)
	}
	refIdx := slices.Index(header, "customer_ref")
	if refIdx < 0 {
		return nil, nil, errors.New("row 1: no customer_ref column")
	}
	cols := make([]column, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		intent, key, ok := strings.Cut(h, ".")
		if !ok {
			intent, key = "", h
		}
		if key == "" {
			return nil, nil, fmt.Errorf("row 1: column %d has an empty name", i+1)
		}
		cols[i] = column{intent: intent, key: key, label: label(key)}
	}
	rows := map[string][]string{}
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("row %d: %w", n, err)
		}
		ref := strings.TrimSpace(rec[refIdx])
		if ref == "" {
			return nil, nil, fmt.Errorf("row %d: empty customer_ref", n)
		}
		if _, dup := rows[ref]; dup {
			return nil, nil, fmt.Errorf("row %d: duplicate customer_ref", n)
		}
		rows[ref] = rec
	}
	return cols, rows, nil
}

func label(key string) string {
	s := strings.ReplaceAll(key, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Cards implements sdk.InfoProvider.
func (c *crm) Cards(ctx context.Context, e sdk.Engagement) ([]sdk.Card, error) {
	if e.CustomerRef == "" {
		return nil, fmt.Errorf("crm-csv: no customer reference (scope customer_ref not granted?): %w", sdk.ErrInvalidInput)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" {
		return nil, errors.New("crm-csv: not configured")
	}
	if err := c.loadLocked(); err != nil {
		return nil, err
	}
	row, ok := c.rows[e.CustomerRef]
	if !ok {
		return nil, fmt.Errorf("crm-csv: customer: %w", sdk.ErrNotFound)
	}
	cards := []sdk.Card{{Title: "Customer"}}
	byIntent := map[string]int{}
	for i, col := range c.cols {
		if col.key == "customer_ref" && col.intent == "" {
			continue
		}
		f := sdk.Field{Key: col.key, Label: col.label, Value: row[i]}
		if col.intent == "" {
			cards[0].Fields = append(cards[0].Fields, f)
			continue
		}
		if !slices.Contains(e.Intents, col.intent) {
			continue
		}
		idx, ok := byIntent[col.intent]
		if !ok {
			idx = len(cards)
			byIntent[col.intent] = idx
			cards = append(cards, sdk.Card{Title: label(col.intent)})
		}
		f.Key = col.intent + "." + col.key
		cards[idx].Fields = append(cards[idx].Fields, f)
	}
	return cards, ctx.Err()
}
