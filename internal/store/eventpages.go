package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/attribution-dev/attribution/internal/event"
)

// EventSource is one index partition of the events table: a userId's events or an
// anonymousId's events.
type EventSource struct {
	// ByUser selects the byUserId index; otherwise byAnonymousId.
	ByUser bool
	ID     string
}

// Matches reports whether ev is in the source's partition.
func (src EventSource) Matches(ev event.Event) bool {
	if src.ByUser {
		return ev.UserID == src.ID
	}
	return ev.AnonymousID == src.ID
}

func (src EventSource) index() (index, attr string) {
	if src.ByUser {
		return IndexByUserID, AttrUserID
	}
	return IndexByAnonymousID, AttrAnonymousID
}

// EventPosition is where a reader stopped in a source: the last event it consumed.
type EventPosition struct {
	Time      time.Time
	MessageID string
}

// Newest returns up to limit events of src, newest first, starting after position
// after (nil: from the newest). keep, when set, drops events the caller does not want;
// dropped events do not count against limit. The result is shorter than limit only when
// the source has no more events.
func (s *Events) Newest(ctx context.Context, src EventSource, after *EventPosition, limit int, keep func(event.Event) bool) ([]event.Event, error) {
	index, attr := src.index()
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#k = :k"),
		ExpressionAttributeNames:  map[string]string{"#k": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: src.ID}},
		ScanIndexForward:          aws.Bool(false),
	}
	if after != nil {
		// A GSI's LastEvaluatedKey is the table key plus the index key: rebuilt from the
		// position, so a caller can never point the query outside src's partition.
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			AttrMessageID: &types.AttributeValueMemberS{Value: after.MessageID},
			attr:          &types.AttributeValueMemberS{Value: src.ID},
			AttrTime:      &types.AttributeValueMemberS{Value: after.Time.UTC().Format(event.TimeLayout)},
		}
	}
	var out []event.Event
	for len(out) < limit {
		in.Limit = aws.Int32(int32(min(limit-len(out), 1000)))
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query events of %s: %w", src.ID, err)
		}
		for _, item := range page.Items {
			ev, err := EventFromItem(item)
			if err != nil {
				return nil, err
			}
			if keep == nil || keep(ev) {
				out = append(out, ev)
			}
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out, nil
}
