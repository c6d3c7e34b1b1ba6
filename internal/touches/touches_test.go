package touches_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/clip"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
	"github.com/attribution-dev/attribution/internal/touches"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func record(t *testing.T, seq string, ev event.Event) events.DynamoDBEventRecord {
	t.Helper()
	return events.DynamoDBEventRecord{
		EventID: "e" + seq, EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: stream.FromSDK(store.EventItem(ev, 0))},
	}
}

func page(id string, at time.Time, url, referrer string) event.Event {
	return event.Event{MessageID: id, Type: event.TypePage, AnonymousID: "a1", Timestamp: at, TimestampSource: event.FromTimestamp, URL: url, Referrer: referrer, Raw: []byte(`{}`)}
}

// newHandler is a detect handler over fresh tables.
func newHandler(t *testing.T) (*touches.Handler, *store.Events, *store.Touches) {
	t.Helper()
	db, tables := dbtest.New(t)
	evs, stored := store.NewEvents(db, tables.Events), store.NewTouches(db, tables.Touches)
	return &touches.Handler{Detector: source.New(source.Options{}), PageViews: evs, Touches: stored, Log: quiet}, evs, stored
}

func TestRedeliveredBatchStoresEachTouchOnce(t *testing.T) {
	db, tables := dbtest.New(t)
	evs, stored := store.NewEvents(db, tables.Events), store.NewTouches(db, tables.Touches)
	var seen []string
	h := &touches.Handler{Detector: source.New(source.Options{}), PageViews: evs, Touches: stored, Log: quiet,
		OnTouch: func(_ context.Context, tc attribution.Touch) error { seen = append(seen, tc.MessageID); return nil }}

	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	pages := []event.Event{
		page("p1", at, "https://acme.io/", "https://duckduckgo.com/"),
		page("p2", at.Add(time.Minute), "https://acme.io/a", "https://acme.io/"),
		page("p3", at.Add(2*time.Hour), "https://acme.io/?utm_source=linkedin&utm_medium=paid_social", "https://www.linkedin.com/"),
	}
	batch := events.DynamoDBEvent{}
	for i, p := range pages {
		_, err := evs.Put(context.Background(), p)
		require.NoError(t, err)
		batch.Records = append(batch.Records, record(t, string(rune('1'+i)), p))
	}
	// A track event and a record that is not an event at all are skipped, not failed.
	batch.Records = append(batch.Records, events.DynamoDBEventRecord{EventID: "junk", EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "9", NewImage: map[string]events.DynamoDBAttributeValue{"x": events.NewStringAttribute("y")}}})

	for range 2 {
		resp, err := h.Handle(context.Background(), batch)
		require.NoError(t, err)
		assert.Empty(t, resp.BatchItemFailures)
	}
	got, err := stored.ByVisitor(context.Background(), "a1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "duckduckgo", got[0].Description.Referrer.Engine)
	assert.Equal(t, source.TypeAd, got[1].Description.Referrer.Type)
	assert.Equal(t, []string{"p1", "p3", "p1", "p3"}, seen, "the hook sees each new touch on every delivery; it must be idempotent too")
}

func TestStorageFailureReportsTheRecordAndWhatFollows(t *testing.T) {
	down, err := store.NewClient(context.Background(), store.ClientOptions{Region: "us-east-1", Endpoint: "http://127.0.0.1:1"})
	require.NoError(t, err)
	h := &touches.Handler{Detector: source.New(source.Options{}), PageViews: store.NewEvents(down, "e"), Touches: store.NewTouches(down, "t"), Log: quiet}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, "1", page("p1", at, "https://acme.io/", "")),
		record(t, "2", page("p2", at.Add(time.Hour), "https://acme.io/", "")),
	}})
	require.NoError(t, err)
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	assert.Equal(t, []string{"1", "2"}, ids, "reported by sequence number, from the first failure on")
}

// The webhook stores page events up to DynamoDB's 400 KB item limit, and a touch repeats
// its URL and referrer in the description (an email or link touch keeps both as from and
// link). Stored whole, such a touch is over the limit on every delivery: the record
// would fail until the stream gives up on it.
func TestAnOverlongURLStillMakesATouch(t *testing.T) {
	h, _, stored := newHandler(t)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	long := "https://acme.io/?utm_source=newsletter&utm_medium=email&utm_term=" + strings.Repeat("t", 150_000)
	p := page("p1", at, long, "https://blog.example.org/"+strings.Repeat("r", 150_000))
	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record(t, "1", p)}})
	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)

	got, err := stored.ByVisitor(context.Background(), "a1")
	require.NoError(t, err)
	require.Len(t, got, 1)
	tc := got[0]
	assert.Equal(t, "newsletter", tc.Description.Campaign.Source, "detection saw the whole URL")
	assert.True(t, strings.HasPrefix(tc.URL, "https://acme.io/?utm_source=newsletter"))
	assert.LessOrEqual(t, len(tc.URL), attribution.MaxTouchValueBytes+len(clip.Ellipsis))
	assert.True(t, strings.HasSuffix(tc.URL, clip.Ellipsis))
	assert.LessOrEqual(t, len(tc.Referrer), attribution.MaxTouchValueBytes+len(clip.Ellipsis))
	assert.LessOrEqual(t, len(tc.Description.Campaign.Term), attribution.MaxTouchValueBytes+len(clip.Ellipsis))
}

// A reload of a page whose URL carries an overlong utm value continues the visit: the
// fresh description is compared clipped, as the stored one is.
func TestReloadingAnOverlongCampaignURLIsOneTouch(t *testing.T) {
	h, evs, stored := newHandler(t)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	long := "https://acme.io/?utm_source=newsletter&utm_medium=email&utm_term=" + strings.Repeat("t", 20_000)
	for i, p := range []event.Event{page("p1", at, long, "https://mail.google.com/"), page("p2", at.Add(time.Minute), long, "https://mail.google.com/")} {
		_, err := evs.Put(context.Background(), p)
		require.NoError(t, err)
		resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record(t, string(rune('1'+i)), p)}})
		require.NoError(t, err)
		require.Empty(t, resp.BatchItemFailures)
	}
	got, err := stored.ByVisitor(context.Background(), "a1")
	require.NoError(t, err)
	assert.Equal(t, 1, len(got), "the reload continues the visit")
}

// A page view stored just before its visitor was erased still reaches the consumer,
// after the erasure deleted their touches: it must not recreate one.
func TestPageViewsOfErasedVisitorsMakeNoTouch(t *testing.T) {
	h, evs, stored := newHandler(t)
	tombs := store.NewTombstones(dbtest.Client(t), dbtest.Tables(t, dbtest.Client(t)).Identities)
	h.Erased = tombs.EventsErased
	ctx := context.Background()
	require.NoError(t, tombs.Erase(ctx, "a1"))

	p := page("p1", time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), "https://acme.io/?utm_source=newsletter", "")
	_, err := evs.Put(ctx, p)
	require.NoError(t, err)
	resp, err := h.Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record(t, "1", p)}})
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	got, err := stored.ByVisitor(ctx, "a1")
	require.NoError(t, err)
	assert.Empty(t, got)
}
