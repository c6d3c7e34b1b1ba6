package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// fakeAWS answers the few SQS and DynamoDB Streams calls the redrive function makes,
// in their JSON protocols, on 127.0.0.1: the stream failures queue with the messages
// queued by the test, and one shard holding the records the test put there.
type fakeAWS struct {
	*httptest.Server
	mu      sync.Mutex
	queue   map[string]string // receipt handle → body
	records []events.DynamoDBEventRecord
	deleted []string
}

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{queue: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	var out any
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "AmazonSQS.ReceiveMessage":
		var msgs []map[string]string
		for handle, body := range f.queue {
			msgs = append(msgs, map[string]string{"MessageId": "id-" + handle, "ReceiptHandle": handle, "Body": body})
		}
		out = map[string]any{"Messages": msgs}
	case "AmazonSQS.DeleteMessage":
		handle, _ := in["ReceiptHandle"].(string)
		delete(f.queue, handle)
		f.deleted = append(f.deleted, handle)
		out = map[string]any{}
	case "DynamoDB_20120810.GetShardIterator", "DynamoDBStreams_20120810.GetShardIterator":
		out = map[string]any{"ShardIterator": "it-0"}
	case "DynamoDB_20120810.GetRecords", "DynamoDBStreams_20120810.GetRecords":
		out = map[string]any{"Records": f.records} // a closed shard: no next iterator
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, fmt.Sprintf(`{"__type":"UnknownOperationException","message":"fake AWS has no %s"}`, target))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

// scenarioRedrive: a page view whose detect invocations all failed is in the stream
// failures queue; the scheduled redrive reads it back from the stream, derives its
// touch and deletes the message.
func scenarioRedrive(t *testing.T, env *runtimeEnv, fn *emulated) {
	const id, anon = "msg-rie-redrive-1", "anon-rie-redrive"
	ev := event.Event{MessageID: id, Type: event.TypePage, AnonymousID: anon, Timestamp: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		TimestampSource: event.FromTimestamp, URL: "https://shop.example/", Referrer: "https://www.bing.com/", Raw: []byte(`{}`)}
	ok, err := store.NewEvents(env.db, env.tables.Events).Put(context.Background(), ev)
	require.NoError(t, err)
	require.True(t, ok)
	item := store.EventItem(ev, 0)
	const seq = "4000000000000000000001"
	env.aws.mu.Lock()
	env.aws.records = []events.DynamoDBEventRecord{{
		AWSRegion: "us-east-1", EventID: "rie-redrive", EventName: "INSERT", EventSource: "aws:dynamodb", EventVersion: "1.1",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now()},
			Keys:                        stream.FromSDK(map[string]types.AttributeValue{store.AttrMessageID: item[store.AttrMessageID]}),
			NewImage:                    stream.FromSDK(item),
			SequenceNumber:              seq,
			StreamViewType:              "NEW_IMAGE",
		},
	}}
	env.aws.queue["rh-1"] = fmt.Sprintf(`{"requestContext":{"functionArn":"arn:aws:lambda:us-east-1:123456789012:function:attribution-test-detect","condition":"RetryAttemptsExhausted"},
	  "DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":%q,"endSequenceNumber":%q,"batchSize":1,
	  "approximateArrivalOfFirstRecord":"2026-03-02T09:00:00Z","approximateArrivalOfLastRecord":"2026-03-02T09:00:00Z",
	  "streamArn":"arn:aws:dynamodb:us-east-1:123456789012:table/%s/stream/2026-03-01T00:00:00.000"}}`, seq, seq, env.tables.Events)
	env.aws.mu.Unlock()

	// A scheduled event's payload means nothing to the function.
	out := fn.invokeRaw(t, []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`))
	var res struct {
		Messages int `json:"messages"`
		Redriven int `json:"redriven"`
	}
	require.NoError(t, json.Unmarshal(out, &res), string(out))
	assert.Equal(t, 1, res.Messages, string(out))
	assert.Equal(t, 1, res.Redriven, string(out))
	touches, err := store.NewTouches(env.db, env.tables.Touches).ByVisitor(context.Background(), store.VisitorID(anon, ""))
	require.NoError(t, err)
	require.Len(t, touches, 1, "the page view became a touch")
	assert.Equal(t, id, touches[0].MessageID)
	env.aws.mu.Lock()
	defer env.aws.mu.Unlock()
	assert.Equal(t, []string{"rh-1"}, env.aws.deleted)
	assert.Empty(t, env.aws.queue)
	assert.False(t, strings.Contains(string(out), "rederive"))
}
