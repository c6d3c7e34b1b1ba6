package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/datadriven"
	"github.com/attribution-dev/attribution/internal/report"
)

// Markov and shapley come from the precomputation: absent until it runs (404 for the
// model alone, the comparison without them), then in every report of its range with
// computedAt.
func TestDataDrivenModelsInReports(t *testing.T) {
	l := launch(t, t.TempDir(), withConversions)
	e := &env{t: t, url: l.url, stack: l.stack}
	e.post(
		// ann: a search, then a newsletter, then she signs up.
		pageView("a-search", "ann-1", day.Add(-48*time.Hour), "https://shop.example/docs", "https://www.google.com/"),
		pageView("a-mail", "ann-1", day.Add(-24*time.Hour), "https://shop.example/?utm_source=newsletter&utm_medium=email", ""),
		identifyEvent("a-id", "ann", "ann-1", day.Add(-time.Hour)),
		// bob searched, cat read the newsletter; neither signed up.
		pageView("b-search", "bob-1", day.Add(-48*time.Hour), "https://shop.example/docs", "https://www.google.com/"),
		pageView("c-mail", "cat-1", day.Add(-24*time.Hour), "https://shop.example/?utm_source=newsletter&utm_medium=email", ""),
	)
	e.settle()
	e.post(trackEvent("a-signup", "Signed Up", "ann", "ann-1", day, map[string]any{"revenue": 90, "currency": "USD"}))
	e.settle()

	var refused map[string]string
	require.Equal(t, http.StatusNotFound, e.getJSON("/api/report?"+june+"&model=markov", &refused))
	assert.Contains(t, refused["error"], "attribution report -refresh")
	before := e.report(june + "&model=all")
	assert.NotEmpty(t, before.NotPrecomputed)
	assert.Nil(t, before.ComputedAt)
	assert.NotContains(t, before.ModelNames(), "markov")
	require.NotEmpty(t, before.Rows)
	assert.NotContains(t, before.Rows[0].Models, "markov")

	cfg := testConfig(t, l.tables)
	withConversions(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := app.Env{Config: cfg, DB: l.db, Log: quietLog()}.Precomputer().
		Refresh(ctx, []datadriven.Range{{From: "2026-06-01", To: "2026-06-30"}}, false)
	require.NoError(t, err)

	// Paths: Organic Search > Email converted, Organic Search and Email alone did not.
	// Markov: P(conversion) = 1/3; removing the search leaves 1/6 (effect 1/2), removing
	// the email 0 (effect 1): 1/3 and 2/3. Shapley: either touch alone never converts, so
	// each is worth the whole rate: 1/2 each.
	markov := e.report(june + "&model=markov")
	require.NotNil(t, markov.ComputedAt)
	want := map[string]float64{"Organic Search": 1.0 / 3, "Email": 2.0 / 3}
	for key, share := range want {
		row, ok := rowOf(markov, key)
		require.True(t, ok, "%+v", markov.Rows)
		assert.InDelta(t, share, row.Conversions, 1e-9, key)
		assert.InDelta(t, share, row.Share, 1e-9, key)
		assert.InDelta(t, 90*share, row.Revenue["USD"], 1e-9, key)
	}
	assert.Equal(t, "Email", markov.Rows[0].Key, "sorted by conversions")

	all := e.report(june + "&model=all")
	require.NotNil(t, all.ComputedAt)
	assert.Empty(t, all.NotPrecomputed)
	for _, row := range all.Rows {
		assert.InDelta(t, want[row.Key], row.Models["markov"].Conversions, 1e-9, row.Key)
		assert.InDelta(t, 0.5, row.Models["shapley"].Conversions, 1e-9, row.Key)
		assert.InDelta(t, 45, row.Models["shapley"].Revenue["USD"], 1e-9, row.Key)
	}

	resp, err := http.Get(e.url + "/api/report?" + june + "&model=all&format=csv")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	header, _, _ := strings.Cut(string(body), "\n")
	assert.Contains(t, header, "markov_conversions")
	assert.Contains(t, header, "shapley_revenue_USD")

	// Another range is still not precomputed.
	require.Equal(t, http.StatusNotFound, e.getJSON("/api/report?event=Signed+Up&from=2026-06-01&to=2026-06-29&model=shapley", &refused))
	assert.Contains(t, refused["error"], "held: 2026-06-01 to 2026-06-30")
	var opts report.Options
	require.Equal(t, http.StatusOK, e.getJSON("/api/report/options", &opts))
	assert.Contains(t, opts.Models, "markov")
	assert.Contains(t, opts.Models, "shapley")
}
