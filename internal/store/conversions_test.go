package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestRollupsFollowConversionsAndNeverGoBack(t *testing.T) {
	db, tables := dbtest.New(t)
	s := store.NewConversions(db, tables.Conversions)
	ctx := context.Background()
	at := time.Date(2026, 2, 3, 14, 30, 0, 0, time.UTC)
	conv := func(id string, value float64) conversion.Conversion {
		c, err := conversion.Compute(conversion.Input{MessageID: id, Event: "Signed Up", Timestamp: at, Value: value, Currency: "USD",
			Person: conversion.UserKey("u")}, nil, conversion.Settings{Lookback: time.Hour, Location: time.UTC})
		require.NoError(t, err)
		return c
	}
	settle := func(c conversion.Conversion) {
		b := store.BucketOf(c)
		require.NoError(t, s.RollUpHour(ctx, b))
		require.NoError(t, s.RollUpDay(ctx, b.Event, b.Day))
	}
	total := func() conversion.Amount {
		r, err := s.Rollup(ctx, "Signed Up", "channel", "2026-02-01", "2026-02-28")
		require.NoError(t, err)
		return r.Total
	}

	c1, c2 := conv("c1", 10), conv("c2", 5)
	for _, c := range []conversion.Conversion{c1, c2} {
		_, wrote, err := s.Put(ctx, c, true)
		require.NoError(t, err)
		require.True(t, wrote)
		settle(c)
	}
	assert.Equal(t, conversion.Amount{Conversions: 2, Revenue: map[string]float64{"USD": 15}}, total())

	// A recompute that read before the second conversion and writes last is refused.
	var stale conversion.Rollup
	stale.Add(c1)
	require.NoError(t, s.PutDay(ctx, "Signed Up", "2026-02-03", &stale, 1))
	assert.Equal(t, 2.0, total().Conversions)

	get := func(id string) (store.Stored, bool) {
		all, err := s.ByPerson(ctx, conversion.UserKey("u"))
		require.NoError(t, err)
		for _, st := range all {
			if st.MessageID == id {
				return st, true
			}
		}
		return store.Stored{}, false
	}
	stored, found := get("c1")
	require.True(t, found)
	assert.True(t, stored.Pending, "pending until settled")
	require.NoError(t, s.Settle(ctx, store.BucketOf(c1), "c1", stored.Version, false))
	stored, _ = get("c1")
	assert.False(t, stored.Pending)
	_, wrote, err := s.Put(ctx, c1, true)
	require.NoError(t, err)
	assert.False(t, wrote, "the same version, settled: nothing to store")
	_, wrote, err = s.Put(ctx, c1, false)
	require.NoError(t, err)
	assert.False(t, wrote, "the same version, settled: nothing to store, unmarked either")
	_, wrote, err = s.Put(ctx, c2, false)
	require.NoError(t, err)
	assert.True(t, wrote, "the same version, still pending: stored again to be settled")
	stored, _ = get("c2")
	assert.False(t, stored.Pending, "stored unmarked: its writer settles it")
	got, found, err := s.Get(ctx, store.BucketOf(c2), "c2")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, stored, got)
	_, found, err = s.Get(ctx, store.BucketOf(c2), "nope")
	require.NoError(t, err)
	assert.False(t, found)

	// Erasure: marked deleted, left out of the rollups, then deleted.
	require.NoError(t, s.MarkDeleted(ctx, store.BucketOf(c1), "c1"))
	settle(c1)
	assert.Equal(t, conversion.Amount{Conversions: 1, Revenue: map[string]float64{"USD": 5}}, total())
	require.NoError(t, s.Settle(ctx, store.BucketOf(c1), "c1", "", true))
	_, found = get("c1")
	assert.False(t, found)
	byPerson, err := s.ByPerson(ctx, conversion.UserKey("u"))
	require.NoError(t, err)
	require.Len(t, byPerson, 1)
	assert.Equal(t, "c2", byPerson[0].MessageID)
}
