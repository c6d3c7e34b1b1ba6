package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestCheckSizeAtTheLimit(t *testing.T) {
	evs := store.NewEvents(nil, "events")
	ev := func(raw int) event.Event {
		return event.Event{MessageID: "m1", Type: event.TypeTrack, UserID: "u1", Name: "Big",
			Timestamp: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC), TimestampSource: event.FromTimestamp,
			Raw: []byte(strings.Repeat("r", raw))}
	}
	// Past the quick bound, so the item is measured exactly, yet still under the limit.
	if err := evs.CheckSize(ev(store.MaxItemSize - 300)); err != nil {
		t.Errorf("an item just under the limit: %v", err)
	}
	err := evs.CheckSize(ev(store.MaxItemSize))
	if !errors.Is(err, store.ErrItemTooLarge) {
		t.Fatalf("an item over the limit: err = %v, want ErrItemTooLarge", err)
	}
	if !strings.Contains(err.Error(), "m1") {
		t.Errorf("the error names the event: %v", err)
	}
}
