package stream

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// KeyedRecordFunc handles one record like RecordFunc and also returns the keys (for
// real-time attribution: userIds) whose follow-up work the record needs once the
// batch's records are handled.
type KeyedRecordFunc func(ctx context.Context, rec events.DynamoDBEventRecord) (keys []string, err error)

// FollowUpFunc does the follow-up work once for each key, given in first-seen order,
// and returns the keys it failed for, with why.
type FollowUpFunc func(ctx context.Context, keys []string) (failed map[string]error)

// ProcessBatchThen handles a batch in two phases: fn over the records in order, stopping
// at the first failure as ProcessBatch does; then followUp, once, over the distinct
// keys of the records handled successfully. A burst of records for one key thus costs
// one follow-up, made after all of them are stored, not one per record.
//
// Failures are reported from the earliest record that either failed itself or needed
// a key whose follow-up failed, and include everything after it: Lambda redelivers from
// the lowest reported sequence number anyway, and redelivered records must be safe to
// handle again (fn's writes idempotent, follow-ups a no-op when nothing changed). A
// record before that point whose follow-ups all succeeded is done. The follow-up runs
// even when a record failed, because the records before it are reported done and would
// otherwise never get theirs.
func ProcessBatchThen(ctx context.Context, log *slog.Logger, batch events.DynamoDBEvent, fn KeyedRecordFunc, followUp FollowUpFunc) events.DynamoDBEventResponse {
	failFrom := len(batch.Records)
	firstNeed := map[string]int{} // key → index of the first record needing it
	var keys []string
	for i, rec := range batch.Records {
		recKeys, err := fn(ctx, rec)
		if err != nil {
			log.ErrorContext(ctx, "stream record failed", "event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber, "err", err)
			failFrom = i
			break
		}
		for _, k := range recKeys {
			if _, seen := firstNeed[k]; !seen {
				firstNeed[k] = i
				keys = append(keys, k)
			}
		}
	}
	if len(keys) > 0 {
		for k, err := range followUp(ctx, keys) {
			i, ok := firstNeed[k]
			if !ok {
				continue
			}
			rec := batch.Records[i]
			log.ErrorContext(ctx, "stream follow-up failed", "key", k, "event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber, "err", err)
			failFrom = min(failFrom, i)
		}
	}
	var resp events.DynamoDBEventResponse
	for _, rec := range batch.Records[failFrom:] {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
	}
	return resp
}

// JoinFollowUps runs each follow-up over the same keys, in order, and reports every key
// any of them failed for.
func JoinFollowUps(followUps ...FollowUpFunc) FollowUpFunc {
	return func(ctx context.Context, keys []string) map[string]error {
		failed := map[string]error{}
		for _, f := range followUps {
			for k, err := range f(ctx, keys) {
				if _, seen := failed[k]; !seen {
					failed[k] = err
				}
			}
		}
		return failed
	}
}
