package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestPreviousPageViewLooksOnlyWithinTheWindow(t *testing.T) {
	db, tables := dbtest.New(t)
	evs := store.NewEvents(db, tables.Events)
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	put := func(id, typ string, ts time.Time) {
		t.Helper()
		ev := event.Event{MessageID: id, Type: typ, AnonymousID: "a1", Timestamp: ts, TimestampSource: event.FromTimestamp, Raw: []byte(`{}`)}
		if typ == event.TypeTrack {
			ev.Name = "Clicked"
		}
		_, err := evs.Put(ctx, ev)
		require.NoError(t, err)
	}
	put("old-page", event.TypePage, at.Add(-2*time.Hour))
	for i := range 60 { // track events between: skipped by the filter, not mistaken for pages
		put(fmt.Sprintf("t%02d", i), event.TypeTrack, at.Add(-time.Hour+time.Duration(i)*time.Second))
	}

	_, ok, err := evs.PreviousPageView(ctx, "a1", "", at, at.Add(-30*time.Minute), "now")
	require.NoError(t, err)
	assert.False(t, ok, "a page view before the window is not looked for")

	prev, ok, err := evs.PreviousPageView(ctx, "a1", "", at, at.Add(-3*time.Hour), "now")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, at.Add(-2*time.Hour), prev, "found past the track events when the window reaches it")

	put("recent-page", event.TypePage, at.Add(-10*time.Minute))
	put("now", event.TypePage, at)
	prev, ok, err = evs.PreviousPageView(ctx, "a1", "", at, at.Add(-30*time.Minute), "now")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, at.Add(-10*time.Minute), prev, "the event itself is not its own previous page view")
}
