package dashboard_test

// The dashboard in a real headless Chromium, against the whole local stack (as
// `attribution serve` runs it) on dynalite, loaded through POST /events with a set of
// journeys. One browser serves the package; each test opens its own tab.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/stream"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// installChromium is the one command that gives the tests a browser on Debian/Ubuntu.
const installChromium = "apt-get update && apt-get install -y chromium-headless-shell"

// screenshotDir is where the views are saved at desktop and phone widths: screenshots/
// at the repository's root, which git ignores, so a test run leaves the checkout clean.
// SCREENSHOTS_DIR=docs/screenshots refreshes the ones the README shows.
func screenshotDir() string {
	if d := os.Getenv("SCREENSHOTS_DIR"); d != "" {
		if filepath.IsAbs(d) {
			return d
		}
		return filepath.Join("..", "..", d)
	}
	return filepath.Join("..", "..", "screenshots")
}

const testAPIKey = "dashboard-test-key"

// chromiumPath finds the system's Chromium. CHROMIUM names another binary.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, p := range []string{"/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

var (
	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
)

// browser starts one headless Chromium for the package (it ends with the process).
// Without Chromium the tests fail under CI, and otherwise say how to install it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		msg := "no Chromium found for the dashboard's browser tests; install it with: " + installChromium
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (make test does this when it can)")
	}
	browserOnce.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Flag("lang", "en-US"),
			chromedp.Flag("disable-gpu", true),
			chromedp.NoSandbox, // CI containers run as root, where Chromium's sandbox cannot start
		)
		alloc, _ := chromedp.NewExecAllocator(context.Background(), opts...)
		browserCtx, _ = chromedp.NewContext(alloc)
		browserErr = chromedp.Do(browserCtx) // starts the browser; no timeout, which would end it
	})
	require.NoError(t, browserErr, "start %s", path)
	return browserCtx
}

// tab is one browser tab with what it saw: console errors, exceptions and every URL
// it requested.
type tab struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	errors   []string
	requests []string
}

func newTab(t *testing.T, width, height int64) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t))
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx}
	require.NoError(t, chromedp.Do(ctx)) // opens the tab
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, fmt.Sprint(a.Value)+a.Description)
				}
				tb.errors = append(tb.errors, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := ""
			if d.Exception != nil {
				desc = d.Exception.Description
			}
			tb.errors = append(tb.errors, fmt.Sprintf("exception: %s %s (%s:%d)", d.Text, desc, d.URL, d.LineNumber))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				tb.errors = append(tb.errors, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			tb.requests = append(tb.requests, ev.Request.URL)
		}
	}))
	call := func(err error) { t.Helper(); require.NoError(t, err) }
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	call(err)
	_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	call(err)
	_, err = chromedp.Call(ctx, runtime.Enable, cdp.Empty{})
	call(err)
	_, err = chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: width, Height: height, DeviceScaleFactor: 1, Mobile: width < 600})
	call(err)
	_, err = chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en_US"})
	call(err)
	_, err = chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"})
	call(err)
	return tb
}

// do runs actions with a deadline.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	require.NoError(tb.t, chromedp.Do(ctx, actions...))
}

// open loads the page at fragment with the API key (if any) already in the tab's
// session storage: it is written from an asset of the same origin, before the page runs.
func (tb *tab) open(s *stack, fragment, key string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(s.url + "/assets/favicon.svg"))
	if key != "" {
		tb.eval(fmt.Sprintf(`sessionStorage.setItem('attribution.apiKey', %q)`, key))
	}
	tb.do(chromedp.Navigate(s.url + "/" + fragment))
}

// checkClean asserts the tab stayed on its origin and logged no error, apart from
// network errors with the allowed statuses (a 401 the test asked for).
func (tb *tab) checkClean(s *stack, allowStatus ...int) {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	require.NotEmpty(tb.t, tb.requests, "the tab's requests were recorded")
	for _, u := range tb.requests {
		if strings.HasPrefix(u, "data:") || strings.HasPrefix(u, "blob:"+s.url) {
			continue
		}
		assert.True(tb.t, strings.HasPrefix(u, s.url+"/"), "request outside the page's origin: %s", u)
	}
	for _, e := range tb.errors {
		allowed := false
		for _, st := range allowStatus {
			allowed = allowed || strings.Contains(e, fmt.Sprintf("status of %d", st))
		}
		assert.True(tb.t, allowed, "console: %s", e)
	}
}

// waitFor polls a JavaScript expression until it is true.
func (tb *tab) waitFor(expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		// A poll that starts as the page replaces its execution context (right after a
		// navigation, on a loaded machine) loses it: poll again in the new one.
		if strings.Contains(err.Error(), "Cannot find context with specified id") && ctx.Err() == nil {
			continue
		}
		state, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText.slice(0, 3000)`))
		tb.t.Fatalf("waiting for %s: %v\npage:\n%s", expr, err, state)
	}
}

func (tb *tab) eval(expr string) {
	tb.t.Helper()
	evalAs[any](tb, expr)
}

func evalAs[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(tb.t, err, expr)
	return v
}

func (tb *tab) text(id string) string {
	tb.t.Helper()
	return evalAs[string](tb, fmt.Sprintf(`document.getElementById(%q).innerText`, id))
}

// choose sets a select or input as a person would and fires its change event.
func (tb *tab) choose(id, value string) {
	tb.t.Helper()
	tb.eval(fmt.Sprintf(`(e => { e.value = %q; e.dispatchEvent(new Event('change', {bubbles: true})); return e.value })(document.getElementById(%q))`, value, id))
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(tb.t, err)
	require.NoError(tb.t, os.MkdirAll(screenshotDir(), 0o755))
	require.NoError(tb.t, os.WriteFile(filepath.Join(screenshotDir(), name+".png"), png, 0o644))
}

// stack is the local stack served over HTTP on fresh tables.
type stack struct {
	url string
	*server.Stack
}

// newStack starts the stack with env's variables (API_KEY and CONVERSION_EVENTS above all).
func newStack(t *testing.T, env map[string]string) *stack {
	t.Helper()
	db, tables := dbtest.New(t)
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)
	cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable, cfg.ConversionsTable = tables.Events, tables.Identities, tables.Touches, tables.Conversions
	st, err := server.New(server.Options{Config: cfg, DB: db, DataDir: t.TempDir(), Log: quiet(),
		Stream: stream.EmulatorOptions{Backoff: 10 * time.Millisecond}})
	require.NoError(t, err)
	srv := httptest.NewServer(st.Handler)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.Stream.Close(ctx)
	})
	return &stack{url: srv.URL, Stack: st}
}

// post sends events through the webhook and waits for the stream to derive them.
func (s *stack) post(t *testing.T, evs []map[string]any) {
	t.Helper()
	for start := 0; start < len(evs); start += 500 {
		body, err := json.Marshal(evs[start:min(start+500, len(evs))])
		require.NoError(t, err)
		resp, err := http.Post(s.url+"/events", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, out)
		require.Nil(t, out["rejected"], "every event is valid")
	}
	// Generous: under -race on a busy 2-core machine the consumers take a while.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	require.NoError(t, s.Stream.Idle(ctx))
	t.Logf("report: dashboard_journey_events=%d derive_ms=%d", len(evs), time.Since(start).Milliseconds())
}

// request asks the API, with the key, what the page asks it.
func (s *stack) request(t *testing.T, path string, q url.Values) (int, []byte) {
	t.Helper()
	u := s.url + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("x-api-key", testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// get decodes the API's answer to what the page should show.
func (s *stack) get(t *testing.T, path string, q url.Values, out any) {
	t.Helper()
	code, body := s.request(t, path, q)
	require.Equal(t, http.StatusOK, code, "%s?%s: %s", path, q.Encode(), body)
	require.NoError(t, json.Unmarshal(body, out))
}

type answer struct {
	code    int
	message string
}

// status is the API's refusal of a request: its status and error message.
func (s *stack) status(t *testing.T, path string, q url.Values) answer {
	t.Helper()
	code, body := s.request(t, path, q)
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	return answer{code, e.Error}
}

// Numbers as the page writes them for en-US: one decimal for credited conversions,
// thousands separators, currency symbols. Intl.NumberFormat rounds the exact value of
// the double half away from zero, so the test does too, on the exact value.
func fmtConversions(x float64) string { return thousands(decimal(math.Abs(x), 1), x < 0) }

func decimal(x float64, digits int) string {
	v := new(big.Float).SetPrec(256).SetFloat64(x)
	v.Mul(v, new(big.Float).SetPrec(256).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)))
	v.Add(v, big.NewFloat(0.5))
	n, _ := v.Int(nil) // truncates: floor, for the positive values the page shows
	s := fmt.Sprintf("%0*s", digits+1, n.String())
	return s[:len(s)-digits] + "." + s[len(s)-digits:]
}

func fmtMoney(amount float64, currency string) string {
	symbol, ok := map[string]string{"USD": "$", "EUR": "€", "GBP": "£"}[currency]
	if !ok {
		panic("fmtMoney: add the symbol of " + currency)
	}
	return symbol + thousands(decimal(amount, 2), false)
}

// fmtShare rounds x to three decimals exactly, which is x×100 to one: no float product.
func fmtShare(x float64) string {
	d := strings.Replace(decimal(x, 3), ".", "", 1)
	whole := strings.TrimLeft(d[:len(d)-1], "0")
	if whole == "" {
		whole = "0"
	}
	return thousands(whole+"."+d[len(d)-1:], false) + "%"
}

func thousands(s string, negative bool) string {
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if negative {
		out = "-" + out
	}
	return out
}

func TestFormatsMatchIntl(t *testing.T) {
	assert.Equal(t, "1,234.5", fmtConversions(1234.5))
	assert.Equal(t, "0.3", fmtConversions(1.0/3))
	assert.Equal(t, "$12,345.60", fmtMoney(12345.6, "USD"))
	assert.Equal(t, "33.3%", fmtShare(1.0/3))
	assert.Equal(t, "0.3", fmtConversions(0.25), "a tie rounds away from zero")
	assert.Equal(t, "0.1", fmtConversions(0.15), "0.15 is a little under 0.15 as a double")
	assert.Equal(t, "0.0", fmtConversions(0.04))
	assert.Equal(t, "100.0%", fmtShare(1))
	assert.Equal(t, "6.3%", fmtShare(0.0625))
	assert.Equal(t, "0.5%", fmtShare(0.005))
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
