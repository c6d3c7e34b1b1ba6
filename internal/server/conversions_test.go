package server_test

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/report"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func withConversions(c *config.Config) {
	c.ConversionEvents = []string{"Signed Up", "Order Completed"}
	c.ConversionLookbackDays = 30
}

func pageView(id, anon string, at time.Time, pageURL, referrer string) map[string]any {
	return map[string]any{"type": "page", "messageId": id, "anonymousId": anon, "timestamp": at.Format(time.RFC3339Nano),
		"properties": map[string]any{"url": pageURL, "referrer": referrer}}
}

func trackEvent(id, name, user, anon string, at time.Time, props map[string]any) map[string]any {
	ev := map[string]any{"type": "track", "messageId": id, "event": name, "timestamp": at.Format(time.RFC3339Nano), "properties": props}
	if user != "" {
		ev["userId"] = user
	}
	if anon != "" {
		ev["anonymousId"] = anon
	}
	return ev
}

func identifyEvent(id, user, anon string, at time.Time) map[string]any {
	return map[string]any{"type": "identify", "messageId": id, "userId": user, "anonymousId": anon, "timestamp": at.Format(time.RFC3339Nano)}
}

// getJSON GETs path and decodes the answer into out, returning the status.
func (e *env) getJSON(path string, out any) int {
	e.t.Helper()
	resp, err := http.Get(e.url + path)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(body, out), string(body))
	}
	return resp.StatusCode
}

func (e *env) report(params string) report.Report {
	e.t.Helper()
	var r report.Report
	require.Equal(e.t, http.StatusOK, e.getJSON("/api/report?"+params, &r))
	return r
}

func (e *env) conversions(user string) []conversion.Conversion {
	e.t.Helper()
	var r report.UserConversionsResponse
	require.Equal(e.t, http.StatusOK, e.getJSON("/api/user/"+url.PathEscape(user)+"/conversions", &r))
	return r.Conversions
}

func rowOf(r report.Report, key string) (report.Row, bool) {
	for _, row := range r.Rows {
		if row.Key == key {
			return row, true
		}
	}
	return report.Row{}, false
}

var day = time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)

const june = "event=Signed+Up&from=2026-06-01&to=2026-06-30"

// The signup's track arrives before the identify that ties in the device that saw the
// ad: the conversion is credited again when the link arrives.
func TestAConversionIsCreditedAgainWhenAnEarlierDeviceIsLinked(t *testing.T) {
	e := newEnv(t, withConversions)
	e.post(
		pageView("ad", "phone", day.Add(-48*time.Hour), "https://shop.example/?gclid=abc", "https://www.google.com/"),
		pageView("organic", "laptop", day.Add(-time.Hour), "https://shop.example/pricing", "https://duckduckgo.com/"),
		identifyEvent("id-laptop", "ann", "laptop", day.Add(-30*time.Minute)),
	)
	e.settle()
	e.post(trackEvent("signup", "Signed Up", "ann", "laptop", day, map[string]any{"revenue": 49, "currency": "eur"}))
	e.settle()

	cs := e.conversions("ann")
	require.Len(t, cs, 1)
	require.Len(t, cs[0].Touches, 1, "only the laptop is known to be ann's")
	first := e.report(june + "&model=first")
	row, ok := rowOf(first, "Organic Search")
	require.True(t, ok, "%+v", first.Rows)
	assert.Equal(t, 1.0, row.Conversions)
	assert.Equal(t, 49.0, row.Revenue["EUR"])

	e.post(identifyEvent("id-phone", "ann", "phone", day.Add(time.Hour)))
	e.settle()

	cs = e.conversions("ann")
	require.Len(t, cs, 1)
	require.Len(t, cs[0].Touches, 2, "the phone's ad click is ann's now")
	first = e.report(june + "&model=first")
	row, ok = rowOf(first, "Paid Search")
	require.True(t, ok, "%+v", first.Rows)
	assert.Equal(t, 1.0, row.Conversions)
	_, ok = rowOf(first, "Organic Search")
	assert.False(t, ok, "first touch moved to the ad")
	assert.Equal(t, 1.0, first.Totals.Conversions)
	assert.Equal(t, map[string]float64{"EUR": 49}, first.Totals.Revenue)
}

func TestReportsSumTheConversionsCredits(t *testing.T) {
	e := newEnv(t, withConversions)
	e.post(
		// bob: an old touch outside the 30-day lookback, then a newsletter and a search.
		pageView("b-old", "bob-1", day.Add(-40*24*time.Hour), "https://shop.example/?utm_source=linkedin&utm_medium=paid_social", ""),
		pageView("b-mail", "bob-1", day.Add(-10*24*time.Hour), "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=june", ""),
		pageView("b-search", "bob-1", day.Add(-24*time.Hour), "https://shop.example/docs", "https://www.google.com/"),
		identifyEvent("b-id", "bob", "bob-1", day.Add(-time.Hour)),
		// cat: only an old touch, so her conversion has none in its window.
		pageView("c-old", "cat-1", day.Add(-35*24*time.Hour), "https://shop.example/", "https://www.bing.com/"),
		identifyEvent("c-id", "cat", "cat-1", day.Add(-35*24*time.Hour)),
	)
	e.settle()
	e.post(
		trackEvent("bob-order", "Signed Up", "bob", "bob-1", day, map[string]any{"value": "100.50", "currency": "USD"}),
		trackEvent("cat-order", "Signed Up", "", "cat-1", day.Add(time.Hour), map[string]any{"revenue": 30, "currency": "EUR"}),
		trackEvent("dan-order", "Signed Up", "dan", "", day.Add(2*time.Hour), map[string]any{"revenue": "lots"}),
		trackEvent("not-a-conversion", "Clicked", "bob", "bob-1", day, nil),
		trackEvent("other-event", "Order Completed", "bob", "bob-1", day, map[string]any{"revenue": 5}),
	)
	e.settle()

	all := e.report(june + "&model=all")
	assert.Equal(t, 3.0, all.Totals.Conversions)
	assert.Equal(t, map[string]float64{"USD": 100.5, "EUR": 30}, all.Totals.Revenue, "dan's unreadable value counts 0")
	none, ok := rowOf(all, conversion.NoTouch)
	require.True(t, ok, "%+v", all.Rows)
	assert.Equal(t, 2.0, none.Models["first"].Conversions, "cat's old touch is outside the lookback; dan has none")
	assert.Equal(t, 30.0, none.Models["linear"].Revenue["EUR"])
	_, ok = rowOf(all, "Paid Social")
	assert.False(t, ok, "the touch before the lookback gets nothing")

	// Every number of the report is the sum of the conversions' per-touch credits.
	want := map[string]map[string]float64{} // row → model → conversions
	wantRevenue := map[string]map[string]float64{}
	add := func(key, model string, credit, revenue float64) {
		if want[key] == nil {
			want[key], wantRevenue[key] = map[string]float64{}, map[string]float64{}
		}
		want[key][model] += credit
		wantRevenue[key][model] += revenue
	}
	var cs []conversion.Conversion
	for _, u := range []string{"bob", "cat", "dan"} {
		cs = append(cs, e.conversions(u)...)
	}
	require.Len(t, cs, 4, "bob's two (one per event), cat's (made anonymously on her linked device) and dan's")
	for _, c := range cs {
		if c.Event != "Signed Up" {
			continue
		}
		if len(c.Touches) == 0 {
			for _, m := range all.ModelNames() {
				add(conversion.NoTouch, m, 1, c.Value)
			}
		}
		for _, tc := range c.Touches {
			for m, credit := range tc.Credits {
				add(tc.Labels[0], string(m), credit, credit*c.Value)
			}
		}
	}
	for key, models := range want {
		row, ok := rowOf(all, key)
		require.True(t, ok, key)
		for _, m := range all.ModelNames() {
			assert.InDelta(t, models[m], row.Models[m].Conversions, 1e-9, "%s %s", key, m)
		}
	}
	for _, key := range []string{"Email", "Organic Search"} {
		for _, m := range all.ModelNames() {
			assert.InDelta(t, wantRevenue[key][m], all.Rows[indexOf(all, key)].Models[m].Revenue["USD"], 1e-9, "%s %s", key, m)
		}
	}
	linear := e.report(june + "&model=linear&by=source_medium")
	for _, row := range linear.Rows {
		assert.InDelta(t, row.Conversions/linear.Totals.Conversions, row.Share, 1e-12)
	}
	_, ok = rowOf(linear, "newsletter / email")
	assert.True(t, ok, "%+v", linear.Rows)

	// Replaying the conversion's stream record changes nothing.
	e.republish(trackEvent("bob-order", "Signed Up", "bob", "bob-1", day, map[string]any{"value": "100.50", "currency": "USD"}))
	e.settle()
	assert.Equal(t, all, e.report(june+"&model=all"))

	var paths report.Paths
	require.Equal(t, http.StatusOK, e.getJSON("/api/report/paths?"+june+"&limit=5", &paths))
	assert.Equal(t, map[string]float64{"0": 2, "2": 1}, paths.TouchesToConvert)
	assert.Equal(t, map[string]float64{"10": 1}, paths.DaysToConvert)
	require.NotEmpty(t, paths.Paths)
	assert.Equal(t, []string{conversion.NoTouch}, paths.Paths[0].Path)
	assert.Equal(t, []string{"Email", "Organic Search"}, paths.Paths[1].Path)

	// Erasing bob takes his conversions out of every report.
	status, _ := call(t, http.MethodDelete, e.url+"/api/user/bob", "")
	require.Equal(t, http.StatusOK, status)
	after := e.report(june + "&model=all")
	assert.Equal(t, 2.0, after.Totals.Conversions)
	assert.Equal(t, map[string]float64{"EUR": 30, "USD": 0}, after.Totals.Revenue)
	_, ok = rowOf(after, "Email")
	assert.False(t, ok)
	assert.Empty(t, e.conversions("bob"))
}

func indexOf(r report.Report, key string) int {
	for i, row := range r.Rows {
		if row.Key == key {
			return i
		}
	}
	return -1
}

// republish hands the stream a stored event's record again, as a redelivery would.
func (e *env) republish(fields map[string]any) {
	e.t.Helper()
	raw, err := json.Marshal(fields)
	require.NoError(e.t, err)
	ev, err := event.Parse(raw)
	require.NoError(e.t, err)
	require.NoError(e.t, e.stack.Stream.Publish(e.stack.Events.Table(), stream.Item{Key: stream.Key(ev), Item: store.EventItem(ev, 0)}))
}

func TestReportCSVAndOptions(t *testing.T) {
	e := newEnv(t, withConversions)
	e.post(
		pageView("p", "eve-1", day.Add(-time.Hour), "https://shop.example/", "https://www.google.com/"),
		trackEvent("o1", "Signed Up", "", "eve-1", day, map[string]any{"revenue": 10, "currency": "USD"}),
		trackEvent("o2", "Signed Up", "", "eve-2", day, map[string]any{"revenue": 20, "currency": "EUR"}),
	)
	e.settle()
	resp, err := http.Get(e.url + "/api/report?" + june + "&model=all&format=csv")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	lines, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, lines, 4, "header, two rows, totals")
	assert.Equal(t, []string{"key", "conversions", "share", "revenue_EUR", "revenue_USD", "first_conversions", "first_revenue_EUR", "first_revenue_USD"}, lines[0][:8])
	assert.Len(t, lines[0], 3+2+6*3)
	assert.Equal(t, []string{"(total)", "2", "1", "20", "10"}, lines[3][:5])
	for _, l := range lines {
		assert.Len(t, l, len(lines[0]))
	}

	var opts report.Options
	require.Equal(t, http.StatusOK, e.getJSON("/api/report/options", &opts))
	assert.Equal(t, []string{"Signed Up", "Order Completed"}, opts.Events)
	assert.Equal(t, []string{"first", "last", "last_non_direct", "linear", "position", "time_decay", "markov", "shapley"}, opts.Models)
	assert.Equal(t, conversion.Dimensions, opts.Dimensions)
	assert.Equal(t, "UTC", opts.Timezone)
	assert.Equal(t, 30, opts.LookbackDays)
	assert.Equal(t, 7.0, opts.HalfLifeDays)
}

func TestBadReportQueriesAnswer400WithTheReason(t *testing.T) {
	e := newEnv(t, withConversions)
	for query, reason := range map[string]string{
		"event=Clicked":                 "unknown event",
		"model=u_shaped":                "unknown model",
		"by=country":                    "unknown dimension",
		"color=red":                     "unknown parameter",
		"from=2026-13-01&to=2026-12-31": "not a date",
		"from=2026-06-02&to=2026-06-01": "after",
		"from=2024-01-01&to=2026-01-02": "at most 731",
		"format=xml":                    "unknown format",
		"event=Signed+Up&to=yesterday":  "not a date",
		"event=signed+up":               "unknown event",
	} {
		var out map[string]string
		assert.Equal(t, http.StatusBadRequest, e.getJSON("/api/report?"+query, &out), query)
		assert.Contains(t, out["error"], reason, query)
	}
	var out map[string]string
	assert.Equal(t, http.StatusBadRequest, e.getJSON("/api/report/paths?limit=0", &out))
	assert.Contains(t, out["error"], "limit")
	assert.Equal(t, http.StatusBadRequest, e.getJSON("/api/report/paths?model=first", &out))
	assert.Contains(t, out["error"], "unknown parameter")
	assert.Equal(t, http.StatusOK, e.getJSON("/api/report?from=2024-01-01&to=2025-12-31", nil), "731 days are allowed")
}

func TestReportsNeedTheAPIKey(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { withConversions(c); c.APIKey = "k" })
	for _, path := range []string{"/api/report", "/api/report/paths", "/api/report/options", "/api/user/ann/conversions"} {
		status, _ := call(t, http.MethodGet, e.url+path, "")
		assert.Equal(t, http.StatusUnauthorized, status, path)
		status, _ = call(t, http.MethodGet, e.url+path, "k")
		assert.Equal(t, http.StatusOK, status, path)
	}
}

func TestCreditsAreWrittenBackOncePerChange(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	e := newEnv(t, func(c *config.Config) {
		withConversions(c)
		withSegment(fake, "")(c)
		c.Realtime = false // only the write-back goes to Segment
		c.ConversionCreditsEvent = "Conversion Credited"
	})
	e.post(
		pageView("w1", "fay-1", day.Add(-2*time.Hour), "https://shop.example/?utm_source=newsletter&utm_medium=email", ""),
		identifyEvent("w-id", "fay", "fay-1", day.Add(-time.Hour)),
	)
	e.settle()
	e.post(trackEvent("w-order", "Order Completed", "fay", "fay-1", day, map[string]any{"revenue": 80, "currency": "USD"}))
	e.settle()
	credits := func() []segmenttest.Message {
		var out []segmenttest.Message
		for _, m := range fake.Messages() {
			if m.Event == "Conversion Credited" {
				out = append(out, m)
			}
		}
		return out
	}
	sent := credits()
	require.Len(t, sent, 1, "one track per credited touch")
	assert.Equal(t, "fay", sent[0].UserID)
	assert.Equal(t, day.Format(time.RFC3339Nano), sent[0].Timestamp, "at the conversion's time")
	assert.Equal(t, "w-order", sent[0].Properties["conversion_message_id"])
	assert.Equal(t, "Order Completed", sent[0].Properties["conversion_event"])
	assert.Equal(t, 80.0, sent[0].Properties["value"])
	assert.Equal(t, "Email", sent[0].Properties["channel"])
	assert.Equal(t, 1.0, sent[0].Properties["credit_linear"])

	// A redelivery sends nothing; a second touch before the conversion changes the
	// credits, and each credited touch is sent under a new id.
	e.republish(trackEvent("w-order", "Order Completed", "fay", "fay-1", day, map[string]any{"revenue": 80, "currency": "USD"}))
	e.settle()
	require.Len(t, credits(), 1)
	e.post(pageView("w0", "fay-1", day.Add(-5*time.Hour), "https://shop.example/", "https://www.google.com/"))
	e.settle()
	sent = credits()
	require.Len(t, sent, 3)
	assert.NotEqual(t, sent[0].MessageID, sent[1].MessageID)
	assert.NotEqual(t, sent[0].MessageID, sent[2].MessageID)
	for _, m := range sent[1:] {
		assert.Equal(t, 0.5, m.Properties["credit_linear"])
	}
}

// A device two people share stays the other's when one is erased, but the erased
// person's touches on it leave the other's conversions.
func TestErasingOneUserOfASharedDeviceRecreditsTheOther(t *testing.T) {
	e := newEnv(t, withConversions)
	ann := pageView("s-ann", "family-pc", day.Add(-3*time.Hour), "https://shop.example/?utm_source=newsletter&utm_medium=email", "")
	ann["userId"] = "ann"
	e.post(
		ann,
		pageView("s-anon", "family-pc", day.Add(-2*time.Hour), "https://shop.example/", "https://www.google.com/"),
		identifyEvent("s-id-ann", "ann", "family-pc", day.Add(-4*time.Hour)),
		identifyEvent("s-id-bob", "bob", "family-pc", day.Add(-90*time.Minute)),
	)
	e.settle()
	e.post(trackEvent("s-order", "Signed Up", "bob", "family-pc", day, map[string]any{"revenue": 10}))
	e.settle()
	cs := e.conversions("bob")
	require.Len(t, cs, 1)
	require.Len(t, cs[0].Touches, 2, "the shared device's touches, ann's included")

	status, _ := call(t, http.MethodDelete, e.url+"/api/user/ann", "")
	require.Equal(t, http.StatusOK, status)
	cs = e.conversions("bob")
	require.Len(t, cs, 1)
	require.Len(t, cs[0].Touches, 1, "ann's touch left bob's conversion")
	assert.Equal(t, "s-anon", cs[0].Touches[0].MessageID)
	_, ok := rowOf(e.report(june+"&model=linear"), "Email")
	assert.False(t, ok, "nor is it in the report")
}
