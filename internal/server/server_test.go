package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type env struct {
	t     *testing.T
	url   string
	stack *server.Stack
	store struct {
		touches *store.Touches
	}
}

func newEnv(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	l := launch(t, t.TempDir(), mutate)
	e := &env{t: t, url: l.url, stack: l.stack}
	e.store.touches = store.NewTouches(l.db, l.tables.Touches)
	return e
}

// launched is the whole local stack served over HTTP on fresh tables.
type launched struct {
	url    string
	stack  *server.Stack
	db     *dynamodb.Client
	tables store.Tables
}

// launch starts the stack with testConfig's settings, adjusted by mutate, and stops
// it (draining the stream) when the test ends.
func launch(t *testing.T, dataDir string, mutate func(*config.Config)) launched {
	t.Helper()
	db, tables := dbtest.New(t)
	cfg := testConfig(t, tables)
	if mutate != nil {
		mutate(&cfg)
	}
	stack, err := server.New(server.Options{
		Config: cfg, DB: db, DataDir: dataDir, Log: quietLog(),
		Stream: stream.EmulatorOptions{Backoff: 10 * time.Millisecond},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(stack.Handler)
	t.Cleanup(func() {
		srv.Close()
		closeStream(stack)
	})
	return launched{url: srv.URL, stack: stack, db: db, tables: tables}
}

var base = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

func (e *env) page(id, anon string, at time.Duration, url, referrer string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"type": "page", "messageId": id, "anonymousId": anon,
		"timestamp":  base.Add(at).Format(time.RFC3339Nano),
		"properties": map[string]any{"url": url, "referrer": referrer},
		"context":    map[string]any{"page": map[string]any{"url": url, "referrer": referrer}},
	})
	resp, err := http.Post(e.url+"/events", "application/json", bytes.NewReader(body))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
}

func (e *env) settle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(e.t, e.stack.Stream.Idle(ctx))
}

func TestPageEventsBecomeTouchesThroughTheStream(t *testing.T) {
	e := newEnv(t, nil)
	const anon = "visitor-1"
	e.page("p1", anon, 0, "https://acme.io/", "https://www.google.com/")
	e.settle()                                                                           // a visitor's events are ordered; settle keeps the test readable too
	e.page("p2", anon, time.Minute, "https://acme.io/pricing", "https://acme.io/")       // internal navigation
	e.page("p3", anon, 5*time.Minute, "https://acme.io/pricing", "")                     // reload
	e.page("p4", anon, 6*time.Minute, "https://acme.io/docs", "https://www.google.com/") // SPA resends the referrer
	e.page("p5", anon, 3*time.Hour, "https://acme.io/", "")                              // a new visit, typed in
	e.page("p6", anon, 3*time.Hour+10*time.Minute, "https://acme.io/?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "")
	e.settle()

	touches, err := e.store.touches.ByVisitor(context.Background(), anon)
	require.NoError(t, err)
	var ids []string
	for _, tc := range touches {
		ids = append(ids, tc.MessageID)
	}
	assert.Equal(t, []string{"p1", "p5", "p6"}, ids)
	require.Len(t, touches, 3)
	assert.Equal(t, source.TypeSearch, touches[0].Description.Referrer.Type)
	assert.Equal(t, "google", touches[0].Description.Referrer.Engine)
	assert.Equal(t, source.TypeDirect, touches[1].Description.Referrer.Type)
	assert.Equal(t, "Email", touches[2].Description.Channel)
	require.NotNil(t, touches[2].Description.Campaign)
	assert.Equal(t, "spring", touches[2].Description.Campaign.Campaign)
	assert.Equal(t, base.Add(3*time.Hour+10*time.Minute), touches[2].Timestamp)
}

func TestReplayedPageEventsAddNoTouches(t *testing.T) {
	e := newEnv(t, nil)
	for round := range 2 {
		for i := range 5 {
			e.page(fmt.Sprintf("r%d", i), "visitor-2", time.Duration(i)*time.Hour, "https://acme.io/", "https://www.linkedin.com/")
		}
		e.settle()
		touches, err := e.store.touches.ByVisitor(context.Background(), "visitor-2")
		require.NoError(t, err)
		assert.Len(t, touches, 5, "round %d", round)
	}
}
