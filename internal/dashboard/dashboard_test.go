package dashboard_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dashboard"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/source"
)

// embedded lists the files the binary embeds: everything under static/.
func embedded(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("static")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Contains(t, names, "index.html")
	return names
}

func newHandler(t *testing.T) *dashboard.Handler {
	t.Helper()
	h, err := dashboard.New(source.New(source.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return h
}

// invoke calls the route as API Gateway would, through the same dispatch the Lambda uses.
func invoke(t *testing.T, h *dashboard.Handler, apiKey, route, rawPath string, params, query, headers map[string]string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	if headers == nil {
		headers = map[string]string{}
	}
	resp, err := httpapi.Dispatch(h.Routes(apiKey)...)(context.Background(), events.APIGatewayV2HTTPRequest{
		RouteKey: route, RawPath: rawPath, PathParameters: params, QueryStringParameters: query, Headers: headers,
	})
	require.NoError(t, err)
	return resp
}

func body(t *testing.T, resp events.APIGatewayV2HTTPResponse) []byte {
	t.Helper()
	if !resp.IsBase64Encoded {
		return []byte(resp.Body)
	}
	raw, err := base64.StdEncoding.DecodeString(resp.Body)
	require.NoError(t, err)
	if resp.Headers["Content-Encoding"] == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		raw, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	return raw
}

func TestPageNeedsNoKeyAndKeepsToItsOrigin(t *testing.T) {
	h := newHandler(t)
	resp := invoke(t, h, "secret", "GET /", "/", nil, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Headers["Content-Type"])
	csp := resp.Headers["Content-Security-Policy"]
	assert.Contains(t, csp, "default-src 'none'")
	assert.Contains(t, csp, "connect-src 'self'")
	assert.NotContains(t, csp, "unsafe-inline")
	page := string(body(t, resp))
	assert.Contains(t, page, `<script src="assets/app.js"`)
	// Nothing the page references lives elsewhere.
	for _, name := range embedded(t) {
		b := []byte(page)
		if name != "index.html" {
			b = body(t, invoke(t, h, "secret", "GET /assets/{name}", "/assets/"+name, map[string]string{"name": name}, nil, nil))
		}
		for _, s := range []string{"http://", "https://", "//cdn", "@import"} {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, s) && !strings.Contains(line, "www.w3.org/2000/svg") && !strings.Contains(line, "placeholder=") {
					t.Errorf("%s refers outside the origin: %s", name, strings.TrimSpace(line))
				}
			}
		}
	}
}

func TestPageWeighsUnder300KBCompressed(t *testing.T) {
	h := newHandler(t)
	total := 0
	for _, name := range embedded(t) {
		route, path, params := "GET /assets/{name}", "/assets/"+name, map[string]string{"name": name}
		if name == "index.html" {
			route, path, params = "GET /", "/", nil
		}
		resp := invoke(t, h, "", route, path, params, nil, map[string]string{"accept-encoding": "gzip, deflate, br"})
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		require.Equal(t, "gzip", resp.Headers["Content-Encoding"], name)
		raw, err := base64.StdEncoding.DecodeString(resp.Body)
		require.NoError(t, err)
		total += len(raw)
	}
	t.Logf("report: dashboard_gzip_bytes=%d", total)
	assert.Less(t, total, 300_000)
	assert.Greater(t, total, 1_000, "the page and its script were weighed")
}

func TestAssetsRevalidateWithETag(t *testing.T) {
	h := newHandler(t)
	params := map[string]string{"name": "app.js"}
	first := invoke(t, h, "", "GET /assets/{name}", "/assets/app.js", params, nil, nil)
	require.Equal(t, http.StatusOK, first.StatusCode)
	assert.Equal(t, "text/javascript; charset=utf-8", first.Headers["Content-Type"])
	etag := first.Headers["ETag"]
	require.NotEmpty(t, etag)
	again := invoke(t, h, "", "GET /assets/{name}", "/assets/app.js", params, nil, map[string]string{"if-none-match": etag})
	assert.Equal(t, http.StatusNotModified, again.StatusCode)
	assert.Empty(t, again.Body)
}

func TestUnknownAssetsAre404(t *testing.T) {
	h := newHandler(t)
	for _, name := range []string{"nope.js", "index.html", "..%2Fdashboard.go"} {
		resp := invoke(t, h, "", "GET /assets/{name}", "/assets/"+name, map[string]string{"name": name}, nil, nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, name)
	}
}

func TestDetectDescribesAVisitBehindTheKey(t *testing.T) {
	h := newHandler(t)
	query := map[string]string{"url": "https://acme.io/?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "referrer": ""}

	resp := invoke(t, h, "secret", "GET /api/detect", "/api/detect", nil, query, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp = invoke(t, h, "secret", "GET /api/detect", "/api/detect", nil, query, map[string]string{"x-api-key": "wrong"})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp = invoke(t, h, "secret", "GET /api/detect", "/api/detect", nil, query, map[string]string{"x-api-key": "secret"})
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	var got dashboard.DetectResponse
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &got))
	assert.Equal(t, source.Detect(query["url"], ""), got.Description)
	assert.Equal(t, "Email", got.Description.Channel)
	assert.Equal(t, query["url"], got.URL)

	for name, q := range map[string]map[string]string{
		"unknown parameter": {"url": "https://acme.io/", "page": "x"},
		"url too long":      {"url": "https://acme.io/?q=" + strings.Repeat("a", 17<<10)},
	} {
		resp := invoke(t, h, "", "GET /api/detect", "/api/detect", nil, q, nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
		assert.Contains(t, resp.Body, `"error"`, name)
	}
}
