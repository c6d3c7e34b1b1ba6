package dashboard_test

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reportAnswer is GET /api/report as the page reads it.
type reportAnswer struct {
	Totals struct {
		Conversions float64            `json:"conversions"`
		Revenue     map[string]float64 `json:"revenue"`
	} `json:"totals"`
	Rows []struct {
		Key         string             `json:"key"`
		Conversions float64            `json:"conversions"`
		Revenue     map[string]float64 `json:"revenue"`
		Share       float64            `json:"share"`
		Models      map[string]struct {
			Conversions float64            `json:"conversions"`
			Revenue     map[string]float64 `json:"revenue"`
		} `json:"models"`
	} `json:"rows"`
}

type pathsAnswer struct {
	Paths []struct {
		Path        []string           `json:"path"`
		Conversions float64            `json:"conversions"`
		Revenue     map[string]float64 `json:"revenue"`
	} `json:"paths"`
}

// revenueText is how the page writes a revenue map: currencies in order, joined by " + ".
func revenueText(rev map[string]float64) string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(rev)) {
		parts = append(parts, fmtMoney(rev[c], c))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " + ")
}

// shownQuery is the report query the page shows once it has rendered it.
func (tb *tab) shownQuery(table string) url.Values {
	tb.t.Helper()
	q, err := url.ParseQuery(evalAs[string](tb, fmt.Sprintf(`document.getElementById(%q).dataset.query || ''`, table)))
	require.NoError(tb.t, err)
	return q
}

// waitReport waits until the table shows the query with key = value.
func (tb *tab) waitReport(key, value string) url.Values {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf(`new URLSearchParams(document.getElementById('r-table').dataset.query || '').get(%q) === %q && document.getElementById('r-status').textContent === ''`, key, value))
	return tb.shownQuery("r-table")
}

// tableCells reads the report table: row key → column → text.
func (tb *tab) tableCells() map[string]map[string]string {
	tb.t.Helper()
	return evalAs[map[string]map[string]string](tb, `Object.fromEntries([...document.querySelectorAll('#r-table tbody tr')].map(tr =>
		[tr.dataset.key, Object.fromEntries([...tr.querySelectorAll('td')].map(td => [td.dataset.col, td.childNodes[0].textContent]))]))`)
}

// checkSingle asserts the page shows the single-model report the API answers for q.
func checkSingle(t *testing.T, s *stack, tb *tab, q url.Values) reportAnswer {
	t.Helper()
	var want reportAnswer
	s.get(t, "/api/report", q, &want)
	require.NotEmpty(t, want.Rows, "the journeys convert in %v", q)
	assert.Equal(t, fmtConversions(want.Totals.Conversions), tb.text("total-conversions"))
	assert.Equal(t, revenueText(want.Totals.Revenue), tb.text("total-revenue"))
	cells := tb.tableCells()
	require.Len(t, cells, len(want.Rows))
	for _, r := range want.Rows {
		got := cells[r.Key]
		assert.Equal(t, fmtConversions(r.Conversions), got["conversions"], r.Key)
		assert.Equal(t, fmtShare(r.Share), got["share"], r.Key)
		assert.Equal(t, revenueText(r.Revenue), got["revenue"], r.Key)
	}
	bars := evalAs[int](tb, `document.querySelectorAll('#r-chart svg rect').length`)
	assert.Equal(t, min(len(want.Rows), 12), bars, "one bar per row, up to 12")
	return want
}

func testReport(t *testing.T, s *stack, vp viewport) {
	tb := newTab(t, vp.width, vp.height)
	tb.open(s, "#report", testAPIKey)
	q := tb.waitReport("model", "linear")
	assert.Equal(t, orderCompleted, q.Get("event"))
	assert.Equal(t, "channel", q.Get("by"))
	checkSingle(t, s, tb, q)

	// Top paths.
	var paths pathsAnswer
	s.get(t, "/api/report/paths", url.Values{"event": {q.Get("event")}, "from": {q.Get("from")}, "to": {q.Get("to")}, "limit": {"10"}}, &paths)
	require.NotEmpty(t, paths.Paths)
	shown := evalAs[map[string]string](tb, `Object.fromEntries([...document.querySelectorAll('#r-paths tbody tr')].map(tr => [tr.dataset.path, tr.querySelectorAll('td')[1].textContent]))`)
	require.Len(t, shown, len(paths.Paths))
	for _, p := range paths.Paths {
		assert.Equal(t, fmtConversions(p.Conversions), shown[strings.Join(p.Path, " > ")], p.Path)
	}

	// The weekly trend: each week's total is that week's report.
	tb.waitFor(`(document.getElementById('r-trend-table').dataset.query || '') === document.getElementById('r-table').dataset.query`)
	weeks := evalAs[[][]string](tb, `[...document.querySelectorAll('#r-trend-table tbody tr')].map(tr => [tr.dataset.week, tr.lastElementChild.textContent])`)
	require.NotEmpty(t, weeks)
	var sum float64
	for i, w := range weeks {
		to := q.Get("to")
		if i+1 < len(weeks) {
			next, err := time.Parse(time.DateOnly, weeks[i+1][0])
			require.NoError(t, err)
			to = next.AddDate(0, 0, -1).Format(time.DateOnly)
		}
		var week reportAnswer
		s.get(t, "/api/report", url.Values{"event": {q.Get("event")}, "from": {w[0]}, "to": {to}, "model": {"linear"}, "by": {"channel"}}, &week)
		assert.Equal(t, fmtConversions(week.Totals.Conversions), w[1], "week from %s", w[0])
		sum += week.Totals.Conversions
	}
	var all reportAnswer
	s.get(t, "/api/report", q, &all)
	assert.InDelta(t, all.Totals.Conversions, sum, 1e-6, "the weeks cover the range")

	tb.screenshot("report-" + vp.name)
	tb.checkClean(s)
}

// testPickers: the model and date pickers change the numbers to the API's for them;
// "compare all" shows every model and marks the rows whose rank changes.
func testPickers(t *testing.T, s *stack) {
	tb := newTab(t, 1280, 900)
	tb.open(s, "#report", testAPIKey)
	linear := checkSingle(t, s, tb, tb.waitReport("model", "linear"))

	tb.choose("r-model", "first")
	first := checkSingle(t, s, tb, tb.waitReport("model", "first"))
	assert.NotEqual(t, rowsOf(linear), rowsOf(first), "first touch credits differently from linear")

	from := journeyStart(time.Now()).AddDate(0, 0, 21).Format(time.DateOnly)
	tb.choose("r-from", from)
	later := checkSingle(t, s, tb, tb.waitReport("from", from))
	assert.Less(t, later.Totals.Conversions, first.Totals.Conversions, "a shorter range has fewer conversions")

	tb.choose("r-model", "all")
	q := tb.waitReport("model", "all")
	var want reportAnswer
	s.get(t, "/api/report", q, &want)
	var options struct {
		Models []string `json:"models"`
	}
	s.get(t, "/api/report/options", nil, &options)
	// The comparison holds the models the API answered for: the data-driven ones only
	// where their precomputation covers the range.
	var models []string
	for _, m := range options.Models {
		if _, ok := want.Rows[0].Models[m]; ok {
			models = append(models, m)
		}
	}
	require.Contains(t, models, "linear")
	cells := tb.tableCells()
	require.Len(t, cells, len(want.Rows))
	changed := rankChanges(want, models)
	marked := evalAs[[]string](tb, `[...document.querySelectorAll('#r-table tr.rank-changed')].map(tr => tr.dataset.key)`)
	assert.ElementsMatch(t, changed, marked)
	assert.NotEmpty(t, marked, "models disagree on some row's rank in these journeys")
	for _, r := range want.Rows {
		for _, m := range models {
			assert.Equal(t, fmtConversions(r.Models[m].Conversions), cells[r.Key][m], "%s under %s", r.Key, m)
		}
	}
	assert.Equal(t, len(models), evalAs[int](tb, `document.querySelectorAll('#r-chart .legend li').length`), "a legend entry per model")
	tb.screenshot("report-compare-desktop")

	// The CSV holds what is on screen, unrounded.
	dir := t.TempDir()
	_, err := chromedp.CallBrowser(tb.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
	require.NoError(t, err)
	tb.do(chromedp.Click(chromedp.ID("r-csv")))
	var csv []byte
	require.Eventually(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
		if len(files) == 1 {
			csv, _ = os.ReadFile(files[0])
		}
		return len(csv) > 0
	}, 10*time.Second, 50*time.Millisecond, "the CSV download lands in %s", dir)
	lines := strings.Split(strings.TrimSpace(string(csv)), "\r\n")
	require.Len(t, lines, 1+len(want.Rows))
	header := strings.Split(lines[0], ",")
	assert.Equal(t, "channel", header[0])
	assert.Equal(t, models[0]+"_conversions", header[1])
	for i, r := range want.Rows {
		fields := strings.Split(lines[i+1], ",")
		assert.Equal(t, r.Key, strings.Trim(fields[0], `"`))
		for j, m := range models {
			v, err := strconv.ParseFloat(fields[1+j], 64)
			require.NoError(t, err, lines[i+1])
			assert.InDelta(t, r.Models[m].Conversions, v, 1e-9, "%s %s", r.Key, m)
		}
	}

	// An API error is a message, not an empty chart: a range that ends before it starts.
	to := q.Get("to")
	after := journeyStart(time.Now()).AddDate(0, 0, 200).Format(time.DateOnly)
	tb.choose("r-from", after)
	tb.waitFor(`!document.getElementById('r-error').hidden`)
	refused := s.status(t, "/api/report", url.Values{"event": {q.Get("event")}, "from": {after}, "to": {to}, "model": {"all"}, "by": {"channel"}})
	assert.Equal(t, 400, refused.code)
	assert.Equal(t, refused.message, tb.text("r-error"))
	assert.True(t, evalAs[bool](tb, `document.getElementById('r-body').hidden`), "no stale chart beside the error")
	tb.checkClean(s, 400)
}

func rowsOf(r reportAnswer) map[string]float64 {
	out := map[string]float64{}
	for _, row := range r.Rows {
		out[row.Key] = row.Conversions
	}
	return out
}

// rankChanges lists the rows ranked differently by some models, ranking as the page
// does: by conversions rounded to what it shows, ties sharing a rank.
func rankChanges(r reportAnswer, models []string) []string {
	ranks := map[string]map[string]int{}
	for _, m := range models {
		type kv struct {
			key string
			v   float64
		}
		var rows []kv
		for _, row := range r.Rows {
			rows = append(rows, kv{row.Key, math.Round(row.Models[m].Conversions*10) / 10})
		}
		slices.SortFunc(rows, func(a, b kv) int { return cmp.Or(cmp.Compare(b.v, a.v), cmp.Compare(a.key, b.key)) })
		rank, prev := 0, math.NaN()
		for i, row := range rows {
			if row.v != prev {
				rank, prev = i+1, row.v
			}
			if ranks[row.key] == nil {
				ranks[row.key] = map[string]int{}
			}
			ranks[row.key][m] = rank
		}
	}
	var out []string
	for key, byModel := range ranks {
		seen := map[int]bool{}
		for _, rk := range byModel {
			seen[rk] = true
		}
		if len(seen) > 1 {
			out = append(out, key)
		}
	}
	return out
}

// TestDashboardEmptyStates: without CONVERSION_EVENTS the page says how to set it;
// with it but no conversions, it gives the curl that posts one.
func TestDashboardEmptyStates(t *testing.T) {
	browser(t)
	t.Run("no conversion events", func(t *testing.T) {
		s := newStack(t, nil)
		tb := newTab(t, 1280, 900)
		tb.open(s, "#report", "")
		tb.waitFor(`!document.getElementById('r-empty').hidden`)
		assert.Contains(t, tb.text("r-empty"), "No conversion events are configured")
		assert.Contains(t, tb.text("r-empty"), `CONVERSION_EVENTS="Signed Up,Order Completed"`)
		assert.False(t, evalAs[bool](tb, `document.getElementById('key-form').hidden === false`), "no key asked when API_KEY is empty")
		tb.checkClean(s)
	})
	t.Run("no conversions yet", func(t *testing.T) {
		s := newStack(t, map[string]string{"CONVERSION_EVENTS": orderCompleted})
		tb := newTab(t, 1280, 900)
		tb.open(s, "#report", "")
		tb.waitFor(`!document.getElementById('r-empty').hidden && Boolean(document.getElementById('r-empty').dataset.query)`)
		text := tb.text("r-empty")
		assert.Contains(t, text, "No "+orderCompleted+" conversions")
		assert.Contains(t, text, "curl -s "+s.url+"/events")
		assert.Contains(t, text, `"event":"`+orderCompleted+`"`)
		tb.screenshot("report-empty-desktop")
		tb.checkClean(s)
	})
}
