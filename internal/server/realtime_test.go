package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// post sends one event to the webhook, or several as one batch.
func (e *env) post(evs ...map[string]any) {
	e.t.Helper()
	var body []byte
	var err error
	if len(evs) == 1 {
		body, err = json.Marshal(evs[0])
	} else {
		body, err = json.Marshal(evs)
	}
	require.NoError(e.t, err)
	resp, err := http.Post(e.url+"/events", "application/json", bytes.NewReader(body))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
}

func (e *env) identify(id, anon, user string, at time.Duration) {
	e.t.Helper()
	e.post(map[string]any{
		"type": "identify", "messageId": id, "anonymousId": anon, "userId": user,
		"timestamp": base.Add(at).Format(time.RFC3339Nano), "traits": map[string]any{"email": "ann@example.com"},
	})
}

func identifies(fake *segmenttest.Server) []segmenttest.Message {
	var out []segmenttest.Message
	for _, m := range fake.Messages() {
		if m.Type == "identify" {
			out = append(out, m)
		}
	}
	return out
}

func TestRealtimeSendsOneIdentifyPerChange(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	e := newEnv(t, withSegment(fake, ""))

	e.page("p1", "a1", 0, "https://acme.io/", "https://www.google.com/")
	e.settle()
	assert.Empty(t, fake.Messages(), "an anonymous visitor is nobody to identify yet")

	e.identify("i1", "a1", "u1", time.Minute)
	e.settle()
	got := identifies(fake)
	require.Len(t, got, 1, "linking a device with touches sends its attribution")
	assert.Equal(t, "u1", got[0].UserID)
	assert.Equal(t, "search", got[0].Traits["source_first_referrer_type"])
	assert.Equal(t, "google", got[0].Traits["source_last_referrer_engine"])
	assert.Equal(t, "google", got[0].Traits["source_last_non_direct_referrer_engine"])
	assert.Equal(t, base.Format(time.RFC3339), got[0].Timestamp, "stamped with the last touch")

	e.page("p2", "a1", 3*time.Hour, "https://acme.io/", "") // typed in: a direct touch
	e.settle()
	got = identifies(fake)
	require.Len(t, got, 2, "a new touch of an identified visitor changes the traits")
	assert.Equal(t, "direct", got[1].Traits["source_last_referrer_type"])
	assert.Equal(t, "search", got[1].Traits["source_last_non_direct_referrer_type"], "a direct visit never overwrites last non-direct")
	assert.Equal(t, "search", got[1].Traits["source_first_referrer_type"])

	e.page("p3", "a1", 3*time.Hour+time.Minute, "https://acme.io/pricing", "https://acme.io/") // internal: no touch
	e.identify("i2", "a1", "u1", 4*time.Hour)                                                  // same link again
	e.settle()
	assert.Len(t, identifies(fake), 2, "nothing changed, nothing sent")

	// A page event that carries the userId, from a device never identified.
	e.post(map[string]any{
		"type": "page", "messageId": "p4", "anonymousId": "a2", "userId": "u1",
		"timestamp":  base.Add(5 * time.Hour).Format(time.RFC3339Nano),
		"properties": map[string]any{"url": "https://acme.io/?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "referrer": ""},
	})
	e.settle()
	got = identifies(fake)
	require.Len(t, got, 3)
	assert.Equal(t, "newsletter", got[2].Traits["source_last_non_direct_campaign_source"])
	assert.Equal(t, "spring", got[2].Traits["source_last_campaign_campaign"])
	assert.Zero(t, fake.Duplicates())

	// The state item is invisible to the query API.
	status, out := e.get("/api/user/u1", "")
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, []any{"a1"}, out["anonymousIds"])
}

func TestRealtimeOffSendsNothing(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	e := newEnv(t, func(c *config.Config) { withSegment(fake, "")(c); c.Realtime = false })
	e.page("p1", "a1", 0, "https://acme.io/", "https://www.google.com/")
	e.settle()
	e.identify("i1", "a1", "u1", time.Minute)
	e.page("p2", "a1", 3*time.Hour, "https://acme.io/", "https://www.bing.com/")
	e.settle()
	assert.Empty(t, fake.Messages())
	assert.Empty(t, fake.Requests())
}

func TestRealtimeWithoutWriteKeyWritesTheOutbox(t *testing.T) {
	db, tables := dbtest.New(t)
	dataDir := t.TempDir()
	stack, err := server.New(server.Options{
		Config: testConfig(t, tables), DB: db, DataDir: dataDir, Log: quietLog(),
		Stream: stream.EmulatorOptions{Backoff: 10 * time.Millisecond},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(stack.Handler)
	t.Cleanup(func() { srv.Close(); closeStream(stack) })
	e := &env{t: t, url: srv.URL, stack: stack}

	e.page("p1", "a1", 0, "https://acme.io/", "https://www.google.com/")
	e.settle()
	e.identify("i1", "a1", "u1", time.Minute)
	e.settle()
	b, err := os.ReadFile(filepath.Join(dataDir, "segment-outbox.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"userId":"u1"`)
	assert.Contains(t, string(b), `"source_first_referrer_engine":"google"`)
}

// consumers drives the stack's stream consumers directly, as Lambda would, so tests
// control batches and redelivery.
type consumers struct {
	t          *testing.T
	detect     func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	identify   func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	events     *store.Events
	identities *store.Identities
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func closeStream(stack *server.Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = stack.Stream.Close(ctx)
}

func testConfig(t *testing.T, tables store.Tables) config.Config {
	t.Helper()
	cfg := dbtest.Config(t, tables)
	cfg.InternalDomains = []string{"acme.io"}
	return cfg
}

func newConsumers(t *testing.T, fake *segmenttest.Server) *consumers {
	t.Helper()
	db, tables := dbtest.New(t)
	cfg := testConfig(t, tables)
	client, err := segment.New(segment.Config{WriteKey: "wk", Endpoint: fake.URL, MaxAttempts: 1})
	require.NoError(t, err)
	cs := server.Consumers(server.Options{Config: cfg, DB: db, Log: quietLog(), Segment: client})
	c := &consumers{t: t, events: store.NewEvents(db, tables.Events), identities: store.NewIdentities(db, tables.Identities)}
	for _, s := range cs {
		switch s.Name {
		case "detect":
			c.detect = s.Handler
		case "identify":
			c.identify = s.Handler
		}
	}
	require.NotNil(t, c.detect)
	require.NotNil(t, c.identify)
	return c
}

func pageEvent(id, anon, user string, at time.Time, url, referrer string) event.Event {
	return event.Event{MessageID: id, Type: event.TypePage, AnonymousID: anon, UserID: user, Timestamp: at,
		TimestampSource: event.FromTimestamp, URL: url, Referrer: referrer, Raw: []byte(`{}`)}
}

// batch stores evs (as the webhook would) and returns their stream records.
func (c *consumers) batch(evs ...event.Event) events.DynamoDBEvent {
	c.t.Helper()
	var b events.DynamoDBEvent
	for i, ev := range evs {
		_, err := c.events.Put(context.Background(), ev)
		require.NoError(c.t, err)
		b.Records = append(b.Records, events.DynamoDBEventRecord{
			EventID: "e" + strconv.Itoa(i+1), EventName: "INSERT",
			Change: events.DynamoDBStreamRecord{SequenceNumber: strconv.Itoa(i + 1), NewImage: stream.FromSDK(store.EventItem(ev, 0))},
		})
	}
	return b
}

func (c *consumers) link(anon, user string) {
	c.t.Helper()
	require.NoError(c.t, c.identities.Put(context.Background(), store.Link{
		UserID: user, AnonymousID: anon, Source: store.LinkIdentify, MessageID: "link-" + anon, FirstSeen: base.Add(-time.Hour),
	}))
}

func failedIDs(resp events.DynamoDBEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestRealtimeBurstSendsTheFinalStateOnce(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	c := newConsumers(t, fake)
	c.link("a1", "u1")
	var evs []event.Event
	for i := range 50 {
		evs = append(evs, pageEvent(fmt.Sprintf("p%02d", i), "a1", "", base.Add(time.Duration(i)*time.Minute),
			fmt.Sprintf("https://acme.io/?utm_source=ads&utm_medium=cpc&utm_campaign=c%02d", i), ""))
	}
	b := c.batch(evs...)
	resp, err := c.detect(context.Background(), b)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	got := identifies(fake)
	require.Len(t, got, 1, "50 touches in one batch: one identify")
	assert.Equal(t, "c00", got[0].Traits["source_first_campaign_campaign"])
	assert.Equal(t, "c49", got[0].Traits["source_last_campaign_campaign"])
	assert.Len(t, fake.Requests(), 1)

	// Redelivery of the whole batch finds the state equal: nothing new is sent.
	resp, err = c.detect(context.Background(), b)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Len(t, fake.Messages(), 1)
	assert.Len(t, fake.Requests(), 1, "not even a request")
}

func TestRealtimeSegmentDownFailsTheRecordsAndRedeliverySends(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	c := newConsumers(t, fake)
	c.link("a1", "u1")
	b := c.batch(
		pageEvent("p1", "stranger", "", base, "https://acme.io/", "https://www.bing.com/"), // nobody's: no push
		pageEvent("p2", "a1", "", base, "https://acme.io/", "https://www.google.com/"),
		pageEvent("p3", "a1", "", base.Add(2*time.Hour), "https://acme.io/", "https://www.linkedin.com/"),
	)
	fake.FailNext(1, http.StatusInternalServerError, "")
	resp, err := c.detect(context.Background(), b)
	require.NoError(t, err)
	assert.Equal(t, []string{"2", "3"}, failedIDs(resp), "from u1's first record on; the stranger's record is done")
	assert.Empty(t, fake.Messages())

	// Lambda redelivers from the first failed record.
	redelivered := events.DynamoDBEvent{Records: b.Records[1:]}
	resp, err = c.detect(context.Background(), redelivered)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	got := identifies(fake)
	require.Len(t, got, 1)
	assert.Equal(t, "u1", got[0].UserID)
	assert.Equal(t, "social", got[0].Traits["source_last_referrer_type"])
	assert.Equal(t, "search", got[0].Traits["source_first_referrer_type"])

	resp, err = c.detect(context.Background(), redelivered)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Len(t, fake.Messages(), 1, "a second redelivery sends nothing")
}

func TestRealtimeIdentifyConsumerPushesLinkedUsersOnce(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	c := newConsumers(t, fake)
	resp, err := c.detect(context.Background(), c.batch(
		pageEvent("p1", "phone", "", base, "https://acme.io/", "https://www.google.com/"),
		pageEvent("p2", "laptop", "", base.Add(time.Hour), "https://acme.io/?utm_source=newsletter&utm_medium=email", ""),
	))
	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)
	require.Empty(t, fake.Messages(), "nobody identified yet")

	ident := func(id, anon string) event.Event {
		return event.Event{MessageID: id, Type: event.TypeIdentify, AnonymousID: anon, UserID: "u1", Timestamp: base.Add(2 * time.Hour), TimestampSource: event.FromTimestamp, Raw: []byte(`{}`)}
	}
	fake.FailNext(1, http.StatusServiceUnavailable, "")
	b := c.batch(ident("i1", "phone"), ident("i2", "laptop"))
	resp, err = c.identify(context.Background(), b)
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2"}, failedIDs(resp))

	resp, err = c.identify(context.Background(), b)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	got := identifies(fake)
	require.Len(t, got, 1, "two links in one batch: one identify with both devices' touches")
	assert.Equal(t, "search", got[0].Traits["source_first_referrer_type"])
	assert.Equal(t, "newsletter", got[0].Traits["source_last_campaign_source"])

	resp, err = c.identify(context.Background(), b)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Len(t, fake.Messages(), 1, "redelivery sends nothing new")
}
