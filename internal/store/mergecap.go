package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/event"
)

// Merge caps bound how many ids one identity merges: a userId links at most
// Identities.MaxAnonymousIDsPerUser anonymous ids, an anonymousId at most
// Identities.MaxUsersPerAnonymousID users. One id sent by thousands of devices (a
// placeholder no blocklist knows) would otherwise make one person of all of them.
//
// Each capped id has a counter item in the identities table holding the set of the
// ids linked to it, as hashes: a link is admitted by one conditional UpdateItem that
// adds its hash when the set is below the cap or already holds it. Adding to a set is
// idempotent, so a redelivered link never counts twice, and the condition makes the
// check and the count one atomic step, whatever runs concurrently. A user's counter is
// a reserved item in the user's partition (erased with the user); an anonymous id's has
// both keys set to a hash of the id, in a partition of its own, like a tombstone.
// Counters hold hashes only, never ids.
//
// Links stored before the caps existed are not in the counters: such a link is let
// through when it is seen again, and the counters start from the links made since.

// Attributes of a counter item.
const (
	AttrMembers      = "members"
	AttrCapReachedAt = "capReachedAt"
)

// Prefixes of counter keys, reserved (ReservedPrefix) so no reader takes them for links.
const (
	userCounterPrefix      = ReservedPrefix + "links:"
	anonymousCounterPrefix = ReservedPrefix + "users#"
	counterDomain          = "attribution/merge-cap/v1\x00"
)

// ErrCapReached marks a link refused because one of its ids has as many links as its
// cap allows. The error is a *CapError.
var ErrCapReached = errors.New("merge cap reached")

// CapError says which id's cap refused a link, and whether this was the first refusal
// for that id, so that callers warn once per id rather than once per event.
type CapError struct {
	// Kind is "user" (the userId has MaxAnonymousIDsPerUser anonymous ids) or
	// "anonymous" (the anonymousId has MaxUsersPerAnonymousID users).
	Kind  string
	ID    string
	Cap   int
	First bool
}

func (e *CapError) Error() string {
	if e.Kind == "user" {
		return fmt.Sprintf("userId %s already links %d anonymous ids (MAX_ANONYMOUS_IDS_PER_USER)", e.ID, e.Cap)
	}
	return fmt.Sprintf("anonymousId %s already links %d users (MAX_USERS_PER_ANONYMOUS_ID)", e.ID, e.Cap)
}

func (e *CapError) Unwrap() error { return ErrCapReached }

// MergeCap is what a counter says about one id.
type MergeCap struct {
	// Linked is how many ids were counted against the cap.
	Linked int `json:"linked"`
	// Reached is true once a link was refused for this id; ReachedAt says when first.
	Reached   bool       `json:"reached"`
	ReachedAt *time.Time `json:"reachedAt,omitempty"`
}

func counterHash(id string) string {
	sum := sha256.Sum256([]byte(counterDomain + id))
	return hex.EncodeToString(sum[:16])
}

func userCounterKey(userID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrUserID:      &types.AttributeValueMemberS{Value: userID},
		AttrAnonymousID: &types.AttributeValueMemberS{Value: userCounterPrefix + counterHash(userID)},
	}
}

func anonymousCounterKey(anonymousID string) map[string]types.AttributeValue {
	k := anonymousCounterPrefix + counterHash(anonymousID)
	return map[string]types.AttributeValue{
		AttrUserID:      &types.AttributeValueMemberS{Value: k},
		AttrAnonymousID: &types.AttributeValueMemberS{Value: k},
	}
}

// admit counts l against both caps, or refuses it with a *CapError.
func (s *Identities) admit(ctx context.Context, l Link) error {
	type side struct {
		kind, id, member string
		cap              int
		key              map[string]types.AttributeValue
	}
	sides := []side{
		{"anonymous", l.AnonymousID, counterHash(l.UserID), s.MaxUsersPerAnonymousID, anonymousCounterKey(l.AnonymousID)},
		{"user", l.UserID, counterHash(l.AnonymousID), s.MaxAnonymousIDsPerUser, userCounterKey(l.UserID)},
	}
	var added []side
	for _, sd := range sides {
		if sd.cap <= 0 {
			continue
		}
		ok, err := s.count(ctx, sd.key, sd.member, sd.cap)
		if err != nil {
			return fmt.Errorf("count link %s ↔ %s: %w", l.UserID, l.AnonymousID, err)
		}
		if ok {
			added = append(added, sd)
			continue
		}
		if exists, err := s.exists(ctx, l); err != nil || exists {
			return err // a link stored before the caps: seen again, not new
		}
		// Give back what the other side counted for this link, which will not exist.
		for _, a := range added {
			if err := s.uncount(ctx, a.key, a.member); err != nil {
				return fmt.Errorf("uncount link %s ↔ %s: %w", l.UserID, l.AnonymousID, err)
			}
		}
		first, err := s.markCapReached(ctx, sd.key)
		if err != nil {
			return fmt.Errorf("mark cap of %s: %w", sd.id, err)
		}
		return &CapError{Kind: sd.kind, ID: sd.id, Cap: sd.cap, First: first}
	}
	return nil
}

// count adds member to the counter's set unless that would take it past limit; false
// means the cap refused it.
func (s *Identities) count(ctx context.Context, key map[string]types.AttributeValue, member string, limit int) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key,
		UpdateExpression:         aws.String("ADD #m :set"),
		ConditionExpression:      aws.String("attribute_not_exists(#m) OR contains(#m, :m) OR size(#m) < :cap"),
		ExpressionAttributeNames: map[string]string{"#m": AttrMembers},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":set": &types.AttributeValueMemberSS{Value: []string{member}},
			":m":   &types.AttributeValueMemberS{Value: member},
			":cap": &types.AttributeValueMemberN{Value: strconv.Itoa(limit)},
		},
	})
	if conditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// uncount removes member from the counter, if the counter exists (an UpdateItem on a
// missing item would create it).
func (s *Identities) uncount(ctx context.Context, key map[string]types.AttributeValue, member string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          aws.String("DELETE #m :set"),
		ConditionExpression:       aws.String("attribute_exists(#m)"),
		ExpressionAttributeNames:  map[string]string{"#m": AttrMembers},
		ExpressionAttributeValues: map[string]types.AttributeValue{":set": &types.AttributeValueMemberSS{Value: []string{member}}},
	})
	if conditionFailed(err) {
		return nil
	}
	return err
}

// uncountWorkers bounds the counter updates in flight while links are deleted.
const uncountWorkers = 16

// uncountLinks gives back, on both sides, the merge-cap slots of the links among refs.
func (s *Identities) uncountLinks(ctx context.Context, refs []LinkRef) error {
	links := slices.DeleteFunc(slices.Clone(refs), func(r LinkRef) bool {
		return r.UserID == "" || r.AnonymousID == "" || Reserved(r.AnonymousID) || Reserved(r.UserID)
	})
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(uncountWorkers)
	for _, l := range links {
		g.Go(func() error {
			if err := s.uncount(ctx, userCounterKey(l.UserID), counterHash(l.AnonymousID)); err != nil {
				return fmt.Errorf("uncount link %s ↔ %s: %w", l.UserID, l.AnonymousID, err)
			}
			if err := s.uncount(ctx, anonymousCounterKey(l.AnonymousID), counterHash(l.UserID)); err != nil {
				return fmt.Errorf("uncount link %s ↔ %s: %w", l.UserID, l.AnonymousID, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// markCapReached records the first refusal; it reports whether this call was it.
func (s *Identities) markCapReached(ctx context.Context, key map[string]types.AttributeValue) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          aws.String("SET #at = :at"),
		ConditionExpression:       aws.String("attribute_not_exists(#at)"),
		ExpressionAttributeNames:  map[string]string{"#at": AttrCapReachedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": &types.AttributeValueMemberS{Value: time.Now().UTC().Format(event.TimeLayout)}},
	})
	if conditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

func (s *Identities) exists(ctx context.Context, l Link) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{
			AttrUserID:      &types.AttributeValueMemberS{Value: l.UserID},
			AttrAnonymousID: &types.AttributeValueMemberS{Value: l.AnonymousID},
		},
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#u"),
		ExpressionAttributeNames: map[string]string{"#u": AttrUserID},
	})
	if err != nil {
		return false, fmt.Errorf("get link %s ↔ %s: %w", l.UserID, l.AnonymousID, err)
	}
	return len(out.Item) > 0, nil
}

// UserMergeCap is what userID's counter says: how many anonymous ids it counted and
// whether a link was ever refused.
func (s *Identities) UserMergeCap(ctx context.Context, userID string) (MergeCap, error) {
	return s.mergeCap(ctx, userCounterKey(userID))
}

// AnonymousMergeCap is what anonymousID's counter says about the users it links.
func (s *Identities) AnonymousMergeCap(ctx context.Context, anonymousID string) (MergeCap, error) {
	return s.mergeCap(ctx, anonymousCounterKey(anonymousID))
}

func (s *Identities) mergeCap(ctx context.Context, key map[string]types.AttributeValue) (MergeCap, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key})
	if err != nil {
		return MergeCap{}, fmt.Errorf("get merge cap: %w", err)
	}
	var c MergeCap
	if m, ok := out.Item[AttrMembers].(*types.AttributeValueMemberSS); ok {
		c.Linked = len(m.Value)
	}
	if at, err := time.Parse(event.TimeLayout, stringAttr(out.Item, AttrCapReachedAt)); err == nil {
		c.Reached, c.ReachedAt = true, &at
	}
	return c, nil
}
