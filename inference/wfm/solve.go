package wfm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Config bounds the optimiser.
type Config struct {
	// Seed makes a run repeatable: the same problem, seed and MaxRounds give
	// the same schedule when the run stops on rounds or convergence rather
	// than on time.
	Seed uint64 `json:"seed"`
	// TimeBudget caps the search (a context deadline caps it too); the best
	// schedule found so far is returned.
	TimeBudget Duration `json:"time_budget"`
	// MaxRounds caps the improvement rounds after the first schedule.
	MaxRounds int `json:"max_rounds"`
	// Patience stops the search after this many rounds without improvement.
	Patience int `json:"patience"`
}

// DefaultConfig returns the default optimiser settings.
func DefaultConfig() Config {
	return Config{Seed: 1, TimeBudget: Duration(30 * time.Second), MaxRounds: 10000000, Patience: 200000}
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.TimeBudget.D() <= 0 || c.TimeBudget.D() > time.Hour:
		return fieldErr("time_budget", "%s must be in (0, 1h]", c.TimeBudget)
	case c.MaxRounds < 0:
		return fieldErr("max_rounds", "%d must be >= 0", c.MaxRounds)
	case c.Patience < 1:
		return fieldErr("patience", "%d must be >= 1", c.Patience)
	}
	return nil
}

// Solve makes a schedule for p. The optimiser is a large-neighbourhood
// search whose every step is exact for one agent:
//
//   - each agent's best line over the whole period, given everyone else's
//     shifts, comes from a dynamic programme over days that keeps every
//     hard rule (rest, days in a row, days off, contract band, weekends,
//     availability) and places each break where the agent is missed least;
//   - a first schedule inserts agents one by one, least flexible first;
//   - sweeps re-plan one agent at a time until none improves;
//   - then each round removes a handful of related agents (sharing a day,
//     a skill set, or an under-staffed quarter), re-plans them one by one
//     in random order, and keeps the result unless it costs more.
//
// The cost is UnderWeight per under-staffed agent-interval, OverWeight per
// over-staffed one, Rules.PreferenceWeight per missed preference and
// HoursPenalty per quarter hour a week falls short of its contract band.
// Only that last rule can be broken, and only when the agent cannot reach
// the band at all; the schedule's Explanations say why, and what demand
// the roster cannot meet.
//
// The search stops when the time budget or ctx's deadline passes (the best
// schedule so far is returned), after MaxRounds rounds, or after Patience
// rounds without improvement. A canceled ctx returns its error.
func Solve(ctx context.Context, p *Problem, cfg Config) (*Schedule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	begin := time.Now()
	deadline := begin.Add(cfg.TimeBudget.D())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	m := compile(p)
	sv := newSolver(m, cfg.Seed)
	if err := sv.construct(ctx); err != nil {
		return nil, err
	}
	rep := SolverReport{Seed: cfg.Seed, StoppedBy: "converged"}
	if trace != nil {
		trace(-2, sv.total()/float64(m.k), sv.cov)
	}
	sv.sweeps(ctx, deadline)
	if trace != nil {
		trace(-1, sv.total()/float64(m.k), sv.cov)
	}
	best := sv.total()
	sv.snapshot()
	sinceBest := 0
	for rep.Rounds < cfg.MaxRounds {
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil, fmt.Errorf("wfm: solve: %w", err)
			}
			rep.StoppedBy = "time"
			break
		}
		if time.Now().After(deadline) {
			rep.StoppedBy = "time"
			break
		}
		if sinceBest >= cfg.Patience {
			break
		}
		rep.Rounds++
		if trace != nil && rep.Rounds%2000 == 0 {
			trace(rep.Rounds, sv.total()/float64(m.k), sv.cov)
		}
		sv.round()
		if c := sv.total(); c < best-1e-6 {
			best, sinceBest = c, 0
			sv.snapshot()
		} else {
			sinceBest++
		}
	}
	if rep.Rounds >= cfg.MaxRounds && sinceBest < cfg.Patience {
		rep.StoppedBy = "rounds"
	}
	if sv.total() > best+1e-6 {
		sv.restore()
	}
	s := sv.schedule()
	rep.Elapsed = Duration(time.Since(begin))
	s.Solver = rep
	cov, err := Evaluate(p, s)
	if err != nil {
		return nil, err
	}
	s.Stats = cov.Stats
	s.Explanations = explain(m, sv, cov)
	return s, nil
}

// tune holds the search's settings, chosen on the development instances
// (see the README).
var tune = struct {
	dayShare    float64 // share of rounds that re-time one day's shifts
	swapShare   float64 // share of rounds that move a shift to a day off
	dayK, lineK int     // most agents a day round / a line round re-plans
}{0.85, 0.14, 6, 30}

// trace, when set by a test, sees the search's progress.
var trace func(round int, cost float64, c *cover)

type solver struct {
	m     *model
	cov   *cover
	rng   *rand.Rand
	lines [][]choice
	own   []float64
	sc    *dpScratch
	tmp   []choice
	// LNS bookkeeping
	saved    map[int][]choice
	savedDay []choice
	best     [][]choice
	pick     []int
	dayStart []int32 // first quarter of each day
}

func newSolver(m *model, seed uint64) *solver {
	sv := &solver{
		m: m, cov: newCover(m), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		lines: make([][]choice, len(m.agents)), own: make([]float64, len(m.agents)),
		sc: m.newScratch(), saved: map[int][]choice{},
	}
	for _, d := range m.days {
		sv.dayStart = append(sv.dayStart, int32(d.date.Sub(m.p.Period.Start)/Quarter))
	}
	for i := range sv.lines {
		sv.lines[i] = make([]choice, len(m.days))
		for d := range sv.lines[i] {
			sv.lines[i][d] = off
		}
	}
	return sv
}

func (sv *solver) total() float64 {
	t := sv.cov.cost
	for _, o := range sv.own {
		t += o
	}
	return t
}

func (sv *solver) remove(ai int) {
	ma := &sv.m.agents[ai]
	for d, ch := range sv.lines[ai] {
		if ch.opt >= 0 {
			sv.cov.apply(sv.m, ma.set, &ma.opts[d][ch.opt], &ch.br, -1)
		}
	}
	sv.own[ai] = 0
}

func (sv *solver) insert(ai int, line []choice) {
	ma := &sv.m.agents[ai]
	copy(sv.lines[ai], line)
	for d, ch := range sv.lines[ai] {
		if ch.opt >= 0 {
			sv.cov.apply(sv.m, ma.set, &ma.opts[d][ch.opt], &ch.br, 1)
		}
	}
	sv.own[ai] = sv.m.ownCost(ma, sv.lines[ai])
}

// replan gives agent ai (already removed) its best line and inserts it.
func (sv *solver) replan(ai int) {
	ma := &sv.m.agents[ai]
	sv.cov.prefix(ma.set, 0, int32(sv.m.T), &sv.sc.P)
	sv.tmp, _ = sv.m.bestLine(ma, &sv.sc.P, sv.sc, sv.tmp)
	sv.insert(ai, sv.tmp)
}

// improve re-plans agent ai if a better line exists; it reports whether
// it changed.
func (sv *solver) improve(ai int) bool {
	ma := &sv.m.agents[ai]
	sv.remove(ai)
	sv.cov.prefix(ma.set, 0, int32(sv.m.T), &sv.sc.P)
	old := sv.m.lineCost(ma, sv.lines[ai], &sv.sc.P)
	var cost float64
	sv.tmp, cost = sv.m.bestLine(ma, &sv.sc.P, sv.sc, sv.tmp)
	if cost < old-1e-6 {
		sv.insert(ai, sv.tmp)
		return true
	}
	sv.insert(ai, sv.lines[ai])
	return false
}

// construct inserts agents one by one, those with the fewest options
// first (ties in seeded random order).
func (sv *solver) construct(ctx context.Context) error {
	order := sv.rng.Perm(len(sv.m.agents))
	flex := make([]int, len(sv.m.agents))
	for i := range sv.m.agents {
		for _, d := range sv.m.agents[i].opts {
			flex[i] += len(d)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return flex[a] - flex[b] })
	for n, ai := range order {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil && errors.Is(err, context.Canceled) {
				return fmt.Errorf("wfm: solve: %w", err)
			}
		}
		sv.replan(ai)
	}
	return nil
}

// sweeps re-plans every agent in turn until a sweep changes nothing.
func (sv *solver) sweeps(ctx context.Context, deadline time.Time) {
	for range 50 {
		changed := false
		for _, ai := range sv.rng.Perm(len(sv.m.agents)) {
			if sv.improve(ai) {
				changed = true
			}
		}
		if !changed || ctx.Err() != nil || time.Now().After(deadline) {
			return
		}
	}
}

// round is one ruin-and-recreate step, on one day's shifts or on whole
// lines; it reports whether the cost fell.
func (sv *solver) round() bool {
	switch x := sv.rng.Float64(); {
	case x < tune.dayShare:
		return sv.dayRound()
	case x < tune.dayShare+tune.swapShare:
		return sv.swapRound()
	}
	return sv.lineRound()
}

// dayRound re-times the shifts of a few agents working on one day, each
// in turn taking its best shift of the day that keeps the rules with its
// other days.
func (sv *solver) dayRound() bool {
	m := sv.m
	var d int
	t := sv.shortQuarter()
	if t >= 0 && sv.rng.IntN(2) == 0 {
		// Agents of the day who could cover an under-staffed quarter they
		// do not cover yet come first.
		d = sv.dayOf(t)
		sv.pick = sv.pick[:0]
		for ai := range m.agents {
			ch := sv.lines[ai][d]
			if ch.opt < 0 || sv.cov.gain[t]&(1<<m.agents[ai].set) == 0 {
				continue
			}
			if o := &m.agents[ai].opts[d][ch.opt]; o.s <= int32(t) && int32(t) < o.e {
				continue
			}
			sv.pick = append(sv.pick, ai)
		}
		sv.rng.Shuffle(len(sv.pick), func(i, j int) { sv.pick[i], sv.pick[j] = sv.pick[j], sv.pick[i] })
		lead := min(len(sv.pick), 1+sv.rng.IntN(3))
		sv.pick = sv.pick[:lead]
		for ai := range m.agents {
			if sv.lines[ai][d].opt >= 0 && !slices.Contains(sv.pick[:lead], ai) {
				sv.pick = append(sv.pick, ai)
			}
		}
		rest := sv.pick[lead:]
		sv.rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	} else {
		d = sv.pickDay()
		sv.pick = sv.pick[:0]
		for ai := range m.agents {
			if sv.lines[ai][d].opt >= 0 {
				sv.pick = append(sv.pick, ai)
			}
		}
		sv.rng.Shuffle(len(sv.pick), func(i, j int) { sv.pick[i], sv.pick[j] = sv.pick[j], sv.pick[i] })
	}
	if len(sv.pick) == 0 {
		return false
	}
	k := 1 + sv.rng.IntN(min(len(sv.pick), tune.dayK))
	pick := sv.pick[:k]
	before := sv.total()
	sv.savedDay = sv.savedDay[:0]
	for _, ai := range pick {
		ch := sv.lines[ai][d]
		sv.savedDay = append(sv.savedDay, ch)
		ma := &m.agents[ai]
		sv.cov.apply(m, ma.set, &ma.opts[d][ch.opt], &ch.br, -1)
	}
	for _, ai := range pick {
		ma := &m.agents[ai]
		ch := sv.bestDay(ai, d, m.tmpls[ma.opts[d][sv.lines[ai][d].opt].tmpl].paidQ)
		sv.lines[ai][d] = ch
		sv.cov.apply(m, ma.set, &ma.opts[d][ch.opt], &ch.br, 1)
		sv.own[ai] = m.ownCost(ma, sv.lines[ai])
	}
	after := sv.total()
	if after <= before+1e-6 {
		return after < before-1e-6
	}
	for _, ai := range pick {
		ma := &m.agents[ai]
		ch := sv.lines[ai][d]
		sv.cov.apply(m, ma.set, &ma.opts[d][ch.opt], &ch.br, -1)
	}
	for i, ai := range pick {
		ma := &m.agents[ai]
		ch := sv.savedDay[i]
		sv.lines[ai][d] = ch
		sv.cov.apply(m, ma.set, &ma.opts[d][ch.opt], &ch.br, 1)
		sv.own[ai] = m.ownCost(ma, sv.lines[ai])
	}
	return false
}

// shortQuarter returns a random under-staffed quarter, or -1 when a few
// tries find none.
func (sv *solver) shortQuarter() int {
	n := 0
	for _, u := range sv.cov.under {
		if u > 0 {
			n++
		}
	}
	if n == 0 {
		return -1
	}
	i := sv.rng.IntN(n)
	for t, u := range sv.cov.under {
		if u > 0 {
			if i == 0 {
				return t
			}
			i--
		}
	}
	return -1
}

// dayOf is the day quarter t falls on.
func (sv *solver) dayOf(t int) int {
	for d := len(sv.dayStart) - 1; d >= 0; d-- {
		if sv.dayStart[d] <= int32(t) {
			return d
		}
	}
	return 0
}

// pickDay picks a day, half the time one with under-staffing.
func (sv *solver) pickDay() int {
	m := sv.m
	if sv.rng.IntN(2) == 0 {
		for range 8 {
			t := sv.rng.IntN(sv.cov.T)
			if sv.cov.under[t] > 0 {
				for d := len(m.days) - 1; d >= 0; d-- {
					if sv.dayStart[d] <= int32(t) {
						return d
					}
				}
			}
		}
	}
	return sv.rng.IntN(len(m.days))
}

// bestDay is agent ai's best shift on day d (currently removed from the
// cover, or a day off) that keeps the rest rule with the days around it
// and the week's paid hours in the contract band, or where they were when
// the day paid oldPaid quarters. It returns off when no shift fits.
func (sv *solver) bestDay(ai, d int, oldPaid int) choice {
	m := sv.m
	ma := &m.agents[ai]
	opts := ma.opts[d]
	minStart, maxEnd := int32(math.MinInt32), int32(math.MaxInt32)
	if d > 0 {
		if p := sv.lines[ai][d-1]; p.opt >= 0 {
			minStart = ma.opts[d-1][p.opt].e + m.restQ
		}
	}
	if d+1 < len(m.days) {
		if n := sv.lines[ai][d+1]; n.opt >= 0 {
			maxEnd = ma.opts[d+1][n.opt].s - m.restQ
		}
	}
	week := 0
	for e := d / 7 * 7; e < d/7*7+7; e++ {
		if ch := sv.lines[ai][e]; ch.opt >= 0 && e != d {
			week += m.tmpls[ma.opts[e][ch.opt].tmpl].paidQ
		}
	}
	week += oldPaid
	from, to := opts[0].s, opts[0].e
	for i := range opts {
		to = max(to, opts[i].e)
	}
	sv.cov.prefix(ma.set, from, to, &sv.sc.P)
	best, bestCost := off, inf
	var br [maxBreaks]int8
	for i := range opts {
		o := &opts[i]
		if o.s < minStart || o.e > maxEnd {
			continue
		}
		if p := m.tmpls[o.tmpl].paidQ; p != oldPaid {
			if tot := week - oldPaid + p; tot < ma.lo || tot > ma.hi {
				continue
			}
		}
		if c := m.optionCost(o, &sv.sc.P, &br); c < bestCost {
			best, bestCost = choice{opt: int16(i), br: br}, c
		}
	}
	return best
}

// swapRound moves one agent's shift from another day of the week to a day
// (half the time one with under-staffing) the agent has off, if that
// keeps every rule and costs no more.
func (sv *solver) swapRound() bool {
	m := sv.m
	d := sv.pickDay()
	sv.pick = sv.pick[:0]
	for ai := range m.agents {
		if sv.lines[ai][d].opt < 0 && len(m.agents[ai].opts[d]) > 0 {
			sv.pick = append(sv.pick, ai)
		}
	}
	if len(sv.pick) == 0 {
		return false
	}
	ai := sv.pick[sv.rng.IntN(len(sv.pick))]
	ma := &m.agents[ai]
	line := sv.lines[ai]
	before := sv.total()
	bestD, bestCost := -1, before
	var bestCh choice
	for d1 := d / 7 * 7; d1 < d/7*7+7; d1++ {
		old := line[d1]
		if old.opt < 0 {
			continue
		}
		sv.cov.apply(m, ma.set, &ma.opts[d1][old.opt], &old.br, -1)
		line[d1] = off
		ch := sv.bestDay(ai, d, m.tmpls[ma.opts[d1][old.opt].tmpl].paidQ)
		if ch.opt >= 0 {
			line[d] = ch
			if m.lineOK(ma, line) {
				sv.cov.apply(m, ma.set, &ma.opts[d][ch.opt], &ch.br, 1)
				own := sv.own[ai]
				sv.own[ai] = m.ownCost(ma, line)
				if c := sv.total(); c <= bestCost+1e-6 && (bestD < 0 || c < bestCost-1e-6) {
					bestD, bestCost, bestCh = d1, c, ch
				}
				sv.cov.apply(m, ma.set, &ma.opts[d][ch.opt], &ch.br, -1)
				sv.own[ai] = own
			}
			line[d] = off
		}
		line[d1] = old
		sv.cov.apply(m, ma.set, &ma.opts[d1][old.opt], &old.br, 1)
	}
	if bestD < 0 {
		return false
	}
	old := line[bestD]
	sv.cov.apply(m, ma.set, &ma.opts[bestD][old.opt], &old.br, -1)
	line[bestD], line[d] = off, bestCh
	sv.cov.apply(m, ma.set, &ma.opts[d][bestCh.opt], &bestCh.br, 1)
	sv.own[ai] = m.ownCost(ma, line)
	return sv.total() < before-1e-6
}

// snapshot remembers the current lines as the best found.
func (sv *solver) snapshot() {
	if sv.best == nil {
		sv.best = make([][]choice, len(sv.lines))
		for i := range sv.best {
			sv.best[i] = make([]choice, len(sv.m.days))
		}
	}
	for i, l := range sv.lines {
		copy(sv.best[i], l)
	}
}

// restore goes back to the snapshot.
func (sv *solver) restore() {
	for ai := range sv.lines {
		if !slices.Equal(sv.lines[ai], sv.best[ai]) {
			sv.remove(ai)
			sv.insert(ai, sv.best[ai])
		}
	}
}

// lineRound re-plans a few related agents' whole lines.
func (sv *solver) lineRound() bool {
	n := len(sv.m.agents)
	if n == 0 {
		return false
	}
	kmax := min(max(n/10, 3), tune.lineK, n)
	k := 2 + sv.rng.IntN(max(kmax-1, 1))
	k = min(k, n)
	pick := sv.neighbourhood(k)
	before := sv.total()
	clear(sv.saved)
	for _, ai := range pick {
		sv.saved[ai] = slices.Clone(sv.lines[ai])
		sv.remove(ai)
	}
	for _, ai := range pick {
		sv.replan(ai)
	}
	after := sv.total()
	if after <= before+1e-6 {
		return after < before-1e-6
	}
	for _, ai := range pick {
		sv.remove(ai)
	}
	for _, ai := range pick {
		sv.insert(ai, sv.saved[ai])
	}
	return false
}

// neighbourhood picks k related agents.
func (sv *solver) neighbourhood(k int) []int {
	m := sv.m
	n := len(m.agents)
	var cand []int
	switch sv.rng.IntN(3) {
	case 0: // agents who work or could work on one day
		d := sv.rng.IntN(len(m.days))
		for ai := range m.agents {
			if len(m.agents[ai].opts[d]) > 0 {
				cand = append(cand, ai)
			}
		}
	case 1: // agents who could cover an under-staffed quarter
		var short []int
		for t := range sv.cov.T {
			if sv.cov.under[t] > 0 {
				short = append(short, t)
			}
		}
		if len(short) > 0 {
			t := int32(short[sv.rng.IntN(len(short))])
			for ai := range m.agents {
				ma := &m.agents[ai]
				if sv.cov.gain[t]&(1<<ma.set) == 0 {
					continue
				}
				for _, day := range ma.opts {
					if slices.ContainsFunc(day, func(o opt) bool { return o.s <= t && t < o.e }) {
						cand = append(cand, ai)
						break
					}
				}
			}
		}
	}
	if len(cand) < k { // any agents
		cand = cand[:0]
		for ai := range n {
			cand = append(cand, ai)
		}
	}
	sv.rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	return cand[:k]
}

// schedule writes the current lines out as shifts.
func (sv *solver) schedule() *Schedule {
	m := sv.m
	per := m.p.Period
	loc := per.Start.Location()
	s := &Schedule{Period: per, Shifts: []Shift{}}
	for ai := range m.agents {
		ma := &m.agents[ai]
		for d, ch := range sv.lines[ai] {
			if ch.opt < 0 {
				continue
			}
			o := &ma.opts[d][ch.opt]
			mt := &m.tmpls[o.tmpl]
			st := per.Start.Add(time.Duration(o.s) * Quarter).In(loc)
			sh := Shift{Agent: ma.a.ID, Template: mt.t.Name, Start: st, End: st.Add(mt.t.Length.D())}
			for j, b := range mt.t.Breaks {
				bs := st.Add(time.Duration(ch.br[j]) * Quarter)
				sh.Breaks = append(sh.Breaks, Activity{Name: b.Name, Start: bs, End: bs.Add(b.Length.D()), Paid: b.Paid})
			}
			s.Shifts = append(s.Shifts, sh)
		}
	}
	return s
}
