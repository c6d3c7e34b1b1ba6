package links_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/event/eventtest"
	"github.com/attribution-dev/attribution/internal/links"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var t0 = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

func identifyEvent(t *testing.T, msg, anon, user string, at time.Time) event.Event {
	f := map[string]any{"type": "identify", "messageId": msg, "userId": user, "timestamp": at.Format(time.RFC3339)}
	if anon != "" {
		f["anonymousId"] = anon
	}
	return eventtest.FromFields(t, f)
}

func aliasEvent(t *testing.T, msg, prev, user string, at time.Time) event.Event {
	return eventtest.FromFields(t, map[string]any{"type": "alias", "messageId": msg, "previousId": prev, "userId": user, "timestamp": at.Format(time.RFC3339)})
}

// batch builds the stream records DynamoDB would deliver for the stored events.
func batch(evs ...event.Event) events.DynamoDBEvent {
	var b events.DynamoDBEvent
	for i, ev := range evs {
		b.Records = append(b.Records, events.DynamoDBEventRecord{
			EventID:   fmt.Sprintf("rec-%d", i),
			EventName: "INSERT",
			Change: events.DynamoDBStreamRecord{
				SequenceNumber: fmt.Sprintf("%021d", i+1),
				NewImage:       stream.FromSDK(store.EventItem(ev, 0)),
			},
		})
	}
	return b
}

func newHandler(t *testing.T) (*links.Handler, *store.Identities) {
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	return &links.Handler{Identities: ids, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, ids
}

func anonymousIDs(t *testing.T, ids *store.Identities, user string) []string {
	t.Helper()
	got, err := ids.ByUser(context.Background(), user)
	require.NoError(t, err)
	out := []string{}
	for _, l := range got {
		out = append(out, l.AnonymousID)
	}
	return out
}

func TestIdentifyIsIdempotentUnderRedelivery(t *testing.T) {
	ctx := context.Background()
	h, ids := newHandler(t)
	b := batch(
		identifyEvent(t, "m1", "laptop", "alice", t0),
		identifyEvent(t, "m2", "phone", "alice", t0.Add(time.Hour)),
		identifyEvent(t, "m3", "laptop", "alice", t0.Add(2*time.Hour)),
	)
	resp, err := h.Handle(ctx, b)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	first, err := ids.ByUser(ctx, "alice")
	require.NoError(t, err)

	for range 3 { // the whole batch again, then its records one by one in reverse
		resp, err = h.Handle(ctx, b)
		require.NoError(t, err)
		assert.Empty(t, resp.BatchItemFailures)
	}
	for i := len(b.Records) - 1; i >= 0; i-- {
		_, err = h.Handle(ctx, events.DynamoDBEvent{Records: b.Records[i : i+1]})
		require.NoError(t, err)
	}
	again, err := ids.ByUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, first, again)
	require.Len(t, again, 2)
	assert.Equal(t, store.Link{UserID: "alice", AnonymousID: "laptop", Source: store.LinkIdentify, MessageID: "m1", FirstSeen: t0, LastSeen: t0.Add(2 * time.Hour)}, again[0])
}

func TestUnusableRecordsAreSkippedNotFailed(t *testing.T) {
	ctx := context.Background()
	h, ids := newHandler(t)
	b := batch(
		identifyEvent(t, "m1", "", "alice", t0), // server-side identify: no anonymousId
		identifyEvent(t, "m2", "phone", "alice", t0),
		aliasEvent(t, "m3", "alice", "alice", t0), // alias to itself
		eventtest.FromFields(t, map[string]any{"type": "page", "messageId": "m4", "anonymousId": "x", "timestamp": t0.Format(time.RFC3339)}),
	)
	b.Records = append(b.Records, events.DynamoDBEventRecord{EventID: "no-image", EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "9"}})
	resp, err := h.Handle(ctx, b)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, []string{"phone"}, anonymousIDs(t, ids, "alice"))
}

func TestStorageFailuresAreReportedFromTheFailedRecord(t *testing.T) {
	db, _ := dbtest.New(t)
	h := &links.Handler{Identities: store.NewIdentities(db, "no-such-table"), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b := batch(identifyEvent(t, "m1", "a", "u", t0), identifyEvent(t, "m2", "b", "u", t0))
	resp, err := h.Handle(context.Background(), b)
	require.NoError(t, err)
	require.Len(t, resp.BatchItemFailures, 2)
	assert.Equal(t, b.Records[0].Change.SequenceNumber, resp.BatchItemFailures[0].ItemIdentifier)
}

func TestAlias(t *testing.T) {
	tests := []struct {
		name   string
		events func(t *testing.T) []event.Event
		want   map[string][]string // userId → anonymous ids
	}{
		{
			name: "anonymous previousId",
			events: func(t *testing.T) []event.Event {
				return []event.Event{aliasEvent(t, "m1", "anon-1", "alice", t0)}
			},
			want: map[string][]string{"alice": {"anon-1"}},
		},
		{
			name: "former userId brings its anonymous ids",
			events: func(t *testing.T) []event.Event {
				return []event.Event{
					identifyEvent(t, "m1", "laptop", "old@example.com", t0),
					identifyEvent(t, "m2", "phone", "old@example.com", t0.Add(time.Hour)),
					aliasEvent(t, "m3", "old@example.com", "user-42", t0.Add(2*time.Hour)),
				}
			},
			want: map[string][]string{
				"user-42":         {"laptop", "old@example.com", "phone"},
				"old@example.com": {"laptop", "phone"},
			},
		},
		{
			name: "chained aliases",
			events: func(t *testing.T) []event.Event {
				return []event.Event{
					identifyEvent(t, "m1", "laptop", "a", t0),
					aliasEvent(t, "m2", "a", "b", t0.Add(time.Hour)),
					aliasEvent(t, "m3", "b", "c", t0.Add(2*time.Hour)),
				}
			},
			want: map[string][]string{"c": {"a", "b", "laptop"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h, ids := newHandler(t)
			b := batch(tt.events(t)...)
			for range 2 { // redelivery changes nothing
				resp, err := h.Handle(ctx, b)
				require.NoError(t, err)
				require.Empty(t, resp.BatchItemFailures)
			}
			for user, want := range tt.want {
				assert.Equal(t, want, anonymousIDs(t, ids, user), user)
			}
		})
	}
}

func TestAliasMarksPreviousIDAndInheritedLinks(t *testing.T) {
	ctx := context.Background()
	h, ids := newHandler(t)
	_, err := h.Handle(ctx, batch(
		identifyEvent(t, "m1", "laptop", "old", t0),
		aliasEvent(t, "m2", "old", "new", t0.Add(time.Hour)),
	))
	require.NoError(t, err)
	got, err := ids.ByUser(ctx, "new")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, store.Link{UserID: "new", AnonymousID: "laptop", Source: store.LinkAlias, MessageID: "m2",
		FirstSeen: t0.Add(time.Hour), LastSeen: t0.Add(time.Hour), Via: "old"}, got[0])
	assert.Equal(t, store.Link{UserID: "new", AnonymousID: "old", Source: store.LinkAlias, MessageID: "m2",
		FirstSeen: t0.Add(time.Hour), LastSeen: t0.Add(time.Hour), Aliased: true}, got[1])
}

// An identify stored just before its person was erased still reaches the consumer,
// after the erasure deleted the links: it must not recreate them.
func TestEventsOfErasedPeopleLinkNothing(t *testing.T) {
	db, tables := dbtest.New(t)
	ids := store.NewIdentities(db, tables.Identities)
	tombs := store.NewTombstones(db, tables.Identities)
	h := &links.Handler{Identities: ids, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Erased: tombs.EventsErased}
	ctx := context.Background()
	require.NoError(t, tombs.Erase(ctx, "anon-gone"))

	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	resp, err := h.Handle(ctx, batch(
		identifyEvent(t, "i1", "anon-gone", "u1", at),
		aliasEvent(t, "a1", "anon-gone", "u2", at),
		identifyEvent(t, "i2", "anon-kept", "u1", at),
	))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, []string{"anon-kept"}, anonymousIDs(t, ids, "u1"), "only the kept device is linked")
	assert.Empty(t, anonymousIDs(t, ids, "u2"), "an alias naming an erased id links nothing")
}

// A previousId no link can hold costs only its own link: the device that made the alias
// call is still linked to the new userId, and the record is not failed.
func TestAliasWithAReservedPreviousIDStillLinksTheDevice(t *testing.T) {
	h, ids := newHandler(t)
	ev := eventtest.FromFields(t, map[string]any{"type": "alias", "messageId": "a1", "previousId": "#not-an-id", "userId": "u2",
		"anonymousId": "dev-1", "timestamp": "2026-05-01T12:00:00Z"})
	resp, err := h.Handle(context.Background(), batch(ev))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, []string{"dev-1"}, anonymousIDs(t, ids, "u2"))
}

func TestBlockedIDsNeverLink(t *testing.T) {
	h, ids := newHandler(t)
	var err error
	h.Blocked, err = event.ParseBlocklist("void")
	require.NoError(t, err)
	at := t0.Format(time.RFC3339)
	// Stored before the ids were blocked: built directly, as the store holds them.
	old := eventtest.FromFields(t, map[string]any{"type": "identify", "messageId": "i1", "anonymousId": "dev-1", "userId": "u1", "timestamp": at})
	old.UserID = "undefined"
	void := eventtest.FromFields(t, map[string]any{"type": "identify", "messageId": "i2", "anonymousId": "dev-2", "userId": "void", "timestamp": at})
	zeros := eventtest.FromFields(t, map[string]any{"type": "identify", "messageId": "i3", "anonymousId": "dev-3", "userId": "u3", "timestamp": at})
	zeros.AnonymousID = "00000000-0000-0000-0000-000000000000"
	alias := eventtest.FromFields(t, map[string]any{"type": "alias", "messageId": "a1", "previousId": "p1", "userId": "u4", "anonymousId": "dev-4", "timestamp": at})
	alias.PreviousID = "guest"

	resp, err := h.Handle(context.Background(), batch(old, void, zeros, alias))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures, "blocked ids are skipped, never failed")
	for _, u := range []string{"undefined", "void", "u3"} {
		assert.Empty(t, anonymousIDs(t, ids, u), u)
	}
	assert.Equal(t, []string{"dev-4"}, anonymousIDs(t, ids, "u4"), "an alias from a blocked previousId links its device only")
	links, err := ids.ByAnonymous(context.Background(), "guest")
	require.NoError(t, err)
	assert.Empty(t, links)
}

func TestLinksPastAMergeCapAreSkippedAndWarnedOnce(t *testing.T) {
	h, ids := newHandler(t)
	ids.MaxAnonymousIDsPerUser = 2
	var logs bytes.Buffer
	h.Log = slog.New(slog.NewTextHandler(&logs, nil))
	var evs []event.Event
	for i := range 5 {
		evs = append(evs, identifyEvent(t, fmt.Sprintf("i%d", i), fmt.Sprintf("dev-%d", i), "abc123", t0))
	}
	for range 2 { // and redelivered
		resp, err := h.Handle(context.Background(), batch(evs...))
		require.NoError(t, err)
		assert.Empty(t, resp.BatchItemFailures, "a capped link is skipped: a retry would be refused again")
	}
	assert.Equal(t, []string{"dev-0", "dev-1"}, anonymousIDs(t, ids, "abc123"))
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), logs.String())
	assert.Contains(t, logs.String(), "merge cap reached")
}
