package erase

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/stream"
)

// ErasedCheck says, per event, whether its person was erased
// (store.Tombstones.EventsErased). The consumers ask it about every record they would
// derive something from: an event stored just before its person was erased still
// reaches them after the erasure.
type ErasedCheck func(ctx context.Context, evs []event.Event) ([]bool, error)

// Erasures answers for the records of one batch.
type Erasures struct {
	check  ErasedCheck
	erased map[string]bool // by messageId; nil when the batch could not be read at once
}

// ForBatch asks about every readable event of batch in one check (a BatchGetItem per 100
// ids, rather than one per record). If that read fails, Skip asks per record instead,
// so a failure fails records, which the stream retries, rather than passing them.
func (c ErasedCheck) ForBatch(ctx context.Context, batch events.DynamoDBEvent) *Erasures {
	e := &Erasures{check: c}
	if c == nil {
		return e
	}
	var evs []event.Event
	for _, rec := range batch.Records {
		if ev, err := stream.EventFromRecord(rec); err == nil && rec.EventName != "REMOVE" {
			evs = append(evs, ev)
		}
	}
	if len(evs) == 0 {
		return e
	}
	erased, err := c(ctx, evs)
	if err != nil || len(erased) != len(evs) {
		return e
	}
	e.erased = make(map[string]bool, len(evs))
	for i, ev := range evs {
		e.erased[ev.MessageID] = erased[i]
	}
	return e
}

// Skip reports whether ev belongs to an erased person, logging the skip; without a check
// it skips nothing. Its error should fail the record: deriving an erased person's data
// is worse than a retry.
func (e *Erasures) Skip(ctx context.Context, log *slog.Logger, ev event.Event) (bool, error) {
	if e.check == nil {
		return false, nil
	}
	erased, known := e.erased[ev.MessageID]
	if !known {
		answers, err := e.check(ctx, []event.Event{ev})
		if err != nil {
			return false, fmt.Errorf("check erasure of %s: %w", ev.MessageID, err)
		}
		erased = len(answers) == 1 && answers[0]
	}
	if erased {
		log.InfoContext(ctx, "skip event of an erased person", "message_id", ev.MessageID)
	}
	return erased, nil
}
