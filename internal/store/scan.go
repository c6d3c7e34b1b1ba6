package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/attribution"
)

// Scans are for scheduled and operator jobs that visit a whole table anyway (the
// data-driven models' precomputation); no request path calls them.

// DefaultScanSegments is how many parallel scan segments a job uses when it does not
// say: enough to keep a Lambda's network busy, few enough to leave the table's capacity
// to the webhook.
const DefaultScanSegments = 8

// scan pages through the table with a parallel Scan of segments segments, decoding each
// item with decode in its segment's goroutine (decoding is most of the CPU work) and
// handing the results to each, whose calls are serialised so it needs no locking. A
// decode that reports skip=true drops the item. The first error stops every segment.
func scan[T any](ctx context.Context, db *dynamodb.Client, in dynamodb.ScanInput, segments int,
	decode func(map[string]types.AttributeValue) (v T, skip bool, err error), each func(T) error) error {
	segments = max(1, segments)
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	for seg := range segments {
		g.Go(func() error {
			in := in
			in.Segment, in.TotalSegments = aws.Int32(int32(seg)), aws.Int32(int32(segments))
			p := dynamodb.NewScanPaginator(db, &in)
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return fmt.Errorf("scan %s segment %d: %w", aws.ToString(in.TableName), seg, err)
				}
				decoded := make([]T, 0, len(page.Items))
				for _, item := range page.Items {
					v, skip, err := decode(item)
					if err != nil {
						return err
					}
					if !skip {
						decoded = append(decoded, v)
					}
				}
				mu.Lock()
				for _, v := range decoded {
					if err := each(v); err != nil {
						mu.Unlock()
						return err
					}
				}
				mu.Unlock()
			}
			return nil
		})
	}
	return g.Wait()
}

// Scan calls each for every touch with since ≤ time < until (a zero bound is open),
// reading the table once with a parallel Scan. Order is unspecified.
func (s *Touches) Scan(ctx context.Context, since, until time.Time, segments int, each func(attribution.Touch) error) error {
	err := scan(ctx, s.db, s.scanInput(since, until), segments, func(item map[string]types.AttributeValue) (attribution.Touch, bool, error) {
		t, err := TouchFromItem(item)
		return t, false, err
	}, each)
	if err != nil {
		return fmt.Errorf("scan touches: %w", err)
	}
	return nil
}

// scanInput is a Scan of the touches with since ≤ time < until (a zero bound is open).
func (s *Touches) scanInput(since, until time.Time) dynamodb.ScanInput {
	in := dynamodb.ScanInput{TableName: aws.String(s.table)}
	if filter, values := windowFilter(since, until); filter != "" {
		in.FilterExpression, in.ExpressionAttributeValues = aws.String(filter), values
		in.ExpressionAttributeNames = map[string]string{"#t": AttrTimestamp}
	}
	return in
}

// ScanLinks calls each for every identity link, reading the table once with a parallel
// Scan; tombstones and per-user state are not links and are skipped.
func (s *Identities) ScanLinks(ctx context.Context, segments int, each func(Link) error) error {
	err := scan(ctx, s.db, dynamodb.ScanInput{TableName: aws.String(s.table)}, segments, func(item map[string]types.AttributeValue) (Link, bool, error) {
		if Reserved(stringAttr(item, AttrAnonymousID)) || Reserved(stringAttr(item, AttrUserID)) {
			return Link{}, true, nil
		}
		l, err := LinkFromItem(item)
		return l, false, err
	}, each)
	if err != nil {
		return fmt.Errorf("scan identity links: %w", err)
	}
	return nil
}
