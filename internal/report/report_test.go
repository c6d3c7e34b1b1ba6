package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/conversion"
)

func TestWriteTableAlignsAndTotals(t *testing.T) {
	r := Report{Event: "Signed Up", From: "2026-06-01", To: "2026-06-30", Model: "linear", By: "channel", LookbackDays: 90,
		Totals: Totals{Conversions: 3, Revenue: map[string]float64{"USD": 150, "EUR": 20}},
		Rows: []Row{
			{Key: "Organic Search", Conversions: 2.25, Share: 0.75, Revenue: map[string]float64{"USD": 112.5}},
			{Key: "Email", Conversions: 0.75, Share: 0.25, Revenue: map[string]float64{"USD": 37.5, "EUR": 20}},
		}}
	var b strings.Builder
	require.NoError(t, WriteTable(&b, r))
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	require.Len(t, lines, 6, b.String())
	assert.Contains(t, lines[2], "conversions")
	assert.Contains(t, lines[3], "Organic Search")
	assert.Contains(t, lines[3], "2.2") // 2.25 with one decimal (round half to even)
	assert.Contains(t, lines[3], "75.0%")
	assert.Contains(t, lines[4], "37.50")
	assert.True(t, strings.HasPrefix(strings.TrimSpace(lines[5]), "total "), "%q", lines[5])
	assert.Contains(t, lines[5], "100.0%")
	for _, l := range lines[3:] {
		assert.Equal(t, len(lines[2]), len(l), "aligned:\n%s", b.String())
	}

	r.Model = AllModels
	for i := range r.Rows {
		r.Rows[i].Models = map[string]Amount{"first": {Conversions: 1}}
	}
	b.Reset()
	require.NoError(t, WriteTable(&b, r))
	header := strings.Split(b.String(), "\n")[2]
	for _, m := range ModelNames() {
		assert.Contains(t, header, m)
	}
	assert.Contains(t, header, "time_decay EUR")
}

func TestParseDefaults(t *testing.T) {
	p := Parser{Events: []string{"Signed Up"}, Location: time.UTC, Now: func() time.Time { return time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC) }}
	q, err := p.Parse(map[string]string{}, ReportParams)
	require.NoError(t, err)
	assert.Equal(t, Query{Event: "Signed Up", From: "2026-01-31", To: "2026-03-01", Model: DefaultModel, By: "channel", Format: "json", Limit: DefaultPathLimit}, q)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	p.Location = tokyo
	q, err = p.Parse(map[string]string{"model": "all"}, ReportParams)
	require.NoError(t, err)
	assert.Equal(t, "2026-03-02", q.To, "today is the report time zone's")
	_, err = Parser{}.Parse(map[string]string{}, ReportParams)
	assert.ErrorIs(t, err, ErrBadQuery)
}

type fakeRollups struct{ r conversion.Rollup }

func (f fakeRollups) Rollup(context.Context, string, string, string, string) (*conversion.Rollup, error) {
	return &f.r, nil
}

// Without a precomputation the comparison still answers, with the rule-based models, and
// says why the data-driven ones are missing; asking for one of them alone is refused.
func TestReportWithoutPrecomputation(t *testing.T) {
	var roll conversion.Rollup
	roll.Add(conversion.Conversion{Value: 10, Currency: "USD"})
	r := &Reporter{Rollups: fakeRollups{roll}}
	q := Query{Event: "Signed Up", From: "2026-06-01", To: "2026-06-30", Model: AllModels, By: "channel"}
	rep, err := r.Report(context.Background(), q)
	require.NoError(t, err)
	assert.Contains(t, rep.NotPrecomputed, "not set up")
	assert.Nil(t, rep.ComputedAt)
	assert.NotContains(t, rep.ModelNames(), "markov")
	assert.Contains(t, rep.ModelNames(), "time_decay")
	require.Len(t, rep.Rows, 1)
	assert.Len(t, rep.Rows[0].Models, len(rep.ModelNames()))

	q.Model = "shapley"
	_, err = r.Report(context.Background(), q)
	assert.ErrorIs(t, err, ErrNotPrecomputed)
}
