package backfill_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/backfill"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	day   = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

type env struct {
	runner *backfill.Runner
	fake   *segmenttest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, tables := dbtest.New(t)
	ctx := context.Background()
	touches, identities := store.NewTouches(db, tables.Touches), store.NewIdentities(db, tables.Identities)
	touch := func(id, anon, user string, at time.Time, ref source.Type) {
		require.NoError(t, touches.Put(ctx, attribution.Touch{
			MessageID: id, AnonymousID: anon, UserID: user, Timestamp: at, URL: "https://acme.io/",
			Description: source.Description{Referrer: source.Referrer{Type: ref, Engine: "google"}, Channel: "Organic Search"},
		}))
	}
	// u1 visited anonymously on two devices, then signed up; u2's page calls carried the
	// userId; u3 only visited long before the window; anon-x never signed up.
	touch("t1", "anon-a", "", day, source.TypeSearch)
	touch("t2", "anon-b", "", day.Add(48*time.Hour), source.TypeDirect)
	touch("t3", "anon-c", "u2", day.Add(24*time.Hour), source.TypeSearch)
	touch("t4", "anon-d", "u3", day.AddDate(-1, 0, 0), source.TypeSearch)
	touch("t5", "anon-x", "", day, source.TypeSearch)
	for _, a := range []string{"anon-a", "anon-b"} {
		require.NoError(t, identities.Put(ctx, store.Link{UserID: "u1", AnonymousID: a, Source: store.LinkIdentify, MessageID: "i-" + a, FirstSeen: day, LastSeen: day}))
	}

	fake := segmenttest.NewServer(t, "wk")
	client, err := segment.New(segment.Config{WriteKey: "wk", Endpoint: fake.URL, MaxAttempts: 2,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	require.NoError(t, err)
	return &env{fake: fake, runner: &backfill.Runner{
		Touches: touches, Links: identities, Sender: client, Log: quiet,
		People: &people.Resolver{Identities: identities, Touches: touches, Events: store.NewEvents(db, tables.Events)},
	}}
}

func userIDs(msgs []segmenttest.Message, typ string) []string {
	var out []string
	for _, m := range msgs {
		if m.Type == typ {
			out = append(out, m.UserID)
		}
	}
	slices.Sort(out)
	return out
}

func TestBackfillSendsEveryUserWithTouchesInTheWindow(t *testing.T) {
	e := newEnv(t)
	sum, err := e.runner.Run(context.Background(), backfill.Options{Since: day.AddDate(0, 0, -1), Until: day.AddDate(0, 0, 7), Track: true})
	require.NoError(t, err)
	assert.Equal(t, 2, sum.Users)
	assert.Equal(t, 2, sum.Identifies)
	assert.Equal(t, 3, sum.Tracks, "t1, t2 for u1 and t3 for u2")
	assert.Zero(t, sum.Failed)
	assert.Equal(t, []string{"u1", "u2"}, userIDs(e.fake.Messages(), "identify"))

	for _, m := range e.fake.Messages() {
		if m.Type == "identify" && m.UserID == "u1" {
			assert.Equal(t, "search", m.Traits["source_first_referrer_type"], "first touch over both devices")
			assert.Equal(t, "direct", m.Traits["source_last_referrer_type"])
			assert.Equal(t, "search", m.Traits["source_last_non_direct_referrer_type"])
		}
	}

	// Rerunning sends the very same messages: Segment deduplicates them by messageId.
	first := e.fake.UniqueMessageIDs()
	_, err = e.runner.Run(context.Background(), backfill.Options{Since: day.AddDate(0, 0, -1), Until: day.AddDate(0, 0, 7), Track: true})
	require.NoError(t, err)
	assert.Equal(t, first, e.fake.UniqueMessageIDs())
	assert.Equal(t, 5, e.fake.Duplicates())
}

func TestBackfillWithoutWindowReachesEveryone(t *testing.T) {
	e := newEnv(t)
	sum, err := e.runner.Run(context.Background(), backfill.Options{})
	require.NoError(t, err)
	assert.Equal(t, 3, sum.Identifies)
	assert.Equal(t, []string{"u1", "u2", "u3"}, userIDs(e.fake.Messages(), "identify"))
}

func TestBackfillOfNamedUsersAndDryRun(t *testing.T) {
	e := newEnv(t)
	sum, err := e.runner.Run(context.Background(), backfill.Options{Users: []string{"u3", "nobody"}, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 2, sum.Users)
	assert.Equal(t, 1, sum.Skipped, "a user without touches has nothing to send")
	assert.Equal(t, 1, sum.Identifies)
	assert.Empty(t, e.fake.Messages(), "dry run sends nothing")

	e.runner.Suppressed = func(_ context.Context, u string) (bool, error) { return u == "u3", nil }
	sum, err = e.runner.Run(context.Background(), backfill.Options{Users: []string{"u3"}})
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Skipped)
	assert.Empty(t, e.fake.Messages(), "an erased user is never sent")
}

func TestBackfillReportsWhatSegmentRefused(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext(10, 500, "")
	sum, err := e.runner.Run(context.Background(), backfill.Options{Users: []string{"u1"}})
	require.Error(t, err)
	assert.True(t, errors.Is(err, backfill.ErrNotAllSent))
	assert.Equal(t, 1, sum.Failed)
	assert.Contains(t, sum.FirstError, "500")
}
