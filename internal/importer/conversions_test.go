package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/importer"
	"github.com/attribution-dev/attribution/internal/report"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// journeys are a few people's page views, identifies and conversions, in time order.
func journeys() []map[string]any {
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	var evs []map[string]any
	refs := []string{"https://www.google.com/", "https://www.linkedin.com/", "", "https://chatgpt.com/"}
	for p := range 12 {
		anon, user := fmt.Sprintf("anon-%d", p), fmt.Sprintf("user-%d", p)
		for v := range 3 {
			evs = append(evs, map[string]any{"type": "page", "messageId": fmt.Sprintf("pv-%d-%d", p, v), "anonymousId": anon,
				"timestamp":  at.Add(time.Duration(p*5+v*30) * time.Hour).Format(time.RFC3339),
				"properties": map[string]any{"url": fmt.Sprintf("https://shop.example/p%d?utm_campaign=c%d", v, p%3), "referrer": refs[(p+v)%len(refs)]}})
		}
		evs = append(evs, map[string]any{"type": "identify", "messageId": "id-" + anon, "anonymousId": anon, "userId": user,
			"timestamp": at.Add(time.Duration(p*5+100) * time.Hour).Format(time.RFC3339)})
		evs = append(evs, map[string]any{"type": "track", "event": "Order Completed", "messageId": "order-" + anon, "userId": user,
			"timestamp":  at.Add(time.Duration(p*5+101) * time.Hour).Format(time.RFC3339),
			"properties": map[string]any{"revenue": 10 * (p + 1), "currency": []string{"USD", "EUR"}[p%2]}})
	}
	return evs
}

func conversionsConfig(t *testing.T, tables store.Tables) config.Config {
	cfg := dbtest.Config(t, tables)
	cfg.ConversionEvents = []string{"Order Completed"}
	return cfg
}

// Importing an archive derives the same conversions and reports as the webhook does.
func TestImportThenReportEqualsWebhookThenReport(t *testing.T) {
	db := dbtest.Client(t)
	log := slog.New(slog.DiscardHandler)
	evs := journeys()
	ctx := context.Background()

	imported := dbtest.Tables(t, db)
	var lines bytes.Buffer
	for _, ev := range evs {
		require.NoError(t, json.NewEncoder(&lines).Encode(ev))
	}
	cfg := conversionsConfig(t, imported)
	em, err := stream.NewEmulator(log, stream.EmulatorOptions{Backoff: 10 * time.Millisecond},
		server.Consumers(server.Options{Config: cfg, DB: db, Log: log, DataDir: t.TempDir()})...)
	require.NoError(t, err)
	_, err = importer.Run(ctx, importer.Options{Events: store.NewEvents(db, imported.Events), Derive: em},
		[]importer.Source{importer.Bytes("archive.jsonl", lines.Bytes())})
	require.NoError(t, err)
	closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, em.Close(closeCtx))

	posted := dbtest.Tables(t, db)
	stack, err := server.New(server.Options{Config: conversionsConfig(t, posted), DB: db, Log: log, DataDir: t.TempDir(),
		Stream: stream.EmulatorOptions{Backoff: 10 * time.Millisecond}})
	require.NoError(t, err)
	srv := httptest.NewServer(stack.Handler)
	defer srv.Close()
	body, err := json.Marshal(evs)
	require.NoError(t, err)
	resp, err := http.Post(srv.URL+"/events", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, stack.Stream.Close(closeCtx))

	reporter := func(tables store.Tables) *report.Handler {
		return app.Env{Config: conversionsConfig(t, tables), DB: db, Log: log}.Reports()
	}
	for _, by := range []string{"channel", "source_medium", "landing_page", "campaign"} {
		q := report.Query{Event: "Order Completed", From: "2026-04-01", To: "2026-04-30", Model: report.AllModels, By: by}
		want, err := reporter(posted).Reporter.Report(ctx, q)
		require.NoError(t, err)
		got, err := reporter(imported).Reporter.Report(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, 12.0, want.Totals.Conversions, by)
		assert.NotEmpty(t, want.Rows, by)
		assert.Equal(t, want, got, by)
	}
	q := report.Query{Event: "Order Completed", From: "2026-04-01", To: "2026-04-30", Limit: 100}
	want, err := reporter(posted).Reporter.Paths(ctx, q)
	require.NoError(t, err)
	got, err := reporter(imported).Reporter.Paths(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, 12.0, want.TouchesToConvert["3"], "every journey's three visits count")
}
