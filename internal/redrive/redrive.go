// Package redrive hands the stream records the consumers gave up on in AWS back to
// them. Lambda's on-failure destination (the stream failures queue) receives no records,
// only their coordinates: the stream, shard and sequence number range of the failed
// batch. The records themselves are read again from the table's stream, which keeps
// them 24 hours; past that, only `attribution rederive` over their time window can
// derive them again, and the message says which window.
package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/attribution-dev/attribution/internal/stream"
)

// Queue is the stream failures queue (*sqs.Client is one).
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// Streams reads a table's stream (*dynamodbstreams.Client is one).
type Streams interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Redriver empties the stream failures queue into the consumers.
type Redriver struct {
	Queue    Queue
	QueueURL string
	Streams  Streams
	// Consumers are the stream's consumers; a message goes to the one whose Lambda
	// function name ends in "-" + its Name (attribution-<stage>-detect: detect).
	Consumers []stream.Consumer
	Log       *slog.Logger
	// Timeout bounds one delivery to a consumer (default 60s, as deployed).
	Timeout time.Duration
	// DropExpired deletes the messages whose records the stream no longer has, once
	// their rederive command is reported: for an operator who ran (or will run) it.
	DropExpired bool
	// VisibilityTimeout hides a received message from other readers while it is
	// handled (default 5 min); one that is not deleted comes back after it.
	VisibilityTimeout time.Duration
}

// Result is what a run did, per message.
type Result struct {
	Messages int `json:"messages"` // received
	Redriven int `json:"redriven"` // handled and deleted
	Failed   int `json:"failed"`   // failed again; back in the queue after its visibility timeout
	// Expired messages name records the stream no longer holds; they stay in the queue
	// (14 days) unless DropExpired.
	Expired  int      `json:"expired"`
	Rederive []string `json:"rederive,omitempty"` // the commands that derive them instead
	Skipped  int      `json:"skipped"`            // unreadable, or for no consumer here; kept
}

// Failure is the message Lambda sends to a stream's on-failure destination.
type Failure struct {
	RequestContext struct {
		FunctionArn string `json:"functionArn"`
		Condition   string `json:"condition"`
	} `json:"requestContext"`
	Batch struct {
		ShardID                         string    `json:"shardId"`
		StartSequenceNumber             string    `json:"startSequenceNumber"`
		EndSequenceNumber               string    `json:"endSequenceNumber"`
		ApproximateArrivalOfFirstRecord time.Time `json:"approximateArrivalOfFirstRecord"`
		ApproximateArrivalOfLastRecord  time.Time `json:"approximateArrivalOfLastRecord"`
		BatchSize                       int       `json:"batchSize"`
		StreamArn                       string    `json:"streamArn"`
	} `json:"DDBStreamBatchInfo"`
}

// StopBefore is how long before its context's deadline Run stops taking messages.
const StopBefore = 10 * time.Second

// ErrExpired means the stream no longer holds the records (older than 24 hours, or the
// stream was replaced).
var ErrExpired = errors.New("stream records no longer available")

// Run receives messages until the queue is empty or ctx is close to its deadline, and
// deletes each one whose records every consumer handled.
func (r *Redriver) Run(ctx context.Context) (res Result, err error) {
	defer func() {
		if res.Messages > 0 || err != nil {
			r.Log.InfoContext(ctx, "stream failures redriven", "messages", res.Messages, "redriven", res.Redriven,
				"failed", res.Failed, "expired", res.Expired, "skipped", res.Skipped, "err", err)
		}
	}()
	if r.Timeout <= 0 {
		r.Timeout = 60 * time.Second
	}
	if r.VisibilityTimeout <= 0 {
		r.VisibilityTimeout = 5 * time.Minute
	}
	seen := map[string]bool{} // a message kept is not received twice in one run
	for {
		// Near the invocation's deadline the rest waits for the next run. A delivery the
		// deadline cuts short is no loss either: its message is not deleted.
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < StopBefore {
			return res, nil
		}
		out, err := r.Queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(r.QueueURL),
			MaxNumberOfMessages: 10,
			VisibilityTimeout:   int32(r.VisibilityTimeout / time.Second),
		})
		if err != nil {
			return res, fmt.Errorf("receive stream failures: %w", err)
		}
		fresh := 0
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			fresh++
			res.Messages++
			expired := res.Expired
			if err := r.handle(ctx, aws.ToString(m.Body), &res); err != nil {
				continue
			}
			if _, err := r.Queue.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.QueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return res, fmt.Errorf("delete stream failure %s: %w", id, err)
			}
			if res.Expired == expired {
				res.Redriven++
			}
		}
		if fresh == 0 {
			return res, nil
		}
	}
}

var errKept = errors.New("kept")

// handle re-reads one failed batch from the stream and delivers it to its consumer.
// A nil error means the message can be deleted.
func (r *Redriver) handle(ctx context.Context, body string, res *Result) error {
	var f Failure
	if err := json.Unmarshal([]byte(body), &f); err != nil || f.Batch.StreamArn == "" {
		r.Log.ErrorContext(ctx, "skip unreadable stream failure message", "err", err)
		res.Skipped++
		return errKept
	}
	c := r.consumer(f.RequestContext.FunctionArn)
	if c == nil {
		r.Log.ErrorContext(ctx, "skip stream failure of an unknown consumer", "function", f.RequestContext.FunctionArn)
		res.Skipped++
		return errKept
	}
	recs, err := r.records(ctx, f)
	if errors.Is(err, ErrExpired) {
		cmd := RederiveCommand(f)
		r.Log.ErrorContext(ctx, "stream records of a failure are gone; derive them from the events table instead",
			"consumer", c.Name, "first_arrival", f.Batch.ApproximateArrivalOfFirstRecord, "run", cmd, "err", err)
		res.Expired++
		res.Rederive = append(res.Rederive, cmd)
		if r.DropExpired {
			return nil
		}
		return errKept
	}
	if err != nil {
		r.Log.ErrorContext(ctx, "read stream records of a failure", "consumer", c.Name, "err", err)
		res.Failed++
		return err
	}
	var batch []events.DynamoDBEventRecord
	for _, rec := range recs {
		if rec.EventName != "INSERT" {
			continue
		}
		if c.Accept != nil {
			item, err := stream.ToSDK(rec.Change.NewImage)
			if err != nil || !c.Accept(item) {
				continue // the event source mapping's filter never delivered it either
			}
		}
		batch = append(batch, rec)
	}
	for len(batch) > 0 {
		n := min(len(batch), 100)
		if failed := stream.Invoke(ctx, r.Log, *c, batch[:n], r.Timeout); failed >= 0 {
			res.Failed++
			return fmt.Errorf("consumer %s failed again", c.Name)
		}
		batch = batch[n:]
	}
	return nil
}

func (r *Redriver) consumer(functionArn string) *stream.Consumer {
	name := functionArn[strings.LastIndex(functionArn, ":")+1:]
	for i, c := range r.Consumers {
		if strings.HasSuffix(name, "-"+c.Name) {
			return &r.Consumers[i]
		}
	}
	return nil
}

// records reads the failed batch's records from the stream: from its first sequence
// number through its last.
func (r *Redriver) records(ctx context.Context, f Failure) ([]events.DynamoDBEventRecord, error) {
	it, err := r.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn:         aws.String(f.Batch.StreamArn),
		ShardId:           aws.String(f.Batch.ShardID),
		ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber,
		SequenceNumber:    aws.String(f.Batch.StartSequenceNumber),
	})
	if err != nil {
		return nil, streamErr("get shard iterator", err)
	}
	end, ok := new(big.Int).SetString(f.Batch.EndSequenceNumber, 10)
	if !ok {
		return nil, fmt.Errorf("end sequence number %q is not a number", f.Batch.EndSequenceNumber)
	}
	var out []events.DynamoDBEventRecord
	next := it.ShardIterator
	// An open shard answers empty pages until new records come: a few in a row without
	// reaching the end mean the rest is not there.
	for empty := 0; next != nil && empty < 5; {
		page, err := r.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
		if err != nil {
			return nil, streamErr("get records", err)
		}
		next = page.NextShardIterator
		if len(page.Records) == 0 {
			empty++
			continue
		}
		for _, rec := range page.Records {
			seq, _ := new(big.Int).SetString(aws.ToString(rec.Dynamodb.SequenceNumber), 10)
			if seq == nil || seq.Cmp(end) > 0 {
				return out, nil
			}
			conv, err := fromStreams(rec, f.Batch.StreamArn)
			if err != nil {
				return nil, err
			}
			out = append(out, conv)
			if seq.Cmp(end) == 0 {
				return out, nil
			}
		}
	}
	return out, nil
}

func streamErr(op string, err error) error {
	var trimmed *streamtypes.TrimmedDataAccessException
	var expired *streamtypes.ExpiredIteratorException
	var gone *streamtypes.ResourceNotFoundException
	if errors.As(err, &trimmed) || errors.As(err, &expired) || errors.As(err, &gone) {
		return fmt.Errorf("%w: %s: %w", ErrExpired, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// fromStreams is the record as Lambda would have delivered it.
func fromStreams(rec streamtypes.Record, streamArn string) (events.DynamoDBEventRecord, error) {
	d := rec.Dynamodb
	if d == nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("stream record %s has no change", aws.ToString(rec.EventID))
	}
	image, err := attributevalue.FromDynamoDBStreamsMap(d.NewImage)
	if err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("stream record %s: %w", aws.ToString(rec.EventID), err)
	}
	keys, err := attributevalue.FromDynamoDBStreamsMap(d.Keys)
	if err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("stream record %s: %w", aws.ToString(rec.EventID), err)
	}
	out := events.DynamoDBEventRecord{
		AWSRegion:      aws.ToString(rec.AwsRegion),
		EventID:        aws.ToString(rec.EventID),
		EventName:      string(rec.EventName),
		EventSource:    aws.ToString(rec.EventSource),
		EventVersion:   aws.ToString(rec.EventVersion),
		EventSourceArn: streamArn,
		Change: events.DynamoDBStreamRecord{
			Keys:           stream.FromSDK(keys),
			NewImage:       stream.FromSDK(image),
			SequenceNumber: aws.ToString(d.SequenceNumber),
			SizeBytes:      aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		},
	}
	if d.ApproximateCreationDateTime != nil {
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	return out, nil
}

// RederiveCommand is what derives a failure's records once the stream no longer has
// them: the events that arrived in its batch's window, with a day's margin either side
// for events whose own time is not when they arrived.
func RederiveCommand(f Failure) string {
	first, last := f.Batch.ApproximateArrivalOfFirstRecord, f.Batch.ApproximateArrivalOfLastRecord
	if last.IsZero() {
		last = first
	}
	return fmt.Sprintf("attribution rederive -since %s -until %s",
		first.UTC().AddDate(0, 0, -1).Format(time.DateOnly), last.UTC().AddDate(0, 0, 2).Format(time.DateOnly))
}
