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
	ev := event.Event{
		MessageID:       stringAttr(item, AttrMessageID),
		Type:            stringAttr(item, AttrType),
		AnonymousID:     stringAttr(item, AttrAnonymousID),
		UserID:          stringAttr(item, AttrUserID),
		PreviousID:      stringAttr(item, AttrPreviousID),
		GroupID:         stringAttr(item, AttrGroupID),
		Name:            stringAttr(item, AttrName),
		URL:             stringAttr(item, AttrURL),
		Referrer:        stringAttr(item, AttrReferrer),
		TimestampSource: stringAttr(item, AttrTimestampSource),
		Raw:             []byte(stringAttr(item, AttrRaw)),
	}
	if v, ok := item[AttrDerivedID].(*types.AttributeValueMemberBOOL); ok {
		ev.DerivedMessageID = v.Value
	}
	if ev.MessageID == "" || ev.Type == "" {
		return event.Event{}, errors.New("event item has no messageId or type")
	}
	t, err := time.Parse(event.TimeLayout, stringAttr(item, AttrTime))
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

// stringAttr is the item's string attribute name, or "" when it is missing or not a
// string: every item reader in store reads strings this way. A hand reader, not
// attributevalue's reflection, because event and touch items are read on every stream
// record and every query.
func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// MessageIDs returns the messageIds of every event in src's index partition.
func (s *Events) MessageIDs(ctx context.Context, src EventSource) ([]string, error) {
	index, attr := src.index()
	items, err := queryKeys(ctx, s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#k = :k"),
		ProjectionExpression:      aws.String("#id"),
		ExpressionAttributeNames:  map[string]string{"#k": attr, "#id": AttrMessageID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: src.ID}},
	})
	if err != nil {
		return nil, fmt.Errorf("list events by %s in %s: %w", index, s.table, err)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, stringAttr(it, AttrMessageID))
	}
	return out, nil
}

// Delete removes the events with these messageIds and returns how many keys it deleted.
func (s *Events) Delete(ctx context.Context, messageIDs []string) (int, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(messageIDs))
	for _, id := range messageIDs {
		keys = append(keys, map[string]types.AttributeValue{AttrMessageID: &types.AttributeValueMemberS{Value: id}})
	}
	return deleteKeys(ctx, s.db, s.table, keys)
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
