package dashboard_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type viewport struct {
	name          string
	width, height int64
}

var viewports = []viewport{{"desktop", 1280, 900}, {"phone", 375, 812}}

// journeyPeople is how many people the journey set holds.
const journeyPeople = 40

// TestDashboard loads the journeys once and looks at every view at both widths.
func TestDashboard(t *testing.T) {
	browser(t)
	s := newStack(t, map[string]string{
		"API_KEY":           testAPIKey,
		"CONVERSION_EVENTS": orderCompleted + "," + signedUp,
		"INTERNAL_DOMAINS":  "acme.io",
	})
	s.post(t, journeys(journeyPeople, time.Now()))

	for _, vp := range viewports {
		t.Run("report/"+vp.name, func(t *testing.T) { testReport(t, s, vp) })
		t.Run("person/"+vp.name, func(t *testing.T) { testPerson(t, s, vp) })
		t.Run("detect/"+vp.name, func(t *testing.T) { testDetect(t, s, vp) })
	}
	t.Run("pickers", func(t *testing.T) { testPickers(t, s) })
	t.Run("anonymous", func(t *testing.T) { testAnonymous(t, s) })
	t.Run("labels", func(t *testing.T) { testLabels(t, s) })
	t.Run("no key", func(t *testing.T) { testNoKey(t, s) })
	t.Run("wrong key", func(t *testing.T) { testWrongKey(t, s) })
}

// personAnswer is the part of GET /api/user/{id} the person view shows.
type personAnswer struct {
	AnonymousIDs []string `json:"anonymousIds"`
	Touches      []struct {
		MessageID   string `json:"messageId"`
		Description struct {
			Channel string `json:"channel"`
		} `json:"description"`
	} `json:"touches"`
	Identities []struct {
		MessageID string `json:"messageId"`
	} `json:"identities"`
}

func testPerson(t *testing.T, s *stack, vp viewport) {
	const user = "user-007@example.com" // four touches, an identify, a sign-up and an order
	var want personAnswer
	s.get(t, "/api/user/"+url.PathEscape(user), nil, &want)
	require.Len(t, want.Touches, 4)

	tb := newTab(t, vp.width, vp.height)
	tb.open(s, "#person", testAPIKey)
	tb.waitFor(`document.getElementById('p-model').options.length > 0 || !document.getElementById('p-error').hidden`)
	tb.do(
		chromedp.SendKeys(chromedp.ID("p-id"), user),
		chromedp.Click(chromedp.CSS(`#person-form button[type=submit]`)),
	)
	tb.waitFor(`!document.getElementById('p-body').hidden`)

	assert.Equal(t, fmt.Sprint(len(want.Touches)), tb.text("p-touch-count"))
	channels := evalAs[[]string](tb, `[...document.querySelectorAll('#p-timeline li.touch [data-col=channel]')].map(e => e.textContent)`)
	var wantChannels []string
	for _, tc := range want.Touches {
		wantChannels = append(wantChannels, tc.Description.Channel)
	}
	assert.Equal(t, wantChannels, channels, "the time line shows the API's touches, oldest first")
	links := evalAs[[]string](tb, `[...document.querySelectorAll('#p-timeline li.link')].map(e => e.dataset.messageId)`)
	require.Len(t, links, len(want.Identities))
	assert.Equal(t, want.Identities[0].MessageID, links[0])

	// Each touch links to its raw event, which opens in place.
	first := want.Touches[0].MessageID
	tb.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#p-timeline li[data-message-id=%q] a.raw`, first))))
	tb.waitFor(fmt.Sprintf(`document.getElementById(%q).open`, "ev-"+first))
	raw := evalAs[string](tb, fmt.Sprintf(`document.getElementById(%q).querySelector('pre').textContent`, "ev-"+first))
	assert.Contains(t, raw, `"messageId": "`+first+`"`)

	tb.screenshot("person-" + vp.name)
	tb.checkClean(s)
}

// testAnonymous: an anonymousId shows its own touches and its user's conversions.
func testAnonymous(t *testing.T, s *stack) {
	const anon, user = "anon-007", "user-007@example.com"
	var conversions struct {
		Conversions []struct {
			MessageID string `json:"messageId"`
		} `json:"conversions"`
	}
	s.get(t, "/api/user/"+url.PathEscape(user)+"/conversions", nil, &conversions)
	require.NotEmpty(t, conversions.Conversions)

	tb := newTab(t, 1280, 900)
	tb.open(s, "#person", testAPIKey)
	tb.waitFor(`document.getElementById('p-model').options.length > 0`)
	tb.choose("p-kind", "anonymous")
	tb.do(
		chromedp.SendKeys(chromedp.ID("p-id"), anon),
		chromedp.Click(chromedp.CSS(`#person-form button[type=submit]`)),
	)
	tb.waitFor(`!document.getElementById('p-body').hidden`)
	assert.Contains(t, tb.text("p-summary"), user)
	shown := evalAs[[]string](tb, `[...document.querySelectorAll('#p-timeline li.conversion')].map(e => e.dataset.messageId)`)
	var want []string
	for _, c := range conversions.Conversions {
		want = append(want, c.MessageID)
	}
	assert.ElementsMatch(t, want, shown)

	// Another model, other credits: the first touch takes everything.
	before := evalAs[[]string](tb, `[...document.querySelectorAll('#p-timeline li.conversion [data-col=credit]')].map(e => e.textContent)`)
	tb.choose("p-model", "first")
	after := evalAs[[]string](tb, `[...document.querySelectorAll('#p-timeline li.conversion [data-col=credit]')].map(e => e.textContent)`)
	assert.NotEqual(t, before, after)
	assert.Contains(t, after, "100.0%")
	tb.checkClean(s)
}

// testLabels: every control has a label and can be reached with the keyboard.
func testLabels(t *testing.T, s *stack) {
	tb := newTab(t, 1280, 900)
	tb.open(s, "#report", testAPIKey)
	tb.waitReport("model", "linear")
	unlabelled := evalAs[[]string](tb, `[...document.querySelectorAll('input, select')].filter(e => e.labels.length === 0).map(e => e.id)`)
	assert.Empty(t, unlabelled)
	unreachable := evalAs[[]string](tb, `[...document.querySelectorAll('input, select, button, a[href]')].filter(e => e.tabIndex < 0).map(e => e.id || e.textContent)`)
	assert.Empty(t, unreachable)
	tb.checkClean(s)
}

func testDetect(t *testing.T, s *stack, vp viewport) {
	const pageURL, referrer = "https://www.acme.io/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "https://mail.google.com/"
	var want struct {
		Description struct {
			Channel  string `json:"channel"`
			Referrer struct {
				Type string `json:"type"`
			} `json:"referrer"`
		} `json:"description"`
	}
	s.get(t, "/api/detect", url.Values{"url": {pageURL}, "referrer": {referrer}}, &want)
	require.NotEmpty(t, want.Description.Channel)

	tb := newTab(t, vp.width, vp.height)
	tb.open(s, "#detect", testAPIKey)
	tb.do(
		chromedp.SendKeys(chromedp.ID("d-url"), pageURL),
		chromedp.SendKeys(chromedp.ID("d-referrer"), referrer),
		chromedp.Click(chromedp.CSS(`#detect-form button[type=submit]`)),
	)
	tb.waitFor(`!document.getElementById('d-body').hidden`)
	assert.Equal(t, want.Description.Channel, tb.text("d-channel"))
	assert.Contains(t, tb.text("d-fields"), want.Description.Referrer.Type)
	assert.Contains(t, tb.text("d-json"), `"campaign": "spring"`)
	tb.screenshot("detect-" + vp.name)
	tb.checkClean(s)
}

// testNoKey: a tab without a key is asked for one, and the key it types is used.
func testNoKey(t *testing.T, s *stack) {
	tb := newTab(t, 1280, 900)
	tb.open(s, "#detect", "")
	tb.do(
		chromedp.SendKeys(chromedp.ID("d-url"), "https://www.acme.io/?gclid=x"),
		chromedp.Click(chromedp.CSS(`#detect-form button[type=submit]`)),
	)
	tb.waitFor(`!document.getElementById('key-form').hidden`)
	assert.Contains(t, tb.text("key-message"), "asks for a key")
	assert.Contains(t, tb.text("d-error"), "401")

	tb.do(
		chromedp.SendKeys(chromedp.ID("key-input"), testAPIKey),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)),
	)
	tb.waitFor(`document.getElementById('key-form').hidden`)
	assert.Equal(t, testAPIKey, evalAs[string](tb, `sessionStorage.getItem('attribution.apiKey')`))
	assert.Empty(t, evalAs[string](tb, `localStorage.length ? 'stored' : ''`), "the key is kept only in session storage")
	tb.do(chromedp.Click(chromedp.CSS(`#detect-form button[type=submit]`)))
	tb.waitFor(`!document.getElementById('d-body').hidden`)
	assert.Equal(t, "Paid Search", tb.text("d-channel"))
	tb.checkClean(s, 401)
}

// testWrongKey: a refused key says so, in the key form and where the data would be.
func testWrongKey(t *testing.T, s *stack) {
	tb := newTab(t, 1280, 900)
	tb.open(s, "#report", "not-the-key")
	tb.waitFor(`!document.getElementById('key-form').hidden && !document.getElementById('r-error').hidden`)
	assert.Contains(t, tb.text("key-message"), "The API key was refused (401 Unauthorized)")
	assert.Contains(t, tb.text("r-error"), "401")
	assert.True(t, strings.Contains(tb.text("r-error"), "refused"), tb.text("r-error"))
	tb.screenshot("wrong-key-desktop")
	tb.checkClean(s, 401)
}
