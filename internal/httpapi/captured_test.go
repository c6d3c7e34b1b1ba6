package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captured reads an API Gateway HTTP API (payload format 2.0) event as Lambda receives
// it, from testdata/apigateway.
func captured(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "apigateway", name))
	require.NoError(t, err)
	var req events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(b, &req))
	return req
}

// API Gateway hands Lambda the id decoded in pathParameters and encoded in rawPath; the
// handlers must read it decoded exactly once, and the local server must build the same
// event from the same URL.
func TestCapturedRequestWithAnEncodedIDInThePath(t *testing.T) {
	aws := captured(t, "get-segment-track-user.json")
	const id = "jane.doe+crm@example.com"
	assert.Equal(t, id, PathParam(aws, "id"))
	assert.Equal(t, "test-api-key", Header(aws, "X-Api-Key"))

	var local events.APIGatewayV2HTTPRequest
	srv := httptest.NewServer(NewServer(quiet, time.Second, Route{Method: "GET", Path: "/segment/track/user/{id}",
		Handler: func(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			local = req
			return JSON(http.StatusOK, nil), nil
		}}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+aws.RawPath, nil)
	require.NoError(t, err)
	req.Header.Set("x-api-key", "test-api-key")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	assert.Equal(t, aws.Version, local.Version)
	assert.Equal(t, aws.RouteKey, local.RouteKey)
	assert.Equal(t, aws.RequestContext.RouteKey, local.RequestContext.RouteKey)
	assert.Equal(t, aws.RawPath, local.RawPath)
	assert.Equal(t, aws.PathParameters, local.PathParameters)
	assert.Equal(t, aws.RequestContext.HTTP.Method, local.RequestContext.HTTP.Method)
	assert.Equal(t, aws.RequestContext.HTTP.Path, local.RequestContext.HTTP.Path)
	assert.Equal(t, Header(aws, "x-api-key"), Header(local, "x-api-key"))
	assert.Equal(t, id, PathParam(local, "id"))
}

// API Gateway base64-encodes a body it does not take for text; Body undoes it.
func TestCapturedBase64Body(t *testing.T) {
	aws := captured(t, "post-events-base64.json")
	require.True(t, aws.IsBase64Encoded)
	body, err := Body(aws)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(body), `{"type":"page","messageId":"ajs-next-1732876941223-quickstart"`), string(body))
	assert.True(t, json.Valid(body))
	assert.Equal(t, "e436c2f84aba67de73ad553dad117607c4977cd5", Header(aws, "X-Signature"))
}
