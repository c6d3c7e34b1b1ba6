package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attribution-dev/attribution/internal/backoff"
	"github.com/attribution-dev/attribution/internal/jsonl"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Consumer is a stream consumer as an event source mapping sees it: a filter (the
// mapping's filter pattern) and the Lambda handler.
type Consumer struct {
	Name string
	// Accept is the filter pattern: records it refuses are never delivered.
	Accept  func(item map[string]types.AttributeValue) bool
	Handler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
}

// EmulatorOptions tune the local stream. Zero values are sensible defaults.
type EmulatorOptions struct {
	Shards      int           // parallel shards per consumer (default 4)
	BatchSize   int           // records per invocation at most (default 100)
	MaxAttempts int           // deliveries of a failing record before it goes to FailureLog (default 8)
	Backoff     time.Duration // first retry delay, doubled per attempt (default 200ms)
	Timeout     time.Duration // per invocation (default 30s)
	// FailureLog, when set, receives one JSON line per record that exhausted its
	// attempts: the local equivalent of the on-failure destination.
	FailureLog string
}

// Emulator delivers stored events to consumers asynchronously, after the writer has
// answered, as DynamoDB Streams and Lambda do: in order per key, in batches, with
// retries of failed records and partial batch failure reporting.
type Emulator struct {
	log     *slog.Logger
	opts    EmulatorOptions
	shards  [][]chan events.DynamoDBEventRecord // [consumer][shard]
	cons    []Consumer
	seq     atomic.Int64
	pending sync.WaitGroup
	workers sync.WaitGroup
	failMu  sync.Mutex
	closed  atomic.Bool
	stop    chan struct{}
}

// NewEmulator starts the shards' workers. Close stops them after draining.
func NewEmulator(log *slog.Logger, opts EmulatorOptions, consumers ...Consumer) *Emulator {
	if opts.Shards <= 0 {
		opts.Shards = 4
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	e := &Emulator{log: log, opts: opts, cons: consumers, stop: make(chan struct{})}
	for ci := range consumers {
		shards := make([]chan events.DynamoDBEventRecord, opts.Shards)
		for si := range shards {
			shards[si] = make(chan events.DynamoDBEventRecord, 4096)
			e.workers.Add(1)
			go e.run(ci, shards[si])
		}
		e.shards = append(e.shards, shards)
	}
	return e
}

// Publish hands a newly inserted item to every consumer whose filter accepts it.
// key orders delivery: records with the same key are delivered in publish order.
func (e *Emulator) Publish(table, key string, item map[string]types.AttributeValue) {
	if e.closed.Load() {
		e.log.Error("stream emulator closed; record not delivered", "table", table)
		return
	}
	seq := e.seq.Add(1)
	rec := events.DynamoDBEventRecord{
		AWSRegion:      "local",
		EventID:        "local-" + strconv.FormatInt(seq, 10),
		EventName:      "INSERT",
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: "arn:aws:dynamodb:local:000000000000:table/" + table + "/stream/local",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now()},
			NewImage:                    FromSDK(item),
			SequenceNumber:              fmt.Sprintf("%021d", seq),
			StreamViewType:              "NEW_IMAGE",
		},
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	for ci, c := range e.cons {
		if c.Accept != nil && !c.Accept(item) {
			continue
		}
		e.pending.Add(1)
		shards := e.shards[ci]
		shards[int(h.Sum32())%len(shards)] <- rec
	}
}

// Idle waits until every published record has been handled or given up on.
func (e *Emulator) Idle(ctx context.Context) error {
	done := make(chan struct{})
	go func() { e.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for stream consumers: %w", ctx.Err())
	}
}

// Close delivers what is queued (within ctx) and stops the workers.
func (e *Emulator) Close(ctx context.Context) error {
	err := e.Idle(ctx)
	e.closed.Store(true)
	close(e.stop)
	e.workers.Wait()
	return err
}

func (e *Emulator) run(ci int, in chan events.DynamoDBEventRecord) {
	defer e.workers.Done()
	for {
		var first events.DynamoDBEventRecord
		select {
		case first = <-in:
		case <-e.stop:
			return
		}
		batch := []events.DynamoDBEventRecord{first}
	fill:
		for len(batch) < e.opts.BatchSize {
			select {
			case rec := <-in:
				batch = append(batch, rec)
			default:
				break fill
			}
		}
		e.deliver(ci, batch)
		for range batch {
			e.pending.Done()
		}
	}
}

// deliver invokes the consumer until every record succeeded or ran out of attempts,
// redelivering from the first reported failure onward, as Lambda does.
func (e *Emulator) deliver(ci int, batch []events.DynamoDBEventRecord) {
	c := e.cons[ci]
	for attempt := 1; len(batch) > 0; attempt++ {
		failedFrom := e.invoke(c, batch)
		if failedFrom < 0 {
			return
		}
		if attempt >= e.opts.MaxAttempts {
			// The on-failure destination: give up on the first failed record only and
			// go on with the rest, as bisect-on-error plus maximumRetryAttempts would.
			e.fail(c.Name, batch[failedFrom], attempt)
			batch, attempt = batch[failedFrom+1:], 0
			continue
		}
		batch = batch[failedFrom:]
		select {
		case <-time.After(backoff.Delay(attempt, e.opts.Backoff, e.opts.Backoff<<6, 1)):
		case <-e.stop:
			return
		}
	}
}

// invoke returns the index of the first failed record, or -1 when all succeeded.
func (e *Emulator) invoke(c Consumer, batch []events.DynamoDBEventRecord) (failedFrom int) {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
	defer cancel()
	resp, err := safeInvoke(ctx, c, events.DynamoDBEvent{Records: batch})
	if err != nil {
		e.log.Error("stream consumer failed", "consumer", c.Name, "records", len(batch), "err", err)
		return 0
	}
	first := -1
	for _, f := range resp.BatchItemFailures {
		for i, rec := range batch {
			if rec.Change.SequenceNumber == f.ItemIdentifier && (first < 0 || i < first) {
				first = i
			}
		}
	}
	return first
}

func safeInvoke(ctx context.Context, c Consumer, ev events.DynamoDBEvent) (resp events.DynamoDBEventResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("consumer %s panicked: %v", c.Name, r)
		}
	}()
	return c.Handler(ctx, ev)
}

func (e *Emulator) fail(consumer string, rec events.DynamoDBEventRecord, attempts int) {
	e.log.Error("stream record given up after retries; sent to failure log",
		"consumer", consumer, "event_id", rec.EventID, "attempts", attempts, "failure_log", e.opts.FailureLog)
	if e.opts.FailureLog == "" {
		return
	}
	e.failMu.Lock()
	defer e.failMu.Unlock()
	line, err := json.Marshal(map[string]any{"consumer": consumer, "attempts": attempts, "record": rec})
	if err == nil {
		err = jsonl.Append(e.opts.FailureLog, line)
	}
	if err != nil {
		e.log.Error("write stream failure log", "path", e.opts.FailureLog, "err", err)
	}
}
