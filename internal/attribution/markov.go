package attribution

import "math"

// MarkovChain is the first-order Markov chain of a PathSet, solved.
type MarkovChain struct {
	// ConversionProbability is the probability that a journey started at the start
	// state ends in conversion rather than null.
	ConversionProbability float64
	// RemovalEffects[i] is 1 − P(conversion with channel i removed) / P(conversion),
	// for the channel Channels()[i]; all zero when nobody converts.
	RemovalEffects []float64
}

// Markov solves the set's first-order Markov chain: the states are start, each channel,
// conversion and null; transitions are counted from the paths, each weighted by its
// conversions plus nulls, and each path ends in conversion (its conversions) or null
// (its nulls). Removing a channel sends every transition into it to null.
//
// Everything is solved exactly, never simulated, so the same paths give the same numbers
// on every run. One LU factorisation of I − Q (Q: the transitions between channels)
// gives all removal effects at once, in O(n³) for n channels, by the strong Markov
// property: a journey converts either without ever visiting c, or by reaching c and
// converting from there, so
//
//	P(conversion with c removed) = P(conversion) − h_c·x_c
//
// where x_c is the conversion probability from c (x = (I−Q)⁻¹·r, r the transitions to
// conversion) and h_c the probability of ever visiting c from start, which is the
// expected number of visits to c, (sᵀ(I−Q)⁻¹)_c, divided by the expected visits to c
// from c itself, ((I−Q)⁻¹)_cc. The tests check this against solving every removed chain
// on its own.
func (s *PathSet) Markov() MarkovChain {
	n := len(s.channels)
	out := MarkovChain{RemovalEffects: make([]float64, n)}
	if n == 0 || s.totals.Conversions == 0 {
		return out
	}
	counts := make([]float64, n*n) // counts[i*n+j]: transitions i → j
	toConversion := make([]float64, n)
	exits := make([]float64, n) // every transition out of i, absorbing ones included
	start := make([]float64, n)
	var starts float64
	for i := range s.paths {
		p := &s.paths[i]
		w := p.conversions + p.nulls
		if w == 0 {
			continue
		}
		start[p.ch[0]] += w
		starts += w
		for k := 1; k < len(p.ch); k++ {
			counts[int(p.ch[k-1])*n+int(p.ch[k])] += w
			exits[p.ch[k-1]] += w
		}
		last := p.ch[len(p.ch)-1]
		toConversion[last] += p.conversions
		exits[last] += w
	}
	if starts == 0 {
		return out
	}

	// a = I − Q, in place of counts; r = the one-step conversion probabilities.
	a := counts
	r := toConversion
	for i := range n {
		row := a[i*n : (i+1)*n]
		if exits[i] > 0 {
			for j := range row {
				row[j] = -row[j] / exits[i]
			}
			r[i] /= exits[i]
		}
		row[i]++
		start[i] /= starts
	}
	f := factorise(a, n)
	x := f.solve(r)           // conversion probability from each channel
	visits := f.solveT(start) // expected visits to each channel from start
	var p float64
	for i := range n {
		p += start[i] * x[i]
	}
	out.ConversionProbability = p
	if p <= 0 {
		return out
	}
	e := make([]float64, n)
	for c := range n {
		clear(e)
		e[c] = 1
		selfVisits := f.solve(e)[c]
		effect := visits[c] / selfVisits * x[c] / p
		// Rounding must not push an effect outside what a probability ratio can be.
		out.RemovalEffects[c] = math.Min(math.Max(effect, 0), 1)
	}
	return out
}

// lu is an LU factorisation with partial pivoting, PA = LU, stored in one matrix (L's
// unit diagonal implied): row i of the factors is row perm[i] of A.
type lu struct {
	n    int
	m    []float64
	perm []int
}

// factorise factorises the n×n row-major matrix a in place. Ties between pivots go to
// the first row, so the factors (and every rounding) are the same on every run. I − Q
// of an absorbing chain is never singular: every channel has a way out to conversion or
// null, so Q's spectral radius is below 1.
func factorise(a []float64, n int) *lu {
	f := &lu{n: n, m: a, perm: make([]int, n)}
	for i := range f.perm {
		f.perm[i] = i
	}
	for k := range n {
		pivot := k
		for i := k + 1; i < n; i++ {
			if math.Abs(a[i*n+k]) > math.Abs(a[pivot*n+k]) {
				pivot = i
			}
		}
		if pivot != k {
			for j := range n {
				a[k*n+j], a[pivot*n+j] = a[pivot*n+j], a[k*n+j]
			}
			f.perm[k], f.perm[pivot] = f.perm[pivot], f.perm[k]
		}
		d := a[k*n+k]
		if d == 0 {
			continue
		}
		rowK := a[k*n : (k+1)*n]
		for i := k + 1; i < n; i++ {
			rowI := a[i*n : (i+1)*n]
			l := rowI[k] / d
			if l == 0 {
				continue
			}
			rowI[k] = l
			for j := k + 1; j < n; j++ {
				rowI[j] -= l * rowK[j]
			}
		}
	}
	return f
}

// solve returns x with A·x = b.
func (f *lu) solve(b []float64) []float64 {
	n, m := f.n, f.m
	x := make([]float64, n)
	for i := range n {
		v := b[f.perm[i]]
		for j := range i {
			v -= m[i*n+j] * x[j]
		}
		x[i] = v
	}
	for i := n - 1; i >= 0; i-- {
		v := x[i]
		for j := i + 1; j < n; j++ {
			v -= m[i*n+j] * x[j]
		}
		x[i] = v / m[i*n+i]
	}
	return x
}

// solveT returns y with Aᵀ·y = b: Aᵀ = UᵀLᵀP, so Uᵀz = b, Lᵀw = z and y = Pᵀw.
func (f *lu) solveT(b []float64) []float64 {
	n, m := f.n, f.m
	w := make([]float64, n)
	for i := range n {
		v := b[i]
		for j := range i {
			v -= m[j*n+i] * w[j]
		}
		w[i] = v / m[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		v := w[i]
		for j := i + 1; j < n; j++ {
			v -= m[j*n+i] * w[j]
		}
		w[i] = v
	}
	y := make([]float64, n)
	for i := range n {
		y[f.perm[i]] = w[i]
	}
	return y
}
