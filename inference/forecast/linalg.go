package forecast

import (
	"errors"
	"math"
)

// ridge solves min Σ w_i (y_i - x_i·β)² + Σ_j pen_j β_j² by the normal
// equations and a Cholesky factorisation. X is row-major, n×p.
func ridge(x []float64, y, w []float64, p int, pen []float64) ([]float64, error) {
	n := len(y)
	a := make([]float64, p*p)
	b := make([]float64, p)
	for i := 0; i < n; i++ {
		wi := w[i]
		if wi == 0 {
			continue
		}
		row := x[i*p : (i+1)*p]
		for j, xj := range row {
			if xj == 0 {
				continue
			}
			b[j] += wi * xj * y[i]
			aj := a[j*p:]
			for k := j; k < p; k++ {
				aj[k] += wi * xj * row[k]
			}
		}
	}
	for j := 0; j < p; j++ {
		a[j*p+j] += pen[j]
		for k := 0; k < j; k++ {
			a[j*p+k] = a[k*p+j]
		}
	}
	return cholSolve(a, b, p)
}

var errSingular = errors.New("forecast: singular system")

func cholSolve(a, b []float64, p int) ([]float64, error) {
	l := make([]float64, p*p)
	for i := 0; i < p; i++ {
		for j := 0; j <= i; j++ {
			s := a[i*p+j]
			for k := 0; k < j; k++ {
				s -= l[i*p+k] * l[j*p+k]
			}
			if i == j {
				if s <= 1e-12 {
					return nil, errSingular
				}
				l[i*p+i] = math.Sqrt(s)
			} else {
				l[i*p+j] = s / l[j*p+j]
			}
		}
	}
	z := make([]float64, p)
	for i := 0; i < p; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i*p+k] * z[k]
		}
		z[i] = s / l[i*p+i]
	}
	x := make([]float64, p)
	for i := p - 1; i >= 0; i-- {
		s := z[i]
		for k := i + 1; k < p; k++ {
			s -= l[k*p+i] * x[k]
		}
		x[i] = s / l[i*p+i]
	}
	return x, nil
}

// normQuantile returns the standard normal quantile for central coverage c
// (e.g. 0.8 -> 1.2816).
func normQuantile(c float64) float64 {
	p := 0.5 + c/2
	// Acklam's rational approximation, refined by one Newton step.
	a := []float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	bb := []float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	cc := []float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := []float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	var x float64
	switch {
	case p < 0.02425:
		q := math.Sqrt(-2 * math.Log(p))
		x = (((((cc[0]*q+cc[1])*q+cc[2])*q+cc[3])*q+cc[4])*q + cc[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > 1-0.02425:
		q := math.Sqrt(-2 * math.Log(1-p))
		x = -(((((cc[0]*q+cc[1])*q+cc[2])*q+cc[3])*q+cc[4])*q + cc[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	default:
		q := p - 0.5
		r := q * q
		x = (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((bb[0]*r+bb[1])*r+bb[2])*r+bb[3])*r+bb[4])*r + 1)
	}
	e := 0.5*math.Erfc(-x/math.Sqrt2) - p
	u := e * math.Sqrt(2*math.Pi) * math.Exp(x*x/2)
	return x - u/(1+x*u/2)
}
