package segment

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
)

// BenchmarkPack packs 10,000 mixed messages (some near 32 KB) and reports how many
// requests that takes against the lower bound no packing can beat.
func BenchmarkPack(b *testing.B) {
	enc := encodeAll(b, mixedMessages(10_000))
	lower := minRequests(enc)
	b.ReportAllocs()
	var batches [][]encoded
	for b.Loop() {
		batches = pack(enc)
	}
	b.ReportMetric(float64(len(batches)), "requests")
	b.ReportMetric(float64(lower), "min_requests")
}

// BenchmarkSendFake measures end-to-end throughput against the fake: encoding,
// packing, HTTP on loopback, and the fake's own decoding, 5,000 touches per Send (two requests, in flight together).
func BenchmarkSendFake(b *testing.B) {
	fake := segmenttest.NewServer(b, "key")
	c, err := New(Config{WriteKey: "key", Endpoint: fake.URL})
	require.NoError(b, err)
	msgs := tracks(5_000)
	ctx := context.Background()
	b.ReportAllocs()
	sent := 0
	for b.Loop() {
		results := c.Send(ctx, msgs)
		if err := Err(results); err != nil {
			b.Fatal(err)
		}
		sent += len(results)
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
}
