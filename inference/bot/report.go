package bot

import (
	"context"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// Report is a bot's reporting over a set of conversations (one version or
// all). Rates are shares of Sessions (FallbackRate of Turns).
type Report struct {
	Sessions        int            `json:"sessions"`
	Contained       int            `json:"contained"`
	ContainmentRate float64        `json:"containment_rate"`
	Handovers       int            `json:"handovers"`
	HandoverRate    float64        `json:"handover_rate"`
	HandoverReasons map[string]int `json:"handover_reasons"`
	Abandoned       int            `json:"abandoned"`
	AbandonRate     float64        `json:"abandon_rate"`
	Outcomes        map[string]int `json:"outcomes"`
	Turns           int            `json:"turns"`
	AverageTurns    float64        `json:"average_turns"`
	Fallbacks       int            `json:"fallbacks"`
	FallbackRate    float64        `json:"fallback_rate"`
	Unmatched       int            `json:"unmatched"`
	Intents         []IntentReport `json:"intents"`
	Slots           []SlotReport   `json:"slots"`
	Skills          []SkillReport  `json:"skills"`
	KBAnswers       int            `json:"kb_answers"`
	KBUnanswered    int            `json:"kb_unanswered"`
	Agentic         AgenticStat    `json:"agentic,omitzero"`
}

// IntentReport is one intent's matches.
type IntentReport struct {
	Name              string  `json:"name"`
	Hits              int     `json:"hits"`
	AverageConfidence float64 `json:"average_confidence"`
}

// SlotReport is one slot's completion: the share of conversations that
// asked for it and got a value.
type SlotReport struct {
	Name           string  `json:"name"`
	Asked          int     `json:"asked"`
	Filled         int     `json:"filled"`
	Failed         int     `json:"failed"`
	Sessions       int     `json:"sessions"`
	CompletionRate float64 `json:"completion_rate"`
}

// SkillReport is one skill's calls and errors.
type SkillReport struct {
	Name      string  `json:"name"`
	Calls     int     `json:"calls"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
}

func rate(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(of)*10000) / 10000
}

// Aggregate sums conversations' statistics into a report.
func Aggregate(stats []Stats) Report {
	r := Report{HandoverReasons: map[string]int{}, Outcomes: map[string]int{}, Intents: []IntentReport{}, Slots: []SlotReport{}, Skills: []SkillReport{}}
	intents := map[string]IntentStat{}
	type slotAgg struct {
		SlotStat
		sessions, completed int
	}
	sl := map[string]*slotAgg{}
	skills := map[string]SkillStat{}
	for _, s := range stats {
		r.Sessions++
		r.Outcomes[s.Outcome]++
		switch {
		case s.Outcome == OutcomeHandover:
			r.Handovers++
			r.HandoverReasons[s.HandoverReason]++
		case s.Outcome == OutcomeAbandoned:
			r.Abandoned++
		case s.Contained():
			r.Contained++
		}
		r.Turns += s.Turns
		r.Fallbacks += s.Fallbacks
		r.Unmatched += s.Unmatched
		r.KBAnswers += s.KBAnswers
		r.KBUnanswered += s.KBUnanswered
		for k, v := range s.Intents {
			x := intents[k]
			x.Hits += v.Hits
			x.ConfidenceSum += v.ConfidenceSum
			intents[k] = x
		}
		for k, v := range s.Slots {
			a := sl[k]
			if a == nil {
				a = &slotAgg{}
				sl[k] = a
			}
			a.Asked += v.Asked
			a.Filled += v.Filled
			a.Failed += v.Failed
			if v.Asked > 0 || v.Filled > 0 {
				a.sessions++
				if v.Filled > 0 {
					a.completed++
				}
			}
		}
		for k, v := range s.Skills {
			x := skills[k]
			x.Calls += v.Calls
			x.Errors += v.Errors
			skills[k] = x
		}
		r.Agentic.Decisions += s.Agentic.Decisions
		r.Agentic.Accepted += s.Agentic.Accepted
		for k, v := range s.Agentic.Takeovers {
			if r.Agentic.Takeovers == nil {
				r.Agentic.Takeovers = map[string]int{}
			}
			r.Agentic.Takeovers[k] += v
		}
	}
	r.ContainmentRate = rate(r.Contained, r.Sessions)
	r.HandoverRate = rate(r.Handovers, r.Sessions)
	r.AbandonRate = rate(r.Abandoned, r.Sessions)
	r.FallbackRate = rate(r.Fallbacks, r.Turns)
	if r.Sessions > 0 {
		r.AverageTurns = math.Round(float64(r.Turns)/float64(r.Sessions)*100) / 100
	}
	for _, k := range slices.Sorted(maps.Keys(intents)) {
		v := intents[k]
		r.Intents = append(r.Intents, IntentReport{Name: k, Hits: v.Hits, AverageConfidence: math.Round(v.ConfidenceSum/float64(v.Hits)*1000) / 1000})
	}
	sort.SliceStable(r.Intents, func(i, j int) bool { return r.Intents[i].Hits > r.Intents[j].Hits })
	for _, k := range slices.Sorted(maps.Keys(sl)) {
		a := sl[k]
		r.Slots = append(r.Slots, SlotReport{Name: k, Asked: a.Asked, Filled: a.Filled, Failed: a.Failed, Sessions: a.sessions, CompletionRate: rate(a.completed, a.sessions)})
	}
	for _, k := range slices.Sorted(maps.Keys(skills)) {
		v := skills[k]
		r.Skills = append(r.Skills, SkillReport{Name: k, Calls: v.Calls, Errors: v.Errors, ErrorRate: rate(v.Errors, v.Calls)})
	}
	return r
}

// Topic is a group of similar customer messages, named by its keywords.
type Topic struct {
	Label    string   `json:"label"`
	Keywords []string `json:"keywords"`
	Count    int      `json:"count"`
}

// TopicFinder groups texts into topics, largest first. The reporting of
// unmatched queries uses it; the built-in Clusters is a small stand-in
// that a site-wide topic detector can replace.
type TopicFinder interface {
	Topics(ctx context.Context, texts []string, max int) ([]Topic, error)
}

// Clusters is the built-in TopicFinder: TF-IDF word vectors without stop
// words, greedy leader clustering at a cosine threshold, each cluster
// named by its heaviest words.
type Clusters struct {
	// Threshold is the cosine a text needs to join a cluster (default
	// 0.3).
	Threshold float64
}

var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the and or but if then so of to in on at by for with from about as into
		is are was were be been being am do does did doing have has had having i me my mine you your yours we our us
		he him his she her it its they them their this that these those there here what which who whom whose when where
		why how can could would should will shall may might must not no nor only just also very too than any some all
		please thanks thank hi hello hey ok okay yes yeah want need like get got would im its dont cant ive id youre`) {
		stopwords[w] = true
	}
}

func contentWords(text string) []string {
	var out []string
	for _, t := range textclass.Tokens(text) {
		if len(t) > 2 && !stopwords[t] {
			out = append(out, t)
		}
	}
	return out
}

// Topics implements TopicFinder.
func (c Clusters) Topics(ctx context.Context, texts []string, maxTopics int) ([]Topic, error) {
	gs, err := c.groups(ctx, texts, maxTopics)
	if err != nil {
		return nil, err
	}
	out := make([]Topic, len(gs))
	for i, g := range gs {
		out[i] = g.Topic
	}
	return out, nil
}

func (c Clusters) groups(ctx context.Context, texts []string, maxGroups int) ([]Group, error) {
	th := c.Threshold
	if th <= 0 {
		th = 0.3
	}
	df := map[string]int{}
	docs := make([][]string, len(texts))
	for i, t := range texts {
		docs[i] = contentWords(t)
		seen := map[string]bool{}
		for _, w := range docs[i] {
			if !seen[w] {
				df[w]++
				seen[w] = true
			}
		}
	}
	n := float64(len(texts))
	vec := func(ws []string) map[string]float64 {
		v := map[string]float64{}
		for _, w := range ws {
			v[w] += math.Log((1+n)/(1+float64(df[w]))) + 1
		}
		var norm float64
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		for k := range v {
			v[k] /= norm
		}
		return v
	}
	type cluster struct {
		centroid map[string]float64
		norm     float64
		members  []int
	}
	var cs []*cluster
	for i, ws := range docs {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if len(ws) == 0 {
			continue
		}
		v := vec(ws)
		best, bestSim := -1, th
		for k, c := range cs {
			var dot float64
			for w, x := range v {
				dot += x * c.centroid[w]
			}
			if sim := dot / c.norm; sim >= bestSim {
				best, bestSim = k, sim
			}
		}
		if best < 0 {
			cs = append(cs, &cluster{centroid: v, norm: 1, members: []int{i}})
			continue
		}
		c := cs[best]
		for w, x := range v {
			c.centroid[w] += x
		}
		var sq float64
		for _, x := range c.centroid {
			sq += x * x
		}
		c.norm = math.Sqrt(sq)
		c.members = append(c.members, i)
	}
	sort.SliceStable(cs, func(i, j int) bool { return len(cs[i].members) > len(cs[j].members) })
	var out []Group
	for _, c := range cs {
		if len(out) == maxGroups {
			break
		}
		words := slices.Collect(maps.Keys(c.centroid))
		sort.Slice(words, func(i, j int) bool {
			if c.centroid[words[i]] != c.centroid[words[j]] {
				return c.centroid[words[i]] > c.centroid[words[j]]
			}
			return words[i] < words[j]
		})
		words = words[:min(3, len(words))]
		out = append(out, Group{Topic: Topic{Label: strings.Join(words, " "), Keywords: words, Count: len(c.members)}, Members: c.members})
	}
	return out, nil
}
