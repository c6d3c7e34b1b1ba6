package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/event/eventtest"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestTombstoneKeysHoldNoID(t *testing.T) {
	for _, id := range []string{"ann@example.com", "4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11", "x"} {
		k := store.TombstoneKey(id)
		assert.True(t, strings.HasPrefix(k, "#erased#"))
		assert.NotContains(t, k, id)
		assert.Len(t, k, len("#erased#")+64)
		assert.Equal(t, k, store.TombstoneKey(id), "stable")
		assert.True(t, store.Reserved(k))
		assert.True(t, store.IsTombstone(k))
		assert.NotContains(t, store.IDHash(id), id)
	}
	assert.NotEqual(t, store.TombstoneKey("a"), store.TombstoneKey("b"))
}

func TestTombstonesErasedInBatches(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	tomb := store.NewTombstones(db, tables.Identities)
	var erased, all []string
	for i := range 250 {
		id := fmt.Sprintf("user-%03d", i)
		all = append(all, id)
		if i%7 == 0 {
			erased = append(erased, id)
		}
	}
	require.NoError(t, tomb.Erase(ctx, erased...))
	require.NoError(t, tomb.Erase(ctx, erased[:3]...), "erasing again is harmless")

	// 250 ids (and duplicates) take three BatchGetItem calls of at most 100 keys.
	got, err := tomb.Erased(ctx, append(all, all[:10]...)...)
	require.NoError(t, err)
	assert.Len(t, got, len(erased))
	for _, id := range erased {
		assert.True(t, got[id], id)
	}
	none, err := tomb.Erased(ctx)
	require.NoError(t, err)
	assert.Empty(t, none)

	ok, err := tomb.IsErased(ctx, "user-007")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = tomb.IsErased(ctx, "user-008")
	require.NoError(t, err)
	assert.False(t, ok)

	evs := []event.Event{
		eventtest.FromFields(t, map[string]any{"type": "page", "anonymousId": "a-1", "timestamp": "2026-01-01T00:00:00Z"}),
		eventtest.FromFields(t, map[string]any{"type": "track", "event": "X", "anonymousId": "a-1", "userId": "user-014", "timestamp": "2026-01-01T00:00:00Z"}),
		eventtest.FromFields(t, map[string]any{"type": "alias", "previousId": "user-021", "userId": "new", "timestamp": "2026-01-01T00:00:00Z"}),
	}
	sup, err := tomb.EventsErased(ctx, evs)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true, true}, sup, "userId and an alias's previousId count")
}

func TestTombstonesAndStateAreNotLinks(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	require.NoError(t, ids.Put(ctx, link("u1", "a1", "m1", t0)))
	require.NoError(t, store.NewTombstones(db, tables.Identities).Erase(ctx, "u1"))
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tables.Identities), Item: map[string]types.AttributeValue{
		store.AttrUserID: &types.AttributeValueMemberS{Value: "u1"}, store.AttrAnonymousID: &types.AttributeValueMemberS{Value: "#state"},
	}})
	require.NoError(t, err)

	got, err := ids.ByUser(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, 1, "the state item is not a link")
	assert.Equal(t, "a1", got[0].AnonymousID)
	for _, lookup := range []func(context.Context, string) ([]store.Link, error){ids.ByUser, ids.ByAnonymous} {
		got, err := lookup(ctx, store.TombstoneKey("u1"))
		require.NoError(t, err)
		assert.Empty(t, got, "a tombstone is no one")
	}
	state, err := ids.ByAnonymous(ctx, "#state")
	require.NoError(t, err)
	assert.Empty(t, state)

	assert.ErrorIs(t, ids.Put(ctx, link("u", store.TombstoneKey("u1"), "m", t0)), store.ErrInvalidLink)

	// The erasure primitives see the partition's every item, and never delete a tombstone.
	refs, err := ids.PartitionRefs(ctx, "u1")
	require.NoError(t, err)
	assert.Len(t, refs, 2)
	n, err := ids.Delete(ctx, append(refs, store.LinkRef{UserID: store.TombstoneKey("u1"), AnonymousID: store.TombstoneKey("u1")}))
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	still, err := store.NewTombstones(db, tables.Identities).IsErased(ctx, "u1")
	require.NoError(t, err)
	assert.True(t, still)
}

func TestEventsDeleteInBatchesOf25(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	evs := store.NewEvents(db, tables.Events)
	for i := range 130 {
		anon := "keep"
		if i%2 == 0 {
			anon = "gone"
		}
		_, err := evs.Put(ctx, eventtest.FromFields(t, map[string]any{"type": "page", "messageId": fmt.Sprintf("m-%03d", i), "anonymousId": anon,
			"timestamp": t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339)}))
		require.NoError(t, err)
	}
	ids, err := evs.MessageIDs(ctx, store.EventSource{ID: "gone"})
	require.NoError(t, err)
	require.Len(t, ids, 65)
	n, err := evs.Delete(ctx, append(ids, ids[:30]...)) // duplicates are deleted once
	require.NoError(t, err)
	assert.Equal(t, 65, n)
	left, err := evs.MessageIDs(ctx, store.EventSource{ID: "gone"})
	require.NoError(t, err)
	assert.Empty(t, left)
	kept, err := evs.MessageIDs(ctx, store.EventSource{ID: "keep"})
	require.NoError(t, err)
	assert.Len(t, kept, 65)
	n, err = evs.Delete(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// RETENTION_DAYS and TOUCH_RETENTION_DAYS set expiresAt, counted from the event's and
// the touch's own time, through the same wiring every Lambda uses.
func TestRetentionSetsExpiresAt(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	env := func(vars map[string]string) app.Env {
		cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
		require.NoError(t, err)
		cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable = tables.Events, tables.Identities, tables.Touches
		return app.Env{Config: cfg, DB: db}
	}
	expiresAt := func(table string, key map[string]types.AttributeValue) (int64, bool) {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		require.NoError(t, err)
		require.NotEmpty(t, out.Item)
		v, ok := out.Item[store.AttrExpiresAt].(*types.AttributeValueMemberN)
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(v.Value, 10, 64)
		require.NoError(t, err)
		return n, true
	}
	ts := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                string
		vars                map[string]string
		eventDays, touchDay int
	}{
		{"forever by default", map[string]string{}, 0, 0},
		{"events only", map[string]string{"RETENTION_DAYS": "30"}, 30, 0},
		{"both", map[string]string{"RETENTION_DAYS": "400", "TOUCH_RETENTION_DAYS": "730"}, 400, 730},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := env(tc.vars)
			id := "ttl-" + strings.ReplaceAll(tc.name, " ", "-")
			ev := eventtest.FromFields(t, map[string]any{"type": "page", "messageId": id, "anonymousId": "a", "timestamp": ts.Format(time.RFC3339)})
			_, err := e.Events().Put(ctx, ev)
			require.NoError(t, err)
			require.NoError(t, e.Touches().Put(ctx, attribution.Touch{MessageID: id, AnonymousID: "a", Timestamp: ts,
				Description: source.Description{Referrer: source.Referrer{Type: source.TypeDirect}}}))

			got, ok := expiresAt(tables.Events, map[string]types.AttributeValue{store.AttrMessageID: &types.AttributeValueMemberS{Value: id}})
			assert.Equal(t, tc.eventDays > 0, ok)
			if ok {
				assert.Equal(t, ts.AddDate(0, 0, tc.eventDays).Unix(), got)
			}
			got, ok = expiresAt(tables.Touches, map[string]types.AttributeValue{
				store.AttrVisitorID: &types.AttributeValueMemberS{Value: "a"},
				store.AttrTouchKey:  &types.AttributeValueMemberS{Value: store.TouchKey(ts, id)},
			})
			assert.Equal(t, tc.touchDay > 0, ok)
			if ok {
				assert.Equal(t, ts.AddDate(0, 0, tc.touchDay).Unix(), got)
			}
		})
	}
}

func TestEnableTTLOnDynaliteIsUnsupported(t *testing.T) {
	db, tables := dbtest.New(t)
	err := store.EnableTTL(context.Background(), db, tables.Events)
	assert.ErrorIs(t, err, store.ErrTTLUnsupported, "dynalite answers UnknownOperationException")
}
