package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func echo(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body, err := Body(req)
	if err != nil {
		return Error(http.StatusBadRequest, "bad body"), nil
	}
	return JSON(http.StatusOK, map[string]any{
		"routeKey": req.RouteKey, "params": req.PathParameters, "query": req.QueryStringParameters,
		"body": string(body), "key": Header(req, "X-Api-Key"), "rawPath": req.RawPath,
	}), nil
}

func get(t *testing.T, url string, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func TestServerHandsHandlersAPIGatewayEvents(t *testing.T) {
	srv := httptest.NewServer(NewServer(quiet, time.Second,
		Route{Method: "GET", Path: "/api/user/{id}", Handler: echo},
		Route{Method: "POST", Path: "/events", Handler: echo},
	))
	defer srv.Close()

	status, out := get(t, srv.URL+"/api/user/jane.doe%2Bcrm%40example.com?limit=5", map[string]string{"x-api-key": "k"})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "GET /api/user/{id}", out["routeKey"])
	assert.Equal(t, map[string]any{"id": "jane.doe+crm@example.com"}, out["params"])
	assert.Equal(t, map[string]any{"limit": "5"}, out["query"])
	assert.Equal(t, "k", out["key"])

	status, out = get(t, srv.URL+"/api/user/a%2Fb", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"id": "a/b"}, out["params"], "an encoded slash stays inside the id")
	assert.Equal(t, "/api/user/a%2Fb", out["rawPath"])

	status, out = get(t, srv.URL+"/nope", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, out["error"], "no route")

	resp, err := http.Post(srv.URL+"/events", "application/octet-stream", strings.NewReader("\xff\xfe binary"))
	require.NoError(t, err)
	defer resp.Body.Close()
	var posted map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&posted))
	assert.Equal(t, "\ufffd\ufffd binary", posted["body"], "non-UTF-8 bodies arrive base64-encoded and are decoded by Body")
}

func TestRequireAPIKey(t *testing.T) {
	h := RequireAPIKey("s3cret", echo)
	for _, tc := range []struct {
		headers map[string]string
		status  int
	}{
		{nil, http.StatusUnauthorized},
		{map[string]string{"x-api-key": "wrong"}, http.StatusUnauthorized},
		{map[string]string{"x-api-key": "s3cre"}, http.StatusUnauthorized},
		{map[string]string{"X-API-KEY": "s3cret"}, http.StatusOK},
	} {
		resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{Headers: tc.headers})
		require.NoError(t, err)
		assert.Equal(t, tc.status, resp.StatusCode, "%v", tc.headers)
	}
	open := RequireAPIKey("", echo)
	resp, err := open(context.Background(), events.APIGatewayV2HTTPRequest{})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "no key configured: open")
}

func TestHandlerErrorBecomesBare500(t *testing.T) {
	failing := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, io.ErrUnexpectedEOF
	}
	srv := httptest.NewServer(NewServer(quiet, time.Second, Route{Method: "GET", Path: "/x", Handler: failing}))
	defer srv.Close()
	status, out := get(t, srv.URL+"/x", nil)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.NotContains(t, out["error"], "EOF", "details stay in the log")
}

// API Gateway's "GET /" is the root alone; other paths keep answering 404.
func TestRootRouteIsTheRootOnly(t *testing.T) {
	srv := httptest.NewServer(NewServer(quiet, time.Second, Route{Method: "GET", Path: "/", Handler: echo}))
	defer srv.Close()
	status, _ := get(t, srv.URL+"/", nil)
	assert.Equal(t, http.StatusOK, status)
	status, out := get(t, srv.URL+"/nope", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, out["error"], "no route for GET /nope")
}

func TestDispatchByRouteKeyAndKeyOnEveryRoute(t *testing.T) {
	routes := WithAPIKey("k",
		Route{Method: "GET", Path: "/a/{id}", Handler: echo},
		Route{Method: "DELETE", Path: "/a/{id}", Handler: echo},
	)
	h := Dispatch(routes...)
	for _, tc := range []struct {
		key, apiKey string
		status      int
	}{
		{"GET /a/{id}", "k", http.StatusOK},
		{"DELETE /a/{id}", "k", http.StatusOK},
		{"DELETE /a/{id}", "", http.StatusUnauthorized},
		{"POST /a/{id}", "k", http.StatusNotFound},
	} {
		resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: tc.key, Headers: map[string]string{"x-api-key": tc.apiKey}})
		require.NoError(t, err)
		assert.Equal(t, tc.status, resp.StatusCode, tc.key)
	}
	// Lambda test events sometimes carry the key only in the request context.
	resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{
		Headers:        map[string]string{"x-api-key": "k"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RouteKey: "GET /a/{id}"},
	})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestUncleanPathsAreRoutedNotRedirected(t *testing.T) {
	srv := httptest.NewServer(NewServer(quiet, time.Second, Route{Method: "POST", Path: "/events", Handler: echo}))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/events", "//events", "/x/../events", "/./events"} {
		resp, err := client.Post(srv.URL+p, "application/json", strings.NewReader(`{}`))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, p)
	}
	resp, err := client.Post(srv.URL+"/events/", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a trailing slash is cleaned too, never redirected")
}

func TestCleaningKeepsEncodedSlashesInIDs(t *testing.T) {
	srv := httptest.NewServer(NewServer(quiet, time.Second, Route{Method: "GET", Path: "/api/user/{id}", Handler: echo}))
	defer srv.Close()
	status, out := get(t, srv.URL+"/api/user/a%2F..%2Fb", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"id": "a/../b"}, out["params"])
	status, out = get(t, srv.URL+"//api/user/x%40y", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"id": "x@y"}, out["params"])
}
