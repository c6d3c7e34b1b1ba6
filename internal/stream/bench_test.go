package stream

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// BenchmarkPublish measures what the stream's log costs a webhook: one record per
// Publish, from 64 concurrent writers as a batch's writes are (they share fsyncs), and
// from one writer (an fsync each), against the in-memory stream.
func BenchmarkPublish(b *testing.B) {
	for _, bc := range []struct {
		name    string
		durable bool
		writers int
	}{{"memory", false, 64}, {"disk/64-writers", true, 64}, {"disk/1-writer", true, 1}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := EmulatorOptions{}
			if bc.durable {
				opts.Dir = b.TempDir()
			}
			em, err := NewEmulator(quiet, opts, Consumer{Name: "c", Handler: func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				return events.DynamoDBEventResponse{}, nil
			}})
			if err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(bc.writers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					key := fmt.Sprintf("k%d", i%100)
					if err := em.Publish("events", Item{Key: key, Item: item(fmt.Sprintf("m%d", i), key)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if err := em.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}
