package precompute

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/datadriven"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const signedUp = "Signed Up"

var (
	now      = time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC)
	settings = conversion.Settings{Lookback: 90 * 24 * time.Hour, Location: time.UTC}
)

type fixture struct {
	ctx         context.Context
	db          *dynamodb.Client
	tables      store.Tables
	touches     *store.Touches
	identities  *store.Identities
	conversions *store.Conversions
	refresher   *Refresher
}

func newFixture(t *testing.T) *fixture {
	db, tables := dbtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	f := &fixture{
		ctx:         ctx,
		db:          db,
		tables:      tables,
		touches:     store.NewTouches(db, tables.Touches),
		identities:  store.NewIdentities(db, tables.Identities),
		conversions: store.NewConversions(db, tables.Conversions),
	}
	f.refresher = &Refresher{Touches: f.touches, Identities: f.identities, Conversions: f.conversions,
		Events: []string{signedUp}, Location: time.UTC, Segments: 3, Now: func() time.Time { return now }}
	return f
}

func (f *fixture) touch(t *testing.T, anon, id, channel string, at time.Time) attribution.Touch {
	tc := attribution.Touch{MessageID: id, AnonymousID: anon, Timestamp: at, URL: "https://acme.io/" + id,
		Description: source.Description{Channel: channel, Referrer: source.Referrer{Type: source.TypeDirect}}}
	require.NoError(t, f.touches.Put(f.ctx, tc))
	return tc
}

func day(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }

// seedKnownAnswer stores the Markov example as people: ann (two devices' worth of
// links) converts after C1 > C2 > C3 for 1000, bob stops after C1, cat after C2 > C3.
func (f *fixture) seedKnownAnswer(t *testing.T) {
	require.NoError(t, f.identities.Put(f.ctx, store.Link{UserID: "ann", AnonymousID: "a1", Source: store.LinkIdentify, MessageID: "id-1", FirstSeen: day(12, 11)}))
	ann := []attribution.Touch{
		f.touch(t, "a1", "t1", "C1", day(10, 9)),
		f.touch(t, "a1", "t2", "C2", day(11, 9)),
		f.touch(t, "a1", "t3", "C3", day(12, 9)),
	}
	f.touch(t, "b1", "t4", "C1", day(10, 10))
	f.touch(t, "c1", "t5", "C2", day(11, 10))
	f.touch(t, "c1", "t6", "C3", day(12, 10))
	// Long before every served range: read by no path.
	f.touch(t, "d1", "t7", "Referral", day(1, 0).AddDate(0, -6, 0))

	c, err := conversion.Compute(conversion.Input{MessageID: "conv-1", Event: signedUp, Timestamp: day(12, 12), Value: 1000,
		Currency: "USD", UserID: "ann", Person: conversion.UserKey("ann")}, ann, settings)
	require.NoError(t, err)
	_, _, err = f.conversions.Put(f.ctx, c, false)
	require.NoError(t, err)
}

func TestTrailingRanges(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	// 23:30 UTC on the 15th is already the 16th in Paris.
	got := TrailingRanges(time.Date(2026, 11, 15, 23, 30, 0, 0, time.UTC), paris)
	assert.Equal(t, []datadriven.Range{
		{From: "2026-11-10", To: "2026-11-16"},
		{From: "2026-10-18", To: "2026-11-16"},
		{From: "2026-08-19", To: "2026-11-16"},
		{From: "2026-11-09", To: "2026-11-15"},
		{From: "2026-10-17", To: "2026-11-15"},
		{From: "2026-08-18", To: "2026-11-15"},
	}, got)
}

func TestRefreshKnownAnswer(t *testing.T) {
	f := newFixture(t)
	f.seedKnownAnswer(t)
	ranges := TrailingRanges(now, time.UTC)
	sum, err := f.refresher.Refresh(f.ctx, ranges, true)
	require.NoError(t, err)
	assert.Equal(t, 6, sum.Touches, "the touch before every range is not read")
	assert.Equal(t, 3, sum.People)
	assert.Equal(t, 1, sum.Links)
	assert.Equal(t, map[string]int{signedUp: 1}, sum.Conversions)
	assert.Equal(t, len(ranges)*len(conversion.Dimensions), sum.Items)

	for _, rg := range ranges {
		p, err := f.conversions.Precomputed(f.ctx, signedUp, rg, "channel")
		require.NoError(t, err, rg)
		assert.Equal(t, now, p.ComputedAt)
		assert.Equal(t, 1.0, p.Conversions)
		assert.Equal(t, 2.0, p.Nulls, "bob and cat; ann's device is ann's")
		for label, want := range map[string]float64{"C1": 200, "C2": 400, "C3": 400} {
			assert.InDelta(t, want, p.Rows[label][attribution.ModelMarkov].Revenue["USD"], 1e-9, "%s %s", rg, label)
			assert.InDelta(t, 1.0/3, p.Rows[label][attribution.ModelShapley].Conversions, 1e-12, "%s %s", rg, label)
		}
		byType, err := f.conversions.Precomputed(f.ctx, signedUp, rg, "referrer_type")
		require.NoError(t, err)
		assert.InDelta(t, 1, byType.Rows["direct"][attribution.ModelMarkov].Conversions, 1e-12)
	}
}

func TestRefreshPrunesOtherRanges(t *testing.T) {
	f := newFixture(t)
	f.seedKnownAnswer(t)
	custom := datadriven.Range{From: "2026-11-10", To: "2026-11-11"}
	_, err := f.refresher.Refresh(f.ctx, []datadriven.Range{custom}, false)
	require.NoError(t, err)
	p, err := f.conversions.Precomputed(f.ctx, signedUp, custom, "channel")
	require.NoError(t, err)
	assert.Zero(t, p.Conversions, "ann converted on the 12th")
	assert.Equal(t, 3.0, p.Nulls, "so in this range all three are non-converting")

	ranges := TrailingRanges(now, time.UTC)
	sum, err := f.refresher.Refresh(f.ctx, ranges, true)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Pruned)
	_, err = f.conversions.Precomputed(f.ctx, signedUp, custom, "channel")
	assert.ErrorIs(t, err, store.ErrNotPrecomputed)

	stored, err := f.conversions.PrecomputedRanges(f.ctx, signedUp)
	require.NoError(t, err)
	var got []datadriven.Range
	for _, s := range stored {
		got = append(got, s.Range)
		assert.Equal(t, now, s.ComputedAt)
	}
	assert.ElementsMatch(t, ranges, got)
}

func TestRefreshRefusesBadRanges(t *testing.T) {
	f := newFixture(t)
	for _, rg := range []datadriven.Range{
		{From: "2026-11-10", To: "2026-11-09"},
		{From: "yesterday", To: "2026-11-09"},
		{From: "2020-01-01", To: "2026-11-09"},
	} {
		_, err := f.refresher.Refresh(f.ctx, []datadriven.Range{rg}, false)
		assert.ErrorIs(t, err, ErrInvalidRange, rg)
	}
}

// Tombstones and per-user state share the identities table with the links; neither is a
// link.
func TestRefreshReadsOnlyLinks(t *testing.T) {
	f := newFixture(t)
	f.seedKnownAnswer(t)
	db, table := f.db, f.tables.Identities
	require.NoError(t, store.NewTombstones(db, table).Erase(f.ctx, "someone-erased"))
	_, err := store.NewPushStates(db, table).Put(f.ctx, store.PushState{UserID: "ann", MessageID: "push-1", LastTouch: day(12, 9), Touches: 3, SentAt: day(12, 9)})
	require.NoError(t, err)
	sum, err := f.refresher.Refresh(f.ctx, TrailingRanges(now, time.UTC)[:1], false)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Links)
}

func TestStoredLabels(t *testing.T) {
	tc := attribution.Touch{MessageID: "m", Timestamp: day(1, 0), URL: "https://acme.io/pricing?x=1",
		Description: source.Description{Channel: "Email", Referrer: source.Referrer{Type: source.TypeEmail, Client: "gmail"}}}
	fresh := conversion.Labels(tc)
	stored := conversion.Touch{MessageID: "m", Timestamp: tc.Timestamp, URL: tc.URL, Description: tc.Description, Labels: []string{"Old Channel"}}
	assert.Equal(t, fresh, storedLabels(stored), "labels of fewer dimensions are made again")
	stored.Labels = slices.Clone(fresh)
	stored.Labels[0] = "As Stored"
	assert.Equal(t, "As Stored", storedLabels(stored)[0], "a full set is the conversion's own")
}
