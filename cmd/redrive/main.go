// Command redrive is the scheduled Lambda that hands the stream records the consumers
// gave up on (the stream failures queue) back to them, so an outage longer than the
// stream's retries heals without an operator.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/server"
)

func main() {
	ctx := context.Background()
	env, err := app.Lambda(ctx, "EVENTS_TABLE", "IDENTITIES_TABLE", "TOUCHES_TABLE", "STREAM_FAILURES_QUEUE_URL")
	if err != nil {
		env.Fatal("start", err)
	}
	sender, err := env.LambdaSender() // nil when REALTIME=false
	if err != nil {
		env.Fatal("start", err)
	}
	r, err := env.Redriver(ctx, server.Consumers(server.Options{Config: env.Config, DB: env.DB, Log: env.Log, Segment: sender}))
	if err != nil {
		env.Fatal("start", err)
	}
	lambda.Start(r.Run)
}
