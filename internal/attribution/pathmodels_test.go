package attribution

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func nan() float64 { return math.NaN() }

func path(channels string, conversions, value, nulls float64) Path {
	return Path{Channels: strings.Split(channels, " > "), Conversions: conversions, Value: value, Nulls: nulls}
}

func mustSet(t testing.TB, paths ...Path) *PathSet {
	t.Helper()
	s, err := NewPathSet(paths)
	require.NoError(t, err)
	return s
}

func creditsOf(t testing.TB, s *PathSet, m Model) map[string]ChannelCredit {
	t.Helper()
	list, err := s.Credits(m)
	require.NoError(t, err)
	require.Len(t, list, len(s.Channels()))
	out := make(map[string]ChannelCredit, len(list))
	for _, c := range list {
		out[c.Channel] = c
	}
	return out
}

// The known answer: P(conversion) = 1/3; removal effects 0.5, 1, 1.
func TestMarkovKnownAnswer(t *testing.T) {
	s := mustSet(t,
		path("C1 > C2 > C3", 1, 1000, 0),
		path("C1", 0, 0, 1),
		path("C2 > C3", 0, 0, 1),
	)
	m := s.Markov()
	assert.InDelta(t, 1.0/3, m.ConversionProbability, 1e-12)
	assert.Equal(t, []string{"C1", "C2", "C3"}, s.Channels())
	assert.InDeltaSlice(t, []float64{0.5, 1, 1}, m.RemovalEffects, 1e-12)

	got := creditsOf(t, s, ModelMarkov)
	for ch, want := range map[string]float64{"C1": 200, "C2": 400, "C3": 400} {
		assert.InDelta(t, want, got[ch].Value, 1e-9, ch)
		assert.InDelta(t, want/1000, got[ch].Conversions, 1e-12, ch)
	}
}

// shapleyExample is the path set (fractribution's worked example).
func shapleyExample() []Path {
	return []Path{
		path("B > C", 12, 0, 391),
		path("B", 596, 0, 36462),
		path("C", 250, 0, 40727),
		path("A > C", 10, 0, 438),
		path("A", 477, 0, 135201),
		path("B > D > C", 1, 0, 4),
		path("D > C", 6, 0, 105),
		path("B > D", 12, 0, 180),
	}
}

// Value does not enter conversion rates, so putting value on one path only reads that
// path's shares off the credited values.
func TestShapleyKnownAnswer(t *testing.T) {
	for _, tc := range []struct {
		path  string
		share map[string]float64
	}{
		{"B > C", map[string]float64{"B": 0.633557, "C": 0.366443}},
		{"A > C", map[string]float64{"A": 0.463095, "C": 0.536905}},
		{"B > D > C", map[string]float64{"B": 0.321701, "D": 0.375215, "C": 0.303084}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			paths := shapleyExample()
			for i := range paths {
				if paths[i].String() == tc.path {
					paths[i].Value = 1
				}
			}
			got := creditsOf(t, mustSet(t, paths...), ModelShapley)
			var sum float64
			for ch, c := range got {
				sum += c.Value
				assert.InDelta(t, tc.share[ch], c.Value, 1e-6, ch)
			}
			assert.InDelta(t, 1, sum, 1e-12)
		})
	}
}

func TestShapleyCollapsesRepeats(t *testing.T) {
	repeated := creditsOf(t, mustSet(t, append(shapleyExample(), path("B > B > C > C", 3, 30, 7))...), ModelShapley)
	merged := shapleyExample()
	merged[0].Conversions += 3
	merged[0].Value += 30
	merged[0].Nulls += 7
	collapsed := creditsOf(t, mustSet(t, merged...), ModelShapley)
	for ch, c := range collapsed {
		assert.InDelta(t, c.Conversions, repeated[ch].Conversions, 1e-9, ch)
		assert.InDelta(t, c.Value, repeated[ch].Value, 1e-9, ch)
	}
}

func TestShapleyFallsBackToLastTouch(t *testing.T) {
	// A and B each convert every time alone, together only one time in ten: removing
	// either touch raises the rate, so no touch is worth anything and B, the last, takes
	// the path's conversion.
	s := mustSet(t, path("A", 10, 0, 0), path("B", 10, 0, 0), path("A > B", 1, 50, 9))
	got := creditsOf(t, s, ModelShapley)
	assert.Equal(t, ChannelCredit{Channel: "A", Conversions: 10}, got["A"])
	assert.Equal(t, ChannelCredit{Channel: "B", Conversions: 11, Value: 50}, got["B"])
}

// fractribution does not collapse the path without a touch again: A > B > A without B is
// A > A, never seen, so B is worth the whole rate of A > B > A and each A nothing (A > B
// and B > A convert more often than A > B > A).
func TestShapleyCounterfactualIsNotCollapsed(t *testing.T) {
	s := mustSet(t, path("A > B > A", 1, 0, 1), path("A", 1, 0, 0), path("A > B", 1, 0, 0), path("B > A", 1, 0, 0))
	got := creditsOf(t, s, ModelShapley)
	// A > B and B > A each go wholly to A (B alone was never seen); A > B > A to B.
	// Collapsing A > A to A would have given A > B > A's conversion to A as well.
	assert.Equal(t, 3.0, got["A"].Conversions)
	assert.Equal(t, 1.0, got["B"].Conversions)
}

func TestRuleBasedPathModels(t *testing.T) {
	s := mustSet(t, path("A > A > B", 3, 30, 1), path("B > C", 1, 100, 0), path("C", 0, 0, 5))
	for _, tc := range []struct {
		model Model
		want  map[string][2]float64
	}{
		{ModelFirst, map[string][2]float64{"A": {3, 30}, "B": {1, 100}, "C": {0, 0}}},
		{ModelLast, map[string][2]float64{"A": {0, 0}, "B": {3, 30}, "C": {1, 100}}},
		{ModelLinear, map[string][2]float64{"A": {2, 20}, "B": {1.5, 60}, "C": {0.5, 50}}},
	} {
		t.Run(string(tc.model), func(t *testing.T) {
			got := creditsOf(t, s, tc.model)
			for ch, w := range tc.want {
				assert.InDelta(t, w[0], got[ch].Conversions, 1e-12, ch)
				assert.InDelta(t, w[1], got[ch].Value, 1e-12, ch)
			}
		})
	}
}

func TestPathCreditsUnknownModel(t *testing.T) {
	s := mustSet(t, path("A", 1, 0, 0))
	for _, m := range []Model{ModelPosition, ModelTimeDecay, "nope"} {
		_, err := s.Credits(m)
		assert.ErrorIs(t, err, ErrUnknownModel, m)
	}
	_, err := ParsePathModel("position")
	assert.ErrorContains(t, err, "valid path models are first, last, linear, markov, shapley")
	m, err := ParsePathModel("shapley")
	require.NoError(t, err)
	assert.Equal(t, ModelShapley, m)
	// Stored rows name the data-driven models; per-conversion credits still refuse them.
	var decoded Model
	require.NoError(t, decoded.UnmarshalText([]byte("markov")))
	assert.Equal(t, ModelMarkov, decoded)
	_, err = Credits(ModelMarkov, nil, Options{})
	assert.ErrorIs(t, err, ErrUnknownModel)
	_, err = ParseModel("markov")
	assert.ErrorIs(t, err, ErrUnknownModel)
}

func TestPathModelsWithoutConversions(t *testing.T) {
	s := mustSet(t, path("A > B", 0, 0, 4), path("B", 0, 0, 1))
	for _, m := range PathModels() {
		for _, c := range creditsOf(t, s, m) {
			assert.Equal(t, ChannelCredit{Channel: c.Channel}, c, m)
		}
	}
	assert.Equal(t, []float64{0, 0}, s.Markov().RemovalEffects)

	empty := mustSet(t)
	for _, m := range PathModels() {
		got, err := empty.Credits(m)
		require.NoError(t, err)
		assert.Empty(t, got)
	}
}

func TestPathModelsSingleChannel(t *testing.T) {
	s := mustSet(t, path("A", 2, 20, 3), path("A > A", 1, 5, 0))
	for _, m := range PathModels() {
		assert.Equal(t, []ChannelCredit{{Channel: "A", Conversions: 3, Value: 25}}, mustCredits(t, s, m), m)
	}
	assert.Equal(t, []float64{1}, s.Markov().RemovalEffects)
}

func mustCredits(t testing.TB, s *PathSet, m Model) []ChannelCredit {
	t.Helper()
	c, err := s.Credits(m)
	require.NoError(t, err)
	return c
}

// A channel that only ever leads to null changes nothing when removed.
func TestMarkovChannelWhoseRemovalChangesNothing(t *testing.T) {
	s := mustSet(t, path("A > B", 2, 20, 1), path("B", 1, 10, 2), path("X", 0, 0, 5), path("B > X", 0, 0, 3))
	m := s.Markov()
	require.Equal(t, []string{"A", "B", "X"}, s.Channels())
	assert.Zero(t, m.RemovalEffects[2])
	got := creditsOf(t, s, ModelMarkov)
	assert.Zero(t, got["X"].Conversions)
	assert.InDelta(t, 3, got["A"].Conversions+got["B"].Conversions, 1e-12)
}

// First-order Markov credits a channel that no converting path contains when the chain
// can go from it to conversion through a later channel: the journeys A > X > B (null)
// and B (converted) make A → X → B → conversion possible. This is the model as defined
// (and as ChannelAttribution computes it), so the invariant "no converting path, no
// credit" holds for every model but markov; for markov it holds for channels from which
// the chain cannot reach conversion (see TestPathModelInvariants).
func TestMarkovCreditsChannelsThatLeadToConversion(t *testing.T) {
	s := mustSet(t, path("A > X > B", 0, 0, 1), path("B", 1, 0, 0), path("A", 0, 0, 1))
	m := s.Markov()
	assert.InDelta(t, 1.0/3, m.ConversionProbability, 1e-12)
	assert.InDeltaSlice(t, []float64{0.5, 1, 0.5}, m.RemovalEffects, 1e-12)
}

// naiveRemovalEffects solves the chain once per removed channel, each time building the
// reduced system anew and eliminating it with plain Gauss-Jordan: an independent check of
// Markov's one-factorisation shortcut.
func naiveRemovalEffects(paths []Path) (channels []string, p float64, effects []float64) {
	trans := map[[2]string]float64{}
	exits := map[string]float64{}
	seen := map[string]bool{}
	for _, pa := range paths {
		w := pa.Conversions + pa.Nulls
		prev := "(start)"
		for _, c := range pa.Channels {
			seen[c] = true
			trans[[2]string{prev, c}] += w
			exits[prev] += w
			prev = c
		}
		trans[[2]string{prev, "(conversion)"}] += pa.Conversions
		exits[prev] += w
	}
	for c := range seen {
		channels = append(channels, c)
	}
	slices.Sort(channels)
	solve := func(removed string) float64 {
		var states []string
		for _, c := range channels {
			if c != removed {
				states = append(states, c)
			}
		}
		n := len(states)
		// Augmented [I − Q | r].
		a := make([][]float64, n)
		for i, si := range states {
			a[i] = make([]float64, n+1)
			a[i][i] = 1
			if exits[si] == 0 {
				continue
			}
			for j, sj := range states {
				a[i][j] -= trans[[2]string{si, sj}] / exits[si]
			}
			a[i][n] = trans[[2]string{si, "(conversion)"}] / exits[si]
		}
		for k := range n {
			best := k
			for i := k; i < n; i++ {
				if math.Abs(a[i][k]) > math.Abs(a[best][k]) {
					best = i
				}
			}
			a[k], a[best] = a[best], a[k]
			for i := range n {
				if i != k {
					f := a[i][k] / a[k][k]
					for j := k; j <= n; j++ {
						a[i][j] -= f * a[k][j]
					}
				}
			}
		}
		var p float64
		for i, si := range states {
			p += trans[[2]string{"(start)", si}] / exits["(start)"] * a[i][n] / a[i][i]
		}
		return p
	}
	p = solve("")
	for _, c := range channels {
		e := 0.0
		if p > 0 {
			e = 1 - solve(c)/p
		}
		effects = append(effects, e)
	}
	return channels, p, effects
}

// randomPaths draws a path set over a few channels, with loops and repeats, plus "Z"
// channels that only ever appear in non-converting all-Z paths (so the chain cannot get
// from them to conversion).
func randomPaths(r *rand.Rand, n int) []Path {
	channels := []string{"Direct", "Email", "Organic Search", "Paid Search", "Referral", "Social"}
	var paths []Path
	for range n {
		k := 1 + r.IntN(6)
		var p Path
		for range k {
			p.Channels = append(p.Channels, channels[r.IntN(len(channels))])
		}
		p.Conversions = float64(r.IntN(4))
		p.Nulls = float64(r.IntN(20))
		p.Value = p.Conversions * float64(10+r.IntN(90))
		paths = append(paths, p)
	}
	for range 3 {
		paths = append(paths, Path{Channels: []string{"Z1", "Z2", "Z1"}[:1+r.IntN(3)], Nulls: float64(1 + r.IntN(5))})
	}
	return paths
}

func TestMarkovMatchesSolvingEachRemovedChain(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	for trial := range 50 {
		paths := randomPaths(r, 1+r.IntN(60))
		s := mustSet(t, paths...)
		m := s.Markov()
		channels, p, effects := naiveRemovalEffects(paths)
		require.Equal(t, channels, s.Channels(), "trial %d", trial)
		assert.InDelta(t, p, m.ConversionProbability, 1e-12, "trial %d", trial)
		assert.InDeltaSlice(t, effects, m.RemovalEffects, 1e-9, "trial %d", trial)
	}
}

func TestPathModelInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	for trial := range 100 {
		paths := randomPaths(r, 1+r.IntN(200))
		s := mustSet(t, paths...)
		conversions, value, _ := s.Totals()
		converting := map[string]bool{}
		for _, p := range paths {
			if p.Conversions > 0 {
				for _, c := range p.Channels {
					converting[c] = true
				}
			}
		}
		shuffled := slices.Clone(paths)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		permuted := mustSet(t, shuffled...)

		for _, m := range PathModels() {
			name := fmt.Sprintf("trial %d %s", trial, m)
			got := mustCredits(t, s, m)
			var sumC, sumV float64
			for _, c := range got {
				sumC += c.Conversions
				sumV += c.Value
				assert.GreaterOrEqual(t, c.Conversions, 0.0, name)
				if strings.HasPrefix(c.Channel, "Z") || (m != ModelMarkov && !converting[c.Channel]) {
					assert.Zero(t, c.Conversions, "%s: %s", name, c.Channel)
					assert.Zero(t, c.Value, "%s: %s", name, c.Channel)
				}
			}
			assert.InDelta(t, conversions, sumC, 1e-9*max(1, conversions), name)
			assert.InDelta(t, value, sumV, 1e-9*max(1, value), name)
			// Bit for bit: the canonical order leaves no rounding to the input order.
			assert.Equal(t, got, mustCredits(t, permuted, m), name)
		}
	}
}

func TestPathIndex(t *testing.T) {
	var x pathIndex
	x.init(4)
	abc := x.add([]int32{1, 2, 3})
	ac := x.add([]int32{1, 3})
	assert.Equal(t, abc, x.add([]int32{1, 2, 3}), "a path is added once")
	assert.Equal(t, ac, x.find([]int32{1, 2, 3}, 1), "A > B > C without B")
	assert.Equal(t, -1, x.find([]int32{1, 2, 3}, 0), "B > C was never seen")
	assert.Equal(t, -1, x.find([]int32{1, 3, 4}, 1), "nor A > D")
	assert.Equal(t, ac, x.find([]int32{1, 3, 4}, 2), "A > C > D without D")

	// Force a collision: A > C is chained behind A > B > C under A > C's hash.
	x.first[pathHash([]int32{1, 3}, -1)] = int32(abc)
	x.next[abc] = int32(ac)
	assert.Equal(t, ac, x.find([]int32{1, 3}, -1), "chained paths are told apart by their channels")
}
