package stream_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"

	"github.com/attribution-dev/attribution/internal/stream"
)

func TestProcessBatchThen(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Records 1..6 need these keys; "x" marks a record whose own handling fails.
	needs := []string{"a", "b", "a", "c", "b", "a"}
	batch := events.DynamoDBEvent{}
	for i := range needs {
		batch.Records = append(batch.Records, events.DynamoDBEventRecord{Change: events.DynamoDBStreamRecord{SequenceNumber: strconv.Itoa(i + 1)}})
	}
	cases := []struct {
		name      string
		failRec   int // 1-based record whose handling fails, 0: none
		failKeys  []string
		wantCalls []string
		want      []string
	}{
		{name: "all good: one follow-up per key", wantCalls: []string{"a", "b", "c"}},
		{name: "a key fails: from its first record", failKeys: []string{"b"}, wantCalls: []string{"a", "b", "c"}, want: []string{"2", "3", "4", "5", "6"}},
		{name: "the earliest of several failed keys", failKeys: []string{"c", "a"}, wantCalls: []string{"a", "b", "c"}, want: []string{"1", "2", "3", "4", "5", "6"}},
		{name: "a record fails: keys before it still followed up", failRec: 4, wantCalls: []string{"a", "b"}, want: []string{"4", "5", "6"}},
		{name: "a record fails after a failed key", failRec: 5, failKeys: []string{"c"}, wantCalls: []string{"a", "b", "c"}, want: []string{"4", "5", "6"}},
		{name: "a failed key before a failed record", failRec: 5, failKeys: []string{"b"}, wantCalls: []string{"a", "b", "c"}, want: []string{"2", "3", "4", "5", "6"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls [][]string
			resp := stream.ProcessBatchThen(context.Background(), quiet, batch,
				func(_ context.Context, rec events.DynamoDBEventRecord) ([]string, error) {
					i, _ := strconv.Atoi(rec.Change.SequenceNumber)
					if i == c.failRec {
						return nil, errors.New("store failed")
					}
					return []string{needs[i-1]}, nil
				},
				func(_ context.Context, keys []string) map[string]error {
					calls = append(calls, keys)
					failed := map[string]error{}
					for _, k := range c.failKeys {
						failed[k] = errors.New("push failed")
					}
					return failed
				})
			assert.Equal(t, [][]string{c.wantCalls}, calls, "one follow-up call per batch")
			var got []string
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			assert.Equal(t, c.want, got)
		})
	}
}
