package backfill

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimiterKeepsTheAverageRate(t *testing.T) {
	l := newLimiter(1000)
	start := time.Now()
	// One second's worth goes at once; the next 500 need half a second more.
	require.NoError(t, waitN(context.Background(), l, 1500))
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, 400*time.Millisecond)
	assert.Less(t, elapsed, 5*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Error(t, waitN(ctx, l, 1000), "a cancelled wait returns")

	start = time.Now()
	require.NoError(t, waitN(context.Background(), newLimiter(0), 1_000_000))
	assert.Less(t, time.Since(start), time.Second, "0 is no limit")
}
