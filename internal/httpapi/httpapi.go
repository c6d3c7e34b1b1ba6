// Package httpapi adapts handlers between API Gateway HTTP API events and net/http,
// and holds what every route shares: JSON responses, errors and authentication.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is the shape of every HTTP Lambda handler in this project. Client mistakes
// come back as a response with a 4xx status, never as an error: API Gateway turns an
// error into a bare 500.
type Handler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// JSON answers status with v as JSON.
func JSON(status int, v any) events.APIGatewayV2HTTPResponse {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"could not encode the response"}`)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// Error answers status with {"error": msg}.
func Error(status int, msg string) events.APIGatewayV2HTTPResponse {
	return JSON(status, ErrorBody{Error: msg})
}

// Internal logs err with the request's id and answers a generic 500: details of
// failures stay in the log, not in the response.
func Internal(ctx context.Context, log *slog.Logger, req events.APIGatewayV2HTTPRequest, msg string, err error) events.APIGatewayV2HTTPResponse {
	log.ErrorContext(ctx, msg, "request_id", req.RequestContext.RequestID, "route", req.RouteKey, "err", err)
	return Error(http.StatusInternalServerError, msg)
}

// Body returns the request body's bytes, decoding API Gateway's base64 when it applied it.
func Body(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if req.IsBase64Encoded {
		return base64.StdEncoding.DecodeString(req.Body)
	}
	return []byte(req.Body), nil
}

// Header reads a header case-insensitively: API Gateway lower-cases names, net/http
// canonicalises them, and tests write them either way.
func Header(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// SecretEqual compares secrets in constant time, so response timing reveals nothing
// about how much of a guess was right.
func SecretEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// RequireAPIKey refuses requests without x-api-key = key. An empty key disables the
// check (local development); `attribution serve` warns loudly about that.
func RequireAPIKey(key string, next Handler) Handler {
	if key == "" {
		return next
	}
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		got := Header(req, "x-api-key")
		if got == "" {
			return Error(http.StatusUnauthorized, "missing x-api-key header"), nil
		}
		if !SecretEqual(got, key) {
			return Error(http.StatusUnauthorized, "invalid API key"), nil
		}
		return next(ctx, req)
	}
}
