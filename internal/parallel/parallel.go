// Package parallel runs a bounded number of calls at once: the one worker pool that
// the webhook's writes, erasure's deletes and the resolver's lookups share.
package parallel

import (
	"context"
	"sync"
)

// Each calls fn(ctx, i) for every i in [0, n), at most workers calls at a time. The
// first error cancels the context the other calls see, stops handing out work, and is
// returned; a cancelled parent context is returned as its error.
func Each(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return ctx.Err()
	}
	workers = max(1, min(workers, n))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		next     = make(chan int)
		errOnce  sync.Once
		firstErr error
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}
