package datadriven

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCompute is one range's rows under both models for eight dimensions, from
// plain values: DATADRIVEN_BENCH_TOUCHES touches (default 1,000,000) of people with one
// to seven touches over 90 days, one conversion per 20 touches. The daily refresh runs
// this once per served range, after reading the tables.
func BenchmarkCompute(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("DATADRIVEN_BENCH_TOUCHES")); err == nil && v > 0 {
		n = v
	}
	dims := []string{"channel", "source", "medium", "campaign", "source_medium", "referrer_type", "referrer_name", "landing_page"}
	// Label pools per dimension, from a handful of channels to hundreds of landing pages.
	pools := make([][]string, len(dims))
	for d, size := range []int{8, 30, 10, 60, 40, 7, 25, 400} {
		for i := range size {
			pools[d] = append(pools[d], fmt.Sprintf("%s-%d", dims[d], i))
		}
	}
	rng := rand.New(rand.NewPCG(15, 5))
	end := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	in := Input{Range: Range{From: "2026-08-18", To: "2026-11-15"}, Dimensions: dims, People: map[string][]Touch{}}
	for p, total := 0, 0; total < n; p++ {
		person := fmt.Sprintf("anon:v%07d", p)
		k := min(1+rng.IntN(7), n-total)
		last := end.Add(-time.Duration(rng.Int64N(int64(88 * 24 * time.Hour))))
		ts := make([]Touch, k)
		for i := range ts {
			at := last.Add(-time.Duration(k-1-i) * 6 * time.Hour)
			labels := make([]string, len(dims))
			for d := range dims {
				labels[d] = pools[d][rng.IntN(len(pools[d]))]
			}
			ts[i] = Touch{MessageID: fmt.Sprintf("%s-%d", person, i), Time: at, Day: at.Format(time.DateOnly), Labels: labels}
		}
		total += k
		in.People[person] = ts
		if rng.IntN(5) == 0 {
			in.Conversions = append(in.Conversions, Conversion{Person: person, Day: last.Format(time.DateOnly),
				Value: float64(rng.IntN(20000)) / 100, Currency: "USD", Touches: ts})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "touches")
	b.ReportMetric(float64(len(in.Conversions)), "conversions")
}
