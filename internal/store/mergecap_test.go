package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/store"
)

// putAll writes links concurrently, twice each (a redelivery racing its first
// delivery), and returns how many of the distinct links were refused by a cap.
func putAll(t *testing.T, ids *store.Identities, links []store.Link) (refused int, firsts int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	refusedSet := map[string]bool{}
	for _, l := range append(append([]store.Link{}, links...), links...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ids.Put(context.Background(), l)
			var capErr *store.CapError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.As(err, &capErr):
				require.ErrorIs(t, err, store.ErrCapReached)
				refusedSet[l.UserID+"|"+l.AnonymousID] = true
				if capErr.First {
					firsts++
				}
			default:
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	return len(refusedSet), firsts
}

func TestMergeCapsHoldUnderConcurrentLinks(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	ids.MaxAnonymousIDsPerUser, ids.MaxUsersPerAnonymousID = 20, 3

	// 50 devices identify as one junk userId, all at once.
	var links []store.Link
	for i := range 50 {
		links = append(links, link("abc123", fmt.Sprintf("dev-%02d", i), fmt.Sprintf("m%d", i), t0))
	}
	refused, firsts := putAll(t, ids, links)
	assert.Equal(t, 30, refused)
	assert.Equal(t, 1, firsts, "the first refusal is flagged once, for the warning")
	got, err := ids.ByUser(ctx, "abc123")
	require.NoError(t, err)
	assert.Len(t, got, 20, "exactly the cap, not one more")
	c, err := ids.UserMergeCap(ctx, "abc123")
	require.NoError(t, err)
	assert.Equal(t, 20, c.Linked)
	assert.True(t, c.Reached)

	// One shared computer, 8 users at once.
	links = nil
	for i := range 8 {
		links = append(links, link(fmt.Sprintf("user-%d", i), "family-pc", fmt.Sprintf("f%d", i), t0))
	}
	refused, _ = putAll(t, ids, links)
	assert.Equal(t, 5, refused)
	back, err := ids.ByAnonymous(ctx, "family-pc")
	require.NoError(t, err)
	assert.Len(t, back, 3)
	c, err = ids.AnonymousMergeCap(ctx, "family-pc")
	require.NoError(t, err)
	assert.True(t, c.Reached)
	assert.Equal(t, 3, c.Linked)

	// Redelivering a link that got in, or moving its lastSeen, is never refused.
	require.NoError(t, ids.Put(ctx, link(back[0].UserID, "family-pc", "later", t0.Add(48*3600e9))))
	require.NoError(t, ids.Put(ctx, got[0]))
	// A user refused by the device's cap took no slot of its own counter.
	for i := range 8 {
		u := fmt.Sprintf("user-%d", i)
		c, err := ids.UserMergeCap(ctx, u)
		require.NoError(t, err)
		l, err := ids.ByUser(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, len(l), c.Linked, u)
	}
}

func TestLinksFromBeforeTheCapsAreLetThrough(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	uncapped := store.NewIdentities(db, tables.Identities)
	for i := range 3 {
		require.NoError(t, uncapped.Put(ctx, link("u1", fmt.Sprintf("old-%d", i), "m", t0)))
	}
	capped := store.NewIdentities(db, tables.Identities)
	capped.MaxAnonymousIDsPerUser = 2
	require.NoError(t, capped.Put(ctx, link("u1", "old-0", "m", t0)))
	require.NoError(t, capped.Put(ctx, link("u1", "old-1", "m", t0)))
	require.NoError(t, capped.Put(ctx, link("u1", "old-2", "m", t0)), "already stored: seen again, not new")
	assert.ErrorIs(t, capped.Put(ctx, link("u1", "new", "m", t0)), store.ErrCapReached)

	// Counters are reserved items: no reader takes them for links.
	got, err := capped.ByUser(ctx, "u1")
	require.NoError(t, err)
	assert.Len(t, got, 3)
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tables.Identities)})
	require.NoError(t, err)
	for _, it := range out.Items {
		assert.NotContains(t, fmt.Sprint(it), "new", "counters keep hashes, never ids")
	}
}

func TestDeletedLinksGiveBackTheirSlots(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	ids.MaxAnonymousIDsPerUser, ids.MaxUsersPerAnonymousID = 2, 1
	require.NoError(t, ids.Put(ctx, link("u1", "a1", "m", t0)))
	require.NoError(t, ids.Put(ctx, link("u1", "a2", "m", t0)))
	require.ErrorIs(t, ids.Put(ctx, link("u1", "a3", "m", t0)), store.ErrCapReached)
	require.ErrorIs(t, ids.Put(ctx, link("u2", "a2", "m", t0)), store.ErrCapReached)

	// a2 is erased: its link goes, and with it its slot on both sides.
	n, err := ids.Delete(ctx, []store.LinkRef{{UserID: "u1", AnonymousID: "a2"}})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.NoError(t, ids.Put(ctx, link("u1", "a3", "m", t0)))
	require.NoError(t, ids.Put(ctx, link("u2", "a2", "m", t0)))
	c, err := ids.UserMergeCap(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, 2, c.Linked)

	// Deleting a link nobody counted creates no counter item.
	items := func() int {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tables.Identities)})
		require.NoError(t, err)
		return len(out.Items)
	}
	before := items()
	_, err = ids.Delete(ctx, []store.LinkRef{{UserID: "u9", AnonymousID: "a9"}})
	require.NoError(t, err)
	assert.Equal(t, before, items())
}
