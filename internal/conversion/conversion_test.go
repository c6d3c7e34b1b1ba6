package conversion

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/source"
)

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		props    string
		value    float64
		currency string
		problem  bool
	}{
		{`{"revenue": 12.5, "value": 3}`, 12.5, "USD", false},
		{`{"value": "42.10", "currency": "eur"}`, 42.10, "EUR", false},
		{`{"total": 7, "currency": null}`, 7, "USD", false},
		{`{}`, 0, "USD", false},
		{`{"revenue": "lots"}`, 0, "USD", true},
		{`{"revenue": 10, "currency": "XYZ"}`, 0, "USD", true},
		{`{"revenue": {"amount": 1}}`, 0, "USD", true},
	} {
		v, cur, problem := Value(json.RawMessage(`{"type":"track","properties":` + tc.props + `}`))
		assert.Equal(t, tc.value, v, tc.props)
		assert.Equal(t, tc.currency, cur, tc.props)
		assert.Equal(t, tc.problem, problem != "", "%s: %s", tc.props, problem)
	}
}

func touch(id string, at time.Time, channel string, typ source.Type, url string) attribution.Touch {
	return attribution.Touch{MessageID: id, AnonymousID: "a1", Timestamp: at, URL: url,
		Description: source.Description{Channel: channel, Referrer: source.Referrer{Type: typ, Engine: "google"}}}
}

func TestComputeCountsTheWindowAndRollsUp(t *testing.T) {
	at := time.Date(2026, 5, 31, 23, 30, 0, 0, time.UTC)
	touches := []attribution.Touch{
		touch("old", at.Add(-91*24*time.Hour), "Paid Search", source.TypeAd, "https://acme.io/a"),
		touch("t1", at.Add(-3*24*time.Hour), "Organic Search", source.TypeSearch, "https://Acme.io/pricing?x=1"),
		touch("t2", at.Add(-time.Hour), "Direct", source.TypeDirect, ""),
		touch("after", at.Add(time.Minute), "Email", source.TypeEmail, "https://acme.io/"),
	}
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	c, err := Compute(Input{MessageID: "m", Event: "Signed Up", Timestamp: at, Value: 10, Currency: "EUR", Person: UserKey("u")},
		touches, Settings{Lookback: 90 * 24 * time.Hour, Location: paris})
	require.NoError(t, err)
	assert.Equal(t, "2026-06-01", c.Day, "the day is the report time zone's")
	assert.Equal(t, "01", c.Hour)
	require.Len(t, c.Touches, 2, "the lookback excludes the old touch, the window ends at the conversion")
	assert.Equal(t, "acme.io/pricing", c.Touches[0].Labels[7])
	assert.Equal(t, "google / organic", c.Touches[0].Labels[4])
	assert.Equal(t, NotSet, c.Touches[1].Labels[7])
	for _, m := range attribution.Models() {
		assert.InDelta(t, 1, c.Touches[0].Credits[m]+c.Touches[1].Credits[m], 1e-12, m)
	}

	none, err := Compute(Input{MessageID: "n", Timestamp: at, Value: 5, Currency: "USD"}, nil, Settings{Lookback: time.Hour, Location: time.UTC})
	require.NoError(t, err)
	var r Rollup
	r.Add(c)
	r.Add(none)
	assert.Equal(t, 2.0, r.Total.Conversions)
	assert.Equal(t, map[string]float64{"EUR": 10, "USD": 5}, r.Total.Revenue)
	assert.Equal(t, 1.0, r.Rows["channel"][NoTouch][attribution.ModelFirst].Conversions)
	assert.Equal(t, 1.0, r.Rows["channel"]["Organic Search"][attribution.ModelFirst].Conversions)
	assert.Equal(t, 10.0, r.Rows["channel"]["Organic Search"][attribution.ModelFirst].Revenue["EUR"])
	assert.Equal(t, 1.0, r.Paths["Organic Search > Direct"].Conversions)
	assert.Equal(t, map[int]float64{0: 1, 2: 1}, r.TouchesToConvert)
	assert.Equal(t, map[int]float64{3: 1}, r.DaysToConvert)

	b, err := Encode(&r)
	require.NoError(t, err)
	var back Rollup
	require.NoError(t, Decode(b, &back))
	var merged Rollup
	merged.Merge(&back)
	merged.Merge(&back)
	assert.Equal(t, 4.0, merged.Total.Conversions)
	assert.Equal(t, 2.0, merged.Rows["landing_page"]["acme.io/pricing"][attribution.ModelFirst].Conversions)
}
