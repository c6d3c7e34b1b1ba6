package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/attribution-dev/attribution/internal/event"
)

// Attributes of an identity link beyond its keys.
const (
	AttrSource    = "source"
	AttrFirstSeen = "firstSeen"
	AttrLastSeen  = "lastSeen"
	AttrVia       = "via"
	AttrAliased   = "aliased"
)

// Where a link came from.
const (
	LinkIdentify = "identify"
	LinkAlias    = "alias"
)

// ErrInvalidLink marks a link that cannot be stored: an id is empty or too long.
var ErrInvalidLink = errors.New("invalid identity link")

// Link says that AnonymousID belongs to UserID. A user has many anonymous ids; an
// anonymous id that later identifies as someone else keeps both links.
type Link struct {
	UserID      string `json:"userId"`
	AnonymousID string `json:"anonymousId"`
	// Source and MessageID name the earliest event that established the link.
	Source    string    `json:"source"`
	MessageID string    `json:"messageId"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Via is the former userId whose link this one was copied from by an alias, or "".
	Via string `json:"via,omitempty"`
	// Aliased marks AnonymousID as an alias's previousId: it may be a former userId, so
	// readers also look up what is keyed by it as a userId (its events and touches).
	Aliased bool `json:"aliased,omitempty"`
}

// Identities stores anonymousId ↔ userId links: one item per (userId, anonymousId),
// read backwards through the byAnonymousId index.
type Identities struct {
	db    *dynamodb.Client
	table string
	// MaxAnonymousIDsPerUser and MaxUsersPerAnonymousID cap new links (see admit);
	// 0 means no cap.
	MaxAnonymousIDsPerUser int
	MaxUsersPerAnonymousID int
}

// NewIdentities returns the repository for the identities table.
func NewIdentities(db *dynamodb.Client, table string) *Identities {
	return &Identities{db: db, table: table}
}

// Table is the identities table's name.
func (s *Identities) Table() string { return s.table }

// Put records l, seen at l.FirstSeen by event l.MessageID (l.LastSeen is ignored). It is
// idempotent and order-independent: firstSeen is the minimum and lastSeen the maximum of
// the times recorded, and source, messageId, via and aliased belong to the earliest
// event (ties broken by messageId) while aliased, once true, stays true, so storing the same link again, or links in any
// order, ends in the same item. Each step is one conditional UpdateItem, so concurrent
// writers cannot lose an update.
//
// With caps set, a link is first counted against them; a link past a cap is refused
// with a *CapError (ErrCapReached) and nothing is written.
func (s *Identities) Put(ctx context.Context, l Link) error {
	if err := validLink(l); err != nil {
		return err
	}
	if err := s.admit(ctx, l); err != nil {
		return err
	}
	at := &types.AttributeValueMemberS{Value: l.FirstSeen.UTC().Format(event.TimeLayout)}
	key := map[string]types.AttributeValue{
		AttrUserID:      &types.AttributeValueMemberS{Value: l.UserID},
		AttrAnonymousID: &types.AttributeValueMemberS{Value: l.AnonymousID},
	}
	// Step 1: the earliest sighting owns firstSeen and the attributes describing it.
	names := map[string]string{
		"#first": AttrFirstSeen, "#last": AttrLastSeen, "#src": AttrSource,
		"#mid": AttrMessageID, "#via": AttrVia,
	}
	values := map[string]types.AttributeValue{
		":t":   at,
		":src": &types.AttributeValueMemberS{Value: l.Source},
		":mid": &types.AttributeValueMemberS{Value: l.MessageID},
	}
	set := "SET #first = :t, #last = if_not_exists(#last, :t), #src = :src, #mid = :mid"
	update := set + " REMOVE #via"
	if l.Via != "" {
		values[":via"] = &types.AttributeValueMemberS{Value: l.Via}
		update = set + ", #via = :via"
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_not_exists(#first) OR #first > :t OR (#first = :t AND #mid > :mid)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("put link %s ↔ %s: %w", l.UserID, l.AnonymousID, err)
	}
	// Step 2: lastSeen only moves forward.
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          aws.String("SET #last = :t"),
		ConditionExpression:       aws.String("#last < :t"),
		ExpressionAttributeNames:  map[string]string{"#last": AttrLastSeen},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": at},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("touch link %s ↔ %s: %w", l.UserID, l.AnonymousID, err)
	}
	// Step 3: once an alias named the anonymous id as its previousId, it stays marked,
	// whatever order the events arrive in.
	if l.Aliased {
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       key,
			UpdateExpression:          aws.String("SET #aliased = :true"),
			ExpressionAttributeNames:  map[string]string{"#aliased": AttrAliased},
			ExpressionAttributeValues: map[string]types.AttributeValue{":true": &types.AttributeValueMemberBOOL{Value: true}},
		})
		if err != nil {
			return fmt.Errorf("mark link %s ↔ %s aliased: %w", l.UserID, l.AnonymousID, err)
		}
	}
	return nil
}

func validLink(l Link) error {
	switch {
	case l.UserID == "" || l.AnonymousID == "":
		return fmt.Errorf("%w: userId and anonymousId are required", ErrInvalidLink)
	case len(l.UserID) > event.MaxIDLength || len(l.AnonymousID) > event.MaxIDLength:
		return fmt.Errorf("%w: id longer than %d bytes", ErrInvalidLink, event.MaxIDLength)
	case Reserved(l.AnonymousID):
		return fmt.Errorf("%w: anonymousId starts with the reserved %q", ErrInvalidLink, ReservedPrefix)
	case l.MessageID == "" || l.FirstSeen.IsZero():
		return fmt.Errorf("%w: messageId and time are required", ErrInvalidLink)
	}
	return nil
}

func conditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// ByUser returns the links of userID (its anonymous ids), ordered by anonymousId.
// Items under a reserved sort key (see Reserved) are not links and are left out. The
// read is strongly consistent, so a link written just before (the identify consumer's
// own write, then its real-time push) is always seen.
func (s *Identities) ByUser(ctx context.Context, userID string) ([]Link, error) {
	return s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#u = :u"),
		ExpressionAttributeNames:  map[string]string{"#u": AttrUserID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
	})
}

// ByAnonymous returns the links of anonymousID (the users it identified as), ordered
// by userId. A reserved id (see Reserved) has no links.
func (s *Identities) ByAnonymous(ctx context.Context, anonymousID string) ([]Link, error) {
	if Reserved(anonymousID) {
		return nil, nil
	}
	return s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByAnonymousID),
		KeyConditionExpression:    aws.String("#a = :a"),
		ExpressionAttributeNames:  map[string]string{"#a": AttrAnonymousID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: anonymousID}},
	})
}

func (s *Identities) query(ctx context.Context, in *dynamodb.QueryInput) ([]Link, error) {
	var out []Link
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query identities: %w", err)
		}
		for _, item := range page.Items {
			if Reserved(stringAttr(item, AttrAnonymousID)) {
				continue // per-user state kept beside the links, not a link
			}
			l, err := LinkFromItem(item)
			if err != nil {
				return nil, err
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// LinkFromItem reads a stored link.
func LinkFromItem(item map[string]types.AttributeValue) (Link, error) {
	l := Link{
		UserID:      stringAttr(item, AttrUserID),
		AnonymousID: stringAttr(item, AttrAnonymousID),
		Source:      stringAttr(item, AttrSource),
		MessageID:   stringAttr(item, AttrMessageID),
		Via:         stringAttr(item, AttrVia),
	}
	if v, ok := item[AttrAliased].(*types.AttributeValueMemberBOOL); ok {
		l.Aliased = v.Value
	}
	var err error
	if l.FirstSeen, err = time.Parse(event.TimeLayout, stringAttr(item, AttrFirstSeen)); err != nil {
		return Link{}, fmt.Errorf("link %s ↔ %s: bad %s: %w", l.UserID, l.AnonymousID, AttrFirstSeen, err)
	}
	if l.LastSeen, err = time.Parse(event.TimeLayout, stringAttr(item, AttrLastSeen)); err != nil {
		return Link{}, fmt.Errorf("link %s ↔ %s: bad %s: %w", l.UserID, l.AnonymousID, AttrLastSeen, err)
	}
	return l, nil
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
