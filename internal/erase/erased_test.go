package erase

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func erasedBatch(t *testing.T, anons ...string) (events.DynamoDBEvent, []event.Event) {
	t.Helper()
	var b events.DynamoDBEvent
	var evs []event.Event
	for i, a := range anons {
		ev := event.Event{MessageID: "m-" + a, Type: event.TypePage, AnonymousID: a,
			Timestamp: time.Date(2026, 5, 1, 12, i, 0, 0, time.UTC), TimestampSource: event.FromTimestamp, Raw: []byte(`{}`)}
		evs = append(evs, ev)
		b.Records = append(b.Records, events.DynamoDBEventRecord{EventName: "INSERT",
			Change: events.DynamoDBStreamRecord{NewImage: stream.FromSDK(store.EventItem(ev, 0))}})
	}
	return b, evs
}

func TestErasedCheckReadsOncePerBatch(t *testing.T) {
	calls := 0
	check := ErasedCheck(func(_ context.Context, evs []event.Event) ([]bool, error) {
		calls++
		out := make([]bool, len(evs))
		for i, ev := range evs {
			out[i] = ev.AnonymousID == "gone"
		}
		return out, nil
	})
	batch, evs := erasedBatch(t, "a", "gone", "b")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()

	er := check.ForBatch(ctx, batch)
	for i, want := range []bool{false, true, false} {
		skip, err := er.Skip(ctx, log, evs[i])
		if err != nil || skip != want {
			t.Errorf("Skip(%s) = %v, %v; want %v", evs[i].AnonymousID, skip, err, want)
		}
	}
	if calls != 1 {
		t.Errorf("%d checks for one batch, want 1", calls)
	}
}

func TestErasedCheckFallsBackPerRecordWhenTheBatchReadFails(t *testing.T) {
	calls := 0
	check := ErasedCheck(func(_ context.Context, evs []event.Event) ([]bool, error) {
		calls++
		if len(evs) > 1 {
			return nil, errors.New("throttled")
		}
		return []bool{evs[0].AnonymousID == "gone"}, nil
	})
	batch, evs := erasedBatch(t, "a", "gone")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	er := check.ForBatch(ctx, batch)
	if skip, err := er.Skip(ctx, log, evs[1]); err != nil || !skip {
		t.Errorf("Skip(gone) = %v, %v; want true", skip, err)
	}
	if calls != 2 {
		t.Errorf("%d checks, want the failed batch read and one per-record check", calls)
	}

	var none ErasedCheck
	if skip, err := none.ForBatch(ctx, batch).Skip(ctx, log, evs[1]); skip || err != nil {
		t.Errorf("no check skips nothing: %v, %v", skip, err)
	}
}
