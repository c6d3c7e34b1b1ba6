package stream

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/attribution-dev/attribution/internal/backoff"
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
	// attempts: the local equivalent of the on-failure destination (see Redrive).
	FailureLog string
	// Dir, when set, keeps the stream on disk (see changeLog): records published and not
	// yet handled survive a stop or a crash and are delivered after the next start.
	// Empty: in memory only, for tests and jobs that simply rerun.
	Dir string
	// CheckpointEvery is how often handled records are checkpointed (default 2s).
	CheckpointEvery time.Duration
	// SegmentBytes is the size at which the log starts a new segment file (default 16 MB).
	SegmentBytes int64
	// QueueLimit is how many records a shard holds before Publish waits (default 4096).
	QueueLimit int
	// Redrive, when positive, re-drives FailureLog in the background (RedriveFailures):
	// after Redrive, then after twice as long each time records still fail, up to
	// RedriveMax (default 30 min), and after Redrive again once a run leaves none.
	Redrive    time.Duration
	RedriveMax time.Duration
}

// Item is one inserted item and the key that orders its delivery: records with the
// same key reach each consumer in publish order.
type Item struct {
	Key  string
	Item map[string]types.AttributeValue
}

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("stream emulator closed")

// Emulator delivers stored events to consumers asynchronously, after the writer has
// answered, as DynamoDB Streams and Lambda do: at least once, in order per key, in
// batches, with retries of failed records and partial batch failure reporting. With
// a Dir it keeps its records on disk until every consumer has handled them.
type Emulator struct {
	log    *slog.Logger
	opts   EmulatorOptions
	cons   []Consumer
	shards [][]*shard // [consumer][shard]
	clog   *changeLog

	mu     sync.Mutex // sequence numbers, log order and queue order agree
	seq    int64
	closed bool

	pending sync.WaitGroup
	left    atomic.Int64 // records queued or in flight
	workers sync.WaitGroup
	bg      sync.WaitGroup
	failMu  sync.Mutex

	closeOnce sync.Once
	closeErr  error
	// ctx ends at Close: workers stop between invocations, backoffs end, and an
	// invocation still running is cancelled; what was not done is replayed next start.
	ctx    context.Context
	cancel context.CancelFunc
}

type queued struct {
	seq int64
	rec events.DynamoDBEventRecord
}

// shard is one consumer's queue for the keys hashing to it.
type shard struct {
	mu   sync.Mutex
	cond *sync.Cond // records arrived, room freed, or the emulator is closing
	recs []queued
	// inflight is the first record of the batch being delivered that is not done yet;
	// 0 when none is.
	inflight int64
}

// NewEmulator replays what Dir holds that was not handled before, and starts the
// shards' workers. Close stops them after draining.
func NewEmulator(log *slog.Logger, opts EmulatorOptions, consumers ...Consumer) (*Emulator, error) {
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
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 2 * time.Second
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 16 << 20
	}
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = 4096
	}
	if opts.RedriveMax <= 0 {
		opts.RedriveMax = 30 * time.Minute
	}
	clog, lines, cp, err := openChangeLog(opts.Dir, opts.SegmentBytes)
	if err != nil {
		return nil, err
	}
	e := &Emulator{log: log, opts: opts, cons: consumers, clog: clog, seq: clog.written}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for range consumers {
		shards := make([]*shard, opts.Shards)
		for si := range shards {
			shards[si] = &shard{}
			shards[si].cond = sync.NewCond(&shards[si].mu)
		}
		e.shards = append(e.shards, shards)
	}
	replayed := e.replay(lines, cp)
	if replayed > 0 {
		log.Info("stream records from before the last stop delivered again", "records", replayed, "dir", opts.Dir)
	}
	for ci := range consumers {
		for _, s := range e.shards[ci] {
			e.workers.Add(1)
			go e.run(ci, s)
		}
	}
	if opts.Dir != "" {
		e.bg.Add(1)
		go e.checkpointLoop()
	}
	if opts.Redrive > 0 && opts.FailureLog != "" {
		e.bg.Add(1)
		go e.redriveLoop()
	}
	return e, nil
}

// replay queues the logged records a consumer has not handled yet, by its checkpoint.
func (e *Emulator) replay(lines []logLine, cp checkpoints) (queuedRecords int) {
	for _, ln := range lines {
		var item map[string]types.AttributeValue
		for ci, c := range e.cons {
			if c.Accept != nil {
				if item == nil {
					var err error
					if item, err = ToSDK(ln.Record.Change.NewImage); err != nil {
						e.log.Error("skip unreadable stream log record", "seq", ln.Seq, "err", err)
						break
					}
				}
				if !c.Accept(item) {
					continue
				}
			}
			si := shardOf(ln.Key, e.opts.Shards)
			if ln.Seq <= cp.done(c.Name, si, e.opts.Shards) {
				continue
			}
			e.enqueue(ci, si, queued{seq: ln.Seq, rec: ln.Record}, false)
			queuedRecords++
		}
	}
	return queuedRecords
}

// done is where consumer's shard si of shards stands. When the shard count changed,
// the consumer's lowest checkpoint holds for every shard: some records are delivered
// twice, none is skipped. A consumer the checkpoint does not know gets the whole log.
func (cp checkpoints) done(consumer string, si, shards int) int64 {
	got, ok := cp.Consumers[consumer]
	if !ok || len(got) == 0 {
		return 0
	}
	if cp.Shards == shards && si < len(got) {
		return got[si]
	}
	return slices.Min(got)
}

func shardOf(key string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(shards))
}

// Publish hands newly inserted items to every consumer whose filter accepts them, and
// returns once they are on disk (with a Dir): a crash after that loses nothing. If the
// log cannot be written, the records are still delivered while the process runs, and
// the error says the caller must not acknowledge them as durable.
func (e *Emulator) Publish(table string, items ...Item) error {
	last, err := e.append(table, items...)
	if err != nil {
		return err
	}
	return e.clog.sync(last)
}

// Append is Publish without waiting for the disk: for a writer that publishes many
// records concurrently and then calls Sync once before acknowledging any of them.
func (e *Emulator) Append(table string, items ...Item) error {
	_, err := e.append(table, items...)
	return err
}

// Sync returns once every record published so far is on disk.
func (e *Emulator) Sync() error {
	e.mu.Lock()
	last := e.seq
	e.mu.Unlock()
	return e.clog.sync(last)
}

func (e *Emulator) append(table string, items ...Item) (last int64, err error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.log.Error("stream emulator closed; records not delivered", "table", table, "records", len(items))
		return 0, ErrClosed
	}
	var logErr error
	for _, it := range items {
		e.seq++
		seq := e.seq
		rec := events.DynamoDBEventRecord{
			AWSRegion:      "local",
			EventID:        "local-" + strconv.FormatInt(seq, 10),
			EventName:      "INSERT",
			EventSource:    "aws:dynamodb",
			EventVersion:   "1.1",
			EventSourceArn: "arn:aws:dynamodb:local:000000000000:table/" + table + "/stream/local",
			Change: events.DynamoDBStreamRecord{
				ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now()},
				NewImage:                    FromSDK(it.Item),
				SequenceNumber:              fmt.Sprintf("%021d", seq),
				StreamViewType:              "NEW_IMAGE",
			},
		}
		if err := e.clog.append(logLine{Seq: seq, Key: it.Key, Record: rec}); err != nil && logErr == nil {
			logErr = err
		}
		si := shardOf(it.Key, e.opts.Shards)
		for ci, c := range e.cons {
			if c.Accept != nil && !c.Accept(it.Item) {
				continue
			}
			e.enqueue(ci, si, queued{seq: seq, rec: rec}, true)
		}
	}
	last = e.seq
	e.mu.Unlock()
	if logErr != nil {
		e.log.Error("stream log write failed; records delivered from memory only", "records", len(items), "err", logErr)
		return last, logErr
	}
	return last, nil
}

// enqueue adds a record to a shard, waiting for room when bounded (live publishing:
// back-pressure on a fast writer) but never once the emulator is closing.
func (e *Emulator) enqueue(ci, si int, q queued, bounded bool) {
	s := e.shards[ci][si]
	s.mu.Lock()
	for bounded && len(s.recs) >= e.opts.QueueLimit && e.ctx.Err() == nil {
		s.cond.Wait()
	}
	s.recs = append(s.recs, q)
	e.pending.Add(1)
	e.left.Add(1)
	s.mu.Unlock()
	s.cond.Broadcast()
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

// Close delivers what is queued (within ctx), stops the workers, and checkpoints. The
// records left undelivered are logged, and delivered after the next start with the
// same Dir. Later calls return what the first returned.
func (e *Emulator) Close(ctx context.Context) error {
	e.closeOnce.Do(func() { e.closeErr = e.close(ctx) })
	return e.closeErr
}

func (e *Emulator) close(ctx context.Context) error {
	err := e.Idle(ctx)
	e.cancel()
	for _, shards := range e.shards {
		for _, s := range shards {
			s.mu.Lock()
			s.cond.Broadcast()
			s.mu.Unlock()
		}
	}
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.workers.Wait()
	e.bg.Wait()
	if cerr := e.clog.checkpoint(e.checkpoints()); cerr != nil {
		e.log.Error("write stream checkpoints", "err", cerr)
	}
	if cerr := e.clog.close(); cerr != nil {
		e.log.Error("close stream log", "err", cerr)
	}
	if left := e.left.Load(); left > 0 {
		if e.opts.Dir != "" {
			e.log.Warn("stream records left for the next start", "records", left, "dir", e.opts.Dir)
			return fmt.Errorf("%d stream records left for the next start: %w", left, err)
		}
		e.log.Error("stream records dropped at shutdown (no stream directory)", "records", left)
		return fmt.Errorf("%d stream records dropped: %w", left, err)
	}
	return err
}

// checkpoints says, per consumer and shard, up to where everything is done: up to the
// record before the first one queued or in flight, or up to the last published when
// the shard is idle.
func (e *Emulator) checkpoints() checkpoints {
	e.mu.Lock()
	defer e.mu.Unlock()
	cp := checkpoints{LastSeq: e.seq, Shards: e.opts.Shards, Consumers: make(map[string][]int64, len(e.cons))}
	for ci, c := range e.cons {
		done := make([]int64, len(e.shards[ci]))
		for si, s := range e.shards[ci] {
			s.mu.Lock()
			switch {
			case s.inflight > 0:
				done[si] = s.inflight - 1
			case len(s.recs) > 0:
				done[si] = s.recs[0].seq - 1
			default:
				done[si] = e.seq
			}
			s.mu.Unlock()
		}
		cp.Consumers[c.Name] = done
	}
	return cp
}

func (e *Emulator) checkpointLoop() {
	defer e.bg.Done()
	t := time.NewTicker(e.opts.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
			if err := e.clog.checkpoint(e.checkpoints()); err != nil {
				e.log.Error("write stream checkpoints", "err", err)
			}
		}
	}
}

func (e *Emulator) run(ci int, s *shard) {
	defer e.workers.Done()
	for {
		batch := e.take(s)
		if batch == nil {
			return
		}
		left := e.deliver(ci, s, batch)
		done := len(batch) - left
		s.mu.Lock()
		if left == 0 {
			s.inflight = 0
		}
		s.mu.Unlock()
		e.left.Add(-int64(done))
		for range done {
			e.pending.Done()
		}
		if left > 0 {
			return // closing: the rest is replayed from the log
		}
	}
}

// take waits for records and removes up to a batch of them from the queue, marking
// them in flight; nil once the emulator is closing.
func (e *Emulator) take(s *shard) []queued {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.recs) == 0 || e.ctx.Err() != nil {
		if e.ctx.Err() != nil {
			return nil
		}
		s.cond.Wait()
	}
	n := min(len(s.recs), e.opts.BatchSize)
	// Reslicing, not shifting: a queue replayed after a long outage can be long.
	batch := s.recs[:n:n]
	s.recs = s.recs[n:]
	s.inflight = batch[0].seq
	s.cond.Broadcast()
	return batch
}

// deliver invokes the consumer until every record succeeded or ran out of attempts,
// redelivering from the first reported failure onward, as Lambda does. It returns how
// many records were left undone because the emulator is closing.
func (e *Emulator) deliver(ci int, s *shard, batch []queued) (left int) {
	c := e.cons[ci]
	advance := func(rest []queued) {
		s.mu.Lock()
		if len(rest) > 0 {
			s.inflight = rest[0].seq
		}
		s.mu.Unlock()
	}
	for attempt := 1; len(batch) > 0; attempt++ {
		failedFrom := Invoke(e.ctx, e.log, c, records(batch), e.opts.Timeout)
		if failedFrom < 0 {
			return 0
		}
		batch = batch[failedFrom:]
		advance(batch)
		if e.ctx.Err() != nil {
			return len(batch)
		}
		if attempt >= e.opts.MaxAttempts {
			// The on-failure destination: give up on the first failed record only and
			// go on with the rest, as bisect-on-error plus maximumRetryAttempts would.
			if err := e.fail(c.Name, batch[0], attempt); err == nil {
				batch, attempt = batch[1:], 0
				advance(batch)
				continue
			}
			// Not recorded anywhere: keep retrying it rather than lose it.
		}
		if backoff.Sleep(e.ctx, backoff.Delay(attempt, e.opts.Backoff, e.opts.Backoff<<6, 1)) != nil {
			return len(batch)
		}
	}
	return 0
}

func records(batch []queued) []events.DynamoDBEventRecord {
	out := make([]events.DynamoDBEventRecord, len(batch))
	for i, q := range batch {
		out[i] = q.rec
	}
	return out
}

func safeInvoke(ctx context.Context, c Consumer, ev events.DynamoDBEvent) (resp events.DynamoDBEventResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("consumer %s panicked: %v", c.Name, r)
		}
	}()
	return c.Handler(ctx, ev)
}
