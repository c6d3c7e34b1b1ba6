package ledger_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const benchEvent = "Order Completed"

var (
	channels = []struct {
		channel string
		typ     source.Type
		name    string
		medium  string
	}{
		{"Organic Search", source.TypeSearch, "google", ""},
		{"Paid Search", source.TypeAd, "google", "cpc"},
		{"Email", source.TypeEmail, "gmail", "email"},
		{"Organic Social", source.TypeSocial, "linkedin", ""},
		{"Paid Social", source.TypeAd, "facebook", "paid_social"},
		{"Direct", source.TypeDirect, "", ""},
		{"Referral", source.TypeLink, "", ""},
		{"AI Assistant", source.TypeAI, "chatgpt", ""},
	}
	pages = []string{"/", "/pricing", "/blog/attribution", "/docs", "/features", "/signup", "/blog/segment", "/compare"}
)

// benchTouches is a person's 1 to 4 touches in the days before at.
func benchTouches(rng *rand.Rand, person string, at time.Time) []attribution.Touch {
	n := 1 + rng.IntN(4)
	out := make([]attribution.Touch, n)
	for i := range out {
		c := channels[rng.IntN(len(channels))]
		d := source.Description{Channel: c.channel, Referrer: source.Referrer{Type: c.typ, Engine: c.name}}
		if c.medium != "" {
			d.Campaign = &source.Campaign{Source: c.name, Medium: c.medium, Campaign: fmt.Sprintf("campaign-%d", rng.IntN(20))}
		}
		out[i] = attribution.Touch{
			MessageID: fmt.Sprintf("%s-t%d", person, i), AnonymousID: person,
			Timestamp: at.Add(-time.Duration(rng.IntN(30*24)) * time.Hour),
			URL:       "https://shop.example" + pages[rng.IntN(len(pages))] + fmt.Sprintf("?v=%d", rng.IntN(9)),
			Referrer:  "https://" + c.name + ".example/", Description: d,
		}
	}
	return out
}

// BenchmarkReportYear reads a whole year's report under every model, warm, from the
// rollups of 100,000 conversions spread over 365 days. The rollups are built from
// credited conversions in memory and written directly: the report reads only them.
func BenchmarkReportYear(b *testing.B) {
	const conversions, days = 100_000, 365
	db, tables := dbtest.New(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rollups := make([]conversion.Rollup, days)
	settings := conversion.Settings{Lookback: 90 * 24 * time.Hour, Location: time.UTC}
	for i := range conversions {
		d := i % days
		at := first.AddDate(0, 0, d).Add(time.Duration(rng.IntN(86400)) * time.Second)
		person := fmt.Sprintf("p%d", i)
		c, err := conversion.Compute(conversion.Input{MessageID: fmt.Sprintf("c%d", i), Event: benchEvent, Timestamp: at,
			Value: float64(rng.IntN(20000)) / 100, Currency: []string{"USD", "EUR"}[rng.IntN(2)], AnonymousID: person,
			Person: conversion.AnonymousKey(person)}, benchTouches(rng, person, at), settings)
		require.NoError(b, err)
		rollups[d].Add(c)
	}
	convs := store.NewConversions(db, tables.Conversions)
	var g errgroup.Group
	g.SetLimit(8)
	for d := range days {
		g.Go(func() error {
			return convs.PutDay(ctx, benchEvent, first.AddDate(0, 0, d).Format(conversion.DayLayout), &rollups[d], 1)
		})
	}
	require.NoError(b, g.Wait())

	cfg := benchConfig(b, tables)
	stack, err := server.New(server.Options{Config: cfg, DB: db, Log: slog.New(slog.DiscardHandler), DataDir: b.TempDir()})
	require.NoError(b, err)
	b.Cleanup(func() { _ = stack.Stream.Close(context.Background()) })
	srv := httptest.NewServer(stack.Handler)
	b.Cleanup(srv.Close)
	url := srv.URL + "/api/report?event=Order+Completed&from=2025-01-01&to=2025-12-31&model=all"
	get := func() {
		resp, err := http.Get(url)
		require.NoError(b, err)
		resp.Body.Close()
		require.Equal(b, http.StatusOK, resp.StatusCode)
	}
	get() // warm: node compiles dynalite's query path on first use
	b.ResetTimer()
	for b.Loop() {
		get()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/report")
}

func benchConfig(b *testing.B, tables store.Tables) config.Config {
	cfg := dbtest.Config(b, tables)
	cfg.ConversionEvents = []string{benchEvent}
	return cfg
}

// BenchmarkStreamConversions measures conversions credited and rolled up per second
// through the local stream, as `attribution serve` runs the consumer: every converting
// person has 1 to 4 touches stored; each conversion event is handed to the stream as
// the webhook's insert would be. "live" conversions arrive in time order over two days,
// as they do in production; "spread" ones fall anywhere in a year (a replay or import).
func BenchmarkStreamConversions(b *testing.B) {
	for _, tc := range []struct {
		name string
		span time.Duration
	}{{"live", 48 * time.Hour}, {"spread", 365 * 24 * time.Hour}} {
		b.Run(tc.name, func(b *testing.B) {
			n := benchN()
			var calls atomic.Int64
			var ops sync.Map // operation name -> *atomic.Int64
			byOp := map[string]int64{}
			db := counting(dbtest.Client(b), &calls, &ops)
			ctx := context.Background()
			var total, nodeCPU, goCPU time.Duration
			var requests int64
			for b.Loop() {
				b.StopTimer()
				tables := dbtest.Tables(b, db)
				rng := rand.New(rand.NewPCG(3, 4))
				touches := store.NewTouches(db, tables.Touches)
				first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
				var evs []event.Event
				var all []attribution.Touch
				for i := range n {
					person := fmt.Sprintf("p%d", i)
					at := first.Add(time.Duration(float64(tc.span) * float64(i) / float64(n)))
					if tc.name == "spread" {
						at = first.Add(time.Duration(rng.Int64N(int64(tc.span))))
					}
					all = append(all, benchTouches(rng, person, at)...)
					evs = append(evs, event.Event{MessageID: "c" + person, Type: event.TypeTrack, Name: benchEvent, AnonymousID: person,
						Timestamp: at, TimestampSource: event.FromTimestamp,
						Raw: []byte(fmt.Sprintf(`{"properties":{"revenue":%d,"currency":"USD"}}`, 1+rng.IntN(500)))})
				}
				var g errgroup.Group
				g.SetLimit(16)
				for _, tc := range all {
					g.Go(func() error { return touches.Put(ctx, tc) })
				}
				require.NoError(b, g.Wait())
				log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
				em, err := stream.NewEmulator(log, stream.EmulatorOptions{Backoff: 10 * time.Millisecond},
					server.Consumers(server.Options{Config: benchConfig(b, tables), DB: db, Log: log, DataDir: b.TempDir()})...)
				require.NoError(b, err)
				b.StartTimer()
				start := time.Now()
				before := calls.Load()
				ops.Clear()
				nodeBefore, goBefore := dynaliteCPU(), processCPU()
				for _, ev := range evs {
					require.NoError(b, em.Publish(tables.Events, stream.Item{Key: ev.AnonymousID, Item: store.EventItem(ev, 0)}))
				}
				idle, cancel := context.WithTimeout(ctx, 10*time.Minute)
				require.NoError(b, em.Idle(idle))
				cancel()
				total += time.Since(start)
				requests += calls.Load() - before
				nodeCPU += dynaliteCPU() - nodeBefore
				goCPU += processCPU() - goBefore
				ops.Range(func(k, v any) bool {
					byOp[k.(string)] += v.(*atomic.Int64).Load()
					return true
				})
				b.StopTimer()
				checkTotals(b, db, tables, n)
				require.NoError(b, em.Close(ctx))
				dbtest.Drop(db, tables)
				b.StartTimer()
			}
			for _, op := range slices.Sorted(maps.Keys(byOp)) {
				b.Logf("%-16s %6.2f requests/conversion", op, float64(byOp[op])/float64(n*b.N))
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "conversions/s")
			if nodeCPU > 0 {
				b.ReportMetric(float64(nodeCPU.Microseconds())/1000/float64(n*b.N), "dynalite_cpu_ms/conversion")
			}
			b.ReportMetric(float64(goCPU.Microseconds())/1000/float64(n*b.N), "go_cpu_ms/conversion")
			b.ReportMetric(float64(requests)/float64(n*b.N), "requests/conversion")
			b.ReportMetric(ceiling(b, dbtest.Client(b)), "ceiling_requests/s")
		})
	}
}

// checkTotals proves the benchmark did the whole job: every conversion is in the rollups.
func checkTotals(b *testing.B, db *dynamodb.Client, tables store.Tables, n int) {
	b.Helper()
	r, err := store.NewConversions(db, tables.Conversions).Rollup(context.Background(), benchEvent, "channel", "2024-12-01", "2026-01-31")
	require.NoError(b, err)
	require.Equal(b, float64(n), r.Total.Conversions)
}

// ceiling is how many small requests (a Query finding nothing) per second dynalite
// answers, right now, to a bare loop with the stream's concurrency: what bounds the
// stream on this machine.
func ceiling(b *testing.B, db *dynamodb.Client) float64 {
	b.Helper()
	tables := dbtest.Tables(b, db)
	defer dbtest.Drop(db, tables)
	s := store.NewConversions(db, tables.Conversions)
	ctx := context.Background()
	const workers, perWorker = 32, 100
	start := time.Now()
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := range perWorker {
				if _, err := s.ByPerson(ctx, fmt.Sprint(w, "-", i)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(b, g.Wait())
	return workers * perWorker / time.Since(start).Seconds()
}

// counting is db with every request counted in calls, and by operation in ops.
func counting(db *dynamodb.Client, calls *atomic.Int64, ops *sync.Map) *dynamodb.Client {
	return dynamodb.New(db.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("countRequests",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					calls.Add(1)
					c, _ := ops.LoadOrStore(middleware.GetOperationName(ctx), new(atomic.Int64))
					c.(*atomic.Int64).Add(1)
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	})
}

// benchN is how many conversions a stream benchmark processes (BENCH_CONVERSIONS).
func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_CONVERSIONS")); err == nil && n > 0 {
		return n
	}
	return 2_000
}

// dynaliteCPU is the CPU time dynalite (the node child of this process) has used, 0
// where /proc cannot tell: less noisy than throughput while others use the machine.
func dynaliteCPU() time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime: fields 14 and 15, counted after comm.
		end := bytes.LastIndexByte(raw, ')')
		if end < 0 || !bytes.Contains(raw[:end], []byte("(node")) {
			continue
		}
		fields := strings.Fields(string(raw[end+1:]))
		if len(fields) < 13 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	}
	return 0
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
