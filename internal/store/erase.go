package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/attribution-dev/attribution/internal/parallel"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Erasure reads keys with Query on a table's key or one of its indexes, projecting
// only the table key, and deletes them with BatchWriteItem. Nothing here scans.
//
// Error messages name tables and counts, never the ids being erased: the point of an
// erasure is to forget them, logs included.

// TouchRef is the key of a touch item.
type TouchRef struct {
	VisitorID string
	TouchKey  string
}

// LinkRef is the key of an identities item: a link, or a reserved item (state kept
// under a user's partition, with a sort key starting with "#").
type LinkRef struct {
	UserID      string
	AnonymousID string
	// Aliased is the link's aliased flag (an alias's previousId), false for other items.
	Aliased bool
}

// deleteBatchSize is BatchWriteItem's limit; deleteWorkers bounds the calls in flight.
const (
	deleteBatchSize = 25
	deleteWorkers   = 4
	deleteAttempts  = 10
)

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

// PartitionRefs returns the key of every item under userID's partition: its links and
// any reserved items kept there (sort keys starting with "#").
func (s *Identities) PartitionRefs(ctx context.Context, userID string) ([]LinkRef, error) {
	return s.refs(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#u = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
		ExpressionAttributeNames:  map[string]string{"#u": AttrUserID, "#a": AttrAnonymousID, "#al": AttrAliased},
		ProjectionExpression:      aws.String("#u, #a, #al"),
	})
}

// AnonymousRefs returns the key of every link naming anonymousID (byAnonymousId index):
// one per user it identified as.
func (s *Identities) AnonymousRefs(ctx context.Context, anonymousID string) ([]LinkRef, error) {
	return s.refs(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByAnonymousID),
		KeyConditionExpression:    aws.String("#a = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: anonymousID}},
		ExpressionAttributeNames:  map[string]string{"#u": AttrUserID, "#a": AttrAnonymousID, "#al": AttrAliased},
		ProjectionExpression:      aws.String("#u, #a, #al"),
	})
}

func (s *Identities) refs(ctx context.Context, in *dynamodb.QueryInput) ([]LinkRef, error) {
	items, err := queryKeys(ctx, s.db, in)
	if err != nil {
		return nil, fmt.Errorf("list identities in %s: %w", s.table, err)
	}
	out := make([]LinkRef, 0, len(items))
	for _, it := range items {
		r := LinkRef{UserID: stringAttr(it, AttrUserID), AnonymousID: stringAttr(it, AttrAnonymousID)}
		if v, ok := it[AttrAliased].(*types.AttributeValueMemberBOOL); ok {
			r.Aliased = v.Value
		}
		out = append(out, r)
	}
	return out, nil
}

// Delete removes the identities items with these keys and returns how many keys it
// deleted. Tombstones are never deleted, whatever the caller passes.
//
// The merge caps' counters first give back the slots of the links deleted: a retry
// after a failure does it again harmlessly, and a link left behind by a failure is let
// through the caps when seen again (see admit).
func (s *Identities) Delete(ctx context.Context, refs []LinkRef) (int, error) {
	if err := s.uncountLinks(ctx, refs); err != nil {
		return 0, err
	}
	keys := make([]map[string]types.AttributeValue, 0, len(refs))
	for _, r := range refs {
		if IsTombstone(r.UserID) {
			continue
		}
		keys = append(keys, map[string]types.AttributeValue{
			AttrUserID:      &types.AttributeValueMemberS{Value: r.UserID},
			AttrAnonymousID: &types.AttributeValueMemberS{Value: r.AnonymousID},
		})
	}
	return deleteKeys(ctx, s.db, s.table, keys)
}

// queryKeys pages through a Query and returns every item it yields.
func queryKeys(ctx context.Context, db *dynamodb.Client, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
	}
	return out, nil
}

// deleteKeys deletes keys from table with BatchWriteItem, 25 keys per call and a few
// calls in flight, retrying UnprocessedItems with jittered exponential backoff. Keys
// are deduplicated first (a batch may not name a key twice). It returns how many
// distinct keys were deleted; deleting a key that is already gone is not an error.
func deleteKeys(ctx context.Context, db *dynamodb.Client, table string, keys []map[string]types.AttributeValue) (int, error) {
	seen := make(map[string]bool, len(keys))
	var reqs []types.WriteRequest
	for _, k := range keys {
		id := keyString(k)
		if seen[id] {
			continue
		}
		seen[id] = true
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	if len(reqs) == 0 {
		return 0, nil
	}
	var chunks [][]types.WriteRequest
	for start := 0; start < len(reqs); start += deleteBatchSize {
		chunks = append(chunks, reqs[start:min(start+deleteBatchSize, len(reqs))])
	}

	err := parallel.Each(ctx, len(chunks), deleteWorkers, func(ctx context.Context, i int) error {
		return writeBatch(ctx, db, table, chunks[i])
	})
	if err != nil {
		return 0, fmt.Errorf("delete %d items from %s: %w", len(reqs), table, err)
	}
	return len(reqs), nil
}

// writeBatch sends one BatchWriteItem and retries what DynamoDB leaves unprocessed.
func writeBatch(ctx context.Context, db *dynamodb.Client, table string, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{table: reqs}
	for attempt := 1; ; attempt++ {
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		if len(out.UnprocessedItems[table]) == 0 {
			return nil
		}
		if attempt >= deleteAttempts {
			return fmt.Errorf("batch write: %d items still unprocessed after %d attempts", len(out.UnprocessedItems[table]), attempt)
		}
		pending = out.UnprocessedItems
		if err := defaultBackoff.wait(ctx, attempt); err != nil {
			return err
		}
	}
}

// keyString identifies a key made of string attributes, for deduplication.
func keyString(k map[string]types.AttributeValue) string {
	var b strings.Builder
	for _, name := range []string{AttrMessageID, AttrVisitorID, AttrTouchKey, AttrUserID, AttrAnonymousID} {
		if v, ok := k[name].(*types.AttributeValueMemberS); ok {
			b.WriteString(name)
			b.WriteByte(0)
			b.WriteString(v.Value)
			b.WriteByte(0)
		}
	}
	return b.String()
}
