package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEachVisitsEveryIndexOnceWithinTheBound(t *testing.T) {
	var running, peak atomic.Int32
	seen := make([]atomic.Int32, 500)
	err := Each(context.Background(), len(seen), 7, func(_ context.Context, i int) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		seen[i].Add(1)
		running.Add(-1)
		return nil
	})
	assert.NoError(t, err)
	assert.LessOrEqual(t, peak.Load(), int32(7))
	for i := range seen {
		assert.Equal(t, int32(1), seen[i].Load(), "index %d", i)
	}
}

func TestEachStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int32
	err := Each(context.Background(), 10_000, 4, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 3 {
			return boom
		}
		<-ctx.Done()
		return nil
	})
	assert.ErrorIs(t, err, boom)
	assert.Less(t, calls.Load(), int32(100), "no more work is handed out after a failure")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, Each(ctx, 5, 2, func(context.Context, int) error { return nil }), context.Canceled)
}
