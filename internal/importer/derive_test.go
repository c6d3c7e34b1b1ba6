package importer_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/importer"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// TestImportDerivesThroughTheStreamConsumers runs the real detect and identify
// consumers (server.Consumers): a clean import, and an import interrupted halfway then
// rerun, must leave all three tables identical.
func TestImportDerivesThroughTheStreamConsumers(t *testing.T) {
	db := dbtest.Client(t)
	a := genArchive(1_000, "d")
	src := []importer.Source{importer.Bytes("archive.jsonl", a.data)}

	importInto := func(tables store.Tables, stopAfter int64) (importer.Summary, error) {
		cfg, err := config.FromLookup(func(string) (string, bool) { return "", false })
		require.NoError(t, err)
		cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable = tables.Events, tables.Identities, tables.Touches
		log := slog.New(slog.DiscardHandler)
		em, err := stream.NewEmulator(log, stream.EmulatorOptions{Shards: 16, Backoff: 10 * time.Millisecond},
			server.Consumers(server.Options{Config: cfg, DB: db, Log: log, DataDir: t.TempDir()})...)
		require.NoError(t, err)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			require.NoError(t, em.Close(ctx))
		}()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var once atomic.Bool
		return importer.Run(ctx, importer.Options{
			Events:        store.NewEvents(db, tables.Events),
			Derive:        em,
			ProgressEvery: time.Millisecond,
			Progress: func(p importer.Progress) {
				if stopAfter > 0 && p.Stored >= stopAfter && once.CompareAndSwap(false, true) {
					cancel()
				}
			},
		}, src)
	}

	clean, interrupted := dbtest.Tables(t, db), dbtest.Tables(t, db)
	start := time.Now()
	sum, err := importInto(clean, 0)
	require.NoError(t, err)
	t.Logf("clean import with derivation: %s, %s", time.Since(start), sum.Text())

	_, err = importInto(interrupted, 300)
	require.ErrorIs(t, err, context.Canceled)
	_, err = importInto(interrupted, 0)
	require.NoError(t, err)

	for _, pair := range [][2]string{
		{clean.Events, interrupted.Events},
		{clean.Touches, interrupted.Touches},
		{clean.Identities, interrupted.Identities},
	} {
		want, got := tableRows(t, db, pair[0]), tableRows(t, db, pair[1])
		assert.NotEmpty(t, want, pair[0])
		assert.Equal(t, want, got, "%s differs from a clean import", pair[1])
	}
}

// tableRows is a table's items as sorted JSON strings, comparable across tables.
func tableRows(t *testing.T, db *dynamodb.Client, table string) []string {
	t.Helper()
	var rows []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, item := range page.Items {
			var m map[string]any
			require.NoError(t, attributevalue.UnmarshalMap(item, &m))
			b, err := json.Marshal(m)
			require.NoError(t, err)
			rows = append(rows, string(b))
		}
	}
	slices.Sort(rows)
	return rows
}
