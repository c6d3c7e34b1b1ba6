package ingest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/ingest"
	"github.com/attribution-dev/attribution/internal/store"
)

// countingSuppressor wraps the real tombstones and counts the checks.
type countingSuppressor struct {
	*store.Tombstones
	calls int
	err   error
}

func (c *countingSuppressor) EventsErased(ctx context.Context, evs []event.Event) ([]bool, error) {
	c.calls++
	if c.err != nil {
		return nil, c.err
	}
	return c.Tombstones.EventsErased(ctx, evs)
}

func TestErasedPeopleAreAcknowledgedAndNotStored(t *testing.T) {
	db, tables := dbtest.New(t)
	tomb := store.NewTombstones(db, tables.Identities)
	require.NoError(t, tomb.Erase(context.Background(), "anon-3", "anon-5"))
	sup := &countingSuppressor{Tombstones: tomb}
	h := &ingest.Handler{Store: store.NewEvents(db, tables.Events), Suppressor: sup, Log: quiet}

	body := []byte("[" + pageEvent(1) + "," + pageEvent(3) + "," + pageEvent(5) + "," + pageEvent(10) + "]")
	status, out := post(t, h, body, nil)
	require.Equal(t, http.StatusOK, status, out)
	assert.EqualValues(t, 2, out["stored"])
	assert.EqualValues(t, 2, out["suppressed"])
	assert.Equal(t, []any{"msg-00003", "msg-00005"}, out["suppressedIds"])
	assert.Equal(t, 1, sup.calls, "one check per body")
	assert.Equal(t, 2, count(t, db, tables.Events))

	// A body made only of an erased person's events is a 200 too: Segment must stop retrying.
	status, out = post(t, h, []byte(pageEvent(3)), nil)
	require.Equal(t, http.StatusOK, status, out)
	assert.EqualValues(t, 0, out["stored"])
	assert.EqualValues(t, 1, out["suppressed"])
	assert.Equal(t, []any{}, out["storedIds"])
	assert.Equal(t, 2, count(t, db, tables.Events))

	// When the check fails, nothing is stored and Segment retries.
	sup.err = errors.New("throttled")
	status, out = post(t, h, []byte(pageEvent(7)), nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, out["error"], "erasures")
	assert.Equal(t, 2, count(t, db, tables.Events))
}

func TestNoSuppressorAnswersZeroSuppressed(t *testing.T) {
	h, _, _ := newHandler(t, "")
	status, out := post(t, h, []byte(pageEvent(1)), nil)
	require.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 0, out["suppressed"])
	assert.NotContains(t, out, "suppressedIds")
}
