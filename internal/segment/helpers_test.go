package segment

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// sleeps records requested waits and returns at once, so retry tests take no time.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// testClient returns a client on a fake clock and fake sleep, with zero jitter
// unless the test overrides Rand.
func testClient(t testing.TB, cfg Config) (*Client, *sleeps) {
	t.Helper()
	s := &sleeps{}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	if cfg.Sleep == nil {
		cfg.Sleep = s.sleep
	}
	if cfg.Rand == nil {
		cfg.Rand = func() float64 { return 0 }
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c, s
}

func tracks(n int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Track(fmt.Sprintf("m-%05d", i), fmt.Sprintf("user-%d", i%7), "", "Source Identified",
			map[string]any{"url": "https://example.com/?a=1&b=2"}, testNow)
	}
	return msgs
}

// mixedMessages is the packing workload: mostly small touches, some medium, and a few
// close to the 32,000-byte limit, over n/5 people so several share a request.
func mixedMessages(n int) []Message {
	r := rand.New(rand.NewPCG(1, 2))
	msgs := make([]Message, n)
	for i := range msgs {
		var pad int
		switch p := r.IntN(100); {
		case p < 80:
			pad = 50 + r.IntN(750)
		case p < 95:
			pad = 2_000 + r.IntN(8_000)
		default:
			pad = 30_000 + r.IntN(1_700)
		}
		msgs[i] = Track(fmt.Sprintf("touch-%06d", i), "", fmt.Sprintf("anon-%d", r.IntN(n/5+1)), "Source Identified",
			map[string]any{"url": "https://example.com/landing", "blob": strings.Repeat("x", pad)}, testNow)
	}
	return msgs
}

func encodeAll(t testing.TB, msgs []Message) []encoded {
	t.Helper()
	out := make([]encoded, len(msgs))
	for i, m := range msgs {
		raw, err := encode(m)
		require.NoError(t, err)
		out[i] = encoded{index: i, id: m.MessageID, key: "a:" + m.AnonymousID + "u:" + m.UserID, raw: raw}
	}
	return out
}

// Failed returns the results of messages that were not sent, in order.
func Failed(results []Result) []Result {
	var failed []Result
	for _, r := range results {
		if !r.Sent {
			failed = append(failed, r)
		}
	}
	return failed
}

// Err summarises results as one error for callers that only need to know whether
// everything was sent: nil if so, else the count and the first failure.
func Err(results []Result) error {
	failed := Failed(results)
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("segment: %d of %d messages not sent, first %q: %w",
		len(failed), len(results), failed[0].MessageID, failed[0].Err)
}

// minRequests is the lower bound no packing can beat: enough requests for the bytes
// and enough for the count. Packing tests and benchmarks compare against it.
func minRequests(msgs []encoded) int {
	if len(msgs) == 0 {
		return 0
	}
	cost := 0
	for _, m := range msgs {
		cost += len(m.raw) + 1
	}
	return max(ceilDiv(cost, batchCapacity), ceilDiv(len(msgs), MaxBatchMessages))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
