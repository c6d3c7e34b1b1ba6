package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/store"
)

var t0 = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

func link(user, anon, msg string, at time.Time) store.Link {
	return store.Link{UserID: user, AnonymousID: anon, Source: store.LinkIdentify, MessageID: msg, FirstSeen: at}
}

func TestIdentitiesPutIsIdempotentAndOrderIndependent(t *testing.T) {
	ctx := context.Background()
	orders := map[string][]store.Link{
		"in order": {
			link("u1", "a1", "m1", t0), link("u1", "a1", "m2", t0.Add(time.Hour)), link("u1", "a1", "m3", t0.Add(2*time.Hour)),
		},
		"reversed": {
			link("u1", "a1", "m3", t0.Add(2*time.Hour)), link("u1", "a1", "m2", t0.Add(time.Hour)), link("u1", "a1", "m1", t0),
		},
		"redelivered": {
			link("u1", "a1", "m2", t0.Add(time.Hour)), link("u1", "a1", "m1", t0), link("u1", "a1", "m3", t0.Add(2*time.Hour)),
			link("u1", "a1", "m1", t0), link("u1", "a1", "m3", t0.Add(2*time.Hour)), link("u1", "a1", "m2", t0.Add(time.Hour)),
		},
	}
	for name, links := range orders {
		t.Run(name, func(t *testing.T) {
			db, tables := dbtest.New(t)
			ids := store.NewIdentities(db, tables.Identities)
			for _, l := range links {
				require.NoError(t, ids.Put(ctx, l))
			}
			got, err := ids.ByUser(ctx, "u1")
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, store.Link{
				UserID: "u1", AnonymousID: "a1", Source: store.LinkIdentify, MessageID: "m1",
				FirstSeen: t0, LastSeen: t0.Add(2 * time.Hour),
			}, got[0])
		})
	}
}

func TestIdentitiesAliasedStaysMarked(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	aliased := store.Link{UserID: "new", AnonymousID: "old", Source: store.LinkAlias, MessageID: "m2", FirstSeen: t0.Add(time.Hour), Aliased: true}
	require.NoError(t, ids.Put(ctx, aliased))
	// An earlier identify arriving late owns firstSeen, but cannot unmark the alias.
	require.NoError(t, ids.Put(ctx, link("new", "old", "m1", t0)))
	got, err := ids.ByUser(ctx, "new")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.True(t, got[0].Aliased)
	assert.Equal(t, "m1", got[0].MessageID)
	assert.Equal(t, store.LinkIdentify, got[0].Source)
	assert.Equal(t, t0, got[0].FirstSeen)
	assert.Equal(t, t0.Add(time.Hour), got[0].LastSeen)
}

func TestIdentitiesBothDirections(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	for _, l := range []store.Link{
		link("alice", "laptop", "m1", t0),
		link("alice", "phone", "m2", t0.Add(time.Minute)),
		link("bob", "laptop", "m3", t0.Add(time.Hour)), // a shared laptop keeps both links
	} {
		require.NoError(t, ids.Put(ctx, l))
	}
	anons := func(ls []store.Link) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.AnonymousID)
		}
		return out
	}
	users := func(ls []store.Link) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.UserID)
		}
		return out
	}
	alice, err := ids.ByUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, []string{"laptop", "phone"}, anons(alice))
	laptop, err := ids.ByAnonymous(ctx, "laptop")
	require.NoError(t, err)
	assert.Equal(t, []string{"alice", "bob"}, users(laptop))
	none, err := ids.ByUser(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestIdentitiesRefusesIncompleteLinks(t *testing.T) {
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	for name, l := range map[string]store.Link{
		"no user":      link("", "a", "m", t0),
		"no anonymous": link("u", "", "m", t0),
		"no message":   link("u", "a", "", t0),
		"no time":      link("u", "a", "m", time.Time{}),
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, ids.Put(context.Background(), l), store.ErrInvalidLink)
		})
	}
}
