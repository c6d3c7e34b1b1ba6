package erase_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/query"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// The query Lambda serves DELETE as API Gateway routes it: by route key, behind the key.
func TestQueryLambdaServesErasure(t *testing.T) {
	db, tables := dbtest.New(t)
	cfg, err := config.FromLookup(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable = tables.Events, tables.Identities, tables.Touches
	env := app.Env{Config: cfg, DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	eraser := &erase.Handler{Eraser: env.Eraser(), Log: env.Log}
	h := httpapi.RequireAPIKey("k", httpapi.Dispatch((&query.Handler{People: env.People(), Log: env.Log, Erase: eraser.Routes()}).Routes()...))

	call := func(route, id, key string) (int, map[string]any) {
		req := events.APIGatewayV2HTTPRequest{RouteKey: route, PathParameters: map[string]string{"id": id}, Headers: map[string]string{"x-api-key": key}}
		resp, err := h(context.Background(), req)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &out))
		return resp.StatusCode, out
	}
	status, _ := call("DELETE /api/user/{id}", "u-1", "nope")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, out := call("DELETE /api/user/{id}", "u-1", "k")
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "u-1", out["userId"])
	assert.Equal(t, []any{}, out["anonymousIds"])
	status, out = call("DELETE /api/anonymous/{id}", "a-1", "k")
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "a-1", out["anonymousId"])
	status, _ = call("DELETE /api/user/{id}", "", "k")
	assert.Equal(t, http.StatusBadRequest, status)

	ok, err := env.Tombstones().IsErased(context.Background(), "u-1")
	require.NoError(t, err)
	assert.True(t, ok, "an id never seen is tombstoned too: its events may still be on their way")

	// Without an erase handler, the query Lambda has no DELETE route.
	bare := &query.Handler{People: env.People(), Log: env.Log}
	resp, err := httpapi.Dispatch(bare.Routes()...)(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "DELETE /api/user/{id}"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}
