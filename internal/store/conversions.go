package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/conversion"
)

// The conversions table holds, under a generic key (pk, sk):
//
//	C#<event>#<day>#<hour>  <messageId>  a conversion (person, data, version, pending?, deleted?)
//	B#<event>#<day>         <hour>       an hour's rollup (data, seq) and its change counter (changes)
//	D#<event>               <day>        a day's change counter (changes)
//	R#<event>#<dimension>   <day>        a day's rollup of one dimension, or of the paths (data, seq)
//
// Conversions sit in their hour's partition so an hour's rollup is one Query; a day's
// rollups are recomputed from its 24 hour rollups, and a report reads one item per day.
// Each rollup carries seq, the value of its change counter it covers: a writer bumps the
// counter after changing what it covers, and its recompute, holding the value the bump
// answered, then reads what it covers and writes only over an older seq, so a stale
// recompute never overwrites a newer one and the last change's recompute always lands.
const (
	AttrPK        = "pk"
	AttrSK        = "sk"
	AttrPerson    = "person"
	AttrData      = "data"
	AttrVersion   = "version"
	AttrPending   = "pending"
	AttrDeleted   = "deleted"
	AttrChanges   = "changes"
	AttrSeq       = "seq"
	IndexByPerson = "byPerson"

	// PathsRollup is the "dimension" of the day items holding paths.
	PathsRollup = "paths"
)

// Conversions is the repository of credited conversions and their rollups.
type Conversions struct {
	db    *dynamodb.Client
	table string
	// What the rollup recomputes decoded lately (a few MB at most).
	conversions *decoded[conversion.Conversion]
	hours       *decoded[conversion.Rollup]
}

// NewConversions returns the repository for the conversions table.
func NewConversions(db *dynamodb.Client, table string) *Conversions {
	return &Conversions{db: db, table: table, conversions: newDecoded[conversion.Conversion](4096), hours: newDecoded[conversion.Rollup](512)}
}

// Table is the conversions table's name.
func (s *Conversions) Table() string { return s.table }

// Bucket is an hour of conversions of one event: the unit a rollup is recomputed for.
type Bucket struct {
	Event, Day, Hour string
}

// BucketOf is the bucket c belongs to.
func BucketOf(c conversion.Conversion) Bucket {
	return Bucket{Event: c.Event, Day: c.Day, Hour: c.Hour}
}

func (b Bucket) conversionsPK() string { return "C#" + b.Event + "#" + b.Day + "#" + b.Hour }
func (b Bucket) headPK() string        { return "B#" + b.Event + "#" + b.Day }
func dayHeadPK(event string) string    { return "D#" + event }
func dayRollupPK(event, dim string) string {
	return "R#" + event + "#" + dim
}

// Stored is a conversion as stored, with its bookkeeping.
type Stored struct {
	conversion.Conversion
	// Version is a hash of the conversion's JSON: equal versions, equal conversions.
	Version string
	// Pending says the rollups (and the write-back) may not reflect this version yet.
	Pending bool
	// Deleted says the conversion is being erased: rollups leave it out.
	Deleted bool
}

// Version is the version a conversion is stored under.
func Version(c conversion.Conversion) (string, []byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", nil, fmt.Errorf("encode conversion %s: %w", c.MessageID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), b, nil
}

func conversionKey(b Bucket, messageID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: b.conversionsPK()},
		AttrSK: &types.AttributeValueMemberS{Value: messageID},
	}
}

// Put stores c unless the same version is stored and settled already, or the
// conversion is being erased: wrote says whether it stored it. With pending, c is marked
// pending (its rollups are to be recomputed) until Settle clears the mark; without, the
// caller is to be run again after any failure, and settles c's bucket when Put finds it
// stored already. A pending conversion of the same version is stored again, so a rerun
// after a failure settles it.
func (s *Conversions) Put(ctx context.Context, c conversion.Conversion, pending bool) (version string, wrote bool, err error) {
	version, raw, err := Version(c)
	if err != nil {
		return "", false, err
	}
	data, err := conversion.Encode(json.RawMessage(raw))
	if err != nil {
		return "", false, fmt.Errorf("encode conversion %s: %w", c.MessageID, err)
	}
	item := conversionKey(BucketOf(c), c.MessageID)
	item[AttrPerson] = &types.AttributeValueMemberS{Value: c.Person}
	item[AttrData] = &types.AttributeValueMemberB{Value: data}
	item[AttrVersion] = &types.AttributeValueMemberS{Value: version}
	if pending {
		item[AttrPending] = &types.AttributeValueMemberBOOL{Value: true}
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      item,
		// New, or not being erased and either another version or pending. Spelled out
		// without parentheses (AND binds tighter than OR): dynalite's parser backtracks
		// on nested ones, which made parsing this condition most of a local Put's cost.
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR attribute_not_exists(#d) AND #v <> :v OR attribute_not_exists(#d) AND #p = :t"),
		ExpressionAttributeNames: map[string]string{
			"#pk": AttrPK, "#d": AttrDeleted, "#v": AttrVersion, "#p": AttrPending,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v": &types.AttributeValueMemberS{Value: version},
			":t": &types.AttributeValueMemberBOOL{Value: true},
		},
	})
	if isConditionFailed(err) {
		return version, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("put conversion %s: %w", c.MessageID, err)
	}
	return version, true, nil
}

// Get reads the conversion messageID of bucket b as stored; found is false when there is
// none.
func (s *Conversions) Get(ctx context.Context, b Bucket, messageID string) (st Stored, found bool, err error) {
	item, err := s.getItem(ctx, b.conversionsPK(), messageID)
	if err != nil || item == nil {
		return Stored{}, false, err
	}
	st, err = storedFromItem(item)
	if err != nil {
		return Stored{}, false, err
	}
	return st, true, nil
}

// MarkDeleted flags a stored conversion for erasure: rollups leave it out from now on,
// and Settle deletes it once they do. A conversion that is gone already is no error.
func (s *Conversions) MarkDeleted(ctx context.Context, b Bucket, messageID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 conversionKey(b, messageID),
		UpdateExpression:    aws.String("SET #d = :t, #p = :t"),
		ConditionExpression: aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{
			"#d": AttrDeleted, "#p": AttrPending, "#pk": AttrPK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
	})
	if isConditionFailed(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark conversion %s deleted: %w", messageID, err)
	}
	return nil
}

// Settle records that the rollups reflect version of the conversion: it clears pending,
// or deletes a conversion marked deleted. A conversion changed since (another version)
// is left pending for whoever changed it.
func (s *Conversions) Settle(ctx context.Context, b Bucket, messageID, version string, deleted bool) error {
	var err error
	if deleted {
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String(s.table),
			Key:                       conversionKey(b, messageID),
			ConditionExpression:       aws.String("#d = :t"),
			ExpressionAttributeNames:  map[string]string{"#d": AttrDeleted},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
		})
	} else {
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       conversionKey(b, messageID),
			UpdateExpression:          aws.String("REMOVE #p"),
			ConditionExpression:       aws.String("#v = :v AND attribute_not_exists(#d)"),
			ExpressionAttributeNames:  map[string]string{"#p": AttrPending, "#v": AttrVersion, "#d": AttrDeleted},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: version}},
		})
	}
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("settle conversion %s: %w", messageID, err)
	}
	return nil
}

// ByPerson lists a person's conversions (conversion person keys), oldest bucket first. The
// index is eventually consistent: a conversion stored a moment ago may be missing.
func (s *Conversions) ByPerson(ctx context.Context, person string) ([]Stored, error) {
	var out []Stored
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByPerson),
		KeyConditionExpression:    aws.String("#p = :p"),
		ExpressionAttributeNames:  map[string]string{"#p": AttrPerson},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: person}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query conversions of %s: %w", person, err)
		}
		for _, item := range page.Items {
			st, err := storedFromItem(item)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func storedFromItem(item map[string]types.AttributeValue) (Stored, error) {
	var st Stored
	data, _ := item[AttrData].(*types.AttributeValueMemberB)
	if data == nil {
		return Stored{}, fmt.Errorf("conversion item %v has no data", item[AttrSK])
	}
	if err := conversion.Decode(data.Value, &st.Conversion); err != nil {
		return Stored{}, fmt.Errorf("conversion item %v: %w", item[AttrSK], err)
	}
	if v, ok := item[AttrVersion].(*types.AttributeValueMemberS); ok {
		st.Version = v.Value
	}
	st.Pending = boolAttr(item, AttrPending)
	st.Deleted = boolAttr(item, AttrDeleted)
	return st, nil
}

func boolAttr(item map[string]types.AttributeValue, name string) bool {
	v, ok := item[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

// RollUpHour counts a change to b's conversions and brings b's hour rollup up to date
// with them. Call it after the change is stored. The count's answer is the seq the
// recompute covers: no read of the counter comes between.
func (s *Conversions) RollUpHour(ctx context.Context, b Bucket) error {
	head, err := s.bump(ctx, b.headPK(), b.Hour)
	if err != nil {
		return fmt.Errorf("roll up %s %s %s: %w", b.Event, b.Day, b.Hour, err)
	}
	changes := numAttr(head, AttrChanges)
	var r conversion.Rollup
	err = s.bucketConversions(ctx, b, true, s.conversions, func(c *conversion.Conversion) { r.Add(*c) })
	if err != nil {
		return fmt.Errorf("roll up %s %s %s: %w", b.Event, b.Day, b.Hour, err)
	}
	if err := s.putRollup(ctx, b.headPK(), b.Hour, &r, changes); err != nil {
		return fmt.Errorf("roll up %s %s %s: %w", b.Event, b.Day, b.Hour, err)
	}
	return nil
}

// RollUpDay counts a change to the hour rollups of day and brings the day's rollups (one
// per dimension, and the paths) up to date with them, unless rollups covering the change
// are stored already. Call it after the hour rollups are stored, even when another
// recompute wrote them: a rerun after a failure here must still reach the day.
func (s *Conversions) RollUpDay(ctx context.Context, event, day string) error {
	head, err := s.bump(ctx, dayHeadPK(event), day)
	if err != nil {
		return fmt.Errorf("roll up %s %s: %w", event, day, err)
	}
	changes := numAttr(head, AttrChanges)
	// The paths rollup is written last, so when it covers the latest change every
	// dimension's does too.
	paths, err := s.getItem(ctx, dayRollupPK(event, PathsRollup), day)
	if err != nil {
		return fmt.Errorf("roll up %s %s: %w", event, day, err)
	}
	if paths != nil && numAttr(paths, AttrSeq) >= changes {
		return nil
	}
	var r conversion.Rollup
	err = s.queryAll(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: Bucket{Event: event, Day: day}.headPK()}},
		ConsistentRead:            aws.Bool(true),
	}, func(item map[string]types.AttributeValue) error { return mergeRollup(&r, item, s.hours) })
	if err != nil {
		return fmt.Errorf("roll up %s %s: %w", event, day, err)
	}
	if err := s.PutDay(ctx, event, day, &r, changes); err != nil {
		return fmt.Errorf("roll up %s %s: %w", event, day, err)
	}
	return nil
}

// bump adds one to the change counter at (pk, sk), answering the counter's new value.
func (s *Conversions) bump(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(pk, sk),
		UpdateExpression:          aws.String("ADD #c :one"),
		ExpressionAttributeNames:  map[string]string{"#c": AttrChanges},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return nil, fmt.Errorf("count change of %s %s: %w", pk, sk, err)
	}
	return out.Attributes, nil
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// PutDay writes r as the day's rollups (one item per dimension, then the paths)
// covering change seq, leaving any item that covers a later change. RollUpDay calls
// it; benchmarks seed a year of rollups with it.
func (s *Conversions) PutDay(ctx context.Context, event, day string, r *conversion.Rollup, seq int64) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, dim := range conversion.Dimensions {
		g.Go(func() error { return s.putRollup(gctx, dayRollupPK(event, dim), day, r.Dimension(dim), seq) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Last, once every dimension is written: RollUpDay reads it to skip the day.
	return s.putRollup(ctx, dayRollupPK(event, PathsRollup), day, r.PathsOnly(), seq)
}

// putRollup writes r as the rollup at (pk, sk) covering change seq, unless one covering a
// later change is there already.
func (s *Conversions) putRollup(ctx context.Context, pk, sk string, r *conversion.Rollup, seq int64) error {
	data, err := conversion.Encode(r)
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(pk, sk),
		UpdateExpression:         aws.String("SET #d = :d, #s = :s"),
		ConditionExpression:      aws.String("attribute_not_exists(#s) OR #s < :s"),
		ExpressionAttributeNames: map[string]string{"#d": AttrData, "#s": AttrSeq},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":d": &types.AttributeValueMemberB{Value: data},
			":s": &types.AttributeValueMemberN{Value: strconv.FormatInt(seq, 10)},
		},
	})
	if isConditionFailed(err) {
		return nil // a newer recompute got there first
	}
	if err != nil {
		return fmt.Errorf("put rollup %s %s: %w", pk, sk, err)
	}
	return nil
}

// Rollup sums the day rollups of event by dimension (or PathsRollup) from day from to
// day to, inclusive: one Query, one item per day.
func (s *Conversions) Rollup(ctx context.Context, event, dimension, from, to string) (*conversion.Rollup, error) {
	var r conversion.Rollup
	err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :from AND :to"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   &types.AttributeValueMemberS{Value: dayRollupPK(event, dimension)},
			":from": &types.AttributeValueMemberS{Value: from},
			":to":   &types.AttributeValueMemberS{Value: to},
		},
	}, func(item map[string]types.AttributeValue) error { return mergeRollup(&r, item, nil) })
	if err != nil {
		return nil, fmt.Errorf("read %s rollups of %s from %s to %s: %w", dimension, event, from, to, err)
	}
	return &r, nil
}

// mergeRollup adds the rollup stored in item to r, taken from kept when it was decoded
// lately (kept may be nil); an item without one (a counter whose rollup is not written yet) adds nothing.
func mergeRollup(r *conversion.Rollup, item map[string]types.AttributeValue, kept *decoded[conversion.Rollup]) error {
	data, ok := item[AttrData].(*types.AttributeValueMemberB)
	if !ok {
		return nil
	}
	stored, err := kept.get(data.Value)
	if err != nil {
		return err
	}
	r.Merge(stored)
	return nil
}

func (s *Conversions) getItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", pk, sk, err)
	}
	return out.Item, nil
}

func (s *Conversions) queryAll(ctx context.Context, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s: %w", s.table, err)
		}
		for _, item := range page.Items {
			if err := each(item); err != nil {
				return err
			}
		}
	}
	return nil
}

func numAttr(item map[string]types.AttributeValue, name string) int64 {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(v.Value, 10, 64)
	return n
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}
