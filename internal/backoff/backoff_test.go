package backoff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelay(t *testing.T) {
	const base, max = 100 * time.Millisecond, 10 * time.Second
	for _, tc := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 1, 100 * time.Millisecond},
		{2, 1, 200 * time.Millisecond},
		{4, 0.5, 400 * time.Millisecond},
		{8, 1, 10 * time.Second},  // 12.8s, capped
		{64, 1, 10 * time.Second}, // no overflow
		{3, 0, 0},
	} {
		assert.Equal(t, tc.want, Delay(tc.attempt, base, max, tc.jitter), "attempt %d jitter %v", tc.attempt, tc.jitter)
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	assert.ErrorIs(t, Sleep(ctx, time.Hour), context.Canceled)
	assert.Less(t, time.Since(start), time.Second)
	assert.NoError(t, Sleep(context.Background(), time.Millisecond))
}
