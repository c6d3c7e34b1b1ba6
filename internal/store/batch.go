package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/attribution-dev/attribution/internal/backoff"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB's batch limits.
const (
	MaxBatchWrite = 25  // items per BatchWriteItem
	MaxBatchGet   = 100 // keys per BatchGetItem
	// MaxItemSize is DynamoDB's item size limit (400 KB, attribute names included).
	MaxItemSize = 400 * 1024
)

// Backoff bounds the retries of a batch call (package backoff's delays).
//
// The SDK's standard retryer already retries every call a few times. It never sees
// UnprocessedItems or UnprocessedKeys, which come in a successful answer: retrying those
// is ours. Retryable and throttling errors that outlast the SDK's attempts are retried
// here too: the batch calls serve long jobs (an import, an erasure) that a burst of
// throttling would otherwise abort midway, and every retry here is bounded by Attempts.
type Backoff struct {
	Attempts int           // calls in total (default 8)
	Base     time.Duration // default 50ms
	Max      time.Duration // default 5s
}

// defaultBackoff paces the retries that take no Backoff from their caller (erasure,
// tombstones).
var defaultBackoff = Backoff{}.withDefaults()

func (b Backoff) withDefaults() Backoff {
	if b.Attempts <= 0 {
		b.Attempts = 8
	}
	if b.Base <= 0 {
		b.Base = 50 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Second
	}
	return b
}

// wait sleeps before attempt (1-based retries), or returns early with ctx's error.
func (b Backoff) wait(ctx context.Context, attempt int) error {
	return backoff.Sleep(ctx, backoff.Delay(attempt+1, b.Base, b.Max, rand.Float64()))
}

// ErrUnprocessed means DynamoDB still refused part of a batch after every retry.
var ErrUnprocessed = errors.New("unprocessed after retries")

var (
	retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
	throttles  = retry.IsErrorThrottles(retry.DefaultThrottles)
)

// retryable is true for throttling, 5xx and connection errors; never for a cancelled
// context or a validation error, which another attempt cannot fix.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return retryables.IsErrorRetryable(err) == aws.TrueTernary || throttles.IsErrorThrottle(err) == aws.TrueTernary
}

// ItemSize is an item's size as DynamoDB counts it against the 400 KB limit: attribute
// names plus values (UTF-8 bytes for strings; numbers counted generously as their text
// plus one byte, which only ever overestimates).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return len(t.Value)
	case *types.AttributeValueMemberN:
		return len(t.Value) + 1
	case *types.AttributeValueMemberB:
		return len(t.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range t.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range t.Value {
			n += len(s) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range t.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range t.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}
