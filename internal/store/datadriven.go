package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/datadriven"
	"github.com/attribution-dev/attribution/internal/event"
)

// The data-driven models' precomputation lives in the conversions table beside the
// rollups, one item per event, range and dimension:
//
//	M#<event>  <from>#<to>#<dimension>  rows (data), computedAt, conversions, nulls
//
// A report reads one item (GetItem); listing what is precomputed for an event is one
// Query of its partition, projected to the keys.

// Attributes of a precomputed item.
const (
	AttrComputedAt = "computedAt"
	AttrNulls      = "nulls"
	AttrCount      = "conversions"
)

// ErrNotPrecomputed is returned (wrapped) when the data-driven rows of a range were not
// precomputed: the caller answers with what is.
var ErrNotPrecomputed = errors.New("not precomputed")

// Precomputed is one dimension's data-driven rows over one range.
type Precomputed struct {
	Event      string
	Range      datadriven.Range
	Dimension  string
	ComputedAt time.Time
	// Conversions and Nulls count the converting and non-converting paths.
	Conversions, Nulls float64
	Rows               datadriven.Rows
}

// PrecomputedRange is a range precomputed for an event, and when.
type PrecomputedRange struct {
	datadriven.Range
	ComputedAt time.Time `json:"computedAt"`
}

func modelsPK(event string) string { return "M#" + event }

func modelsSK(r datadriven.Range, dim string) string {
	return r.From + "#" + r.To + "#" + dim
}

// hoursOfDay are a day's conversion buckets.
var hoursOfDay = func() []string {
	h := make([]string, 24)
	for i := range h {
		h[i] = fmt.Sprintf("%02d", i)
	}
	return h
}()

// InDays calls each for every stored conversion of event on the given days (report
// days, YYYY-MM-DD): one Query per hour bucket, a few at a time. Conversions being
// erased are left out, as the rollups leave them out. Calls are serialised.
func (s *Conversions) InDays(ctx context.Context, event string, days []string, each func(conversion.Conversion) error) error {
	type bucket struct{ day, hour string }
	buckets := make([]bucket, 0, len(days)*len(hoursOfDay))
	for _, d := range days {
		for _, h := range hoursOfDay {
			buckets = append(buckets, bucket{d, h})
		}
	}
	results := make([][]conversion.Conversion, len(buckets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range buckets {
		g.Go(func() error {
			b := Bucket{Event: event, Day: buckets[i].day, Hour: buckets[i].hour}
			return s.bucketConversions(gctx, b, false, nil, func(c *conversion.Conversion) { results[i] = append(results[i], *c) })
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("read conversions of %s: %w", event, err)
	}
	for _, cs := range results {
		for _, c := range cs {
			if err := each(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// bucketConversions calls each for the conversions of bucket b, but those being erased,
// read strongly consistent when consistent. Each conversion is taken from kept
// (which may be nil) when decoded lately, so each must only read it.
func (s *Conversions) bucketConversions(ctx context.Context, b Bucket, consistent bool, kept *decoded[conversion.Conversion], each func(*conversion.Conversion)) error {
	return s.queryAll(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: b.conversionsPK()}},
		ConsistentRead:            aws.Bool(consistent),
	}, func(item map[string]types.AttributeValue) error {
		if boolAttr(item, AttrDeleted) {
			return nil
		}
		data, _ := item[AttrData].(*types.AttributeValueMemberB)
		if data == nil {
			return fmt.Errorf("conversion item %v has no data", item[AttrSK])
		}
		c, err := kept.get(data.Value)
		if err != nil {
			return fmt.Errorf("conversion item %v: %w", item[AttrSK], err)
		}
		each(c)
		return nil
	})
}

// PutPrecomputed stores p, replacing what was precomputed for its event, range and
// dimension.
func (s *Conversions) PutPrecomputed(ctx context.Context, p Precomputed) error {
	data, err := conversion.Encode(p.Rows)
	if err != nil {
		return fmt.Errorf("put %s rows of %s %s: %w", p.Dimension, p.Event, p.Range, err)
	}
	item := key(modelsPK(p.Event), modelsSK(p.Range, p.Dimension))
	item[AttrData] = &types.AttributeValueMemberB{Value: data}
	item[AttrComputedAt] = &types.AttributeValueMemberS{Value: p.ComputedAt.UTC().Format(event.TimeLayout)}
	item[AttrCount] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(p.Conversions, 'g', -1, 64)}
	item[AttrNulls] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(p.Nulls, 'g', -1, 64)}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("put %s rows of %s %s: %w", p.Dimension, p.Event, p.Range, err)
	}
	return nil
}

// Precomputed reads the data-driven rows of event by dimension over r: one GetItem. A
// range never precomputed (or pruned since) is ErrNotPrecomputed.
func (s *Conversions) Precomputed(ctx context.Context, eventName string, r datadriven.Range, dimension string) (Precomputed, error) {
	item, err := s.getItem(ctx, modelsPK(eventName), modelsSK(r, dimension))
	if err != nil {
		return Precomputed{}, fmt.Errorf("read %s rows of %s %s: %w", dimension, eventName, r, err)
	}
	if item == nil {
		return Precomputed{}, fmt.Errorf("%s rows of %s %s: %w", dimension, eventName, r, ErrNotPrecomputed)
	}
	p := Precomputed{Event: eventName, Range: r, Dimension: dimension}
	if p.ComputedAt, err = time.Parse(event.TimeLayout, stringAttr(item, AttrComputedAt)); err != nil {
		return Precomputed{}, fmt.Errorf("read %s rows of %s %s: bad %s: %w", dimension, eventName, r, AttrComputedAt, err)
	}
	p.Conversions, p.Nulls = numAttrFloat(item, AttrCount), numAttrFloat(item, AttrNulls)
	data, ok := item[AttrData].(*types.AttributeValueMemberB)
	if !ok {
		return Precomputed{}, fmt.Errorf("read %s rows of %s %s: no data", dimension, eventName, r)
	}
	if err := conversion.Decode(data.Value, &p.Rows); err != nil {
		return Precomputed{}, fmt.Errorf("read %s rows of %s %s: %w", dimension, eventName, r, err)
	}
	return p, nil
}

// PrecomputedRanges lists the ranges precomputed for event, oldest first (one Query of
// the keys), each once whatever its dimensions.
func (s *Conversions) PrecomputedRanges(ctx context.Context, eventName string) ([]PrecomputedRange, error) {
	var out []PrecomputedRange
	err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ProjectionExpression:      aws.String("#sk, #c"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#c": AttrComputedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: modelsPK(eventName)}},
	}, func(item map[string]types.AttributeValue) error {
		parts := strings.SplitN(stringAttr(item, AttrSK), "#", 3)
		if len(parts) != 3 {
			return nil
		}
		at, _ := time.Parse(event.TimeLayout, stringAttr(item, AttrComputedAt))
		r := PrecomputedRange{Range: datadriven.Range{From: parts[0], To: parts[1]}, ComputedAt: at}
		if n := len(out); n > 0 && out[n-1].Range == r.Range {
			if r.ComputedAt.After(out[n-1].ComputedAt) {
				out[n-1].ComputedAt = r.ComputedAt
			}
			return nil
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list precomputed ranges of %s: %w", eventName, err)
	}
	return out, nil
}

// DeletePrecomputed removes every dimension's rows of event over r.
func (s *Conversions) DeletePrecomputed(ctx context.Context, event string, r datadriven.Range, dimensions []string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, dim := range dimensions {
		g.Go(func() error {
			_, err := s.db.DeleteItem(gctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(modelsPK(event), modelsSK(r, dim))})
			if err != nil {
				return fmt.Errorf("delete %s rows of %s %s: %w", dim, event, r, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func numAttrFloat(item map[string]types.AttributeValue, name string) float64 {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	f, _ := strconv.ParseFloat(v.Value, 64)
	return f
}
