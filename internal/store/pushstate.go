package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/attribution-dev/attribution/internal/event"
)

// ReservedPrefix starts the sort key (anonymousId) of every identities-table item that
// is not an identity link: per-user state kept in the user's own partition, so no table
// schema changes. Identities.ByUser and ByAnonymous leave such items out, and Put
// refuses a link whose anonymousId starts with it, so an identify event cannot
// overwrite them. Segment's anonymous ids are UUIDs or similar; none starts with '#'.
const ReservedPrefix = "#"

// Reserved reports whether anonymousID is a reserved sort key rather than an anonymous id.
func Reserved(anonymousID string) bool { return strings.HasPrefix(anonymousID, ReservedPrefix) }

// pushStateKeyPrefix starts the sort key of a user's real-time attribution state.
const pushStateKeyPrefix = ReservedPrefix + "attribution:"

// Attributes of a push state item.
const (
	AttrLastTouch = "lastTouch"
	AttrTouches   = "touches"
	AttrSentAt    = "sentAt"
)

// PushStateKey is the sort key of userID's push state: the reserved prefix and a hash
// of the userId. A constant sort key would put every user's state into one partition
// of the byAnonymousId index (its hash key is the sort key), a hot partition that
// throttles the index and through it the table; the hash spreads them and keeps the key
// short whatever the userId's length.
func PushStateKey(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return pushStateKeyPrefix + hex.EncodeToString(sum[:16])
}

// ErrNoPushState reports that nothing was ever pushed for a user.
var ErrNoPushState = errors.New("no push state")

// PushState is what real-time attribution last sent to Segment for a user and Segment
// acknowledged: the identify's messageId (a hash of userId and traits, so equal ids mean
// equal traits) and the version of the touches it summarised.
type PushState struct {
	UserID    string
	MessageID string
	// LastTouch and Touches version the state: the time of the traits' last touch and
	// how many touches they summarised. A state is newer when its last touch is later,
	// or equal with at least as many touches (touches only accumulate, except by
	// retention and erasure, which drops the state too).
	LastTouch time.Time
	Touches   int
	SentAt    time.Time
}

// PushStates stores each user's PushState in the identities table, as an item in the
// user's partition under PushStateKey.
type PushStates struct {
	db    *dynamodb.Client
	table string
}

// NewPushStates returns the repository over the identities table.
func NewPushStates(db *dynamodb.Client, table string) *PushStates {
	return &PushStates{db: db, table: table}
}

func (s *PushStates) key(userID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrUserID:      &types.AttributeValueMemberS{Value: userID},
		AttrAnonymousID: &types.AttributeValueMemberS{Value: PushStateKey(userID)},
	}
}

// Get returns userID's state, ErrNoPushState when there is none. The read is strongly
// consistent: a redelivered record must see the state its first delivery wrote.
func (s *PushStates) Get(ctx context.Context, userID string) (PushState, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            s.key(userID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return PushState{}, fmt.Errorf("get push state of %s: %w", userID, err)
	}
	if len(out.Item) == 0 {
		return PushState{}, ErrNoPushState
	}
	st := PushState{UserID: userID, MessageID: stringAttr(out.Item, AttrMessageID)}
	if st.LastTouch, err = time.Parse(event.TimeLayout, stringAttr(out.Item, AttrLastTouch)); err != nil {
		return PushState{}, fmt.Errorf("push state of %s: bad %s: %w", userID, AttrLastTouch, err)
	}
	if n, ok := out.Item[AttrTouches].(*types.AttributeValueMemberN); ok {
		if st.Touches, err = strconv.Atoi(n.Value); err != nil {
			return PushState{}, fmt.Errorf("push state of %s: bad %s: %w", userID, AttrTouches, err)
		}
	}
	if at := stringAttr(out.Item, AttrSentAt); at != "" {
		st.SentAt, _ = time.Parse(event.TimeLayout, at)
	}
	return st, nil
}

// Put records st unless a newer state is stored (see PushState): concurrent pushes for
// one user never move it backwards. It reports whether st was written; false with a
// nil error means a newer state won, which is not a failure.
func (s *PushStates) Put(ctx context.Context, st PushState) (bool, error) {
	if st.UserID == "" || st.MessageID == "" || st.LastTouch.IsZero() {
		return false, fmt.Errorf("put push state of %q: userId, messageId and last touch are required", st.UserID)
	}
	item := s.key(st.UserID)
	item[AttrMessageID] = &types.AttributeValueMemberS{Value: st.MessageID}
	item[AttrLastTouch] = &types.AttributeValueMemberS{Value: st.LastTouch.UTC().Format(event.TimeLayout)}
	item[AttrTouches] = &types.AttributeValueMemberN{Value: strconv.Itoa(st.Touches)}
	if !st.SentAt.IsZero() {
		item[AttrSentAt] = &types.AttributeValueMemberS{Value: st.SentAt.UTC().Format(event.TimeLayout)}
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(#last) OR #last < :last OR (#last = :last AND #n <= :n)"),
		ExpressionAttributeNames: map[string]string{
			"#last": AttrLastTouch, "#n": AttrTouches,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":last": item[AttrLastTouch], ":n": item[AttrTouches],
		},
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("put push state of %s: %w", st.UserID, err)
	}
	return true, nil
}

// Delete removes userID's state (erasure); deleting a missing state is not an error.
func (s *PushStates) Delete(ctx context.Context, userID string) error {
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: s.key(userID)}); err != nil {
		return fmt.Errorf("delete push state of %s: %w", userID, err)
	}
	return nil
}
