package wfm

// cover keeps the staffing of every quarter under the current schedule and
// what it costs. Agents are counted per skill set; the agents serving each
// queue follow from a maximum flow from skill sets to queues, found here
// through its dual: the flow equals the minimum, over subsets X of queues,
// of the demand of X plus the agents whose skill set is not inside X. Each
// quarter keeps that sum for every X (at most 2^MaxQueues), so adding an
// agent touches the sums its set is in, and the minimum is a scan.
type cover struct {
	T, nq, nx int
	reqTot    []int32
	pres      []int32
	under     []int32
	gain      []uint64 // sets whose next agent would cut the under-staffing
	val       []int32  // [t*nx+x]
	notSub    []uint64 // per queue subset X: sets not inside X
	xsOf      [][]int  // per set: the subsets X it is not inside
	cost      float64
	wu, wo    float64
}

func newCover(m *model) *cover {
	c := &cover{T: m.T, nq: m.nq, nx: 1 << m.nq, wu: m.wu, wo: m.wo}
	c.reqTot = make([]int32, c.T)
	c.pres = make([]int32, c.T)
	c.under = make([]int32, c.T)
	c.gain = make([]uint64, c.T)
	c.val = make([]int32, c.T*c.nx)
	c.notSub = make([]uint64, c.nx)
	c.xsOf = make([][]int, len(m.sets))
	for x := range c.notSub {
		for s, mask := range m.sets {
			if mask&^uint64(x) != 0 {
				c.notSub[x] |= 1 << s
				c.xsOf[s] = append(c.xsOf[s], x)
			}
		}
	}
	for t := range c.T {
		for q := range c.nq {
			r := m.req[t*c.nq+q]
			c.reqTot[t] += r
			for x := range c.nx {
				if x&(1<<q) != 0 {
					c.val[t*c.nx+x] += r
				}
			}
		}
		c.recompute(t)
	}
	c.cost = 0
	for t := range c.T {
		c.cost += c.slotCost(t)
	}
	return c
}

func (c *cover) slotCost(t int) float64 {
	u := float64(c.under[t])
	return c.wu*u + c.wo*(float64(c.pres[t]-c.reqTot[t])+u)
}

// recompute refreshes quarter t's under-staffing and gains from its sums.
func (c *cover) recompute(t int) {
	v := c.val[t*c.nx : t*c.nx+c.nx]
	best := v[0]
	gain := c.notSub[0]
	for x := 1; x < len(v); x++ {
		switch {
		case v[x] < best:
			best, gain = v[x], c.notSub[x]
		case v[x] == best:
			gain &= c.notSub[x]
		}
	}
	c.under[t] = c.reqTot[t] - best
	c.gain[t] = gain
}

// add changes the agents of set s working in quarters [from, to) by delta.
func (c *cover) add(s int, from, to int32, delta int32) {
	from, to = max(from, 0), min(to, int32(c.T))
	xs := c.xsOf[s]
	for t := from; t < to; t++ {
		old := c.slotCost(int(t))
		c.pres[t] += delta
		base := int(t) * c.nx
		for _, x := range xs {
			c.val[base+x] += delta
		}
		c.recompute(int(t))
		c.cost += c.slotCost(int(t)) - old
	}
}

// apply adds (sign 1) or removes (-1) one agent's shift with its breaks.
func (c *cover) apply(m *model, set int, o *opt, br *[maxBreaks]int8, sign int32) {
	cur := o.s
	for j, b := range m.tmpls[o.tmpl].breaks {
		bs := o.s + int32(br[j])
		c.add(set, cur, bs, sign)
		cur = bs + int32(b.lenQ)
	}
	c.add(set, cur, o.e, sign)
}

// tieBreak weighs a quarter's surplus (agents present less demand) into
// the cost of one more agent there, far below any real cost difference
// (a line's tie-breaks sum to well under one over-staffed quarter): among
// equally good shifts and break times it prefers the quarters with the
// largest deficit for work and the largest surplus for breaks, so breaks
// do not pile up in one quarter of a tight interval.
const tieBreak = 1e-7

// prefix fills P with the prefix sums of the cost of one more agent of
// set s working in quarters from to to (clipped to the period).
func (c *cover) prefix(s int, from, to int32, P *prefix) {
	from, to = max(from, 0), min(to, int32(c.T))
	P.base = from
	P.P = append(P.P[:0], 0)
	bit := uint64(1) << s
	hit := c.wo - (c.wu + c.wo)
	var sum float64
	for t := from; t < to; t++ {
		if c.gain[t]&bit != 0 {
			sum += hit
		} else {
			sum += c.wo
		}
		sum += tieBreak * float64(c.pres[t]-c.reqTot[t])
		P.P = append(P.P, sum)
	}
}
