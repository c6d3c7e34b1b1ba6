// Package backoff is the one retry delay of the project: exponential, with "full
// jitter", so that many clients backing off together do not retry in lockstep.
package backoff

import (
	"context"
	"time"
)

// Delay is the wait before retry number attempt (1 for the first retry): jitter, a
// number in [0, 1), times min(max, base·2^(attempt-1)). A jitter of 1 gives the bound
// itself, for callers that want no randomness.
func Delay(attempt int, base, max time.Duration, jitter float64) time.Duration {
	bound := max
	if shift := attempt - 1; shift >= 0 && shift < 32 && base<<shift > 0 {
		bound = min(max, base<<shift)
	}
	return time.Duration(jitter * float64(bound))
}

// Sleep waits d, or returns ctx's error as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
