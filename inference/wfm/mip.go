package wfm

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// MIP is the optimiser's model as a mixed-integer programme, for checking
// schedules against an external solver such as GLPK (glpsol --lp). It is
// the same model Solve optimises, with every hard rule a constraint:
//
//	x[a,d,o] in {0,1}  agent a works option o (template, start) on day d
//	N[g]     = sum of x over the agents of skill set S with option g = (S, template, start)
//	z[g,j,p] in Z+     shifts of group g taking break j at offset p; sum_p z[g,j,p] = N[g]
//	y[t,S,q] >= 0      agents of set S serving queue q in quarter t; sum_q y <= working agents of S
//	u[t,q]   >= 0      under-staffing: sum_S y[t,S,q] + u[t,q] >= demand
//	v[a,w]   in {0,1}  agent a works weekend w (when the weekend rule binds)
//
// per agent: one shift a day, days off per week, the weekly contract band,
// days in a row (every window of max+1 days), rest (one clique per end
// class between consecutive days), weekends. Over-staffing is working
// agents less demand plus under-staffing, so the objective is
// (UnderWeight+OverWeight) u + OverWeight x working time + preference
// costs, less a constant; Objective adds the constant back and reports in
// the schedule's units. The MIP has no contract shortfall: build it only
// for rosters that can meet their contracts.
type MIP struct {
	m *model
	// column order as written (every column appears in the objective)
	cols   []mipCol
	groups []mipGroup
	// Constant is added to the solver's objective (in quarters) by
	// Objective.
	constant float64
}

type mipCol struct {
	kind byte // 'x', 'N', 'z', 'y', 'u', 'v'
	a, d int  // x: agent, day, option; z: group, break, offset
	o    int
}

type mipGroup struct {
	set, d int
	tmpl   int16
	s      int32
	agents [][2]int // (agent, option)
}

// NewMIP builds the programme of p.
func NewMIP(p *Problem) (*MIP, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m := compile(p)
	x := &MIP{m: m}
	gi := map[[4]int]int{}
	for ai := range m.agents {
		ma := &m.agents[ai]
		for d, opts := range ma.opts {
			for o := range opts {
				op := &opts[o]
				k := [4]int{ma.set, d, int(op.tmpl), int(op.s)}
				g, ok := gi[k]
				if !ok {
					g = len(x.groups)
					gi[k] = g
					x.groups = append(x.groups, mipGroup{set: ma.set, d: d, tmpl: op.tmpl, s: op.s})
				}
				x.groups[g].agents = append(x.groups[g].agents, [2]int{ai, o})
			}
		}
	}
	for t := range m.T {
		for q := range m.nq {
			x.constant -= m.wo * float64(m.req[t*m.nq+q])
		}
	}
	for ai := range m.agents {
		ma := &m.agents[ai]
		for w := range len(m.days) / 7 {
			n := 0
			for d := w * 7; d < w*7+7; d++ {
				n += len(ma.opts[d])
			}
			if n == 0 && ma.lo > 0 {
				return nil, fmt.Errorf("%w: mip: agent %s cannot work in week %d; the programme needs a roster that can meet its contracts", ErrBadInput, ma.a.ID, w+1)
			}
		}
	}
	return x, nil
}

func inPeriod(m *model, s, e int32) float64 {
	return float64(max(0, min(e, int32(m.T))-max(s, 0)))
}

// WriteLP writes the programme in CPLEX LP format.
func (x *MIP) WriteLP(w io.Writer) error {
	m := x.m
	bw := bufio.NewWriterSize(w, 1<<20)
	x.cols = x.cols[:0]
	var names []string
	col := func(c mipCol, name string) {
		x.cols = append(x.cols, c)
		names = append(names, name)
	}
	xName := func(a, d, o int) string { return "x" + strconv.Itoa(a) + "_" + strconv.Itoa(d) + "_" + strconv.Itoa(o) }
	zName := func(g, j, p int) string { return "z" + strconv.Itoa(g) + "_" + strconv.Itoa(j) + "_" + strconv.Itoa(p) }
	yName := func(t, s, q int) string { return "y" + strconv.Itoa(t) + "_" + strconv.Itoa(s) + "_" + strconv.Itoa(q) }
	uName := func(t, q int) string { return "u" + strconv.Itoa(t) + "_" + strconv.Itoa(q) }
	vName := func(a, w int) string { return "v" + strconv.Itoa(a) + "_" + strconv.Itoa(w) }
	nName := func(g int) string { return "N" + strconv.Itoa(g) }
	trackWk := m.weekendMax < m.weekends
	// Objective.
	var obj []string
	term := func(c float64, name string) { obj = append(obj, fmtCoef(c)+" "+name) }
	for ai := range m.agents {
		for d, opts := range m.agents[ai].opts {
			for o := range opts {
				op := &opts[o]
				col(mipCol{kind: 'x', a: ai, d: d, o: o}, xName(ai, d, o))
				term(m.wo*inPeriod(m, op.s, op.e)+op.pref, xName(ai, d, o))
			}
		}
	}
	for g, gr := range x.groups {
		col(mipCol{kind: 'N', a: g}, nName(g))
		term(0, nName(g))
		for j, b := range m.tmpls[gr.tmpl].breaks {
			for p := b.first; p <= b.last; p++ {
				bs := gr.s + int32(p)
				col(mipCol{kind: 'z', a: g, d: j, o: p}, zName(g, j, p))
				term(-m.wo*inPeriod(m, bs, bs+int32(b.lenQ)), zName(g, j, p))
			}
		}
	}
	// Which sets could work in each quarter.
	could := make([]uint64, m.T)
	for _, gr := range x.groups {
		for t := max(gr.s, 0); t < min(gr.s+int32(m.tmpls[gr.tmpl].lenQ), int32(m.T)); t++ {
			could[t] |= 1 << gr.set
		}
	}
	for t := range m.T {
		for s, mask := range m.sets {
			if could[t]&(1<<s) == 0 {
				continue
			}
			for q := range m.nq {
				if mask&(1<<q) != 0 && m.req[t*m.nq+q] > 0 {
					col(mipCol{kind: 'y', a: t, d: s, o: q}, yName(t, s, q))
					term(0, yName(t, s, q))
				}
			}
		}
		for q := range m.nq {
			if m.req[t*m.nq+q] > 0 {
				col(mipCol{kind: 'u', a: t, o: q}, uName(t, q))
				term(m.wu+m.wo, uName(t, q))
			}
		}
	}
	if trackWk {
		for ai := range m.agents {
			for wk := range m.weekends {
				col(mipCol{kind: 'v', a: ai, d: wk}, vName(ai, wk))
				term(0, vName(ai, wk))
			}
		}
	}
	fmt.Fprintf(bw, "\\ earshot wfm schedule model: %d agents, %d days, %d quarters, %d queues\n", len(m.agents), len(m.days), m.T, m.nq)
	fmt.Fprintf(bw, "\\ objective constant (quarters): %s\nMinimize\n obj:", fmtCoef(x.constant))
	writeTerms(bw, obj)
	bw.WriteString("Subject To\n")
	row := 0
	constraint := func(terms []string, sense string, rhs float64) {
		row++
		fmt.Fprintf(bw, " r%d:", row)
		writeTerms(bw, terms)
		fmt.Fprintf(bw, " %s %s\n", sense, fmtCoef(rhs))
	}
	// Per-agent rules.
	r := &m.p.Rules
	maxW := 7 - r.MinDaysOffPerWeek
	for ai := range m.agents {
		ma := &m.agents[ai]
		dayTerms := func(d int, coef func(*opt) float64) []string {
			var ts []string
			for o := range ma.opts[d] {
				ts = append(ts, fmtCoef(coef(&ma.opts[d][o]))+" "+xName(ai, d, o))
			}
			return ts
		}
		one := func(*opt) float64 { return 1 }
		for d := range m.days {
			if len(ma.opts[d]) > 1 {
				constraint(dayTerms(d, one), "<=", 1)
			}
		}
		for w := range len(m.days) / 7 {
			var days, hours []string
			n := 0
			for d := w * 7; d < w*7+7; d++ {
				if len(ma.opts[d]) > 0 {
					n++
				}
				days = append(days, dayTerms(d, one)...)
				hours = append(hours, dayTerms(d, func(o *opt) float64 { return float64(m.tmpls[o.tmpl].paidQ) })...)
			}
			if n > maxW {
				constraint(days, "<=", float64(maxW))
			}
			if len(hours) > 0 {
				constraint(hours, ">=", float64(ma.lo))
				constraint(hours, "<=", float64(ma.hi))
			}
		}
		M := r.MaxConsecutiveDays
		for d := 0; d+M < len(m.days); d++ {
			var ts []string
			full := true
			for e := d; e <= d+M; e++ {
				if len(ma.opts[e]) == 0 {
					full = false
				}
				ts = append(ts, dayTerms(e, one)...)
			}
			if full {
				constraint(ts, "<=", float64(M))
			}
		}
		if k := ma.run0; k > 0 {
			// Days worked in a row before the period: a day off comes
			// within the first M+1-k days.
			var ts []string
			for e := 0; e <= M-k && e < len(m.days); e++ {
				ts = append(ts, dayTerms(e, one)...)
			}
			if len(ts) > 0 {
				constraint(ts, "<=", float64(M-k))
			}
		}
		for d := 0; d+1 < len(m.days); d++ {
			done := map[int16]bool{}
			for _, o := range ma.opts[d] {
				b := o.block
				if b == 0 || done[b] {
					continue
				}
				done[b] = true
				var ts []string
				for j := range ma.opts[d] {
					if ma.opts[d][j].block >= b {
						ts = append(ts, "1 "+xName(ai, d, j))
					}
				}
				for j := range ma.opts[d+1] {
					if ma.opts[d+1][j].rank < b {
						ts = append(ts, "1 "+xName(ai, d+1, j))
					}
				}
				constraint(ts, "<=", 1)
			}
		}
		if trackWk {
			var ts []string
			for d, md := range m.days {
				if md.weekend >= 0 && len(ma.opts[d]) > 0 {
					constraint(append(dayTerms(d, one), "-1 "+vName(ai, md.weekend)), "<=", 0)
				}
			}
			for wk := range m.weekends {
				ts = append(ts, "1 "+vName(ai, wk))
			}
			constraint(ts, "<=", float64(m.weekendMax))
		}
	}
	// Groups: N = sum of x; each break's offsets sum to N.
	for g, gr := range x.groups {
		ts := []string{"1 " + nName(g)}
		for _, ao := range gr.agents {
			ts = append(ts, "-1 "+xName(ao[0], gr.d, ao[1]))
		}
		constraint(ts, "=", 0)
		for j, b := range m.tmpls[gr.tmpl].breaks {
			ts := []string{"-1 " + nName(g)}
			for p := b.first; p <= b.last; p++ {
				ts = append(ts, "1 "+zName(g, j, p))
			}
			constraint(ts, "=", 0)
		}
	}
	// Coverage: per quarter and set, the agents serving queues are at most
	// those working; per quarter and queue, served plus under meets demand.
	cover := make([][]string, m.T*len(m.sets))
	for g, gr := range x.groups {
		mt := &m.tmpls[gr.tmpl]
		for t := max(gr.s, 0); t < min(gr.s+int32(mt.lenQ), int32(m.T)); t++ {
			i := int(t)*len(m.sets) + gr.set
			cover[i] = append(cover[i], "-1 "+nName(g))
		}
		for j, b := range mt.breaks {
			for p := b.first; p <= b.last; p++ {
				bs := gr.s + int32(p)
				for t := max(bs, 0); t < min(bs+int32(b.lenQ), int32(m.T)); t++ {
					i := int(t)*len(m.sets) + gr.set
					cover[i] = append(cover[i], "1 "+zName(g, j, p))
				}
			}
		}
	}
	for t := range m.T {
		for s, mask := range m.sets {
			var ys []string
			for q := range m.nq {
				if mask&(1<<q) != 0 && m.req[t*m.nq+q] > 0 && could[t]&(1<<s) != 0 {
					ys = append(ys, "1 "+yName(t, s, q))
				}
			}
			if len(ys) > 0 {
				constraint(append(ys, cover[t*len(m.sets)+s]...), "<=", 0)
			}
		}
		for q := range m.nq {
			rq := m.req[t*m.nq+q]
			if rq == 0 {
				continue
			}
			ts := []string{"1 " + uName(t, q)}
			for s, mask := range m.sets {
				if mask&(1<<q) != 0 && could[t]&(1<<s) != 0 {
					ts = append(ts, "1 "+yName(t, s, q))
				}
			}
			constraint(ts, ">=", float64(rq))
		}
	}
	bw.WriteString("Bounds\n")
	bw.WriteString("General\n")
	var gen, bin []string
	for i, c := range x.cols {
		switch c.kind {
		case 'z':
			gen = append(gen, names[i])
		case 'x', 'v':
			bin = append(bin, names[i])
		}
	}
	writeNames(bw, gen)
	bw.WriteString("Binary\n")
	writeNames(bw, bin)
	bw.WriteString("End\n")
	return bw.Flush()
}

func fmtCoef(c float64) string {
	if c == math.Trunc(c) && math.Abs(c) < 1e15 {
		return strconv.FormatInt(int64(c), 10)
	}
	return strconv.FormatFloat(c, 'g', 15, 64)
}

func writeTerms(w *bufio.Writer, terms []string) {
	for i, t := range terms {
		if i > 0 && i%8 == 0 {
			w.WriteString("\n   ")
		}
		if !strings.HasPrefix(t, "-") {
			w.WriteString(" +")
		} else {
			w.WriteString(" ")
		}
		w.WriteString(t)
	}
	if len(terms) == 0 {
		w.WriteString(" 0 dummy")
	}
	w.WriteString("\n")
}

func writeNames(w *bufio.Writer, names []string) {
	for i, n := range names {
		if i%10 == 0 {
			w.WriteString(" ")
		}
		w.WriteString(" " + n)
		if i%10 == 9 {
			w.WriteString("\n")
		}
	}
	w.WriteString("\n")
}

// MIPResult is an external solver's answer.
type MIPResult struct {
	// Status is GLPK's: "optimal", "feasible", "infeasible", "undefined".
	Status string
	// Objective is in the schedule's units (Stats.Objective).
	Objective float64
	// Schedule is the solution's schedule (nil without an integer one).
	Schedule *Schedule
}

// Objective converts a solver objective (in the programme's quarters) to
// the schedule's units.
func (x *MIP) Objective(v float64) float64 { return (v + x.constant) / float64(x.m.k) }

// ReadGLPK reads a solution written by glpsol -w (GLPK's plain format) for
// the programme last written by WriteLP: an LP relaxation ("s bas") gives
// the objective only, a MIP solution ("s mip") the schedule too.
func (x *MIP) ReadGLPK(r io.Reader) (*MIPResult, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	res := &MIPResult{}
	vals := make([]float64, len(x.cols))
	mip := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "s":
			if len(f) < 6 {
				return nil, fmt.Errorf("wfm: glpk solution: bad line %q", sc.Text())
			}
			mip = f[1] == "mip"
			if n, _ := strconv.Atoi(f[3]); n != len(x.cols) {
				return nil, fmt.Errorf("wfm: glpk solution: %d columns, the programme has %d", n, len(x.cols))
			}
			st := f[4]
			if !mip && len(f) >= 7 && f[4] == "f" && f[5] == "f" {
				st = "o" // basic solution: primal and dual feasible
			}
			res.Status = map[string]string{"o": "optimal", "f": "feasible", "n": "infeasible", "u": "undefined", "i": "infeasible"}[st]
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				return nil, fmt.Errorf("wfm: glpk solution: objective %q: %w", f[len(f)-1], err)
			}
			res.Objective = x.Objective(v)
		case "j":
			if len(f) < 3 {
				continue
			}
			j, err := strconv.Atoi(f[1])
			if err != nil || j < 1 || j > len(x.cols) {
				return nil, fmt.Errorf("wfm: glpk solution: bad column line %q", sc.Text())
			}
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				// basic solutions: "j col stat prim dual"
				if len(f) >= 4 {
					v, err = strconv.ParseFloat(f[3], 64)
				}
				if err != nil {
					return nil, fmt.Errorf("wfm: glpk solution: bad column line %q", sc.Text())
				}
			}
			vals[j-1] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("wfm: glpk solution: %w", err)
	}
	if !mip || (res.Status != "optimal" && res.Status != "feasible") {
		return res, nil
	}
	res.Schedule = x.schedule(vals)
	return res, nil
}

// schedule turns column values into shifts: x picks the options, and each
// group's break offsets go to its agents in order.
func (x *MIP) schedule(vals []float64) *Schedule {
	m := x.m
	lines := make([][]choice, len(m.agents))
	for i := range lines {
		lines[i] = make([]choice, len(m.days))
		for d := range lines[i] {
			lines[i][d] = off
		}
	}
	zs := map[[2]int][]int{} // (group, break) -> offsets, one per shift
	for i, c := range x.cols {
		v := int(math.Round(vals[i]))
		switch c.kind {
		case 'x':
			if v == 1 {
				lines[c.a][c.d].opt = int16(c.o)
			}
		case 'z':
			for range v {
				zs[[2]int{c.a, c.d}] = append(zs[[2]int{c.a, c.d}], c.o)
			}
		}
	}
	for g, gr := range x.groups {
		n := 0
		for _, ao := range gr.agents {
			ch := &lines[ao[0]][gr.d]
			if int(ch.opt) != ao[1] {
				continue
			}
			for j := range m.tmpls[gr.tmpl].breaks {
				if offs := zs[[2]int{g, j}]; n < len(offs) {
					ch.br[j] = int8(offs[n])
				}
			}
			n++
		}
	}
	sv := &solver{m: m, lines: lines}
	return sv.schedule()
}

// Size reports the programme's columns (after WriteLP).
func (x *MIP) Size() int { return len(x.cols) }
