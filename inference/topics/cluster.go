package topics

import (
	"context"
	"math"
	"runtime"
	"sync"
)

// averageLinkage clusters the unit vectors z by average-linkage
// agglomeration on cosine distance, merging only while the average
// distance between two clusters is at most threshold. It runs the
// nearest-neighbour chain algorithm, O(n^2) in time and memory: average
// linkage is reducible, so two reciprocal nearest neighbours farther apart
// than the threshold can never merge with anything and are set aside. It
// returns the clusters as lists of indices.
func averageLinkage(ctx context.Context, z [][]float64, threshold float64) ([][]int, error) {
	n := len(z)
	d := make([]float32, n*n)
	// The distance matrix is the costly part: rows are shared out among
	// the processors (each worker writes its own rows and their mirror).
	workers := max(1, min(runtime.GOMAXPROCS(0), 8))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if i%256 == w && ctx.Err() != nil {
					return
				}
				zi := z[i]
				for j := i + 1; j < n; j++ {
					zj := z[j]
					var s float64
					for k := range zi {
						s += zi[k] * zj[k]
					}
					dist := float32(1 - s)
					d[i*n+j], d[j*n+i] = dist, dist
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	size := make([]int, n)
	members := make([][]int, n)
	active := make([]bool, n) // may still merge
	for i := range n {
		size[i], members[i], active[i] = 1, []int{i}, true
	}
	remaining := n
	chain := make([]int, 0, n)
	next := 0 // lowest index that may still be active
	for remaining > 1 {
		if len(chain) == 0 {
			for !active[next] {
				next++
			}
			chain = append(chain, next)
		}
		a := chain[len(chain)-1]
		prev := -1
		if len(chain) > 1 {
			prev = chain[len(chain)-2]
		}
		b, best := -1, float32(math.MaxFloat32)
		row := d[a*n : (a+1)*n]
		for k := range n {
			if k == a || !active[k] {
				continue
			}
			if row[k] < best || (row[k] == best && k == prev) {
				b, best = k, row[k]
			}
		}
		if b < 0 { // a is the last active cluster
			active[a] = false
			remaining--
			chain = chain[:0]
			continue
		}
		if b != prev {
			chain = append(chain, b)
			continue
		}
		chain = chain[:len(chain)-2]
		if float64(best) > threshold {
			active[a], active[b] = false, false
			remaining -= 2
			continue
		}
		// Merge b into a (Lance-Williams update for average linkage).
		na, nb := float32(size[a]), float32(size[b])
		for k := range n {
			if k == a || k == b || !active[k] {
				continue
			}
			v := (na*d[a*n+k] + nb*d[b*n+k]) / (na + nb)
			d[a*n+k], d[k*n+a] = v, v
		}
		size[a] += size[b]
		members[a] = append(members[a], members[b]...)
		members[b] = nil
		active[b] = false
		remaining--
		if remaining%128 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	var out [][]int
	for _, m := range members {
		if len(m) > 0 {
			out = append(out, m)
		}
	}
	return out, nil
}

// meanUnit returns the normalised mean of the vectors z[i], i in idx.
func meanUnit(z [][]float64, idx []int) []float64 {
	c := make([]float64, len(z[0]))
	for _, i := range idx {
		for k, x := range z[i] {
			c[k] += x
		}
	}
	var norm float64
	for _, x := range c {
		norm += x * x
	}
	if norm > 0 {
		f := 1 / math.Sqrt(norm)
		for k := range c {
			c[k] *= f
		}
	}
	return c
}

func dotDense(a, b []float64) float64 {
	var s float64
	for k := range a {
		s += a[k] * b[k]
	}
	return s
}

// settle dissolves clusters smaller than minSize into the nearest kept
// cluster and then moves every point to its nearest centroid for a few
// rounds (spherical k-means seeded with the agglomeration). It returns
// each point's cluster and the number of clusters.
func settle(z [][]float64, clusters [][]int, minSize, rounds int) ([]int, int) {
	var kept [][]int
	for _, c := range clusters {
		if len(c) >= minSize {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 { // everything is small: keep the largest
		big := clusters[0]
		for _, c := range clusters {
			if len(c) > len(big) {
				big = c
			}
		}
		kept = [][]int{big}
	}
	cents := make([][]float64, len(kept))
	for t, c := range kept {
		cents[t] = meanUnit(z, c)
	}
	assign := make([]int, len(z))
	for r := 0; ; r++ {
		changed := false
		for i, v := range z {
			best, bs := 0, math.Inf(-1)
			for t, c := range cents {
				if s := dotDense(v, c); s > bs {
					best, bs = t, s
				}
			}
			if r == 0 || assign[i] != best {
				changed = true
			}
			assign[i] = best
		}
		if r >= rounds || !changed {
			break
		}
		groups := make([][]int, len(cents))
		for i, t := range assign {
			groups[t] = append(groups[t], i)
		}
		for t, g := range groups {
			if len(g) > 0 {
				cents[t] = meanUnit(z, g)
			}
		}
	}
	// Renumber densely, largest first happens in the model.
	return assign, len(cents)
}
