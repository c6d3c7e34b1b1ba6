package ledger

import (
	"context"
	"log/slog"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/stream"
)

// Handler is the conversions stream consumer: each stored track event named in Events
// becomes a credited conversion; the batch's rollups are settled once, after its records.
type Handler struct {
	Ledger *Ledger
	// Events are the conversion events (CONVERSION_EVENTS); other tracks are skipped.
	Events []string
	Log    *slog.Logger
	// Erased, when set, says whether an event's person was erased; their conversions
	// are not recorded.
	Erased erase.ErasedCheck
}

// Handle processes a batch of stream records, reporting partial batch failures. A
// record whose conversion's settling fails is failed, with everything after it.
//
// The records are credited concurrently: each conversion is its own item, so their
// order does not matter, and waiting on one person's reads at a time would leave
// DynamoDB idle. Results are then reported in record order, as the stream expects; a
// record after a failed one was stored too, which its redelivery repeats harmlessly.
func (h *Handler) Handle(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	erased := h.Erased.ForBatch(ctx, batch)
	results := make([]*Change, len(batch.Records))
	errs := make([]error, len(batch.Records))
	_ = each(ctx, len(batch.Records), func(ctx context.Context, i int) error {
		results[i], errs[i] = h.record(ctx, batch.Records[i], erased)
		return nil // reported per record below
	})
	index := make(map[string]int, len(batch.Records))
	for i, rec := range batch.Records {
		index[rec.Change.SequenceNumber] = i
	}
	var changes []Change
	keyed := func(ctx context.Context, rec events.DynamoDBEventRecord) ([]string, error) {
		i := index[rec.Change.SequenceNumber]
		if errs[i] != nil || results[i] == nil {
			return nil, errs[i]
		}
		changes = append(changes, *results[i])
		return []string{results[i].Conversion.MessageID}, nil
	}
	settle := func(ctx context.Context, keys []string) map[string]error {
		return failAll(keys, h.Ledger.Settle(ctx, changes))
	}
	return stream.ProcessBatchThen(ctx, h.Log, batch, keyed, settle), nil
}

func (h *Handler) record(ctx context.Context, rec events.DynamoDBEventRecord, erased *erase.Erasures) (*Change, error) {
	if rec.EventName != "INSERT" {
		return nil, nil
	}
	ev, err := stream.EventFromRecord(rec)
	if err != nil {
		h.Log.WarnContext(ctx, "skip unreadable stream record", "event_id", rec.EventID, "err", err)
		return nil, nil
	}
	if ev.Type != event.TypeTrack || !slices.Contains(h.Events, ev.Name) {
		return nil, nil
	}
	if skip, err := erased.Skip(ctx, h.Log, ev); skip || err != nil {
		return nil, err
	}
	return h.Ledger.Record(ctx, input(ctx, h.Log, ev))
}

// input is what conversion event ev says. A value that cannot be counted is counted as
// 0, and log says why.
func input(ctx context.Context, log *slog.Logger, ev event.Event) conversion.Input {
	value, currency, problem := conversion.Value(ev.Raw)
	if problem != "" {
		log.WarnContext(ctx, "conversion value counted as 0", "message_id", ev.MessageID, "event", ev.Name, "reason", problem)
	}
	return conversion.Input{
		MessageID: ev.MessageID, Event: ev.Name, Timestamp: ev.Timestamp, Value: value, Currency: currency,
		UserID: ev.UserID, AnonymousID: ev.AnonymousID,
	}
}

// FollowUp recomputes and settles the conversions of persons (conversion person keys)
// whose touches or links a batch changed: the touch and link consumers' follow-up.
func (l *Ledger) FollowUp(ctx context.Context, persons []string) map[string]error {
	return failAll(persons, l.Refresh(ctx, persons))
}

// Refresh recomputes and settles the conversions of persons whose touches or links
// changed.
func (l *Ledger) Refresh(ctx context.Context, persons []string) error {
	changes, err := l.Recompute(ctx, persons)
	if err != nil {
		return err
	}
	return l.Settle(ctx, changes)
}

func failAll(keys []string, err error) map[string]error {
	if err == nil {
		return nil
	}
	failed := make(map[string]error, len(keys))
	for _, k := range keys {
		failed[k] = err
	}
	return failed
}

// Erase forgets the conversions of persons and settles the rollups without them,
// returning how many it removed: erasure's part for conversions (erase.Eraser).
func (l *Ledger) Erase(ctx context.Context, persons []string) (int, error) {
	changes, err := l.Forget(ctx, persons)
	if err != nil {
		return 0, err
	}
	if err := l.Settle(ctx, changes); err != nil {
		return 0, err
	}
	return len(changes), nil
}
