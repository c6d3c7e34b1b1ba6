package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/event"
)

// ScanIDs reads the whole events table once, in parallel segments, and calls fn (from
// several goroutines at once) with the ids of every event whose time is in [since,
// until) (a zero bound is open). Only ids are read, so the caller can then Query each
// visitor's events in time order. It is for offline operator commands that visit every
// event anyway (attribution rederive), never for a request path.
func (s *Events) ScanIDs(ctx context.Context, segments int, since, until time.Time, fn func(anonymousID, userID string)) error {
	segments = max(segments, 1)
	names := map[string]string{"#a": AttrAnonymousID, "#u": AttrUserID}
	values := map[string]types.AttributeValue{}
	var conds []string
	if !since.IsZero() {
		names["#t"] = AttrTime
		values[":since"] = &types.AttributeValueMemberS{Value: since.UTC().Format(event.TimeLayout)}
		conds = append(conds, "#t >= :since")
	}
	if !until.IsZero() {
		names["#t"] = AttrTime
		values[":until"] = &types.AttributeValueMemberS{Value: until.UTC().Format(event.TimeLayout)}
		conds = append(conds, "#t < :until")
	}
	g, ctx := errgroup.WithContext(ctx)
	for seg := range segments {
		g.Go(func() error {
			in := &dynamodb.ScanInput{
				TableName:                aws.String(s.table),
				Segment:                  aws.Int32(int32(seg)),
				TotalSegments:            aws.Int32(int32(segments)),
				ProjectionExpression:     aws.String("#a, #u"),
				ExpressionAttributeNames: names,
			}
			if len(conds) > 0 {
				in.FilterExpression = aws.String(strings.Join(conds, " AND "))
				in.ExpressionAttributeValues = values
			}
			p := dynamodb.NewScanPaginator(s.db, in)
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return fmt.Errorf("scan events segment %d: %w", seg, err)
				}
				for _, item := range page.Items {
					fn(stringAttr(item, AttrAnonymousID), stringAttr(item, AttrUserID))
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// Oldest calls fn with each stored item of src whose time is in [since, until) (a zero
// bound is open), oldest first, one Query page at a time.
func (s *Events) Oldest(ctx context.Context, src EventSource, since, until time.Time, fn func(item map[string]types.AttributeValue) error) error {
	index, attr := src.index()
	cond := "#k = :k"
	values := map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: src.ID}}
	names := map[string]string{"#k": attr}
	// A key condition takes one comparison on the sort key: an open bound is the
	// layout's own extreme.
	if !since.IsZero() || !until.IsZero() {
		lo, hi := "0000", "9999-99"
		if !since.IsZero() {
			lo = since.UTC().Format(event.TimeLayout)
		}
		if !until.IsZero() {
			hi = until.UTC().Add(-time.Millisecond).Format(event.TimeLayout)
		}
		if hi < lo {
			return nil
		}
		cond += " AND #t BETWEEN :lo AND :hi"
		names["#t"] = AttrTime
		values[":lo"] = &types.AttributeValueMemberS{Value: lo}
		values[":hi"] = &types.AttributeValueMemberS{Value: hi}
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query events of %s: %w", src.ID, err)
		}
		for _, item := range page.Items {
			if err := fn(item); err != nil {
				return err
			}
		}
	}
	return nil
}
