package wfm

import "time"

// The best response of one agent: given everyone else's shifts (the cover's
// gains), the agent's cheapest line over the whole period that keeps every
// hard rule, by dynamic programming over days. A state after a day holds
// the days worked in a row, the days and paid quarters of the current week,
// how many of tomorrow's start times the rest rule rules out, and the
// weekends worked so far (with whether the current one already counts).
// Weeks short of the contract band cost HoursPenalty per quarter, so a line
// falls short only where no line could reach the band.

type dpState struct {
	key  uint32
	cost float64
	prev int32
	ch   int16
}

func dpKey(c, w, h, r, wk, fl int) uint32 {
	return uint32(c) | uint32(w)<<4 | uint32(h)<<7 | uint32(r)<<17 | uint32(wk)<<24 | uint32(fl)<<27
}

func dpDecode(k uint32) (c, w, h, r, wk, fl int) {
	return int(k & 15), int(k >> 4 & 7), int(k >> 7 & 1023), int(k >> 17 & 127), int(k >> 24 & 7), int(k >> 27 & 1)
}

type sufEntry struct {
	cost float64
	opt  int16
}

// dgroup is a day's options of one template whose shifts end alike for the
// rest rule; suf[r] is the cheapest of them among starts of rank >= r.
type dgroup struct {
	block int
	paid  int
	suf   []sufEntry
}

type dpScratch struct {
	P      prefix
	cost   [][]float64
	br     [][][maxBreaks]int8
	groups [][]dgroup
	suf    []sufEntry // backing store of the groups' suf
	layers [][]dpState
	idx    stateIndex
}

func (m *model) newScratch() *dpScratch {
	D := len(m.days)
	return &dpScratch{
		cost: make([][]float64, D), br: make([][][maxBreaks]int8, D),
		groups: make([][]dgroup, D), layers: make([][]dpState, D),
	}
}

// stateIndex maps state keys to their index in a layer: open addressing,
// cleared in O(1) by bumping a generation.
type stateIndex struct {
	keys []uint32
	vals []int32
	gens []uint32
	gen  uint32
	n    int
}

func (s *stateIndex) reset() {
	s.gen++
	s.n = 0
	if len(s.keys) == 0 || s.gen == 0 {
		s.alloc(1024)
	}
}

func (s *stateIndex) alloc(size int) {
	s.keys, s.vals, s.gens = make([]uint32, size), make([]int32, size), make([]uint32, size)
	s.gen, s.n = 1, 0
}

// slot returns the index of k and whether it was there; a new k gets val.
func (s *stateIndex) lookup(k uint32, val int32) (int32, bool) {
	if 2*(s.n+1) > len(s.keys) {
		old := *s
		s.alloc(2 * len(old.keys))
		for i, g := range old.gens {
			if g == old.gen {
				s.lookup(old.keys[i], old.vals[i])
			}
		}
	}
	mask := uint32(len(s.keys) - 1)
	for i := (k * 0x9e3779b1) & mask; ; i = (i + 1) & mask {
		if s.gens[i] != s.gen {
			s.gens[i], s.keys[i], s.vals[i] = s.gen, k, val
			s.n++
			return val, false
		}
		if s.keys[i] == k {
			return s.vals[i], true
		}
	}
}

// prefix holds prefix sums of the cost of one more agent in each quarter
// from base: P[i] is the cost of quarters base..base+i-1. Past its end
// (past the period) staffing costs nothing.
type prefix struct {
	P    []float64
	base int32
}

func (p *prefix) at(t int32) float64 {
	i := int(t - p.base)
	if i >= len(p.P) {
		return p.P[len(p.P)-1]
	}
	return p.P[i]
}

// optionCost is the cost of working option o given the prefix sums of the
// gains, with each break where the agent is missed least (break windows
// never overlap, so each is placed on its own).
func (m *model) optionCost(o *opt, P *prefix, br *[maxBreaks]int8) float64 {
	cost := P.at(o.e) - P.at(o.s)
	for j, b := range m.tmpls[o.tmpl].breaks {
		mid := (b.first + b.last) / 2
		best, pos := inf, -1
		for x := b.first; x <= b.last; x++ {
			// Removing the quarters with the highest cost saves most.
			v := -(P.at(o.s+int32(x+b.lenQ)) - P.at(o.s+int32(x)))
			if pos < 0 || v < best || (v == best && absInt(x-mid) < absInt(pos-mid)) {
				best, pos = v, x
			}
		}
		cost += best
		br[j] = int8(pos)
	}
	return cost + o.pref
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// choiceCost is the cost of a given choice under P.
func (m *model) choiceCost(o *opt, br *[maxBreaks]int8, P *prefix) float64 {
	cost := P.at(o.e) - P.at(o.s)
	for j, b := range m.tmpls[o.tmpl].breaks {
		bs := o.s + int32(br[j])
		cost -= P.at(bs+int32(b.lenQ)) - P.at(bs)
	}
	return cost + o.pref
}

// lineCost is what a line costs under P, its own costs included.
func (m *model) lineCost(ma *magent, line []choice, P *prefix) float64 {
	var cost float64
	for d, ch := range line {
		if ch.opt >= 0 {
			o := &ma.opts[d][ch.opt]
			cost += m.choiceCost(o, &ch.br, P) - o.pref
		}
	}
	return cost + m.ownCost(ma, line)
}

// ownCost is the part of a line's cost that depends on the agent alone:
// missed preferences and weeks short of the contract band.
func (m *model) ownCost(ma *magent, line []choice) float64 {
	var cost float64
	var weekPaid [5]int
	for d, ch := range line {
		if ch.opt >= 0 {
			o := &ma.opts[d][ch.opt]
			cost += o.pref
			weekPaid[d/7] += m.tmpls[o.tmpl].paidQ
		}
	}
	for w := 0; w < len(m.days)/7; w++ {
		if s := ma.lo - weekPaid[w]; s > 0 {
			cost += m.hoursPen * float64(s)
		}
	}
	return cost
}

// bestLine returns agent ma's cheapest line under the prefix sums P and its
// cost (coverage part and own costs).
func (m *model) bestLine(ma *magent, P *prefix, sc *dpScratch, out []choice) ([]choice, float64) {
	D := len(m.days)
	r := &m.p.Rules
	M := r.MaxConsecutiveDays
	trackC := M < D+ma.run0
	maxW := 7 - r.MinDaysOffPerWeek
	trackWk := m.weekendMax < m.weekends
	// Option costs and, per day, the cheapest option per template and end
	// class for every start rank.
	sc.suf = sc.suf[:0]
	for d := range D {
		opts := ma.opts[d]
		sc.cost[d] = grow(sc.cost[d], len(opts))
		sc.br[d] = grow(sc.br[d], len(opts))
		for j := range opts {
			sc.cost[d][j] = m.optionCost(&opts[j], P, &sc.br[d][j])
		}
		sc.groups[d] = sc.groups[d][:0]
		R := len(ma.starts[d])
		for j := len(opts) - 1; j >= 0; j-- {
			o := &opts[j]
			paid := m.tmpls[o.tmpl].paidQ
			gi := -1
			for i, g := range sc.groups[d] {
				if g.block == int(o.block) && g.paid == paid && opts[g.suf[R].opt].tmpl == o.tmpl {
					gi = i
					break
				}
			}
			if gi < 0 {
				if cap(sc.suf)-len(sc.suf) < R+1 {
					// A new backing array; groups already made keep the old one.
					sc.suf = make([]sufEntry, 0, max(2*cap(sc.suf), 64*(R+1)))
				}
				suf := sc.suf[len(sc.suf) : len(sc.suf)+R+1]
				sc.suf = sc.suf[:len(sc.suf)+R+1]
				for i := range suf {
					suf[i] = sufEntry{cost: inf, opt: -1}
				}
				// suf[R] remembers the group's template through any option.
				suf[R].opt = int16(j)
				sc.groups[d] = append(sc.groups[d], dgroup{block: int(o.block), paid: paid, suf: suf})
				gi = len(sc.groups[d]) - 1
			}
			e := &sc.groups[d][gi].suf[o.rank]
			if c := sc.cost[d][j]; e.opt < 0 || c <= e.cost {
				*e = sufEntry{cost: c, opt: int16(j)}
			}
		}
		for gi := range sc.groups[d] {
			suf := sc.groups[d][gi].suf
			suf[R] = sufEntry{cost: inf, opt: -1}
			for i := R - 1; i >= 0; i-- {
				if suf[i].opt < 0 || suf[i+1].cost < suf[i].cost {
					suf[i] = suf[i+1]
				}
			}
		}
	}
	c0 := 0
	if trackC {
		c0 = ma.run0
	}
	prev := []dpState{{key: dpKey(c0, 0, 0, 0, 0, 0), prev: -1, ch: -1}}
	for d := range D {
		cur := sc.layers[d][:0]
		sc.idx.reset()
		push := func(k uint32, cost float64, p int32, ch int16) {
			if i, ok := sc.idx.lookup(k, int32(len(cur))); ok {
				if cost < cur[i].cost {
					cur[i] = dpState{key: k, cost: cost, prev: p, ch: ch}
				}
				return
			}
			cur = append(cur, dpState{key: k, cost: cost, prev: p, ch: ch})
		}
		day := m.days[d]
		newWeek := d%7 == 0 && d > 0
		isWeekend := day.weekend >= 0
		sat := day.date.Weekday() == time.Saturday
		for pi, st := range prev {
			c, w, h, rb, wk, fl := dpDecode(st.key)
			cost := st.cost
			if newWeek {
				if h < ma.lo {
					cost += m.hoursPen * float64(ma.lo-h)
				}
				w, h = 0, 0
			}
			if sat || !isWeekend {
				fl = 0
			}
			push(dpKey(0, w, h, 0, wk, fl), cost, int32(pi), -1)
			if (trackC && c >= M) || w >= maxW || len(sc.groups[d]) == 0 {
				continue
			}
			nwk, nfl := wk, fl
			if isWeekend && trackWk && fl == 0 {
				nwk, nfl = wk+1, 1
				if nwk > m.weekendMax {
					continue
				}
			}
			nc := 0
			if trackC {
				nc = c + 1
			}
			for _, g := range sc.groups[d] {
				if h+g.paid > ma.hi {
					continue
				}
				e := g.suf[rb]
				if e.opt < 0 {
					continue
				}
				push(dpKey(nc, w+1, h+g.paid, g.block, nwk, nfl), cost+e.cost, int32(pi), e.opt)
			}
		}
		sc.layers[d] = cur
		prev = cur
	}
	best, bi := inf, -1
	for i, st := range prev {
		_, _, h, _, _, _ := dpDecode(st.key)
		cost := st.cost
		if h < ma.lo {
			cost += m.hoursPen * float64(ma.lo-h)
		}
		if cost < best {
			best, bi = cost, i
		}
	}
	out = grow(out, D)
	for d := D - 1; d >= 0; d-- {
		st := sc.layers[d][bi]
		out[d] = off
		if st.ch >= 0 {
			out[d] = choice{opt: st.ch, br: sc.br[d][st.ch]}
		}
		bi = int(st.prev)
	}
	return out, best
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
