package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func item(id, key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"messageId":   &types.AttributeValueMemberS{Value: id},
		"anonymousId": &types.AttributeValueMemberS{Value: key},
		"n":           &types.AttributeValueMemberN{Value: "3"},
		"ok":          &types.AttributeValueMemberBOOL{Value: true},
		"m":           &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}}}}},
	}
}

func messageID(rec events.DynamoDBEventRecord) string {
	return rec.Change.NewImage["messageId"].String()
}

func TestRecordsOfAKeyArriveInOrderAndImagesRoundTrip(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{}
	em := newEmulator(t, EmulatorOptions{Shards: 3, BatchSize: 7}, Consumer{
		Name: "c",
		Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, rec := range ev.Records {
				img, err := ToSDK(rec.Change.NewImage)
				require.NoError(t, err)
				assert.Equal(t, item(messageID(rec), img["anonymousId"].(*types.AttributeValueMemberS).Value), img)
				key := img["anonymousId"].(*types.AttributeValueMemberS).Value
				seen[key] = append(seen[key], messageID(rec))
			}
			return events.DynamoDBEventResponse{}, nil
		},
	})
	var want = map[string][]string{}
	for i := range 300 {
		key, id := fmt.Sprintf("k%d", i%5), fmt.Sprintf("m%03d", i)
		want[key] = append(want[key], id)
		require.NoError(t, em.Publish("events", Item{Key: key, Item: item(id, key)}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, em.Close(ctx))
	assert.Equal(t, want, seen)
}

func TestFilterAndPartialFailuresAreRetriedFromTheFirstFailure(t *testing.T) {
	var mu sync.Mutex
	attempts := map[string]int{}
	var order []string
	em := newEmulator(t, EmulatorOptions{Shards: 1, Backoff: time.Millisecond}, Consumer{
		Name: "c",
		Accept: func(it map[string]types.AttributeValue) bool {
			return it["messageId"].(*types.AttributeValueMemberS).Value != "skip"
		},
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return ProcessBatch(ctx, quiet, ev, func(_ context.Context, rec events.DynamoDBEventRecord) error {
				mu.Lock()
				defer mu.Unlock()
				id := messageID(rec)
				attempts[id]++
				if id == "flaky" && attempts[id] < 3 {
					return errors.New("temporary")
				}
				order = append(order, id)
				return nil
			}), nil
		},
	})
	for _, id := range []string{"a", "flaky", "skip", "b"} {
		require.NoError(t, em.Publish("events", Item{Key: "same", Item: item(id, "same")}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, em.Close(ctx))
	assert.Equal(t, []string{"a", "flaky", "b"}, order, "b never overtakes the failing record before it")
	assert.Equal(t, 3, attempts["flaky"])
	assert.Zero(t, attempts["skip"], "the filter keeps records from the consumer")
}

func TestExhaustedRecordsGoToTheFailureLog(t *testing.T) {
	failures := filepath.Join(t.TempDir(), "failures.jsonl")
	var mu sync.Mutex
	var handled []string
	em := newEmulator(t, EmulatorOptions{Shards: 1, MaxAttempts: 3, Backoff: time.Millisecond, FailureLog: failures}, Consumer{
		Name: "c",
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if messageID(ev.Records[0]) == "poison" {
				panic("consumer bug")
			}
			return ProcessBatch(ctx, quiet, ev, func(_ context.Context, rec events.DynamoDBEventRecord) error {
				mu.Lock()
				defer mu.Unlock()
				handled = append(handled, messageID(rec))
				return nil
			}), nil
		},
	})
	require.NoError(t, em.Publish("events", Item{Key: "k", Item: item("poison", "k")}))
	require.NoError(t, em.Publish("events", Item{Key: "k", Item: item("after", "k")}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, em.Close(ctx))
	b, err := os.ReadFile(failures)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `"poison"`)
	assert.Contains(t, lines[0], `"attempts":3`)
	assert.Equal(t, []string{"after"}, handled, "the shard goes on after giving up on a record")
}

func newEmulator(t *testing.T, opts EmulatorOptions, consumers ...Consumer) *Emulator {
	t.Helper()
	em, err := NewEmulator(quiet, opts, consumers...)
	require.NoError(t, err)
	return em
}
