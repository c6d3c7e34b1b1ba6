package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/event"
)

// Tombstones remember who was erased, so that events arriving later for them (Segment
// retries, archives imported afterwards) are dropped and nothing is sent to Segment for
// them again.
//
// A tombstone holds no personal data in clear: its key is TombstoneKey(id), a SHA-256
// of the id under a domain prefix, and its only other attribute is when it was written.
// Tombstones live in the identities table, with both key attributes set to the hash
// (so each has its own byAnonymousId index partition); the "#" prefix makes them
// Reserved, which every identities reader skips. They never expire.
//
// User ids and anonymous ids share one namespace: an alias's previousId may be either,
// and the resolver reads it as both. An anonymous id that happens to equal an erased
// userId is therefore suppressed too, which errs on the side of forgetting.
type Tombstones struct {
	db    *dynamodb.Client
	table string
	// Now stamps erasedAt; time.Now when nil.
	Now func() time.Time
}

// tombstonePrefix starts every tombstone key; tombstoneDomain separates these hashes
// from any other SHA-256 of the same ids.
const (
	tombstonePrefix = "#erased#"
	tombstoneDomain = "attribution/erased/v1\x00"
	// AttrErasedAt is when a tombstone was written (RFC 3339, UTC).
	AttrErasedAt = "erasedAt"
	// tombstoneGetBatch is BatchGetItem's limit on keys per call.
	tombstoneGetBatch = 100
	// tombstoneGetWorkers bounds the BatchGetItem calls in flight for one check.
	tombstoneGetWorkers = 8
)

// TombstoneKey is the hashed key recording that id was erased.
func TombstoneKey(id string) string {
	sum := sha256.Sum256([]byte(tombstoneDomain + id))
	return tombstonePrefix + hex.EncodeToString(sum[:])
}

// IsTombstone reports whether an identities key is a tombstone's.
func IsTombstone(key string) bool { return strings.HasPrefix(key, tombstonePrefix) }

// IDHash is a short form of TombstoneKey for logs: enough to correlate an erasure's log
// lines with its tombstone, without the id.
func IDHash(id string) string { return TombstoneKey(id)[len(tombstonePrefix):][:16] }

// NewTombstones returns the tombstones kept in the identities table.
func NewTombstones(db *dynamodb.Client, identitiesTable string) *Tombstones {
	return &Tombstones{db: db, table: identitiesTable}
}

func (t *Tombstones) key(id string) map[string]types.AttributeValue {
	k := TombstoneKey(id)
	return map[string]types.AttributeValue{
		AttrUserID:      &types.AttributeValueMemberS{Value: k},
		AttrAnonymousID: &types.AttributeValueMemberS{Value: k},
	}
}

// Erase writes a tombstone for each id. Writing one again only moves erasedAt.
func (t *Tombstones) Erase(ctx context.Context, ids ...string) error {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	at := &types.AttributeValueMemberS{Value: now().UTC().Format(time.RFC3339)}
	var reqs []types.WriteRequest
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		item := t.key(id)
		item[AttrErasedAt] = at
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	for start := 0; start < len(reqs); start += deleteBatchSize {
		if err := writeBatch(ctx, t.db, t.table, reqs[start:min(start+deleteBatchSize, len(reqs))]); err != nil {
			return fmt.Errorf("write %d tombstones: %w", len(reqs), err)
		}
	}
	return nil
}

// Erased reports which of ids have a tombstone: m[id] is true for those. It reads with
// strongly consistent BatchGetItem calls of up to 100 keys, so an erasure is seen by
// the very next check, and retries what DynamoDB leaves unprocessed.
func (t *Tombstones) Erased(ctx context.Context, ids ...string) (map[string]bool, error) {
	byKey := map[string]string{}
	var keys []map[string]types.AttributeValue
	for _, id := range ids {
		if id == "" {
			continue
		}
		k := TombstoneKey(id)
		if _, dup := byKey[k]; dup {
			continue
		}
		byKey[k] = id
		keys = append(keys, t.key(id))
	}
	erased := map[string]bool{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(tombstoneGetWorkers)
	for start := 0; start < len(keys); start += tombstoneGetBatch {
		chunk := keys[start:min(start+tombstoneGetBatch, len(keys))]
		g.Go(func() error {
			return t.get(gctx, chunk, func(key string) {
				mu.Lock()
				erased[byKey[key]] = true
				mu.Unlock()
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("check %d ids for tombstones: %w", len(keys), err)
	}
	return erased, nil
}

func (t *Tombstones) get(ctx context.Context, keys []map[string]types.AttributeValue, found func(key string)) error {
	pending := map[string]types.KeysAndAttributes{t.table: {
		Keys:                     keys,
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#u"),
		ExpressionAttributeNames: map[string]string{"#u": AttrUserID},
	}}
	for attempt := 1; ; attempt++ {
		out, err := t.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("batch get: %w", err)
		}
		for _, item := range out.Responses[t.table] {
			found(stringAttr(item, AttrUserID))
		}
		left, ok := out.UnprocessedKeys[t.table]
		if !ok || len(left.Keys) == 0 {
			return nil
		}
		if attempt >= deleteAttempts {
			return fmt.Errorf("batch get: %d keys still unprocessed after %d attempts", len(left.Keys), attempt)
		}
		pending = out.UnprocessedKeys
		if err := defaultBackoff.wait(ctx, attempt); err != nil {
			return err
		}
	}
}

// IsErased reports whether id (a userId or an anonymousId) was erased. Its shape is
// the real-time pusher's Suppressed hook and the trigger's.
func (t *Tombstones) IsErased(ctx context.Context, id string) (bool, error) {
	m, err := t.Erased(ctx, id)
	if err != nil {
		return false, err
	}
	return m[id], nil
}

// EventIDs are the person ids an event carries: userId, anonymousId and, for an alias,
// previousId. An event is suppressed when any of them was erased.
func EventIDs(ev event.Event) []string {
	var ids []string
	for _, id := range []string{ev.UserID, ev.AnonymousID, ev.PreviousID} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// EventsErased reports, per event, whether it belongs to an erased person, with one
// Erased call for all the distinct ids of evs (one BatchGetItem per 100 ids). The
// webhook calls it once per body, the importer once per chunk and the stream consumers
// once per batch.
func (t *Tombstones) EventsErased(ctx context.Context, evs []event.Event) ([]bool, error) {
	var ids []string
	for _, ev := range evs {
		ids = append(ids, EventIDs(ev)...)
	}
	erased, err := t.Erased(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(evs))
	for i, ev := range evs {
		for _, id := range EventIDs(ev) {
			if erased[id] {
				out[i] = true
				break
			}
		}
	}
	return out, nil
}
