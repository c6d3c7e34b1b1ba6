package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
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

	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(deleteWorkers)
	for _, chunk := range chunks {
		g.Go(func() error { return writeBatch(ctx, db, table, chunk) })
	}
	if err := g.Wait(); err != nil {
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
