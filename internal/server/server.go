// Package server assembles the whole stack for `attribution serve` and for end-to-end
// tests: every route's Lambda handler behind net/http, and every stream consumer behind
// the stream emulator, wired exactly as serverless.yml wires them in AWS.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/ingest"
	"github.com/attribution-dev/attribution/internal/ledger"
	"github.com/attribution-dev/attribution/internal/links"
	"github.com/attribution-dev/attribution/internal/query"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
	"github.com/attribution-dev/attribution/internal/touches"
	"github.com/attribution-dev/attribution/internal/trigger"
)

// Options configure the local stack.
type Options struct {
	Config  config.Config
	DB      *dynamodb.Client
	Log     *slog.Logger
	DataDir string // where the outbox and stream failure log go (default .data)
	// Stream tunes the emulated stream; tests shorten its backoff.
	Stream stream.EmulatorOptions
	// Segment is the client the triggers and real-time attribution send through. New
	// builds it from Config (without a write key: a dry run to DataDir's outbox). When
	// nil, Consumers wires no real-time push: the importer derives touches from history
	// without sending every imported user to Segment (backfill does that on purpose).
	Segment *segment.Client
}

// Stack is the running local system.
type Stack struct {
	Handler http.Handler
	Stream  *stream.Emulator
	Events  *store.Events
}

// New builds the stack. Close its Stream when done.
func New(o Options) (*Stack, error) {
	if o.DataDir == "" {
		o.DataDir = ".data"
	}
	if o.Stream.FailureLog == "" {
		o.Stream.FailureLog = filepath.Join(o.DataDir, "stream-failures.jsonl")
	}
	env := o.env()
	if o.Segment == nil {
		// Without SEGMENT_WRITE_KEY the triggers and pushes write to the outbox under DataDir.
		var err error
		if o.Segment, err = env.Segment(filepath.Join(o.DataDir, "segment-outbox.jsonl")); err != nil {
			return nil, err
		}
	}
	evs := env.Events()
	em := stream.NewEmulator(o.Log, o.Stream, Consumers(o)...)

	tombstones := env.Tombstones()
	webhook := &ingest.Handler{Store: publishing{Events: evs, stream: em}, Suppressor: tombstones, Secret: env.Config.SharedSecret, Blocked: env.Config.BlockedIDs, Log: o.Log}
	resolver := env.People()
	eraser := &erase.Handler{Eraser: env.Eraser(), Log: o.Log}
	lookup := &query.Handler{People: resolver, Log: o.Log, Erase: eraser.Routes(), MergeCaps: env.Identities()}
	triggers := &trigger.Handler{People: resolver, Sender: o.Segment, Event: env.Config.SourceIdentifiedEvent, Log: o.Log, Erased: tombstones.IsErased}

	// The webhook authenticates by signature; everything else needs the API key.
	routes := append([]httpapi.Route{{Method: http.MethodPost, Path: "/events", Handler: webhook.Handle}},
		httpapi.WithAPIKey(env.Config.APIKey, slices.Concat(lookup.Routes(), env.Reports().Routes(), triggers.Routes())...)...)
	return &Stack{
		Handler: httpapi.NewServer(o.Log, 29*time.Second, routes...),
		Stream:  em,
		Events:  evs,
	}, nil
}

func (o Options) env() app.Env { return app.Env{Config: o.Config, DB: o.DB, Log: o.Log} }

// Consumers are the stream's event source mappings, with their filter patterns. The
// importer runs the same list to derive touches and identities from what it imports.
// Real-time attribution is wired when Config.Realtime is on and o.Segment is set.
func Consumers(o Options) []stream.Consumer {
	env := o.env()
	erased := env.Tombstones().EventsErased
	detector := &touches.Handler{Detector: env.Detector(), PageViews: env.Events(), Touches: env.Touches(), Log: o.Log, Erased: erased}
	identities := &links.Handler{Identities: env.Identities(), Log: o.Log, Erased: erased, Blocked: env.Config.BlockedIDs}
	if o.Segment != nil {
		// nil when REALTIME=false
		detector.Realtime = env.Pusher(o.Segment)
		identities.Realtime = detector.Realtime
	}
	consumers := []stream.Consumer{
		{Name: "detect", Accept: typeIs(event.TypePage), Handler: detector.Handle},
		{Name: "identify", Accept: typeIs(event.TypeIdentify, event.TypeAlias), Handler: identities.Handle},
	}
	if len(o.Config.ConversionEvents) == 0 {
		return consumers
	}
	books := env.Ledger(o.Segment)
	detector.Conversions, identities.Conversions = books.FollowUp, books.FollowUp
	conversions := &ledger.Handler{Ledger: books, Events: o.Config.ConversionEvents, Log: o.Log, Erased: erased}
	return append(consumers, stream.Consumer{Name: "conversions", Accept: typeIs(event.TypeTrack), Handler: conversions.Handle})
}

// typeIs is the filter pattern on dynamodb.NewImage.type.S that serverless.yml declares.
func typeIs(types ...string) func(map[string]ddbtypes.AttributeValue) bool {
	return func(item map[string]ddbtypes.AttributeValue) bool {
		t, ok := item[store.AttrType].(*ddbtypes.AttributeValueMemberS)
		return ok && slices.Contains(types, t.Value)
	}
}

// publishing stores events and emits the stream record DynamoDB would for each one
// inserted; and, unlike DynamoDB, for each duplicate too. A PutItem that DynamoDB
// applied but whose answer was lost (a stall, a reset) fails the request; Segment's
// retry then finds a duplicate, and a stream that skipped duplicates would never
// publish that event. On AWS the table's stream has the record whatever the webhook
// answered; here the retry is the only chance. The consumers are idempotent, so
// republishing costs their work again and nothing else; duplicates are Segment's
// retries and replays, rare beside new events. What is published is the item read back,
// the one stored, not the duplicate offered.
type publishing struct {
	*store.Events
	stream *stream.Emulator
}

func (p publishing) Put(ctx context.Context, ev event.Event) (bool, error) {
	stored, err := p.Events.Put(ctx, ev)
	switch {
	case err != nil:
		return false, err
	case stored:
		p.stream.Publish(p.Table(), streamKey(ev), store.EventItem(ev, p.Retention))
		return true, nil
	}
	item, err := p.Events.Item(ctx, ev.MessageID)
	if err != nil {
		// Fail the request: the retry republishes.
		return false, fmt.Errorf("republish duplicate: %w", err)
	}
	prev, err := store.EventFromItem(item)
	if err != nil {
		return false, fmt.Errorf("republish duplicate: %w", err)
	}
	p.stream.Publish(p.Table(), streamKey(prev), item)
	return false, nil
}

// streamKey orders a person's records: a visitor's events reach consumers in order.
func streamKey(ev event.Event) string {
	if ev.AnonymousID != "" {
		return ev.AnonymousID
	}
	return ev.UserID
}

var _ ingest.Store = publishing{}
