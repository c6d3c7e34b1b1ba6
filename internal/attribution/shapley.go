package attribution

import "slices"

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
	var idx pathIndex
	idx.init(len(s.paths))
	ch := make([]int32, 0, 16)
	for i := range s.paths {
		p := &s.paths[i]
		ch = ch[:0]
		for k, c := range p.ch {
			if k == 0 || c != p.ch[k-1] {
				ch = append(ch, c)
			}
		}
		t := &idx.tallies[idx.add(ch)]
		t.conversions += p.conversions
		t.value += p.value
		t.nulls += p.nulls
	}

	var worth []float64
	for j := range idx.tallies {
		t := &idx.tallies[j]
		if t.conversions == 0 && t.value == 0 {
			continue
		}
		tch := idx.channels(j)
		if len(tch) == 1 {
			out[tch[0]].Conversions += t.conversions
			out[tch[0]].Value += t.value
			continue
		}
		own := t.rate()
		worth = worth[:0]
		var sum float64
		for k := range tch {
			var without float64
			if i := idx.find(tch, k); i >= 0 {
				without = idx.tallies[i].rate()
			}
			w := max(own-without, 0)
			worth = append(worth, w)
			sum += w
		}
		if sum == 0 {
			last := tch[len(tch)-1]
			out[last].Conversions += t.conversions
			out[last].Value += t.value
			continue
		}
		for k, c := range tch {
			share := worth[k] / sum
			out[c].Conversions += share * t.conversions
			out[c].Value += share * t.value
		}
	}
}

type tally struct {
	conversions, value, nulls float64
}

func (t *tally) rate() float64 {
	if seen := t.conversions + t.nulls; seen > 0 {
		return t.conversions / seen
	}
	return 0
}

// pathIndex finds a collapsed path, or a path with one touch left out, by a hash of its
// channel ids: Shapley looks up every converting path once per touch, and hashing small
// integers in place is several times cheaper than building and hashing a string key per
// lookup. Colliding paths are chained and told apart by comparing their channels.
type pathIndex struct {
	first   map[uint64]int32 // hash → first path with it
	next    []int32          // next path with the same hash, or -1
	start   []int32          // path j's channels are backing[start[j]:start[j+1]]
	backing []int32
	tallies []tally
}

func (x *pathIndex) init(n int) {
	x.first = make(map[uint64]int32, n)
	x.next = make([]int32, 0, n)
	x.start = append(make([]int32, 0, n+1), 0)
	x.tallies = make([]tally, 0, n)
}

func (x *pathIndex) channels(j int) []int32 { return x.backing[x.start[j]:x.start[j+1]] }

// add returns the index of ch, adding it when new.
func (x *pathIndex) add(ch []int32) int {
	if j := x.find(ch, -1); j >= 0 {
		return j
	}
	h := pathHash(ch, -1)
	j := int32(len(x.tallies))
	head, ok := x.first[h]
	if !ok {
		head = -1
	}
	x.first[h] = j
	x.next = append(x.next, head)
	x.backing = append(x.backing, ch...)
	x.start = append(x.start, int32(len(x.backing)))
	x.tallies = append(x.tallies, tally{})
	return int(j)
}

// find returns the index of ch without its element at skip (none when skip < 0), or -1.
func (x *pathIndex) find(ch []int32, skip int) int {
	j, ok := x.first[pathHash(ch, skip)]
	if !ok {
		return -1
	}
	for ; j >= 0; j = x.next[j] {
		if equalWithout(x.channels(int(j)), ch, skip) {
			return int(j)
		}
	}
	return -1
}

// pathHash hashes ch without its element at skip: FNV-1a over the ids, then a
// splitmix64 finaliser so that paths differing in one id spread over the whole map.
func pathHash(ch []int32, skip int) uint64 {
	h := uint64(14695981039346656037)
	for i, c := range ch {
		if i != skip {
			h = (h ^ uint64(uint32(c))) * 1099511628211
		}
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// equalWithout reports whether a equals b without b's element at skip.
func equalWithout(a, b []int32, skip int) bool {
	if skip < 0 {
		return slices.Equal(a, b)
	}
	if len(a) != len(b)-1 {
		return false
	}
	return slices.Equal(a[:skip], b[:skip]) && slices.Equal(a[skip:], b[skip+1:])
}
