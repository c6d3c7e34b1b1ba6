package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestPushStateNeverMovesBackwards(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	states := store.NewPushStates(db, tables.Identities)

	_, err := states.Get(ctx, "u1")
	require.ErrorIs(t, err, store.ErrNoPushState)

	put := func(mid string, last time.Duration, n int) bool {
		t.Helper()
		ok, err := states.Put(ctx, store.PushState{UserID: "u1", MessageID: mid, LastTouch: t0.Add(last), Touches: n, SentAt: t0})
		require.NoError(t, err)
		return ok
	}
	steps := []struct {
		name    string
		mid     string
		last    time.Duration
		n       int
		written bool
		want    string
	}{
		{"first", "m1", time.Hour, 2, true, "m1"},
		{"same again (redelivery)", "m1", time.Hour, 2, true, "m1"},
		{"later last touch", "m2", 2 * time.Hour, 3, true, "m2"},
		{"older last touch loses", "m1", time.Hour, 5, false, "m2"},
		{"same last touch, fewer touches loses", "mx", 2 * time.Hour, 2, false, "m2"},
		{"same last touch, an older touch added", "m3", 2 * time.Hour, 4, true, "m3"},
	}
	for _, s := range steps {
		assert.Equal(t, s.written, put(s.mid, s.last, s.n), s.name)
		got, err := states.Get(ctx, "u1")
		require.NoError(t, err)
		assert.Equal(t, s.want, got.MessageID, s.name)
	}
	got, err := states.Get(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, store.PushState{UserID: "u1", MessageID: "m3", LastTouch: t0.Add(2 * time.Hour), Touches: 4, SentAt: t0}, got)

	require.NoError(t, states.Delete(ctx, "u1"))
	_, err = states.Get(ctx, "u1")
	require.ErrorIs(t, err, store.ErrNoPushState)
}

func TestReservedItemsAreNotLinks(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	states := store.NewPushStates(db, tables.Identities)

	require.NoError(t, ids.Put(ctx, link("u1", "a1", "m1", t0)))
	_, err := states.Put(ctx, store.PushState{UserID: "u1", MessageID: "attr-1", LastTouch: t0, Touches: 1})
	require.NoError(t, err)
	_, err = states.Put(ctx, store.PushState{UserID: "u2", MessageID: "attr-2", LastTouch: t0, Touches: 1})
	require.NoError(t, err)

	got, err := ids.ByUser(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, 1, "the state item sits in the user's partition but is not a link")
	assert.Equal(t, "a1", got[0].AnonymousID)

	key := store.PushStateKey("u1")
	assert.True(t, store.Reserved(key))
	assert.True(t, strings.HasPrefix(key, store.ReservedPrefix))
	assert.NotEqual(t, key, store.PushStateKey("u2"), "one index partition per user, not one for all")
	back, err := ids.ByAnonymous(ctx, key)
	require.NoError(t, err)
	assert.Empty(t, back, "a reserved key has no links")

	only, err := ids.ByUser(ctx, "u2")
	require.NoError(t, err)
	assert.Empty(t, only, "a user with nothing but a state has no links")

	err = ids.Put(ctx, link("u1", key, "m2", t0))
	require.ErrorIs(t, err, store.ErrInvalidLink, "an identify event cannot overwrite the state")
	long := strings.Repeat("x", 1024)
	assert.LessOrEqual(t, len(store.PushStateKey(long)), 64, "the key stays short whatever the userId")
}
