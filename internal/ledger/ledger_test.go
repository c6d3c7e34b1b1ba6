package ledger_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/ledger"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

// racingTouches stores a touch right after the conversions consumer first reads the
// visitor's touches: the touch consumer's write lands between the read and the store.
type racingTouches struct {
	*store.Touches
	late  attribution.Touch
	reads atomic.Int32
}

func (r *racingTouches) ByVisitor(ctx context.Context, visitorID string) ([]attribution.Touch, error) {
	touches, err := r.Touches.ByVisitor(ctx, visitorID)
	if r.reads.Add(1) == 1 {
		return touches, r.Touches.Put(ctx, r.late)
	}
	return touches, err
}

// newEnv is the wiring over fresh tables, with event the conversion event.
func newEnv(t *testing.T, event string) app.Env {
	t.Helper()
	db, tables := dbtest.New(t)
	env := app.Env{Config: dbtest.Config(t, tables), DB: db, Log: slog.New(slog.DiscardHandler)}
	env.Config.ConversionEvents = []string{event}
	return env
}

func TestATouchStoredWhileCreditingIsCounted(t *testing.T) {
	env := newEnv(t, "Signed Up")
	ctx := context.Background()
	at := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	touches := env.Touches()
	require.NoError(t, touches.Put(ctx, attribution.Touch{MessageID: "early", AnonymousID: "a1", Timestamp: at.Add(-2 * time.Hour),
		Description: source.Description{Channel: "Email", Referrer: source.Referrer{Type: source.TypeEmail}}}))
	race := &racingTouches{Touches: touches, late: attribution.Touch{MessageID: "late", AnonymousID: "a1", Timestamp: at.Add(-time.Hour),
		Description: source.Description{Channel: "Paid Search", Referrer: source.Referrer{Type: source.TypeAd}}}}
	books := env.Ledger(nil)
	books.Touches = race

	ch, err := books.Record(ctx, conversion.Input{MessageID: "m1", Event: "Signed Up", Timestamp: at, Currency: "USD", AnonymousID: "a1"})
	require.NoError(t, err)
	require.NotNil(t, ch)
	assert.Len(t, ch.Conversion.Touches, 2, "the touch stored meanwhile is credited")
	require.NoError(t, books.Settle(ctx, []ledger.Change{*ch}))

	stored, err := env.Conversions().ByPerson(ctx, conversion.AnonymousKey("a1"))
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.Len(t, stored[0].Touches, 2)
	assert.False(t, stored[0].Pending, "settled")
	r, err := env.Conversions().Rollup(ctx, "Signed Up", "channel", "2026-03-03", "2026-03-03")
	require.NoError(t, err)
	assert.Equal(t, 1.0, r.Rows["channel"]["Paid Search"][attribution.ModelLast].Conversions)

	// Recording it again (a redelivery) changes nothing: it finds the conversion stored
	// and settles it again, in case the first run failed before settling.
	again, err := books.Record(ctx, conversion.Input{MessageID: "m1", Event: "Signed Up", Timestamp: at, Currency: "USD", AnonymousID: "a1"})
	require.NoError(t, err)
	require.NotNil(t, again)
	assert.Equal(t, ch.Version, again.Version)
	assert.False(t, again.Pending)
	require.NoError(t, books.Settle(ctx, []ledger.Change{*again}))
	stored, err = env.Conversions().ByPerson(ctx, conversion.AnonymousKey("a1"))
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.Equal(t, ch.Version, stored[0].Version)
	r, err = env.Conversions().Rollup(ctx, "Signed Up", "channel", "2026-03-03", "2026-03-03")
	require.NoError(t, err)
	assert.Equal(t, 1.0, r.Total.Conversions)
	assert.Equal(t, 1.0, r.Rows["channel"]["Paid Search"][attribution.ModelLast].Conversions)
}

// The read before storing guesses an anonymous conversion's device unlinked; when it is
// linked already, the read after storing finds the link, and the conversion is the
// user's, credited over every device of theirs, under the user's key only.
func TestAConversionOfALinkedDeviceIsTheUsers(t *testing.T) {
	env := newEnv(t, "Signed Up")
	ctx := context.Background()
	at := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	require.NoError(t, env.Touches().Put(ctx, attribution.Touch{MessageID: "ad", AnonymousID: "phone", Timestamp: at.Add(-2 * time.Hour),
		Description: source.Description{Channel: "Paid Social", Referrer: source.Referrer{Type: source.TypeAd}}}))
	require.NoError(t, env.Touches().Put(ctx, attribution.Touch{MessageID: "mail", AnonymousID: "laptop", Timestamp: at.Add(-time.Hour),
		Description: source.Description{Channel: "Email", Referrer: source.Referrer{Type: source.TypeEmail}}}))
	for _, device := range []string{"phone", "laptop"} {
		require.NoError(t, env.Identities().Put(ctx, store.Link{UserID: "u1", AnonymousID: device, Source: "identify", MessageID: "i-" + device,
			FirstSeen: at.Add(-3 * time.Hour), LastSeen: at.Add(-3 * time.Hour)}))
	}
	books := env.Ledger(nil)

	ch, err := books.Record(ctx, conversion.Input{MessageID: "m1", Event: "Signed Up", Timestamp: at, Currency: "USD", AnonymousID: "laptop"})
	require.NoError(t, err)
	require.NotNil(t, ch)
	assert.Equal(t, conversion.UserKey("u1"), ch.Conversion.Person)
	assert.Len(t, ch.Conversion.Touches, 2, "both devices' touches")
	require.NoError(t, books.Settle(ctx, []ledger.Change{*ch}))

	mine, err := env.Conversions().ByPerson(ctx, conversion.UserKey("u1"))
	require.NoError(t, err)
	require.Len(t, mine, 1)
	assert.Equal(t, ch.Version, mine[0].Version)
	device, err := env.Conversions().ByPerson(ctx, conversion.AnonymousKey("laptop"))
	require.NoError(t, err)
	assert.Empty(t, device, "the guess under the device's key is replaced")
	r, err := env.Conversions().Rollup(ctx, "Signed Up", "channel", "2026-03-03", "2026-03-03")
	require.NoError(t, err)
	assert.Equal(t, 1.0, r.Total.Conversions)
	assert.Equal(t, 1.0, r.Rows["channel"]["Paid Social"][attribution.ModelFirst].Conversions)
}
