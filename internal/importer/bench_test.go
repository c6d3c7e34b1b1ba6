package importer_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/importer"
	"github.com/attribution-dev/attribution/internal/store"
)

// BenchmarkImport measures the importer's throughput against dynalite next to its
// ceiling: a bare loop of BatchWriteItem calls writing the same items with the same
// concurrency and no existence check, parsing or derivation. Each iteration writes
// both into fresh tables.
func BenchmarkImport(b *testing.B) {
	const n = 10_000
	workers := importer.DefaultWorkers
	db := dbtest.Client(b)
	var buf bytes.Buffer
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		buf.WriteString(eventLine("b", i, base.Add(time.Duration(i)*time.Second)))
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	var items []map[string]types.AttributeValue
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		ev, err := event.Parse(line)
		require.NoError(b, err)
		items = append(items, store.EventItem(ev, 0))
	}
	ctx := context.Background()

	// Warm both paths up untimed: node compiles dynalite's read and write code on first
	// use, which would otherwise count against whichever side meets it first.
	warm := dbtest.Tables(b, db)
	batchWriteLoop(b, db, warm.Events, items[:2_000], workers)
	_, err := importer.Run(ctx, importer.Options{Events: store.NewEvents(db, warm.Events), Workers: workers},
		[]importer.Source{importer.Bytes("warm.jsonl", data)})
	require.NoError(b, err)
	dbtest.Drop(db, warm)

	var ceiling, imported time.Duration
	iter := 0
	for b.Loop() {
		b.StopTimer()
		bare, viaImport := dbtest.Tables(b, db), dbtest.Tables(b, db)
		b.StartTimer()

		// Alternate which goes first, so neither always meets a warmer dynalite.
		runCeiling := func() {
			start := time.Now()
			batchWriteLoop(b, db, bare.Events, items, workers)
			ceiling += time.Since(start)
		}
		runImport := func() {
			start := time.Now()
			sum, err := importer.Run(ctx, importer.Options{Events: store.NewEvents(db, viaImport.Events), Workers: workers},
				[]importer.Source{importer.Bytes("bench.jsonl", data)})
			imported += time.Since(start)
			require.NoError(b, err)
			require.Equal(b, int64(n), sum.Stored)
		}
		if iter%2 == 0 {
			runCeiling()
			runImport()
		} else {
			runImport()
			runCeiling()
		}
		iter++
		b.StopTimer()
		dbtest.Drop(db, bare)
		dbtest.Drop(db, viaImport)
		b.StartTimer()
	}
	ceilingRate := float64(n*b.N) / ceiling.Seconds()
	importRate := float64(n*b.N) / imported.Seconds()
	b.ReportMetric(ceilingRate, "ceiling_events/s")
	b.ReportMetric(importRate, "import_events/s")
	b.ReportMetric(100*importRate/ceilingRate, "import_%_of_ceiling")
}

// batchWriteLoop is the ceiling: 25 items per BatchWriteItem, workers calls in flight.
func batchWriteLoop(b *testing.B, db *dynamodb.Client, table string, items []map[string]types.AttributeValue, workers int) {
	batches := make(chan []map[string]types.AttributeValue)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for batch := range batches {
				reqs := make([]types.WriteRequest, len(batch))
				for i, item := range batch {
					reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
				}
				out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
					RequestItems: map[string][]types.WriteRequest{table: reqs},
				})
				if err != nil || len(out.UnprocessedItems) > 0 {
					b.Errorf("batch write: %v (unprocessed %d)", err, len(out.UnprocessedItems))
				}
			}
		})
	}
	for start := 0; start < len(items); start += store.MaxBatchWrite {
		batches <- items[start:min(start+store.MaxBatchWrite, len(items))]
	}
	close(batches)
	wg.Wait()
}
