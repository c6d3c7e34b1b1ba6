package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/source"
)

// Attributes of a touch item beyond its keys.
const (
	AttrDescription = "description"
	AttrTimestamp   = "timestamp"
)

// Touches stores touches: one item per (visitor, time, messageId).
type Touches struct {
	db    *dynamodb.Client
	table string
	// Retention, when set, gives each touch a TTL counted from the touch's own time.
	Retention time.Duration
}

// NewTouches returns the repository for the touches table.
func NewTouches(db *dynamodb.Client, table string) *Touches {
	return &Touches{db: db, table: table}
}

// Table is the touches table's name.
func (s *Touches) Table() string { return s.table }

// VisitorID is the partition key of a person's touches: the anonymousId, or the userId
// for server-side page calls that carry no anonymousId. The prefix keeps a userId from
// ever colliding with an anonymousId of the same text.
func VisitorID(anonymousID, userID string) string {
	if anonymousID != "" {
		return anonymousID
	}
	return "user:" + userID
}

// TouchKey sorts a visitor's touches by time; the messageId makes it unique and
// makes writing the same touch twice overwrite it with itself.
func TouchKey(ts time.Time, messageID string) string {
	return ts.UTC().Format(event.TimeLayout) + "#" + messageID
}

// Put stores t. Storing the same touch again writes an identical item: idempotent.
func (s *Touches) Put(ctx context.Context, t attribution.Touch) error {
	item, err := s.item(t)
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("put touch %s: %w", t.MessageID, err)
	}
	return nil
}

func (s *Touches) item(t attribution.Touch) (map[string]types.AttributeValue, error) {
	desc, err := attributevalue.MarshalWithOptions(t.Description, func(o *attributevalue.EncoderOptions) {
		o.TagKey = "json"
	})
	if err != nil {
		return nil, fmt.Errorf("marshal touch %s description: %w", t.MessageID, err)
	}
	item := map[string]types.AttributeValue{
		AttrVisitorID:   &types.AttributeValueMemberS{Value: VisitorID(t.AnonymousID, t.UserID)},
		AttrTouchKey:    &types.AttributeValueMemberS{Value: TouchKey(t.Timestamp, t.MessageID)},
		AttrMessageID:   &types.AttributeValueMemberS{Value: t.MessageID},
		AttrTimestamp:   &types.AttributeValueMemberS{Value: t.Timestamp.UTC().Format(event.TimeLayout)},
		AttrDescription: desc,
	}
	for name, v := range map[string]string{AttrAnonymousID: t.AnonymousID, AttrUserID: t.UserID, AttrURL: t.URL, AttrReferrer: t.Referrer} {
		if v != "" {
			item[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	if s.Retention > 0 {
		item[AttrExpiresAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Timestamp.Add(s.Retention).Unix(), 10)}
	}
	return item, nil
}

// TouchFromItem reads a stored touch.
func TouchFromItem(item map[string]types.AttributeValue) (attribution.Touch, error) {
	t := attribution.Touch{
		MessageID:   stringAttr(item, AttrMessageID),
		AnonymousID: stringAttr(item, AttrAnonymousID),
		UserID:      stringAttr(item, AttrUserID),
		URL:         stringAttr(item, AttrURL),
		Referrer:    stringAttr(item, AttrReferrer),
	}
	ts, err := time.Parse(event.TimeLayout, stringAttr(item, AttrTimestamp))
	if err != nil {
		return attribution.Touch{}, fmt.Errorf("touch %s: bad timestamp: %w", t.MessageID, err)
	}
	t.Timestamp = ts
	if av, ok := item[AttrDescription]; ok {
		var d source.Description
		if err := attributevalue.UnmarshalWithOptions(av, &d, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
			return attribution.Touch{}, fmt.Errorf("touch %s: bad description: %w", t.MessageID, err)
		}
		t.Description = d
	}
	return t, nil
}

// ByVisitor returns every touch of a visitor, oldest first.
func (s *Touches) ByVisitor(ctx context.Context, visitorID string) ([]attribution.Touch, error) {
	return s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": AttrVisitorID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: visitorID}},
	}, 0)
}

// ByUser returns the touches whose page events carried userId, oldest first. Touches
// of the user's anonymous ids before they identified are found through identities.
func (s *Touches) ByUser(ctx context.Context, userID string) ([]attribution.Touch, error) {
	return s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByUserID),
		KeyConditionExpression:    aws.String("#u = :u"),
		ExpressionAttributeNames:  map[string]string{"#u": AttrUserID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
	}, 0)
}

// LatestBefore returns the visitor's latest touch strictly before (ts, messageID), or
// nil when there is none. Reading "before" rather than "latest" keeps the decision the
// same when a record is redelivered or arrives late.
func (s *Touches) LatestBefore(ctx context.Context, visitorID string, ts time.Time, messageID string) (*attribution.Touch, error) {
	touches, err := s.query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#v = :v AND #k < :k"),
		ExpressionAttributeNames: map[string]string{"#v": AttrVisitorID, "#k": AttrTouchKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v": &types.AttributeValueMemberS{Value: visitorID},
			":k": &types.AttributeValueMemberS{Value: TouchKey(ts, messageID)},
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(1),
	}, 1)
	if err != nil || len(touches) == 0 {
		return nil, err
	}
	return &touches[0], nil
}

// query pages through a Query; max > 0 stops after that many items.
func (s *Touches) query(ctx context.Context, in *dynamodb.QueryInput, max int) ([]attribution.Touch, error) {
	var out []attribution.Touch
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query touches: %w", err)
		}
		for _, item := range page.Items {
			t, err := TouchFromItem(item)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
			if max > 0 && len(out) >= max {
				return out, nil
			}
		}
	}
	return out, nil
}

// PeopleInWindow reads the whole table once, in parallel segments, and returns the
// userIds of the touches with since ≤ timestamp < until (zero: unbounded), and the
// anonymousIds of those that carry no userId. Like the scans in scan.go, it is for a
// batch job (attribution backfill) that visits every touch anyway, never for a request
// path.
func (s *Touches) PeopleInWindow(ctx context.Context, since, until time.Time) (userIDs, anonymousIDs []string, err error) {
	const segments = 4
	var (
		mu    sync.Mutex
		users = map[string]bool{}
		anons = map[string]bool{}
	)
	g, ctx := errgroup.WithContext(ctx)
	for seg := range segments {
		g.Go(func() error {
			in := &dynamodb.ScanInput{
				TableName:                aws.String(s.table),
				Segment:                  aws.Int32(int32(seg)),
				TotalSegments:            aws.Int32(segments),
				ProjectionExpression:     aws.String("#a, #u, #t"),
				ExpressionAttributeNames: map[string]string{"#a": AttrAnonymousID, "#u": AttrUserID, "#t": AttrTimestamp},
			}
			if filter, values := windowFilter(since, until); filter != "" {
				in.FilterExpression, in.ExpressionAttributeValues = aws.String(filter), values
			}
			p := dynamodb.NewScanPaginator(s.db, in)
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return fmt.Errorf("scan touches segment %d: %w", seg, err)
				}
				mu.Lock()
				for _, item := range page.Items {
					if u := stringAttr(item, AttrUserID); u != "" {
						users[u] = true
					} else if a := stringAttr(item, AttrAnonymousID); a != "" {
						anons[a] = true
					}
				}
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return slices.Collect(maps.Keys(users)), slices.Collect(maps.Keys(anons)), nil
}

// windowFilter is the Scan filter on touch time for PeopleInWindow.
func windowFilter(since, until time.Time) (string, map[string]types.AttributeValue) {
	values := map[string]types.AttributeValue{}
	var conds []string
	if !since.IsZero() {
		values[":since"] = &types.AttributeValueMemberS{Value: since.UTC().Format(event.TimeLayout)}
		conds = append(conds, "#t >= :since")
	}
	if !until.IsZero() {
		values[":until"] = &types.AttributeValueMemberS{Value: until.UTC().Format(event.TimeLayout)}
		conds = append(conds, "#t < :until")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return strings.Join(conds, " AND "), values
}

// VisitorRefs returns the keys of every touch of a visitor (table key).
func (s *Touches) VisitorRefs(ctx context.Context, visitorID string) ([]TouchRef, error) {
	return s.refs(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#v = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: visitorID}},
		ExpressionAttributeNames:  map[string]string{"#v": AttrVisitorID, "#k": AttrTouchKey},
		ProjectionExpression:      aws.String("#v, #k"),
	})
}

// UserRefs returns the keys of every touch whose page event carried userID (byUserId index).
func (s *Touches) UserRefs(ctx context.Context, userID string) ([]TouchRef, error) {
	return s.refs(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByUserID),
		KeyConditionExpression:    aws.String("#u = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
		ExpressionAttributeNames:  map[string]string{"#u": AttrUserID, "#v": AttrVisitorID, "#k": AttrTouchKey},
		ProjectionExpression:      aws.String("#v, #k"),
	})
}

func (s *Touches) refs(ctx context.Context, in *dynamodb.QueryInput) ([]TouchRef, error) {
	items, err := queryKeys(ctx, s.db, in)
	if err != nil {
		return nil, fmt.Errorf("list touches in %s: %w", s.table, err)
	}
	out := make([]TouchRef, 0, len(items))
	for _, it := range items {
		out = append(out, TouchRef{VisitorID: stringAttr(it, AttrVisitorID), TouchKey: stringAttr(it, AttrTouchKey)})
	}
	return out, nil
}

// Delete removes the touches with these keys and returns how many keys it deleted.
func (s *Touches) Delete(ctx context.Context, refs []TouchRef) (int, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(refs))
	for _, r := range refs {
		keys = append(keys, map[string]types.AttributeValue{
			AttrVisitorID: &types.AttributeValueMemberS{Value: r.VisitorID},
			AttrTouchKey:  &types.AttributeValueMemberS{Value: r.TouchKey},
		})
	}
	return deleteKeys(ctx, s.db, s.table, keys)
}
