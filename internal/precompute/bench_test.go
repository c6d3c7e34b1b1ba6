package precompute

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

var benchChannels = []source.Description{
	{Channel: "Organic Search", Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"}},
	{Channel: "Paid Search", Referrer: source.Referrer{Type: source.TypeAd, Network: "google"}, Campaign: &source.Campaign{Source: "google", Medium: "cpc", Campaign: "brand"}},
	{Channel: "Email", Referrer: source.Referrer{Type: source.TypeEmail, Client: "gmail"}},
	{Channel: "Organic Social", Referrer: source.Referrer{Type: source.TypeSocial, Network: "linkedin"}},
	{Channel: "Direct", Referrer: source.Referrer{Type: source.TypeDirect}},
	{Channel: "Referral", Referrer: source.Referrer{Type: source.TypeLink}},
	{Channel: "AI Assistant", Referrer: source.Referrer{Type: source.TypeAI, Assistant: "chatgpt"}},
}

// BenchmarkRefresh is the daily refresh (six trailing ranges, eight dimensions, both
// models) over a touches table seeded in dynalite with PRECOMPUTE_BENCH_TOUCHES touches
// (default 100,000: seeding the 1,000,000 one PutItem at a time takes this
// 2-core machine longer than a benchmark run should) and one conversion per 20 touches,
// the 1,000,000 : 50,000 ratio, spread over the last 90 days. Seeding is not
// timed.
func BenchmarkRefresh(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("PRECOMPUTE_BENCH_TOUCHES")); err == nil && v > 0 {
		n = v
	}
	db, tables := dbtest.New(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 4))
	touchesStore := store.NewTouches(db, tables.Touches)
	conversions := store.NewConversions(db, tables.Conversions)
	settings := conversion.Settings{Lookback: 90 * 24 * time.Hour, Location: time.UTC}

	var touches []attribution.Touch
	var convs []conversion.Conversion
	for p := 0; len(touches) < n; p++ {
		anon := fmt.Sprintf("v%07d", p)
		k := min(1+rng.IntN(7), n-len(touches))
		last := now.Add(-time.Duration(rng.Int64N(int64(85 * 24 * time.Hour))))
		mine := make([]attribution.Touch, k)
		for i := range mine {
			mine[i] = attribution.Touch{MessageID: fmt.Sprintf("%s-%d", anon, i), AnonymousID: anon,
				Timestamp: last.Add(-time.Duration(k-1-i) * 6 * time.Hour),
				URL:       fmt.Sprintf("https://shop.example/page-%d", rng.IntN(40)), Description: benchChannels[rng.IntN(len(benchChannels))]}
		}
		touches = append(touches, mine...)
		// 50,000 conversions per 1,000,000 touches: one person in five of those with
		// four touches on average converts.
		if rng.IntN(5) == 0 {
			c, err := conversion.Compute(conversion.Input{MessageID: "c-" + anon, Event: signedUp, Timestamp: last.Add(time.Minute),
				Value: float64(rng.IntN(20000)) / 100, Currency: "USD", AnonymousID: anon, Person: conversion.AnonymousKey(anon)}, mine, settings)
			require.NoError(b, err)
			convs = append(convs, c)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, t := range touches {
		g.Go(func() error { return touchesStore.Put(gctx, t) })
	}
	for _, c := range convs {
		g.Go(func() error {
			_, _, err := conversions.Put(gctx, c, false)
			return err
		})
	}
	require.NoError(b, g.Wait())

	r := &Refresher{Touches: touchesStore, Identities: store.NewIdentities(db, tables.Identities), Conversions: conversions,
		Events: []string{signedUp}, Location: time.UTC, Now: func() time.Time { return now }}
	// dynalite runs each scan segment over the whole table, so against it one segment
	// is fastest; DynamoDB splits the table instead (PRECOMPUTE_BENCH_SEGMENTS=8 to see).
	r.Segments = 1
	if v, err := strconv.Atoi(os.Getenv("PRECOMPUTE_BENCH_SEGMENTS")); err == nil && v > 0 {
		r.Segments = v
	}
	if os.Getenv("PRECOMPUTE_BENCH_LOG") != "" {
		r.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ranges := TrailingRanges(now, time.UTC)
	b.ResetTimer()
	for b.Loop() {
		sum, err := r.Refresh(ctx, ranges, true)
		require.NoError(b, err)
		require.Equal(b, len(touches), sum.Touches)
		require.Equal(b, len(convs), sum.Conversions[signedUp])
	}
	b.ReportMetric(float64(len(touches)), "touches")
	b.ReportMetric(float64(len(convs)), "conversions")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/refresh")
}
