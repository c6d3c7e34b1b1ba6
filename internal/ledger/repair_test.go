package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/ledger"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

var errInjected = errors.New("injected failure")

// failOnce is a ledger store over dynalite whose step named fail fails the first time
// it is called, as a timeout or a crash would leave it.
type failOnce struct {
	ledger.Store
	fail   string // "hour", "day" or "clear"
	failed atomic.Bool
}

func (f *failOnce) trip(step string) error {
	if f.fail == step && f.failed.CompareAndSwap(false, true) {
		return errInjected
	}
	return nil
}

func (f *failOnce) RollUpHour(ctx context.Context, b store.Bucket) error {
	if err := f.trip("hour"); err != nil {
		return err
	}
	return f.Store.RollUpHour(ctx, b)
}

func (f *failOnce) RollUpDay(ctx context.Context, event, day string) error {
	if err := f.trip("day"); err != nil {
		return err
	}
	return f.Store.RollUpDay(ctx, event, day)
}

func (f *failOnce) Settle(ctx context.Context, b store.Bucket, messageID, version string, deleted bool) error {
	if err := f.trip("clear"); err != nil {
		return err
	}
	return f.Store.Settle(ctx, b, messageID, version, deleted)
}

// failingReads fails the second read of visitor's touches: the read after storing.
type failingReads struct {
	ledger.Touches
	visitor string
	reads   atomic.Int32
}

func (f *failingReads) ByVisitor(ctx context.Context, visitorID string) ([]attribution.Touch, error) {
	if visitorID == f.visitor && f.reads.Add(1) == 2 {
		return nil, errInjected
	}
	return f.Touches.ByVisitor(ctx, visitorID)
}

// outbox is a Segment sender that refuses its first call and keeps what it sent.
type outbox struct {
	mu     sync.Mutex
	refuse bool
	sent   []string
}

func (o *outbox) Send(_ context.Context, msgs []segment.Message) []segment.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]segment.Result, len(msgs))
	for i, m := range msgs {
		out[i] = segment.Result{MessageID: m.MessageID, Sent: !o.refuse}
		if !o.refuse {
			o.sent = append(o.sent, m.MessageID)
		}
	}
	o.refuse = false
	return out
}

const repairEvent = "Signed Up"

var repairAt = time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)

// repairSetup is a ledger over fresh tables with two visitors' touches stored, and a
// stream batch of one conversion each, in the same hour.
func repairSetup(t *testing.T) (app.Env, *ledger.Ledger, events.DynamoDBEvent) {
	t.Helper()
	env := newEnv(t, repairEvent)
	ctx := context.Background()
	var batch events.DynamoDBEvent
	for i, visitor := range []string{"a1", "a2"} {
		for j, ch := range []struct {
			channel string
			typ     source.Type
		}{{"Email", source.TypeEmail}, {"Paid Search", source.TypeAd}} {
			require.NoError(t, env.Touches().Put(ctx, attribution.Touch{MessageID: fmt.Sprintf("%s-t%d", visitor, j), AnonymousID: visitor,
				Timestamp:   repairAt.Add(-time.Duration(3-j) * time.Hour),
				Description: source.Description{Channel: ch.channel, Referrer: source.Referrer{Type: ch.typ}}}))
		}
		ev := event.Event{MessageID: "m-" + visitor, Type: event.TypeTrack, Name: repairEvent, AnonymousID: visitor,
			Timestamp: repairAt.Add(time.Duration(i) * time.Minute), TimestampSource: event.FromTimestamp,
			Raw: []byte(fmt.Sprintf(`{"properties":{"revenue":%d,"currency":"USD"}}`, 10*(i+1)))}
		seq := fmt.Sprint(i + 1)
		batch.Records = append(batch.Records, events.DynamoDBEventRecord{EventID: "e" + seq, EventName: "INSERT",
			Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: stream.FromSDK(store.EventItem(ev, 0))}})
	}
	return env, env.Ledger(nil), batch
}

// assertBooksExact checks that the day's rollups are the sum of the stored conversions of
// the visitors, to 1e-9, and that none is left pending.
func assertBooksExact(t *testing.T, env app.Env, visitors ...string) {
	t.Helper()
	ctx := context.Background()
	var want conversion.Rollup
	for _, v := range visitors {
		stored, err := env.Conversions().ByPerson(ctx, conversion.AnonymousKey(v))
		require.NoError(t, err)
		require.Len(t, stored, 1, "one conversion of %s", v)
		assert.False(t, stored[0].Pending, "settled")
		want.Add(stored[0].Conversion)
	}
	day := repairAt.Format(conversion.DayLayout)
	got, err := env.Conversions().Rollup(ctx, repairEvent, "channel", day, day)
	require.NoError(t, err)
	assert.Equal(t, want.Total, got.Total)
	require.NotEmpty(t, want.Rows["channel"])
	for label, models := range want.Rows["channel"] {
		for m, a := range models {
			require.NotNil(t, got.Rows["channel"][label][m], "%s %s", label, m)
			assert.InDelta(t, a.Conversions, got.Rows["channel"][label][m].Conversions, 1e-9, "%s %s", label, m)
			assert.InDelta(t, a.Revenue["USD"], got.Rows["channel"][label][m].Revenue["USD"], 1e-9, "%s %s", label, m)
		}
	}
}

func dayTotal(t *testing.T, env app.Env) float64 {
	t.Helper()
	day := repairAt.Format(conversion.DayLayout)
	r, err := env.Conversions().Rollup(context.Background(), repairEvent, "channel", day, day)
	require.NoError(t, err)
	return r.Total.Conversions
}

// A conversion is stored before its hour and day are rolled up and its write-back is
// sent; whichever of those steps fails, the redelivered batch finds the conversions
// stored, unchanged (unmarked without write-back, pending with it), and settles them:
// the books end exact, and every credit is written back.
func TestRedeliveryAfterAFailureSettlesStoredConversions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      string // the store step failing once; "send": the write-back; "read": the read after storing
		writeBack bool
	}{
		{"between storing and the hour rollup", "hour", false},
		{"between the hour and the day rollups", "day", false},
		{"the read after storing", "read", false},
		{"between storing and the hour rollup, with write-back", "hour", true},
		{"between the hour and the day rollups, with write-back", "day", true},
		{"the write-back", "send", true},
		{"clearing the pending mark", "clear", true},
		{"the read after storing, with write-back", "read", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, books, batch := repairSetup(t)
			flaky := &failOnce{Store: books.Store, fail: tc.fail}
			books.Store = flaky
			sender := &outbox{refuse: tc.fail == "send"}
			if tc.writeBack {
				books.CreditsEvent, books.Sender = "Conversion Credited", sender
			}
			if tc.fail == "read" {
				books.Touches = &failingReads{Touches: books.Touches, visitor: "a1"}
			}
			h := &ledger.Handler{Ledger: books, Events: []string{repairEvent}, Log: slog.New(slog.DiscardHandler)}
			ctx := context.Background()

			resp, err := h.Handle(ctx, batch)
			require.NoError(t, err)
			require.NotEmpty(t, resp.BatchItemFailures, "the failure is reported")
			if tc.fail == "read" {
				_, found, err := env.Conversions().Get(ctx, store.Bucket{Event: repairEvent, Day: "2026-03-03", Hour: "12"}, "m-a1")
				require.NoError(t, err)
				require.True(t, found, "stored before the read that failed")
			}
			if tc.fail == "hour" {
				assert.Zero(t, dayTotal(t, env), "nothing rolled up yet")
			}

			// The stream redelivers from the first failed record; here, the whole batch.
			resp, err = h.Handle(ctx, batch)
			require.NoError(t, err)
			assert.Empty(t, resp.BatchItemFailures)
			assertBooksExact(t, env, "a1", "a2")
			assert.Equal(t, 2.0, dayTotal(t, env))

			var want []string
			for _, v := range []string{"a1", "a2"} {
				if !tc.writeBack {
					break
				}
				stored, err := env.Conversions().ByPerson(ctx, conversion.AnonymousKey(v))
				require.NoError(t, err)
				for _, m := range ledger.CreditMessages(stored[0].Conversion, "Conversion Credited") {
					want = append(want, m.MessageID)
				}
			}
			for _, id := range want {
				assert.True(t, slices.Contains(sender.sent, id), "credit %s written back", id)
			}

			// Once settled, another redelivery leaves the books as they are and, with
			// write-back, sends nothing again.
			sentBefore := len(sender.sent)
			resp, err = h.Handle(ctx, batch)
			require.NoError(t, err)
			assert.Empty(t, resp.BatchItemFailures)
			assertBooksExact(t, env, "a1", "a2")
			assert.Len(t, sender.sent, sentBefore)
		})
	}
}

// A touch stored after a conversion was settled changes its credits: the follow-up
// stores the new version marked pending, and a failure before the mark is cleared is
// repaired by the retried follow-up.
func TestRetriedFollowUpSettlesARecomputedConversion(t *testing.T) {
	for _, fail := range []string{"hour", "day", "clear"} {
		t.Run(fail, func(t *testing.T) {
			env, books, batch := repairSetup(t)
			h := &ledger.Handler{Ledger: books, Events: []string{repairEvent}, Log: slog.New(slog.DiscardHandler)}
			ctx := context.Background()
			resp, err := h.Handle(ctx, batch)
			require.NoError(t, err)
			require.Empty(t, resp.BatchItemFailures)
			assertBooksExact(t, env, "a1", "a2")

			require.NoError(t, env.Touches().Put(ctx, attribution.Touch{MessageID: "a1-late", AnonymousID: "a1", Timestamp: repairAt.Add(-30 * time.Minute),
				Description: source.Description{Channel: "AI Assistant", Referrer: source.Referrer{Type: source.TypeAI}}}))
			books.Store = &failOnce{Store: books.Store, fail: fail}
			persons := []string{conversion.AnonymousKey("a1")}
			require.NotEmpty(t, books.FollowUp(ctx, persons), "the failure is reported")
			stored, err := env.Conversions().ByPerson(ctx, conversion.AnonymousKey("a1"))
			require.NoError(t, err)
			require.Len(t, stored, 1)
			assert.True(t, stored[0].Pending, "the new version waits to be settled")
			assert.Len(t, stored[0].Touches, 3)

			assert.Empty(t, books.FollowUp(ctx, persons))
			assertBooksExact(t, env, "a1", "a2")
			day := repairAt.Format(conversion.DayLayout)
			r, err := env.Conversions().Rollup(ctx, repairEvent, "channel", day, day)
			require.NoError(t, err)
			assert.Equal(t, 1.0, r.Rows["channel"]["AI Assistant"][attribution.ModelLast].Conversions)
		})
	}
}
