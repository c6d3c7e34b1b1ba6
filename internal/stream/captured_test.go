package stream

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
)

// A DynamoDB stream event as Lambda delivers it from the events table
// (testdata/dynamodb): the consumers read the stored event out of it, the local
// emulator builds the same image from the item it stored, and a failure is reported by
// the record's sequence number.
func TestCapturedStreamEvent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dynamodb", "events-stream-insert.json"))
	require.NoError(t, err)
	var batch events.DynamoDBEvent
	require.NoError(t, json.Unmarshal(b, &batch))
	require.Len(t, batch.Records, 1)
	rec := batch.Records[0]

	ev, err := EventFromRecord(rec)
	require.NoError(t, err)
	assert.Equal(t, "ajs-next-1732876941223-quickstart", ev.MessageID)
	assert.Equal(t, "page", ev.Type)
	assert.Equal(t, "4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11", ev.AnonymousID)
	assert.Equal(t, "https://www.acme.io/pricing", ev.URL)
	assert.Equal(t, "https://www.google.com/", ev.Referrer)
	assert.True(t, ev.Timestamp.Equal(time.Date(2026, 11, 29, 10, 42, 21, 805_000_000, time.UTC)), ev.Timestamp)

	parsed, err := event.Parse(ev.Raw)
	require.NoError(t, err)
	assert.Equal(t, rec.Change.NewImage, FromSDK(store.EventItem(parsed, 0)), "the emulator delivers the image Lambda gets")

	resp := ProcessBatch(context.Background(), quiet, batch, func(context.Context, events.DynamoDBEventRecord) error {
		return errors.New("storage down")
	})
	assert.Equal(t, []events.DynamoDBBatchItemFailure{{ItemIdentifier: "4421584500000000017450439091"}}, resp.BatchItemFailures)
}
