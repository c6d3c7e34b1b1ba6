package ingest_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/ingest"
	"github.com/attribution-dev/attribution/internal/store"
)

// syncing is a Store whose Puts become durable only when Sync succeeds.
type syncing struct {
	*store.Events
	syncs atomic.Int32
	err   error
}

func (s *syncing) Sync(context.Context) error {
	s.syncs.Add(1)
	return s.err
}

func TestABodyIsAcknowledgedOnlyOnceItsStoreSynced(t *testing.T) {
	db, tables := dbtest.New(t)
	body := []byte(`[{"type":"page","messageId":"s1","anonymousId":"a","timestamp":"2026-11-29T10:00:00Z"},{"type":"page","messageId":"s2","anonymousId":"b","timestamp":"2026-11-29T10:00:00Z"}]`)

	down := &syncing{Events: store.NewEvents(db, tables.Events), err: errors.New("disk full")}
	status, out := post(t, &ingest.Handler{Store: down, Log: quiet}, body, nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, out)
	assert.EqualValues(t, 1, down.syncs.Load())

	up := &syncing{Events: store.NewEvents(db, tables.Events)}
	status, out = post(t, &ingest.Handler{Store: up, Log: quiet}, body, nil)
	require.Equal(t, http.StatusOK, status, out)
	assert.EqualValues(t, 1, up.syncs.Load(), "one sync for the whole batch")
}
