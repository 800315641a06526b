package qm

import (
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// Fact is the content-free record of one ended engagement that reports
// aggregate: IDs, times and figures, no words.
type Fact struct {
	Engagement     string    `json:"engagement"`
	Queue          string    `json:"queue"`
	Agent          string    `json:"agent,omitempty"`
	Channel        string    `json:"channel"`
	Start          time.Time `json:"start"`
	HandleMS       int64     `json:"handle_ms"`
	AgentTalkMS    int64     `json:"agent_talk_ms"`
	CustomerTalkMS int64     `json:"customer_talk_ms"`
	NonTalkMS      int64     `json:"non_talk_ms"`
	Interruptions  int       `json:"interruptions"`
	SentimentStart *float64  `json:"sentiment_start,omitempty"`
	SentimentEnd   *float64  `json:"sentiment_end,omitempty"`
	Escalated      bool      `json:"escalated"`
	Disposition    string    `json:"disposition,omitempty"`
	// QMScore is the mean score of the engagement's evaluations.
	QMScore *float64 `json:"qm_score,omitempty"`
}

// Group-by keys of reports and roll-ups.
const (
	ByQueue = "queue"
	ByAgent = "agent"
	ByDay   = "day"
	ByWeek  = "week"
	ByMonth = "month"
)

// ValidGroup reports whether by is a known grouping.
func ValidGroup(by string) bool {
	return slices.Contains([]string{ByQueue, ByAgent, ByDay, ByWeek, ByMonth}, by)
}

func groupKey(by, queue, agent string, t time.Time, loc *time.Location) string {
	t = t.In(loc)
	switch by {
	case ByQueue:
		return queue
	case ByAgent:
		return agent
	case ByDay:
		return t.Format("2006-01-02")
	case ByWeek:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case ByMonth:
		return t.Format("2006-01")
	}
	return ""
}

// ReportRow aggregates the engagements of one group.
type ReportRow struct {
	Group              string         `json:"group"`
	Engagements        int            `json:"engagements"`
	Voice              int            `json:"voice"`
	Chat               int            `json:"chat"`
	MeanHandleMS       int64          `json:"mean_handle_ms"`
	AgentTalkRatio     float64        `json:"agent_talk_ratio"` // over voice engagements
	MeanNonTalkMS      int64          `json:"mean_non_talk_ms"`
	Interruptions      int            `json:"interruptions"`
	MeanSentimentStart *float64       `json:"mean_sentiment_start"`
	MeanSentimentEnd   *float64       `json:"mean_sentiment_end"`
	Escalations        int            `json:"escalations"`
	Dispositions       map[string]int `json:"dispositions"`
	Evaluated          int            `json:"evaluated"`
	MeanQMScore        *float64       `json:"mean_qm_score"`
}

type acc struct {
	row                ReportRow
	handle, nonTalk    int64
	agentTalk, allTalk int64
	sStart, sEnd, qm   float64
	nStart, nEnd       int
}

// Report aggregates facts by queue, agent, day, week or month (in loc).
// Rows are sorted by group.
func Report(facts []Fact, by string, loc *time.Location) []ReportRow {
	rb := NewReportBuilder(by, loc)
	for i := range facts {
		rb.Add(&facts[i])
	}
	return rb.Rows()
}

// ReportBuilder aggregates facts one at a time, so that a report over
// many engagements never holds them all.
type ReportBuilder struct {
	by     string
	loc    *time.Location
	groups map[string]*acc
}

// NewReportBuilder returns an empty report grouped by by, in loc (nil:
// UTC).
func NewReportBuilder(by string, loc *time.Location) *ReportBuilder {
	if loc == nil {
		loc = time.UTC
	}
	return &ReportBuilder{by: by, loc: loc, groups: map[string]*acc{}}
}

// Add counts one fact.
func (rb *ReportBuilder) Add(f *Fact) {
	k := groupKey(rb.by, f.Queue, f.Agent, f.Start, rb.loc)
	a := rb.groups[k]
	if a == nil {
		a = &acc{row: ReportRow{Group: k, Dispositions: map[string]int{}}}
		rb.groups[k] = a
	}
	r := &a.row
	r.Engagements++
	if f.Channel == "chat" {
		r.Chat++
	} else {
		r.Voice++
		a.agentTalk += f.AgentTalkMS
		a.allTalk += f.AgentTalkMS + f.CustomerTalkMS
		a.nonTalk += f.NonTalkMS
	}
	a.handle += f.HandleMS
	r.Interruptions += f.Interruptions
	if f.SentimentStart != nil {
		a.sStart += *f.SentimentStart
		a.nStart++
	}
	if f.SentimentEnd != nil {
		a.sEnd += *f.SentimentEnd
		a.nEnd++
	}
	if f.Escalated {
		r.Escalations++
	}
	if f.Disposition != "" {
		r.Dispositions[f.Disposition]++
	}
	if f.QMScore != nil {
		r.Evaluated++
		a.qm += *f.QMScore
	}
}

// Rows returns the report's rows, sorted by group.
func (rb *ReportBuilder) Rows() []ReportRow {
	out := make([]ReportRow, 0, len(rb.groups))
	for _, k := range slices.Sorted(maps.Keys(rb.groups)) {
		a := rb.groups[k]
		r := a.row
		r.MeanHandleMS = a.handle / int64(r.Engagements)
		if r.Voice > 0 {
			r.MeanNonTalkMS = a.nonTalk / int64(r.Voice)
		}
		if a.allTalk > 0 {
			r.AgentTalkRatio = float64(a.agentTalk) / float64(a.allTalk)
		}
		r.MeanSentimentStart = mean(a.sStart, a.nStart)
		r.MeanSentimentEnd = mean(a.sEnd, a.nEnd)
		r.MeanQMScore = mean(a.qm, r.Evaluated)
		out = append(out, r)
	}
	return out
}

func mean(sum float64, n int) *float64 {
	if n == 0 {
		return nil
	}
	v := sum / float64(n)
	return &v
}

// WriteReportCSV writes report rows as CSV with a header; dispositions
// are one column of code=count pairs.
func WriteReportCSV(w io.Writer, by string, rows []ReportRow) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{by, "engagements", "voice", "chat", "mean_handle_ms", "agent_talk_ratio", "mean_non_talk_ms", "interruptions",
		"mean_sentiment_start", "mean_sentiment_end", "escalations", "dispositions", "evaluated", "mean_qm_score"})
	opt := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 3, 64)
	}
	for _, r := range rows {
		var disp string
		for i, k := range slices.Sorted(maps.Keys(r.Dispositions)) {
			if i > 0 {
				disp += ";"
			}
			disp += k + "=" + strconv.Itoa(r.Dispositions[k])
		}
		cw.Write([]string{csvSafe(r.Group), strconv.Itoa(r.Engagements), strconv.Itoa(r.Voice), strconv.Itoa(r.Chat),
			strconv.FormatInt(r.MeanHandleMS, 10), strconv.FormatFloat(r.AgentTalkRatio, 'f', 3, 64), strconv.FormatInt(r.MeanNonTalkMS, 10),
			strconv.Itoa(r.Interruptions), opt(r.MeanSentimentStart), opt(r.MeanSentimentEnd), strconv.Itoa(r.Escalations), csvSafe(disp),
			strconv.Itoa(r.Evaluated), opt(r.MeanQMScore)})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// RollupRow is the QM scores of one group.
type RollupRow struct {
	Group        string   `json:"group"`
	Evaluations  int      `json:"evaluations"`
	MeanScore    *float64 `json:"mean_score"`
	Passed       int      `json:"passed"`
	PassRate     float64  `json:"pass_rate"`
	AutoFailed   int      `json:"auto_failed"`
	Reviewed     int      `json:"reviewed"`
	Disputed     int      `json:"disputed"`
	Acknowledged int      `json:"acknowledged"`
}

// Rollup aggregates evaluation scores by agent, queue, day, week or month.
func Rollup(evals []EvaluationSummary, by string, loc *time.Location) []RollupRow {
	if loc == nil {
		loc = time.UTC
	}
	groups := map[string]*RollupRow{}
	sums := map[string]float64{}
	for _, e := range evals {
		k := groupKey(by, e.Queue, e.Agent, e.EngagementStart, loc)
		r := groups[k]
		if r == nil {
			r = &RollupRow{Group: k}
			groups[k] = r
		}
		r.Evaluations++
		sums[k] += e.Score
		if e.Passed {
			r.Passed++
		}
		if e.AutoFailed {
			r.AutoFailed++
		}
		switch e.Status {
		case StatusReviewed:
			r.Reviewed++
		case StatusDisputed:
			r.Disputed++
		case StatusAcknowledged:
			r.Acknowledged++
		}
	}
	out := make([]RollupRow, 0, len(groups))
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		r := *groups[k]
		r.MeanScore = mean(sums[k], r.Evaluations)
		r.PassRate = float64(r.Passed) / float64(r.Evaluations)
		out = append(out, r)
	}
	return out
}

// WriteRollupCSV writes roll-up rows as CSV with a header.
func WriteRollupCSV(w io.Writer, by string, rows []RollupRow) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{by, "evaluations", "mean_score", "passed", "pass_rate", "auto_failed", "reviewed", "disputed", "acknowledged"})
	for _, r := range rows {
		ms := ""
		if r.MeanScore != nil {
			ms = strconv.FormatFloat(*r.MeanScore, 'f', 2, 64)
		}
		cw.Write([]string{csvSafe(r.Group), strconv.Itoa(r.Evaluations), ms, strconv.Itoa(r.Passed), strconv.FormatFloat(r.PassRate, 'f', 3, 64),
			strconv.Itoa(r.AutoFailed), strconv.Itoa(r.Reviewed), strconv.Itoa(r.Disputed), strconv.Itoa(r.Acknowledged)})
	}
	cw.Flush()
	return cw.Error()
}

// factVersion is the first byte of an encoded Fact.
const factVersion = 1

// MarshalBinary encodes a fact compactly: reports read every fact of the
// period, and decoding this is an order of magnitude cheaper than JSON.
func (f Fact) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 96)
	b = append(b, factVersion)
	for _, s := range []string{f.Engagement, f.Queue, f.Agent, f.Channel, f.Disposition} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, f.Start.UnixMilli())
	for _, v := range []int64{f.HandleMS, f.AgentTalkMS, f.CustomerTalkMS, f.NonTalkMS, int64(f.Interruptions)} {
		b = binary.AppendVarint(b, v)
	}
	var flags byte
	var floats []float64
	for i, p := range []*float64{f.SentimentStart, f.SentimentEnd, f.QMScore} {
		if p != nil {
			flags |= 1 << i
			floats = append(floats, *p)
		}
	}
	if f.Escalated {
		flags |= 1 << 3
	}
	b = append(b, flags)
	for _, x := range floats {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b, nil
}

// errFact is returned for a malformed encoded fact.
var errFact = errors.New("qm: malformed fact")

// UnmarshalBinary decodes a fact written by MarshalBinary.
func (f *Fact) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != factVersion {
		return errFact
	}
	b = b[1:]
	var x Fact
	for _, dst := range []*string{&x.Engagement, &x.Queue, &x.Agent, &x.Channel, &x.Disposition} {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return errFact
		}
		*dst = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	var ints [6]int64
	for i := range ints {
		v, k := binary.Varint(b)
		if k <= 0 {
			return errFact
		}
		ints[i], b = v, b[k:]
	}
	x.Start = time.UnixMilli(ints[0]).UTC()
	x.HandleMS, x.AgentTalkMS, x.CustomerTalkMS, x.NonTalkMS, x.Interruptions = ints[1], ints[2], ints[3], ints[4], int(ints[5])
	if len(b) < 1 {
		return errFact
	}
	flags := b[0]
	b = b[1:]
	for i, dst := range []**float64{&x.SentimentStart, &x.SentimentEnd, &x.QMScore} {
		if flags&(1<<i) == 0 {
			continue
		}
		if len(b) < 8 {
			return errFact
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(b))
		*dst, b = &v, b[8:]
	}
	x.Escalated = flags&(1<<3) != 0
	*f = x
	return nil
}
