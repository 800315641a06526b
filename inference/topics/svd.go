package topics

import (
	"math"
	"math/rand/v2"
	"slices"
)

// lsa returns the rows' coordinates in the dims leading singular
// directions of the matrix they form (U times Sigma of a truncated SVD),
// each row L2-normalised. It uses the randomised range finder of Halko,
// Martinsson and Tropp (2011) with two power iterations: the top singular
// subspace of a sparse n x d matrix in O(nnz * dims) per pass.
func lsa(rows []sparse, d, dims int, seed uint64) [][]float64 {
	n := len(rows)
	l := min(dims+10, n, d)
	if l < 1 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	// Y = A * Omega, Omega Gaussian d x l, drawn one term row at a time.
	omega := make([]float64, d*l)
	for i := range omega {
		omega[i] = rng.NormFloat64()
	}
	y := make([]float64, n*l) // row-major n x l
	for i, r := range rows {
		yi := y[i*l : (i+1)*l]
		for k, j := range r.idx {
			a := float64(r.val[k])
			oj := omega[int(j)*l : (int(j)+1)*l]
			for c := range yi {
				yi[c] += a * oj[c]
			}
		}
	}
	omega = nil
	w := make([]float64, d*l)
	for range 2 {
		orthonormalise(y, n, l)
		atq(rows, y, w, l)
		aw(rows, w, y, l)
	}
	orthonormalise(y, n, l)
	// B B^T = Q^T A A^T Q, an l x l matrix.
	atq(rows, y, w, l)
	p := make([]float64, n*l)
	aw(rows, w, p, l)
	m := make([]float64, l*l)
	for i := range n {
		qi, pi := y[i*l:(i+1)*l], p[i*l:(i+1)*l]
		for a := range l {
			if qi[a] == 0 {
				continue
			}
			ma := m[a*l : (a+1)*l]
			for b := range l {
				ma[b] += qi[a] * pi[b]
			}
		}
	}
	for a := range l { // symmetrise rounding
		for b := a + 1; b < l; b++ {
			s := (m[a*l+b] + m[b*l+a]) / 2
			m[a*l+b], m[b*l+a] = s, s
		}
	}
	vals, vecs := jacobiEigen(m, l)
	order := make([]int, l)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case vals[a] > vals[b]:
			return -1
		case vals[a] < vals[b]:
			return 1
		}
		return 0
	})
	k := min(dims, l)
	out := make([][]float64, n)
	for i := range n {
		qi := y[i*l : (i+1)*l]
		z := make([]float64, k)
		var norm float64
		for c := range k {
			e := order[c]
			sigma := math.Sqrt(max(vals[e], 0))
			var s float64
			for a := range l {
				s += qi[a] * vecs[a*l+e]
			}
			z[c] = s * sigma
			norm += z[c] * z[c]
		}
		if norm > 0 {
			f := 1 / math.Sqrt(norm)
			for c := range z {
				z[c] *= f
			}
		}
		out[i] = z
	}
	return out
}

// atq sets w (d x l, row-major) to A^T q.
func atq(rows []sparse, q, w []float64, l int) {
	clear(w)
	for i, r := range rows {
		qi := q[i*l : (i+1)*l]
		for k, j := range r.idx {
			a := float64(r.val[k])
			wj := w[int(j)*l : (int(j)+1)*l]
			for c := range wj {
				wj[c] += a * qi[c]
			}
		}
	}
}

// aw sets out (n x l) to A w.
func aw(rows []sparse, w, out []float64, l int) {
	for i, r := range rows {
		oi := out[i*l : (i+1)*l]
		clear(oi)
		for k, j := range r.idx {
			a := float64(r.val[k])
			wj := w[int(j)*l : (int(j)+1)*l]
			for c := range oi {
				oi[c] += a * wj[c]
			}
		}
	}
}

// orthonormalise makes the l columns of the row-major n x l matrix y
// orthonormal (modified Gram-Schmidt, twice for stability); a column that
// vanishes is left zero.
func orthonormalise(y []float64, n, l int) {
	cols := make([][]float64, l)
	for c := range l {
		v := make([]float64, n)
		for i := range n {
			v[i] = y[i*l+c]
		}
		cols[c] = v
	}
	for c := range l {
		v := cols[c]
		for range 2 {
			for p := range c {
				u := cols[p]
				var s float64
				for i := range n {
					s += u[i] * v[i]
				}
				for i := range n {
					v[i] -= s * u[i]
				}
			}
		}
		var norm float64
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		if norm < 1e-12 {
			clear(v)
			continue
		}
		for i := range v {
			v[i] /= norm
		}
	}
	for c := range l {
		for i := range n {
			y[i*l+c] = cols[c][i]
		}
	}
}

// jacobiEigen returns the eigenvalues and eigenvectors (columns of the
// row-major l x l matrix) of the symmetric matrix a, by cyclic Jacobi
// rotations; a is overwritten.
func jacobiEigen(a []float64, l int) ([]float64, []float64) {
	v := make([]float64, l*l)
	for i := range l {
		v[i*l+i] = 1
	}
	for range 50 {
		var off float64
		for p := range l {
			for q := p + 1; q < l; q++ {
				off += a[p*l+q] * a[p*l+q]
			}
		}
		if off < 1e-22 {
			break
		}
		for p := range l {
			for q := p + 1; q < l; q++ {
				apq := a[p*l+q]
				if math.Abs(apq) < 1e-30 {
					continue
				}
				theta := (a[q*l+q] - a[p*l+p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range l {
					akp, akq := a[k*l+p], a[k*l+q]
					a[k*l+p] = c*akp - s*akq
					a[k*l+q] = s*akp + c*akq
				}
				for k := range l {
					apk, aqk := a[p*l+k], a[q*l+k]
					a[p*l+k] = c*apk - s*aqk
					a[q*l+k] = s*apk + c*aqk
				}
				for k := range l {
					vkp, vkq := v[k*l+p], v[k*l+q]
					v[k*l+p] = c*vkp - s*vkq
					v[k*l+q] = s*vkp + c*vkq
				}
			}
		}
	}
	vals := make([]float64, l)
	for i := range l {
		vals[i] = a[i*l+i]
	}
	return vals, v
}
