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
	"github.com/attribution-dev/attribution/internal/dashboard"
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
	DataDir string // where the outbox, the stream log and its failure log go (default .data)
	// Stream tunes the emulated stream; tests shorten its backoff.
	Stream stream.EmulatorOptions
	// Segment is the client the triggers and real-time attribution send through. New
	// builds it from Config (without a write key: a dry run to DataDir's outbox). When
	// nil, Consumers wires no real-time push: the importer derives touches from history
	// without sending every imported user to Segment (backfill does that on purpose).
	Segment *segment.Client
}

// DefaultRedrive is how soon after a record was given up `serve` first re-drives its
// failure log; the wait doubles while records keep failing (stream.EmulatorOptions).
const DefaultRedrive = time.Minute

// FailureLog is where the stream under dataDir writes the records it gave up on.
func FailureLog(dataDir string) string { return filepath.Join(dataDir, "stream-failures.jsonl") }

// Stack is the running local system.
type Stack struct {
	Handler http.Handler
	Stream  *stream.Emulator
	Events  *store.Events
}

// New builds the stack. Close its Stream when done.
func New(o Options) (*Stack, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	env := o.env()
	evs := env.Events()
	em, err := stream.NewEmulator(o.Log, o.Stream, Consumers(o)...)
	if err != nil {
		return nil, err
	}

	tombstones := env.Tombstones()
	webhook := &ingest.Handler{Store: publishing{Events: evs, stream: em}, Suppressor: tombstones, Secret: env.Config.SharedSecret, Blocked: env.Config.BlockedIDs, Log: o.Log}
	resolver := env.People()
	eraser := &erase.Handler{Eraser: env.Eraser(), Log: o.Log}
	lookup := &query.Handler{People: resolver, Log: o.Log, Erase: eraser.Routes(), MergeCaps: env.Identities()}
	triggers := &trigger.Handler{People: resolver, Sender: o.Segment, Event: env.Config.SourceIdentifiedEvent, Log: o.Log, Erased: tombstones.IsErased}

	page, err := dashboard.New(env.Detector(), o.Log)
	if err != nil {
		return nil, err
	}

	// The webhook authenticates by signature, the page holds no data (its own /api
	// route is keyed); everything else needs the API key.
	routes := append([]httpapi.Route{{Method: http.MethodPost, Path: "/events", Handler: webhook.Handle}},
		httpapi.WithAPIKey(env.Config.APIKey, slices.Concat(lookup.Routes(), env.Reports().Routes(), triggers.Routes())...)...)
	routes = append(routes, page.Routes(env.Config.APIKey)...)
	return &Stack{
		Handler: httpapi.NewServer(o.Log, 29*time.Second, routes...),
		Stream:  em,
		Events:  evs,
	}, nil
}

// Redrive hands the records in the failure log under DataDir back to the consumers
// that gave up on them (stream.RedriveFailures): `attribution redrive`, locally. It is
// safe beside a running `serve`, which appends to the same log.
func Redrive(ctx context.Context, o Options) (stream.RedriveResult, error) {
	o, err := o.withDefaults()
	if err != nil {
		return stream.RedriveResult{}, err
	}
	return stream.RedriveFailures(ctx, o.Log, o.Stream.FailureLog, o.Stream.Timeout, Consumers(o)...)
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		o.DataDir = ".data"
	}
	if o.Stream.FailureLog == "" {
		o.Stream.FailureLog = FailureLog(o.DataDir)
	}
	if o.Stream.Dir == "" {
		o.Stream.Dir = filepath.Join(o.DataDir, "stream")
	}
	if o.Stream.Redrive == 0 {
		// A Segment or DynamoDB outage longer than the retries heals on its own.
		o.Stream.Redrive = DefaultRedrive
	}
	if o.Segment == nil {
		// Without SEGMENT_WRITE_KEY the triggers and pushes write to the outbox under DataDir.
		var err error
		if o.Segment, err = o.env().Segment(filepath.Join(o.DataDir, "segment-outbox.jsonl")); err != nil {
			return o, err
		}
	}
	return o, nil
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
//
// The webhook Syncs before answering, so it never answers 2xx for an event whose record
// a crash could lose (one fsync of the stream's log for a whole batch); if the log
// cannot be written, the record is still delivered from memory and the webhook answers
// 503.
type publishing struct {
	*store.Events
	stream *stream.Emulator
}

func (p publishing) Put(ctx context.Context, ev event.Event) (bool, error) {
	stored, err := p.Events.Put(ctx, ev)
	if err != nil {
		return false, err
	}
	rec := stream.Item{Key: stream.Key(ev), Item: store.EventItem(ev, p.Retention)}
	if !stored {
		if rec.Item, err = p.Events.Item(ctx, ev.MessageID); err != nil {
			// Fail the request: the retry republishes.
			return false, fmt.Errorf("republish duplicate: %w", err)
		}
		prev, err := store.EventFromItem(rec.Item)
		if err != nil {
			return false, fmt.Errorf("republish duplicate: %w", err)
		}
		rec.Key = stream.Key(prev)
	}
	if err := p.stream.Append(p.Table(), rec); err != nil {
		return stored, fmt.Errorf("publish event %s: %w", ev.MessageID, err)
	}
	return stored, nil
}

// Sync makes the records of every Put so far durable.
func (p publishing) Sync(context.Context) error {
	if err := p.stream.Sync(); err != nil {
		return fmt.Errorf("publish events: %w", err)
	}
	return nil
}

var (
	_ ingest.Store  = publishing{}
	_ ingest.Syncer = publishing{}
)
