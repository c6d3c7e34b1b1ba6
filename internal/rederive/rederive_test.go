package rederive_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/rederive"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var base = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

type fixture struct {
	t          *testing.T
	db         *dynamodb.Client
	cfg        config.Config
	events     *store.Events
	touches    *store.Touches
	identities *store.Identities
}

func newFixture(t *testing.T) *fixture {
	db, tables := dbtest.New(t)
	cfg, err := config.FromLookup(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable = tables.Events, tables.Identities, tables.Touches
	cfg.Realtime = false
	return &fixture{t: t, db: db, cfg: cfg, events: store.NewEvents(db, tables.Events),
		touches: store.NewTouches(db, tables.Touches), identities: store.NewIdentities(db, tables.Identities)}
}

// store keeps events as the webhook would, but with no stream: nothing is derived.
func (f *fixture) store(evs ...event.Event) {
	for _, ev := range evs {
		ok, err := f.events.Put(context.Background(), ev)
		require.NoError(f.t, err)
		require.True(f.t, ok)
	}
}

func (f *fixture) run(o rederive.Options) rederive.Progress {
	log := slog.New(slog.DiscardHandler)
	em, err := stream.NewEmulator(log, stream.EmulatorOptions{Backoff: time.Millisecond},
		server.Consumers(server.Options{Config: f.cfg, DB: f.db, Log: log})...)
	require.NoError(f.t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(f.t, em.Close(ctx))
	}()
	o.Events, o.Links, o.Stream = f.events, f.identities, em
	var lines []string
	o.Progress, o.ProgressEvery = func(p rederive.Progress) { lines = append(lines, p.Line()) }, time.Millisecond
	got, err := rederive.Run(context.Background(), o)
	require.NoError(f.t, err)
	require.NotEmpty(f.t, lines, "a progress line while it runs")
	assert.Regexp(f.t, `^visitors \d+/\d+, events \d+ published$`, lines[0])
	return got
}

func (f *fixture) touchIDs(visitor string) []string {
	ts, err := f.touches.ByVisitor(context.Background(), visitor)
	require.NoError(f.t, err)
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.MessageID)
	}
	return ids
}

func page(id, anon, user string, at time.Duration, url, referrer string) event.Event {
	return event.Event{MessageID: id, Type: event.TypePage, AnonymousID: anon, UserID: user, Timestamp: base.Add(at),
		TimestampSource: event.FromTimestamp, URL: url, Referrer: referrer, Raw: []byte(`{}`)}
}

func identify(id, anon, user string, at time.Duration) event.Event {
	return event.Event{MessageID: id, Type: event.TypeIdentify, AnonymousID: anon, UserID: user, Timestamp: base.Add(at),
		TimestampSource: event.FromTimestamp, Raw: []byte(`{}`)}
}

func TestRederiveDerivesWhatIsMissingAndNothingTwice(t *testing.T) {
	f := newFixture(t)
	// Stored out of time order: the rederive reads each visitor oldest first, so the
	// reload within the visit is no touch of its own.
	f.store(
		page("p2", "a1", "", 5*time.Minute, "https://acme.io/pricing", "https://www.google.com/"),
		page("p1", "a1", "", 0, "https://acme.io/", "https://www.google.com/"),
		page("p3", "a1", "", 3*time.Hour, "https://acme.io/", "https://www.linkedin.com/"),
		identify("i1", "a1", "u1", time.Hour),
		page("s1", "", "server-user", 0, "https://acme.io/", "https://news.ycombinator.com/"),
	)
	for i := range 20 {
		f.store(page(fmt.Sprintf("v%02d", i), fmt.Sprintf("b%02d", i), "", time.Duration(i)*time.Minute, "https://acme.io/", "https://www.bing.com/"))
	}

	for round := range 2 {
		got := f.run(rederive.Options{})
		assert.Equal(t, rederive.Progress{Visitors: 22, VisitorsDone: 22, Events: 25, Derived: true}, got, "round %d", round)
		assert.Equal(t, []string{"p1", "p3"}, f.touchIDs("a1"), "round %d", round)
		assert.Equal(t, []string{"s1"}, f.touchIDs(store.VisitorID("", "server-user")), "round %d", round)
		for i := range 20 {
			assert.Len(t, f.touchIDs(fmt.Sprintf("b%02d", i)), 1)
		}
		links, err := f.identities.ByUser(context.Background(), "u1")
		require.NoError(t, err)
		require.Len(t, links, 1)
		assert.Equal(t, "a1", links[0].AnonymousID)
	}
}

func TestRederiveOfOnePersonOrWindowReadsOnlyThat(t *testing.T) {
	f := newFixture(t)
	f.store(
		page("p1", "a1", "", 0, "https://acme.io/", "https://www.google.com/"),
		page("p2", "a2", "u1", 3*time.Hour, "https://acme.io/", "https://www.linkedin.com/"),
		page("q1", "other", "", 0, "https://acme.io/", "https://www.google.com/"),
		page("late", "later", "", 48*time.Hour, "https://acme.io/", "https://www.google.com/"),
	)
	require.NoError(t, f.identities.Put(context.Background(), store.Link{UserID: "u1", AnonymousID: "a1", Source: store.LinkIdentify, MessageID: "i1", FirstSeen: base}))

	got := f.run(rederive.Options{Users: []string{"u1"}})
	assert.Equal(t, int64(2), got.Events, "u1's own event and its device's")
	assert.Equal(t, []string{"p1"}, f.touchIDs("a1"))
	assert.Equal(t, []string{"p2"}, f.touchIDs("a2"))
	assert.Empty(t, f.touchIDs("other"))

	got = f.run(rederive.Options{Anonymous: []string{"other"}})
	assert.Equal(t, int64(1), got.Events)
	assert.Equal(t, []string{"q1"}, f.touchIDs("other"))

	got = f.run(rederive.Options{Since: base.Add(24 * time.Hour), Until: base.Add(72 * time.Hour)})
	assert.Equal(t, rederive.Progress{Visitors: 1, VisitorsDone: 1, Events: 1, Derived: true}, got)
	assert.Equal(t, []string{"late"}, f.touchIDs("later"))
}
