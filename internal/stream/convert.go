// Package stream connects the events table's stream to its consumers: it converts
// between Lambda's stream records and the SDK's attribute values, runs a consumer's
// batch with partial-failure reporting, and emulates the stream for `attribution serve`.
package stream

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
)

// Key is what the stream orders an event's record by: a visitor's events reach each
// consumer in order.
func Key(ev event.Event) string {
	if ev.AnonymousID != "" {
		return ev.AnonymousID
	}
	return ev.UserID
}

// EventFromRecord reads the stored event out of a stream record's NEW_IMAGE.
func EventFromRecord(rec events.DynamoDBEventRecord) (event.Event, error) {
	if rec.Change.NewImage == nil {
		return event.Event{}, fmt.Errorf("record %s has no new image", rec.EventID)
	}
	item, err := ToSDK(rec.Change.NewImage)
	if err != nil {
		return event.Event{}, fmt.Errorf("record %s: %w", rec.EventID, err)
	}
	return store.EventFromItem(item)
}

// ToSDK converts a stream image to the SDK's attribute values.
func ToSDK(image map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(image))
	for k, v := range image {
		av, err := toSDK(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func toSDK(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		list := make([]types.AttributeValue, 0, len(v.List()))
		for _, e := range v.List() {
			av, err := toSDK(e)
			if err != nil {
				return nil, err
			}
			list = append(list, av)
		}
		return &types.AttributeValueMemberL{Value: list}, nil
	case events.DataTypeMap:
		m, err := ToSDK(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported stream attribute type %v", v.DataType())
}

// FromSDK converts an item to a stream image, as DynamoDB Streams would deliver it.
func FromSDK(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = fromSDK(v)
	}
	return out
}

func fromSDK(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(t.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(t.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(t.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(t.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(t.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(t.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(t.Value)
	case *types.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, len(t.Value))
		for i, e := range t.Value {
			list[i] = fromSDK(e)
		}
		return events.NewListAttribute(list)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(FromSDK(t.Value))
	}
	return events.NewNullAttribute()
}
