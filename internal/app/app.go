// Package app builds what every binary shares from the configuration: the logger, the
// DynamoDB client and the repositories, so each Lambda main stays a few lines of wiring
// and the local stack is assembled from the very same constructors.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/ledger"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/precompute"
	"github.com/attribution-dev/attribution/internal/realtime"
	"github.com/attribution-dev/attribution/internal/redrive"
	"github.com/attribution-dev/attribution/internal/report"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// Env is a configured process: settings, logger and DynamoDB client.
type Env struct {
	Config config.Config
	DB     *dynamodb.Client
	Log    *slog.Logger
}

// Lambda loads the configuration for a deployed function, requiring the named
// variables to be set explicitly, and connects to DynamoDB.
func Lambda(ctx context.Context, required ...string) (Env, error) {
	log := logging.ForLambda()
	cfg, err := config.Load()
	if err != nil {
		return Env{Log: log}, err
	}
	if err := config.RequireInLambda(os.LookupEnv, required...); err != nil {
		return Env{Log: log}, err
	}
	return Connect(ctx, cfg, log)
}

// Connect builds the DynamoDB client for cfg.
func Connect(ctx context.Context, cfg config.Config, log *slog.Logger) (Env, error) {
	db, err := store.NewClient(ctx, store.ClientOptions{Region: cfg.Region, Endpoint: cfg.DynamoDBEndpoint})
	if err != nil {
		return Env{Log: log}, fmt.Errorf("dynamodb client: %w", err)
	}
	return Env{Config: cfg, DB: db, Log: log}, nil
}

// Events is the events repository, with the configured retention.
func (e Env) Events() *store.Events {
	s := store.NewEvents(e.DB, e.Config.EventsTable)
	s.Retention = e.Config.EventRetention()
	return s
}

// Touches is the touches repository, with the configured retention.
func (e Env) Touches() *store.Touches {
	s := store.NewTouches(e.DB, e.Config.TouchesTable)
	s.Retention = e.Config.TouchRetention()
	return s
}

// Identities is the identities repository.
func (e Env) Identities() *store.Identities {
	s := store.NewIdentities(e.DB, e.Config.IdentitiesTable)
	s.MaxAnonymousIDsPerUser, s.MaxUsersPerAnonymousID = e.Config.MaxAnonymousIDsPerUser, e.Config.MaxUsersPerAnonymousID
	return s
}

// Tombstones are the erased ids, kept in the identities table.
func (e Env) Tombstones() *store.Tombstones {
	return store.NewTombstones(e.DB, e.Config.IdentitiesTable)
}

// Eraser forgets people on request, with their conversions when CONVERSION_EVENTS is set.
func (e Env) Eraser() *erase.Eraser {
	er := &erase.Eraser{Events: e.Events(), Touches: e.Touches(), Identities: e.Identities(), Tombstones: e.Tombstones(), Log: e.Log}
	if len(e.Config.ConversionEvents) > 0 {
		books := e.Ledger(nil)
		er.Conversions, er.Recredit = books.Erase, books.Refresh
	}
	return er
}

// Conversions is the conversions repository.
func (e Env) Conversions() *store.Conversions {
	return store.NewConversions(e.DB, e.Config.ConversionsTable)
}

// Ledger credits and rolls up conversions. With sender and CONVERSION_CREDITS_EVENT set,
// changed conversions are written back to Segment through sender.
func (e Env) Ledger(sender *segment.Client) *ledger.Ledger {
	l := &ledger.Ledger{
		Store: e.Conversions(), People: e.People(), Touches: e.Touches(), Links: e.Identities(), Log: e.Log,
		Settings: conversion.Settings{Lookback: e.Config.ConversionLookback(), Location: e.Config.ReportLocation},
	}
	if sender != nil && e.Config.ConversionCreditsEvent != "" {
		l.CreditsEvent, l.Sender = e.Config.ConversionCreditsEvent, sender
	}
	return l
}

// People resolves a person's linked ids, touches and events.
func (e Env) People() *people.Resolver {
	return &people.Resolver{Identities: e.Identities(), Touches: e.Touches(), Events: e.Events()}
}

// Reports serves the report routes from the conversions table's rollups.
func (e Env) Reports() *report.Handler {
	return &report.Handler{
		Reporter:     &report.Reporter{Rollups: e.Conversions(), Precomputed: e.Conversions(), LookbackDays: e.Config.ConversionLookbackDays},
		Parser:       report.Parser{Events: e.Config.ConversionEvents, Location: e.Config.ReportLocation},
		Conversions:  e.Conversions(),
		Timezone:     e.Config.ReportTimezone,
		HalfLifeDays: attribution.DefaultHalfLife.Hours() / 24,
		Log:          e.Log,
	}
}

// Precomputer refreshes the data-driven models' precomputation of every conversion event.
func (e Env) Precomputer() *precompute.Refresher {
	return &precompute.Refresher{
		Touches: e.Touches(), Identities: e.Identities(), Conversions: e.Conversions(),
		Events: e.Config.ConversionEvents, Location: e.Config.ReportLocation, Log: e.Log,
	}
}

// Detector is the source detector with the configured rules (REFERERS_FILE over the
// built-in ones) and internal and ignored hosts. The rules were read once, by config;
// a Detector only adds the hosts, so building one per consumer costs nothing.
func (e Env) Detector() *source.Detector {
	return Detector(e.Config)
}

// Detector is Env.Detector for commands that need no DynamoDB client.
func Detector(cfg config.Config) *source.Detector {
	return source.New(source.Options{Rules: cfg.Rules, InternalDomains: cfg.InternalDomains, IgnoredReferrers: cfg.IgnoredReferrers})
}

// Fatal logs err and exits: for mains only, before the handler starts.
func (e Env) Fatal(msg string, err error) {
	e.Log.Error(msg, "err", err)
	os.Exit(1)
}

// Segment is the batch client SEGMENT_WRITE_KEY and SEGMENT_ENDPOINT describe; without a
// write key it is a dry run appending batches to outboxPath (segment.DefaultOutboxPath
// when empty).
func (e Env) Segment(outboxPath string) (*segment.Client, error) {
	c, err := segment.New(segment.Config{
		WriteKey:   e.Config.SegmentWriteKey,
		Endpoint:   e.Config.SegmentEndpoint,
		OutboxPath: outboxPath,
		Logger:     e.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("segment client: %w", err)
	}
	return c, nil
}

// PushStates is the per-user state of real-time attribution, kept in the identities table.
func (e Env) PushStates() *store.PushStates {
	return store.NewPushStates(e.DB, e.Config.IdentitiesTable)
}

// Pusher is real-time attribution sending through sender, or nil when REALTIME is false.
func (e Env) Pusher(sender *segment.Client) *realtime.Pusher {
	if !e.Config.Realtime {
		return nil
	}
	return &realtime.Pusher{People: e.People(), Links: e.Identities(), Sender: sender, State: e.PushStates(), Log: e.Log,
		Suppressed: e.Tombstones().IsErased}
}

// RealtimeVariables are what a deployed stream consumer needs, besides its own tables,
// to push attribution: the tables a person is resolved from and a write key (Lambda's
// disk is read-only, so there is no dry-run outbox).
var RealtimeVariables = []string{"IDENTITIES_TABLE", "TOUCHES_TABLE", "SEGMENT_WRITE_KEY"}

// LambdaPusher is Pusher for a deployed stream consumer: nil, and nothing required,
// when REALTIME is false; otherwise RealtimeVariables must be set.
func (e Env) LambdaPusher() (*realtime.Pusher, error) {
	sender, err := e.LambdaSender()
	if sender == nil || err != nil {
		return nil, err
	}
	return e.Pusher(sender), nil
}

// LambdaSender is the Segment client real-time attribution pushes through in a
// deployed function: nil, and nothing required, when REALTIME is false; otherwise
// RealtimeVariables must be set.
func (e Env) LambdaSender() (*segment.Client, error) {
	if !e.Config.Realtime {
		return nil, nil
	}
	if err := config.RequireInLambda(os.LookupEnv, RealtimeVariables...); err != nil {
		return nil, fmt.Errorf("REALTIME is on: %w", err)
	}
	return e.Segment("")
}

// Redriver hands consumers the records in the stream failures queue
// (STREAM_FAILURES_QUEUE_URL), read back from the events table's stream. The SDK's
// own variables can point SQS and DynamoDB Streams elsewhere (AWS_ENDPOINT_URL_SQS,
// AWS_ENDPOINT_URL_DYNAMODB_STREAMS).
func (e Env) Redriver(ctx context.Context, consumers []stream.Consumer) (*redrive.Redriver, error) {
	if e.Config.StreamFailuresQueueURL == "" {
		return nil, errors.New("STREAM_FAILURES_QUEUE_URL is empty: set it to the stack's StreamFailuresQueueUrl output")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(e.Config.Region))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return &redrive.Redriver{
		Queue: sqs.NewFromConfig(cfg), QueueURL: e.Config.StreamFailuresQueueURL,
		Streams: dynamodbstreams.NewFromConfig(cfg), Consumers: consumers, Log: e.Log,
	}, nil
}

// ConversionVariables are what a deployed consumer needs to credit conversions: the
// tables a person is resolved from and the conversions table.
var ConversionVariables = []string{"IDENTITIES_TABLE", "TOUCHES_TABLE", "CONVERSIONS_TABLE"}

// LambdaLedger is Ledger for a deployed function: ConversionVariables must be set, and
// with CONVERSION_CREDITS_EVENT a write key too (a deployed function has no disk for a
// dry-run outbox).
func (e Env) LambdaLedger() (*ledger.Ledger, error) {
	required := ConversionVariables
	if e.Config.ConversionCreditsEvent != "" {
		required = append(slices.Clone(required), "SEGMENT_WRITE_KEY")
	}
	if err := config.RequireInLambda(os.LookupEnv, required...); err != nil {
		return nil, fmt.Errorf("conversions: %w", err)
	}
	var sender *segment.Client
	if e.Config.ConversionCreditsEvent != "" {
		var err error
		if sender, err = e.Segment(""); err != nil {
			return nil, err
		}
	}
	return e.Ledger(sender), nil
}

// LambdaConversionFollowUp is the touch and link consumers' recompute of conversions for
// a deployed function: nil, and nothing required, without CONVERSION_EVENTS.
func (e Env) LambdaConversionFollowUp() (stream.FollowUpFunc, error) {
	if len(e.Config.ConversionEvents) == 0 {
		return nil, nil
	}
	l, err := e.LambdaLedger()
	if err != nil {
		return nil, fmt.Errorf("CONVERSION_EVENTS is set: %w", err)
	}
	return l.FollowUp, nil
}
