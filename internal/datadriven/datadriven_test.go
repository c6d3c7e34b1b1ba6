package datadriven

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
)

var (
	dims     = []string{"channel", "source"}
	day0     = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	november = Range{From: "2026-11-01", To: "2026-11-30"}
)

// touches gives one touch per channel, a day apart from day0 + offset days; the source
// label is the channel's lower-cased first letter, so the two dimensions differ.
func touches(person string, offset int, channels ...string) []Touch {
	out := make([]Touch, len(channels))
	for i, ch := range channels {
		at := day0.AddDate(0, 0, offset+i)
		out[i] = Touch{MessageID: fmt.Sprintf("%s-%d", person, offset+i), Time: at, Day: at.Format(time.DateOnly),
			Labels: []string{ch, "src-" + ch[:1]}}
	}
	return out
}

func conversion(person string, ts []Touch, value float64, currency string) Conversion {
	day := day0.AddDate(0, 0, 20).Format(time.DateOnly)
	if len(ts) > 0 {
		day = ts[len(ts)-1].Day
	}
	return Conversion{Person: person, Day: day, Value: value, Currency: currency, Touches: ts}
}

// The Markov example, built from people: one converts after C1 > C2 > C3 (1000),
// one stops after C1, one after C2 > C3.
func knownAnswer() Input {
	conv := touches("p1", 0, "C1", "C2", "C3")
	return Input{
		Range:       november,
		Dimensions:  dims,
		Conversions: []Conversion{conversion("p1", conv, 1000, "USD")},
		People: map[string][]Touch{
			"p1": conv,
			"p2": touches("p2", 0, "C1"),
			"p3": touches("p3", 3, "C2", "C3"),
		},
	}
}

func TestComputeKnownAnswer(t *testing.T) {
	res, err := Compute(knownAnswer())
	require.NoError(t, err)
	assert.Equal(t, 1.0, res.Conversions)
	assert.Equal(t, 2.0, res.Nulls)
	channel := res.Rows["channel"]
	for label, want := range map[string]float64{"C1": 200, "C2": 400, "C3": 400} {
		a := channel[label][attribution.ModelMarkov]
		assert.InDelta(t, want, a.Revenue["USD"], 1e-9, label)
		assert.InDelta(t, want/1000, a.Conversions, 1e-12, label)
		assert.InDelta(t, 1.0/3, channel[label][attribution.ModelShapley].Conversions, 1e-12, label)
	}
	// By source, C2 and C3 are one row: src-C.
	source := res.Rows["source"]
	assert.Len(t, source, 1)
	assert.InDelta(t, 1, source["src-C"][attribution.ModelMarkov].Conversions, 1e-12)
}

func TestComputeRangeAndPeople(t *testing.T) {
	early := touches("p4", -10, "Email") // before the range
	in := knownAnswer()
	in.People["p4"] = append(early, touches("p4", 1, "Social")...)
	// p4 converted before the range: in it, p4 is a non-converting Social path.
	in.Conversions = append(in.Conversions, conversion("p4", early, 50, "USD"))
	// p2 converted in the range after another journey, so p2's C1 is not a null path.
	p2conv := touches("p2", 5, "Email")
	in.Conversions = append(in.Conversions, conversion("p2", p2conv, 10, "USD"))
	// A conversion without touches goes to (none) in full.
	in.Conversions = append(in.Conversions, conversion("p5", nil, 7, "EUR"))

	res, err := Compute(in)
	require.NoError(t, err)
	assert.Equal(t, 3.0, res.Conversions, "p1, p2 and p5 converted in the range")
	assert.Equal(t, 2.0, res.Nulls, "p3 and p4 did not")
	for _, dim := range dims {
		rows := res.Rows[dim]
		for _, m := range attribution.DataDrivenModels() {
			none := rows[NoTouch][m]
			assert.Equal(t, Amount{Conversions: 1, Revenue: map[string]float64{"EUR": 7}}, none, "%s %s", dim, m)
			var sum, usd float64
			for _, models := range rows {
				sum += models[m].Conversions
				usd += models[m].Revenue["USD"]
			}
			assert.InDelta(t, 3, sum, 1e-9, "%s %s", dim, m)
			assert.InDelta(t, 1010, usd, 1e-9, "%s %s", dim, m)
		}
	}
	_, emailCredited := res.Rows["channel"]["Email"]
	assert.True(t, emailCredited, "p2's conversion credits Email")
}

func TestComputeCurrencies(t *testing.T) {
	in := knownAnswer()
	eur := touches("p6", 0, "C1")
	in.Conversions = append(in.Conversions, conversion("p6", eur, 30, "EUR"))
	in.People["p6"] = eur
	res, err := Compute(in)
	require.NoError(t, err)
	var conv, usd, eurSum float64
	for _, models := range res.Rows["channel"] {
		a := models[attribution.ModelShapley]
		conv += a.Conversions
		usd += a.Revenue["USD"]
		eurSum += a.Revenue["EUR"]
	}
	assert.InDelta(t, 2, conv, 1e-12, "conversions are counted once, not once per currency")
	assert.InDelta(t, 1000, usd, 1e-9)
	assert.InDelta(t, 30, eurSum, 1e-12)
	assert.InDelta(t, 30, res.Rows["channel"]["C1"][attribution.ModelShapley].Revenue["EUR"], 1e-12, "a one-touch path gets everything")
}

func TestComputeEmptyLabelIsNotSet(t *testing.T) {
	in := knownAnswer()
	in.People["p3"][0].Labels[1] = ""
	res, err := Compute(in)
	require.NoError(t, err)
	assert.Contains(t, res.Rows["source"], NotSet)
}

func TestComputeRefusesMissingLabels(t *testing.T) {
	in := knownAnswer()
	in.People["p2"][0].Labels = []string{"C1"}
	_, err := Compute(in)
	assert.ErrorContains(t, err, "has 1 labels for 2 dimensions")
}

func TestComputeNoConversions(t *testing.T) {
	in := knownAnswer()
	in.Conversions = nil
	res, err := Compute(in)
	require.NoError(t, err)
	assert.Equal(t, 3.0, res.Nulls)
	for _, dim := range dims {
		assert.Empty(t, res.Rows[dim], dim)
	}
}

func TestComputeIgnoresOrder(t *testing.T) {
	in := knownAnswer()
	r := rand.New(rand.NewPCG(15, 3))
	for i := range 40 {
		p := fmt.Sprintf("q%d", i)
		chs := []string{"C1", "C2", "C3", "C4"}
		var ts []Touch
		for k := range 1 + r.IntN(4) {
			ts = append(ts, touches(p, k, chs[r.IntN(len(chs))])...)
		}
		in.People[p] = ts
		if r.IntN(3) == 0 {
			in.Conversions = append(in.Conversions, conversion(p, ts, float64(r.IntN(100)), "USD"))
		}
	}
	want, err := Compute(in)
	require.NoError(t, err)
	r.Shuffle(len(in.Conversions), func(i, j int) { in.Conversions[i], in.Conversions[j] = in.Conversions[j], in.Conversions[i] })
	for _, ts := range in.People {
		r.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	}
	got, err := Compute(in)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestFoldRareLabels(t *testing.T) {
	paths := []attribution.Path{
		{Channels: []string{"a", "b", "c"}},
		{Channels: []string{"a", "d"}},
		{Channels: []string{"b", "e"}},
	}
	foldRareLabels(paths, 3)
	assert.Equal(t, []attribution.Path{
		{Channels: []string{"a", "b", Other}},
		{Channels: []string{"a", Other}},
		{Channels: []string{"b", Other}},
	}, paths, "a and b are the two most frequent; c, d and e fold")
	unchanged := []attribution.Path{{Channels: []string{"x", "y"}}}
	foldRareLabels(unchanged, 2)
	assert.Equal(t, []string{"x", "y"}, unchanged[0].Channels)
}
