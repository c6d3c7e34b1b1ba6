package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/attribution-dev/attribution/internal/backoff"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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

// Existing returns which of ids are stored, with one strongly consistent BatchGetItem
// per 100 ids that reads only the key. Consistency matters: the importer checks right
// after its own writes, and a stale read would count a stored event as new.
func (s *Events) Existing(ctx context.Context, ids []string, b Backoff) (map[string]bool, error) {
	b = b.withDefaults()
	found := make(map[string]bool, len(ids))
	for start := 0; start < len(ids); start += MaxBatchGet {
		keys := make([]map[string]types.AttributeValue, 0, MaxBatchGet)
		for _, id := range ids[start:min(start+MaxBatchGet, len(ids))] {
			keys = append(keys, map[string]types.AttributeValue{AttrMessageID: &types.AttributeValueMemberS{Value: id}})
		}
		req := map[string]types.KeysAndAttributes{s.table: {
			Keys:                     keys,
			ProjectionExpression:     aws.String("#id"),
			ExpressionAttributeNames: map[string]string{"#id": AttrMessageID},
			ConsistentRead:           aws.Bool(true),
		}}
		for attempt := 1; ; attempt++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				if attempt < b.Attempts && retryable(ctx, err) {
					if werr := b.wait(ctx, attempt); werr != nil {
						return nil, fmt.Errorf("batch get %d events: %w", len(keys), werr)
					}
					continue
				}
				return nil, fmt.Errorf("batch get %d events: %w", len(keys), err)
			}
			for _, item := range out.Responses[s.table] {
				found[stringAttr(item, AttrMessageID)] = true
			}
			left, ok := out.UnprocessedKeys[s.table]
			if !ok || len(left.Keys) == 0 {
				break
			}
			if attempt >= b.Attempts {
				return nil, fmt.Errorf("batch get events: %d keys %w", len(left.Keys), ErrUnprocessed)
			}
			req = out.UnprocessedKeys
			if err := b.wait(ctx, attempt); err != nil {
				return nil, fmt.Errorf("batch get events: %w", err)
			}
		}
	}
	return found, nil
}

// PutItems writes items with BatchWriteItem, 25 per call, retrying what DynamoDB leaves
// unprocessed. It is unconditional: callers check existence first (Existing) and rely on
// an identical item written again changing nothing and emitting no stream record. It
// returns how many items are known written, also on error.
func (s *Events) PutItems(ctx context.Context, items []map[string]types.AttributeValue, b Backoff) (written int, err error) {
	b = b.withDefaults()
	for start := 0; start < len(items); start += MaxBatchWrite {
		chunk := items[start:min(start+MaxBatchWrite, len(items))]
		reqs := make([]types.WriteRequest, len(chunk))
		for i, item := range chunk {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
		}
		req := map[string][]types.WriteRequest{s.table: reqs}
		for attempt := 1; ; attempt++ {
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
			if err != nil {
				if attempt < b.Attempts && retryable(ctx, err) {
					if werr := b.wait(ctx, attempt); werr != nil {
						return written, fmt.Errorf("batch write %d events: %w", len(req[s.table]), werr)
					}
					continue
				}
				return written, fmt.Errorf("batch write %d events: %w", len(req[s.table]), err)
			}
			left := out.UnprocessedItems[s.table]
			written += len(req[s.table]) - len(left)
			if len(left) == 0 {
				break
			}
			if attempt >= b.Attempts {
				return written, fmt.Errorf("batch write events: %d items %w", len(left), ErrUnprocessed)
			}
			req = out.UnprocessedItems
			if err := b.wait(ctx, attempt); err != nil {
				return written, fmt.Errorf("batch write events: %w", err)
			}
		}
	}
	return written, nil
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
