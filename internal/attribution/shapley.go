package attribution

import (
	"encoding/binary"
	"slices"
)

// shapley adds the simplified Shapley credits of Google's fractribution to out:
//
//   - paths are transformed by collapsing consecutive repeats (A > A > B is A > B), and
//     the counts of paths that collapse alike are summed;
//   - a path's conversion rate is its conversions / (conversions + nulls), 0 for a path
//     never seen;
//   - each touch of a converting path is worth the path's rate minus the rate of the
//     path without that touch, at least 0; the worths are normalised to sum to 1, and
//     when they are all 0 the last touch gets everything;
//   - a channel's credit is the sum of its touches' shares over every converting path,
//     weighted by the path's conversions (and value).
//
// As in fractribution, the path without a touch is not collapsed again: A > B > A
// without B is A > A, a path never seen, whose rate is 0. A one-touch path gets 100%.
func (s *PathSet) shapley(out []ChannelCredit) {
	type tally struct {
		ch                        []int32
		conversions, value, nulls float64
	}
	// Keys are the collapsed channel ids as bytes, so a map can find a path and its
	// counterfactuals without building strings per lookup.
	index := make(map[string]int, len(s.paths))
	collapsed := make([]tally, 0, len(s.paths))
	var key []byte
	ch := make([]int32, 0, 16)
	for i := range s.paths {
		p := &s.paths[i]
		ch = ch[:0]
		for k, c := range p.ch {
			if k == 0 || c != p.ch[k-1] {
				ch = append(ch, c)
			}
		}
		key = appendPathKey(key[:0], ch)
		j, ok := index[string(key)]
		if !ok {
			j = len(collapsed)
			index[string(key)] = j
			collapsed = append(collapsed, tally{ch: slices.Clone(ch)})
		}
		t := &collapsed[j]
		t.conversions += p.conversions
		t.value += p.value
		t.nulls += p.nulls
	}
	rate := func(t *tally) float64 {
		if seen := t.conversions + t.nulls; seen > 0 {
			return t.conversions / seen
		}
		return 0
	}

	var worth []float64
	for j := range collapsed {
		t := &collapsed[j]
		if t.conversions == 0 && t.value == 0 {
			continue
		}
		if len(t.ch) == 1 {
			out[t.ch[0]].Conversions += t.conversions
			out[t.ch[0]].Value += t.value
			continue
		}
		own := rate(t)
		worth = worth[:0]
		var sum float64
		for k := range t.ch {
			key = appendPathKey(key[:0], t.ch[:k])
			key = appendPathKey(key, t.ch[k+1:])
			var without float64
			if i, ok := index[string(key)]; ok {
				without = rate(&collapsed[i])
			}
			w := max(own-without, 0)
			worth = append(worth, w)
			sum += w
		}
		if sum == 0 {
			last := t.ch[len(t.ch)-1]
			out[last].Conversions += t.conversions
			out[last].Value += t.value
			continue
		}
		for k, c := range t.ch {
			share := worth[k] / sum
			out[c].Conversions += share * t.conversions
			out[c].Value += share * t.value
		}
	}
}

func appendPathKey(b []byte, ch []int32) []byte {
	for _, c := range ch {
		b = binary.LittleEndian.AppendUint32(b, uint32(c))
	}
	return b
}
