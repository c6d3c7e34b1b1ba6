package redrive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/stream"
)

// queue is an SQS queue in memory: received messages stay until deleted, and are
// received again by a later run.
type queue struct {
	msgs    map[string]string // id → body
	order   []string
	deleted []string
}

func (q *queue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out := &sqs.ReceiveMessageOutput{}
	for _, id := range q.order {
		if body, ok := q.msgs[id]; ok && len(out.Messages) < int(in.MaxNumberOfMessages) {
			out.Messages = append(out.Messages, sqstypes.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String(body)})
		}
	}
	return out, nil
}

func (q *queue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	id := aws.ToString(in.ReceiptHandle)[len("rh-"):]
	delete(q.msgs, id)
	q.deleted = append(q.deleted, id)
	return &sqs.DeleteMessageOutput{}, nil
}

func (q *queue) add(id string, f string) {
	if q.msgs == nil {
		q.msgs = map[string]string{}
	}
	q.msgs[id] = f
	q.order = append(q.order, id)
}

// shard is one stream shard's records, served a page of two at a time; trimmed
// answers as a stream does for records older than 24 hours.
type shard struct {
	records []streamtypes.Record
	trimmed bool
}

func (s *shard) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	if s.trimmed {
		return nil, &streamtypes.TrimmedDataAccessException{Message: aws.String("trimmed")}
	}
	want, _ := new(big.Int).SetString(aws.ToString(in.SequenceNumber), 10)
	for i, r := range s.records {
		if seq, _ := new(big.Int).SetString(aws.ToString(r.Dynamodb.SequenceNumber), 10); seq.Cmp(want) == 0 {
			return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(strconv.Itoa(i))}, nil
		}
	}
	return nil, errors.New("no such sequence number")
}

func (s *shard) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	i, _ := strconv.Atoi(aws.ToString(in.ShardIterator))
	end := min(i+2, len(s.records))
	out := &dynamodbstreams.GetRecordsOutput{Records: s.records[i:end]}
	out.NextShardIterator = aws.String(strconv.Itoa(end)) // an open shard goes on, empty
	return out, nil
}

func pageRecord(seq int, id, typ string) streamtypes.Record {
	return streamtypes.Record{
		EventID: aws.String("ev-" + id), EventName: streamtypes.OperationTypeInsert, AwsRegion: aws.String("us-east-1"),
		Dynamodb: &streamtypes.StreamRecord{
			SequenceNumber: aws.String(fmt.Sprintf("1000000000000000%05d", seq)),
			Keys:           map[string]streamtypes.AttributeValue{"messageId": &streamtypes.AttributeValueMemberS{Value: id}},
			NewImage: map[string]streamtypes.AttributeValue{
				"messageId": &streamtypes.AttributeValueMemberS{Value: id},
				"type":      &streamtypes.AttributeValueMemberS{Value: typ},
			},
			StreamViewType: streamtypes.StreamViewTypeNewImage,
		},
	}
}

func failure(function string, first, last int) string {
	return fmt.Sprintf(`{"requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:attribution-prod-%s","condition":"RetryAttemptsExhausted","approximateInvokeCount":11},
	 "version":"1.0","timestamp":"2026-11-29T10:00:00Z",
	 "DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"1000000000000000%05d","endSequenceNumber":"1000000000000000%05d",
	  "approximateArrivalOfFirstRecord":"2026-11-29T09:00:00Z","approximateArrivalOfLastRecord":"2026-11-29T09:05:00Z","batchSize":2,
	  "streamArn":"arn:aws:dynamodb:us-east-1:123456789012:table/attribution-prod-events/stream/2026-01-01T00:00:00.000"}}`, function, first, last)
}

// consumer records the message ids it is handed and fails while down.
type consumer struct {
	name string
	down bool
	got  []string
}

func (c *consumer) Consumer() stream.Consumer {
	return stream.Consumer{
		Name: c.name,
		// The event source mapping's filter: detect takes page events only.
		Accept: func(item map[string]ddbtypes.AttributeValue) bool {
			t, _ := item["type"].(*ddbtypes.AttributeValueMemberS)
			return t != nil && (c.name != "detect" || t.Value == "page")
		},
		Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if c.down {
				return events.DynamoDBEventResponse{}, errors.New("segment is down")
			}
			for _, rec := range ev.Records {
				c.got = append(c.got, rec.Change.NewImage["messageId"].String())
			}
			return events.DynamoDBEventResponse{}, nil
		},
	}
}

func TestRedriveReadsTheFailedRangeBackAndDeletesWhatIsHandled(t *testing.T) {
	s := &shard{}
	for i, id := range []string{"p1", "p2", "i1", "p3", "p4"} {
		typ := "page"
		if id == "i1" {
			typ = "identify"
		}
		s.records = append(s.records, pageRecord(i+1, id, typ))
	}
	detect, identify := &consumer{name: "detect", down: true}, &consumer{name: "identify"}
	q := &queue{}
	q.add("m1", failure("detect", 2, 4))   // p2, i1, p3: the identify is not detect's
	q.add("m2", failure("identify", 3, 3)) // i1
	q.add("m3", `not json`)
	r := &Redriver{Queue: q, QueueURL: "q", Streams: s, Consumers: []stream.Consumer{detect.Consumer(), identify.Consumer()}, Log: slog.New(slog.DiscardHandler)}

	res, err := r.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Result{Messages: 3, Redriven: 1, Failed: 1, Skipped: 1}, res)
	assert.Equal(t, []string{"m2"}, q.deleted)
	assert.Equal(t, []string{"i1"}, identify.got)

	detect.down = false
	res, err = r.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Result{Messages: 2, Redriven: 1, Skipped: 1}, res)
	assert.Equal(t, []string{"p2", "p3"}, detect.got, "the failed range, through the consumer's own filter")
	assert.Contains(t, q.msgs, "m3", "an unreadable message is kept for a person to read")
}

func TestRecordsTheStreamNoLongerHasAreLeftForRederive(t *testing.T) {
	q := &queue{}
	q.add("m1", failure("detect", 1, 2))
	detect := &consumer{name: "detect"}
	r := &Redriver{Queue: q, QueueURL: "q", Streams: &shard{trimmed: true}, Consumers: []stream.Consumer{detect.Consumer()}, Log: slog.New(slog.DiscardHandler)}
	res, err := r.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, res.Expired)
	assert.Equal(t, []string{"attribution rederive -since 2026-11-28 -until 2026-12-01"}, res.Rederive)
	assert.Empty(t, q.deleted)
	assert.Empty(t, detect.got)
}

func TestRunStopsInTimeForTheNextInvocation(t *testing.T) {
	q := &queue{}
	q.add("m1", failure("detect", 1, 1))
	r := &Redriver{Queue: q, QueueURL: "q", Streams: &shard{records: []streamtypes.Record{pageRecord(1, "p1", "page")}}, Log: slog.New(slog.DiscardHandler), Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), StopBefore-time.Second)
	defer cancel()
	res, err := r.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Messages, "too close to the deadline: leave it to the next run")
}

func TestExpiredMessagesAreDroppedOnlyWhenAskedTo(t *testing.T) {
	q := &queue{}
	q.add("m1", failure("detect", 1, 2))
	r := &Redriver{Queue: q, QueueURL: "q", Streams: &shard{trimmed: true}, Consumers: []stream.Consumer{(&consumer{name: "detect"}).Consumer()},
		Log: slog.New(slog.DiscardHandler), DropExpired: true}
	res, err := r.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, res.Expired)
	assert.Zero(t, res.Redriven)
	assert.Equal(t, []string{"m1"}, q.deleted)
}
