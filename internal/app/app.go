// Package app builds what every binary shares from the configuration: the logger, the
// DynamoDB client and the repositories, so each Lambda main stays a few lines of wiring
// and the local stack is assembled from the very same constructors.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/realtime"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
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

// Eraser forgets people on request.
func (e Env) Eraser() *erase.Eraser {
	return &erase.Eraser{Events: e.Events(), Touches: e.Touches(), Identities: e.Identities(), Tombstones: e.Tombstones(), Log: e.Log}
}

// People resolves a person's linked ids, touches and events.
func (e Env) People() *people.Resolver {
	return &people.Resolver{Identities: e.Identities(), Touches: e.Touches(), Events: e.Events()}
}

// Detector is the source detector with the configured internal and ignored hosts.
func (e Env) Detector() *source.Detector {
	return source.New(source.Options{InternalDomains: e.Config.InternalDomains, IgnoredReferrers: e.Config.IgnoredReferrers})
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
	if !e.Config.Realtime {
		return nil, nil
	}
	if err := config.RequireInLambda(os.LookupEnv, RealtimeVariables...); err != nil {
		return nil, fmt.Errorf("REALTIME is on: %w", err)
	}
	sender, err := e.Segment("")
	if err != nil {
		return nil, err
	}
	return e.Pusher(sender), nil
}
