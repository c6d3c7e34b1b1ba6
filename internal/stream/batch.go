package stream

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// RecordFunc handles one record. Returning an error marks the record failed so the
// stream redelivers it (and everything after it in the shard); return nil for records
// that can never succeed, after logging them, so one bad record cannot block a shard.
type RecordFunc func(ctx context.Context, rec events.DynamoDBEventRecord) error

// ProcessBatch runs fn over a batch in order and reports partial batch failures the
// way Lambda expects with ReportBatchItemFailures: by the record's sequence number. It
// stops at the first failure, because Lambda retries from that record onward anyway and
// later records of the same key must not overtake it.
func ProcessBatch(ctx context.Context, log *slog.Logger, batch events.DynamoDBEvent, fn RecordFunc) events.DynamoDBEventResponse {
	var resp events.DynamoDBEventResponse
	for i, rec := range batch.Records {
		if err := fn(ctx, rec); err != nil {
			log.ErrorContext(ctx, "stream record failed", "event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber, "err", err)
			for _, rest := range batch.Records[i:] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rest.Change.SequenceNumber})
			}
			return resp
		}
	}
	return resp
}
