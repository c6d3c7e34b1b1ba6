package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/attribution-dev/attribution/internal/event"
)

// Attributes of an event item beyond its keys. Raw keeps the complete original JSON.
const (
	AttrType            = "type"
	AttrName            = "name"
	AttrPreviousID      = "previousId"
	AttrGroupID         = "groupId"
	AttrURL             = "url"
	AttrReferrer        = "referrer"
	AttrRaw             = "raw"
	AttrTimestampSource = "timestampSource"
	AttrDerivedID       = "derivedMessageId"
)

// Events is the raw event store: one item per messageId, written once.
type Events struct {
	db    *dynamodb.Client
	table string
	// Retention, when set, gives each item a TTL counted from the event's own time, so
	// that writing the same event again produces the same item (and no stream record).
	Retention time.Duration
}

// NewEvents returns the repository for the events table.
func NewEvents(db *dynamodb.Client, table string) *Events {
	return &Events{db: db, table: table}
}

// Table is the events table's name.
func (s *Events) Table() string { return s.table }

// Put stores ev unless an event with its messageId is already stored. It reports
// whether this call stored it; a duplicate is not an error. The check and the write are
// one conditional request, so concurrent deliveries of the same event store it once.
func (s *Events) Put(ctx context.Context, ev event.Event) (bool, error) {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                EventItem(ev, s.Retention),
		ConditionExpression: aws.String("attribute_not_exists(" + AttrMessageID + ")"),
	})
	var exists *types.ConditionalCheckFailedException
	if errors.As(err, &exists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("put event %s: %w", ev.MessageID, err)
	}
	return true, nil
}

// ErrNoEvent reports that no event is stored under a messageId.
var ErrNoEvent = errors.New("no such event")

// Item returns the stored item of messageID, read consistently (ErrNoEvent when none):
// after a conditional Put found a duplicate, the item that is stored, which is not
// necessarily the one that was offered.
func (s *Events) Item(ctx context.Context, messageID string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{AttrMessageID: &types.AttributeValueMemberS{Value: messageID}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", messageID, err)
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("get event %s: %w", messageID, ErrNoEvent)
	}
	return out.Item, nil
}

// ErrItemTooLarge means an event, as stored, would exceed DynamoDB's item size limit. No
// retry can store it, so callers refuse it like any other invalid event.
var ErrItemTooLarge = errors.New("event too large to store")

// CheckItemSize reports ErrItemTooLarge, naming the event, when item is over the limit.
func CheckItemSize(messageID string, item map[string]types.AttributeValue) error {
	if size := ItemSize(item); size > MaxItemSize {
		return fmt.Errorf("%w: event %s is %d bytes as an item; DynamoDB stores at most %d (400 KB)",
			ErrItemTooLarge, messageID, size, MaxItemSize)
	}
	return nil
}

// CheckSize reports ErrItemTooLarge when ev cannot be stored as one item. Nearly every
// event is far below the limit, which a sum of its variable-length fields proves without
// building the item (a copy of the raw JSON) a second time.
func (s *Events) CheckSize(ev event.Event) error {
	// Attribute names and the short fixed-size values (type, time, timestamp source,
	// flags, expiry) take well under 1 KB.
	const fixed = 1024
	bound := fixed + len(ev.Raw) + len(ev.MessageID) + len(ev.AnonymousID) + len(ev.UserID) +
		len(ev.Name) + len(ev.PreviousID) + len(ev.GroupID) + len(ev.URL) + len(ev.Referrer)
	if bound <= MaxItemSize {
		return nil
	}
	return CheckItemSize(ev.MessageID, EventItem(ev, s.Retention))
}

// EventItem is the stored form of an event. It depends only on the event (and the
// retention), never on when it was received, so replays write identical items.
func EventItem(ev event.Event, retention time.Duration) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		AttrMessageID:       &types.AttributeValueMemberS{Value: ev.MessageID},
		AttrType:            &types.AttributeValueMemberS{Value: ev.Type},
		AttrTime:            &types.AttributeValueMemberS{Value: ev.Time()},
		AttrTimestampSource: &types.AttributeValueMemberS{Value: ev.TimestampSource},
		AttrRaw:             &types.AttributeValueMemberS{Value: string(ev.Raw)},
	}
	// Index keys may not be empty strings; absent attributes keep items out of sparse indexes.
	for name, v := range map[string]string{
		AttrAnonymousID: ev.AnonymousID,
		AttrUserID:      ev.UserID,
		AttrName:        ev.Name,
		AttrPreviousID:  ev.PreviousID,
		AttrGroupID:     ev.GroupID,
		AttrURL:         ev.URL,
		AttrReferrer:    ev.Referrer,
	} {
		if v != "" {
			item[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	if ev.DerivedMessageID {
		item[AttrDerivedID] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if retention > 0 {
		expires := ev.Timestamp.Add(retention).Unix()
		item[AttrExpiresAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(expires, 10)}
	}
	return item
}

// EventFromItem reads an event item back, as stored or as a stream's NEW_IMAGE.
func EventFromItem(item map[string]types.AttributeValue) (event.Event, error) {
	str := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	ev := event.Event{
		MessageID:       str(AttrMessageID),
		Type:            str(AttrType),
		AnonymousID:     str(AttrAnonymousID),
		UserID:          str(AttrUserID),
		PreviousID:      str(AttrPreviousID),
		GroupID:         str(AttrGroupID),
		Name:            str(AttrName),
		URL:             str(AttrURL),
		Referrer:        str(AttrReferrer),
		TimestampSource: str(AttrTimestampSource),
		Raw:             []byte(str(AttrRaw)),
	}
	if v, ok := item[AttrDerivedID].(*types.AttributeValueMemberBOOL); ok {
		ev.DerivedMessageID = v.Value
	}
	if ev.MessageID == "" || ev.Type == "" {
		return event.Event{}, errors.New("event item has no messageId or type")
	}
	t, err := time.Parse(event.TimeLayout, str(AttrTime))
	if err != nil {
		return event.Event{}, fmt.Errorf("event item %s: bad %s: %w", ev.MessageID, AttrTime, err)
	}
	ev.Timestamp = t
	return ev, nil
}

// PreviousPageView returns the time of the visitor's latest page view strictly before
// (ts, messageID) and no earlier than since, and whether there is one. It reads the
// events index rather than any mutable state, so the answer is the same on redelivery
// and for late arrivals. The lower bound keeps the read proportional to the visitor's
// recent activity: without it, a first page view after years of track events would
// page back through all of them, 25 filtered items at a time.
func (s *Events) PreviousPageView(ctx context.Context, anonymousID, userID string, ts, since time.Time, messageID string) (time.Time, bool, error) {
	index, keyAttr, key := IndexByAnonymousID, AttrAnonymousID, anonymousID
	if anonymousID == "" {
		index, keyAttr, key = IndexByUserID, AttrUserID, userID
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		IndexName:              aws.String(index),
		KeyConditionExpression: aws.String("#k = :k AND #t BETWEEN :since AND :t"),
		FilterExpression:       aws.String("#type = :page AND #id <> :id"),
		ExpressionAttributeNames: map[string]string{
			"#k": keyAttr, "#t": AttrTime, "#type": AttrType, "#id": AttrMessageID,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":k":     &types.AttributeValueMemberS{Value: key},
			":t":     &types.AttributeValueMemberS{Value: ts.UTC().Format(event.TimeLayout)},
			":since": &types.AttributeValueMemberS{Value: since.UTC().Format(event.TimeLayout)},
			":page":  &types.AttributeValueMemberS{Value: event.TypePage},
			":id":    &types.AttributeValueMemberS{Value: messageID},
		},
		ProjectionExpression: aws.String("#t, #id"),
		ScanIndexForward:     aws.Bool(false),
		Limit:                aws.Int32(25),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("query previous page view of %s: %w", key, err)
		}
		for _, item := range page.Items {
			prev, err := time.Parse(event.TimeLayout, stringAttr(item, AttrTime))
			if err != nil {
				continue
			}
			// Two page views in the same millisecond: order them by messageId, as touches are.
			if prev.Equal(ts) && stringAttr(item, AttrMessageID) > messageID {
				continue
			}
			return prev, true, nil
		}
	}
	return time.Time{}, false, nil
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
