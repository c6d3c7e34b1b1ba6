package attribution

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

const (
	// ModelMarkov credits each channel with its share of the first-order Markov chain's
	// removal effects: how much less often people convert when the channel is taken out
	// of the journeys. It needs converting and non-converting paths, so it credits a set
	// of paths (PathSet), not one conversion.
	ModelMarkov Model = "markov"
	// ModelShapley is the simplified Shapley value of Google's fractribution: each touch
	// of a converting path is credited with how much its path's conversion rate exceeds
	// that of the same path without it. Like ModelMarkov it credits a PathSet.
	ModelShapley Model = "shapley"
)

// DataDrivenModels are the models computed over a set of paths rather than per
// conversion.
func DataDrivenModels() []Model {
	return []Model{ModelMarkov, ModelShapley}
}

// PathModels are the models a PathSet computes, in the order reports list them: the
// rule-based models that are defined on a bare channel list, then the data-driven ones.
func PathModels() []Model {
	return []Model{ModelFirst, ModelLast, ModelLinear, ModelMarkov, ModelShapley}
}

// ParsePathModel is ParseModel for PathModels.
func ParsePathModel(s string) (Model, error) {
	m := Model(s)
	if !slices.Contains(PathModels(), m) {
		return "", fmt.Errorf("%w %q: valid path models are %s", ErrUnknownModel, s, joinModels(PathModels()))
	}
	return m, nil
}

func joinModels(ms []Model) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// ChannelCredit is what one model credits to one channel over a set of paths: a
// fractional number of conversions and the matching share of their value.
type ChannelCredit struct {
	Channel     string  `json:"channel"`
	Conversions float64 `json:"conversions"`
	Value       float64 `json:"value"`
}

// PathSet is a validated set of paths in a canonical order, ready to be credited under
// every path model. The canonical order (paths sorted by their channels, then counts;
// identical paths merged) makes every float sum, and so every credit, bit-for-bit the
// same whatever order the paths came in.
type PathSet struct {
	channels []string // sorted; a path's channel ids index it
	paths    []codedPath
	totals   Path // Channels unused
}

// codedPath is a Path with its channels as indexes into PathSet.channels: comparing and
// hashing small integers is what makes 100,000 paths cheap.
type codedPath struct {
	ch                        []int32
	conversions, value, nulls float64
}

// NewPathSet validates paths (see ReadPaths for what a valid path is) and prepares them.
// The paths are not modified or retained.
func NewPathSet(paths []Path) (*PathSet, error) {
	touches := 0
	for i := range paths {
		if err := paths[i].validate(); err != nil {
			return nil, fmt.Errorf("path set: path %d (%s): %w", i+1, paths[i].String(), err)
		}
		touches += len(paths[i].Channels)
	}
	// Channels get ids in first-seen order with one map lookup per touch, then are
	// renumbered in name order, which is what makes the ids' order the names' order.
	ids := make(map[string]int32)
	var names []string
	coded := make([]codedPath, len(paths))
	backing := make([]int32, 0, touches)
	for i := range paths {
		p := &paths[i]
		start := len(backing)
		for _, c := range p.Channels {
			id, ok := ids[c]
			if !ok {
				id = int32(len(names))
				ids[c] = id
				names = append(names, c)
			}
			backing = append(backing, id)
		}
		coded[i] = codedPath{ch: backing[start:len(backing):len(backing)], conversions: p.Conversions, value: p.Value, nulls: p.Nulls}
	}
	order := make([]int32, len(names))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(names[a], names[b]) })
	rank := make([]int32, len(names))
	s := &PathSet{channels: make([]string, len(names))}
	for r, old := range order {
		rank[old] = int32(r)
		s.channels[r] = names[old]
	}
	for i, id := range backing {
		backing[i] = rank[id]
	}
	slices.SortFunc(coded, func(a, b codedPath) int {
		if c := slices.Compare(a.ch, b.ch); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.conversions, b.conversions), cmp.Compare(a.value, b.value), cmp.Compare(a.nulls, b.nulls))
	})
	for _, p := range coded {
		if n := len(s.paths); n > 0 && slices.Equal(s.paths[n-1].ch, p.ch) {
			last := &s.paths[n-1]
			last.conversions += p.conversions
			last.value += p.value
			last.nulls += p.nulls
		} else {
			s.paths = append(s.paths, p)
		}
	}
	for _, p := range s.paths {
		s.totals.Conversions += p.conversions
		s.totals.Value += p.value
		s.totals.Nulls += p.nulls
	}
	return s, nil
}

// Channels lists every channel of the set, sorted; Credits lists them in this order.
func (s *PathSet) Channels() []string { return slices.Clone(s.channels) }

// Len is the number of distinct paths.
func (s *PathSet) Len() int { return len(s.paths) }

// Totals sums the conversions, value and nulls of every path.
func (s *PathSet) Totals() (conversions, value, nulls float64) {
	return s.totals.Conversions, s.totals.Value, s.totals.Nulls
}

// Credits returns what model credits to each channel, one entry per channel of
// Channels, in that order (a channel the model credits nothing has zeros). Under every
// model the conversions sum to the set's total conversions and the values to its total
// value, but for rounding; with no conversion at all every credit is zero.
func (s *PathSet) Credits(model Model) ([]ChannelCredit, error) {
	out := make([]ChannelCredit, len(s.channels))
	for i, c := range s.channels {
		out[i].Channel = c
	}
	add := func(ch int32, share float64, p *codedPath) {
		out[ch].Conversions += share * p.conversions
		out[ch].Value += share * p.value
	}
	switch model {
	case ModelFirst:
		for i := range s.paths {
			add(s.paths[i].ch[0], 1, &s.paths[i])
		}
	case ModelLast:
		for i := range s.paths {
			p := &s.paths[i]
			add(p.ch[len(p.ch)-1], 1, p)
		}
	case ModelLinear:
		// Per touch occurrence, as ChannelAttribution's linear_touch: in A > A > B, A
		// gets two thirds.
		for i := range s.paths {
			p := &s.paths[i]
			share := 1 / float64(len(p.ch))
			for _, ch := range p.ch {
				add(ch, share, p)
			}
		}
	case ModelMarkov:
		m := s.Markov()
		var sum float64
		for _, e := range m.RemovalEffects {
			sum += e
		}
		if sum > 0 {
			for i, e := range m.RemovalEffects {
				out[i].Conversions = s.totals.Conversions * e / sum
				out[i].Value = s.totals.Value * e / sum
			}
		}
	case ModelShapley:
		s.shapley(out)
	default:
		return nil, fmt.Errorf("path credits: %w %q: valid path models are %s", ErrUnknownModel, model, joinModels(PathModels()))
	}
	return out, nil
}
