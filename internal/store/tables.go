package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Table and index names and key attributes. serverless.yml declares the same schema.
const (
	// Events: one item per messageId; indexes give a person's events in time order.
	AttrMessageID      = "messageId"
	AttrAnonymousID    = "anonymousId"
	AttrUserID         = "userId"
	AttrTime           = "ts"
	IndexByAnonymousID = "byAnonymousId"
	IndexByUserID      = "byUserId"

	// Identities: one item per (userId, anonymousId) link; the index reads it backwards.
	// Touches: one item per touch, keyed by visitor then time, so a visitor's touches
	// come back oldest first.
	AttrVisitorID = "visitorId"
	AttrTouchKey  = "touchKey"

	// AttrExpiresAt is the TTL attribute, set when a retention period is configured.
	AttrExpiresAt = "expiresAt"
)

// Tables names the three tables.
type Tables struct {
	Events     string
	Identities string
	Touches    string
	// Conversions holds credited conversions and their rollups.
	Conversions string
}

// Names lists the tables' names.
func (t Tables) Names() []string { return []string{t.Events, t.Identities, t.Touches, t.Conversions} }

// CreateTables creates any of the tables that do not exist and waits until they are
// active. It is safe to run again: existing tables are left as they are.
func CreateTables(ctx context.Context, db *dynamodb.Client, t Tables) error {
	for _, in := range tableDefinitions(t) {
		if err := createTable(ctx, db, in); err != nil {
			return err
		}
	}
	for _, in := range tableDefinitions(t) {
		name := aws.ToString(in.TableName)
		if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
			return fmt.Errorf("wait for table %s: %w", name, err)
		}
	}
	return nil
}

// ErrTTLUnsupported means the endpoint has no UpdateTimeToLive operation: dynalite
// answers UnknownOperationException. Items still carry expiresAt; nothing deletes them.
var ErrTTLUnsupported = errors.New("this DynamoDB endpoint does not support TTL (UpdateTimeToLive)")

// EnableTTL turns on the expiresAt TTL attribute. Endpoints that do not support TTL
// (dynalite) answer ErrTTLUnsupported, which callers may treat as a warning.
func EnableTTL(ctx context.Context, db *dynamodb.Client, table string) error {
	_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrExpiresAt),
			Enabled:       aws.Bool(true),
		},
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorMessage(), "already enabled") {
		return nil
	}
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException" {
		return fmt.Errorf("enable TTL on %s: %w", table, ErrTTLUnsupported)
	}
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", table, err)
	}
	return nil
}

func createTable(ctx context.Context, db *dynamodb.Client, in *dynamodb.CreateTableInput) error {
	_, err := db.CreateTable(ctx, in)
	var exists *types.ResourceInUseException
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", aws.ToString(in.TableName), err)
	}
	return nil
}

func tableDefinitions(t Tables) []*dynamodb.CreateTableInput {
	s := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		k := []types.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash}}
		if rng != "" {
			k = append(k, types.KeySchemaElement{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange})
		}
		return k
	}
	gsi := func(name, hash, rng string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName:  aws.String(name),
			KeySchema:  key(hash, rng),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	return []*dynamodb.CreateTableInput{
		{
			TableName:            aws.String(t.Events),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s(AttrMessageID), s(AttrAnonymousID), s(AttrUserID), s(AttrTime)},
			KeySchema:            key(AttrMessageID, ""),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				gsi(IndexByAnonymousID, AttrAnonymousID, AttrTime),
				gsi(IndexByUserID, AttrUserID, AttrTime),
			},
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage},
		},
		{
			TableName:              aws.String(t.Identities),
			BillingMode:            types.BillingModePayPerRequest,
			AttributeDefinitions:   []types.AttributeDefinition{s(AttrUserID), s(AttrAnonymousID)},
			KeySchema:              key(AttrUserID, AttrAnonymousID),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{gsi(IndexByAnonymousID, AttrAnonymousID, AttrUserID)},
		},
		{
			TableName:              aws.String(t.Conversions),
			BillingMode:            types.BillingModePayPerRequest,
			AttributeDefinitions:   []types.AttributeDefinition{s(AttrPK), s(AttrSK), s(AttrPerson)},
			KeySchema:              key(AttrPK, AttrSK),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{gsi(IndexByPerson, AttrPerson, AttrSK)},
		},
		{
			TableName:              aws.String(t.Touches),
			BillingMode:            types.BillingModePayPerRequest,
			AttributeDefinitions:   []types.AttributeDefinition{s(AttrVisitorID), s(AttrTouchKey), s(AttrUserID)},
			KeySchema:              key(AttrVisitorID, AttrTouchKey),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{gsi(IndexByUserID, AttrUserID, AttrTouchKey)},
		},
	}
}
