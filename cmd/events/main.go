// Command events is the POST /events Lambda: the Segment webhook.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/ingest"
)

func main() {
	env, err := app.Lambda(context.Background(), "EVENTS_TABLE", "IDENTITIES_TABLE")
	if err != nil {
		env.Fatal("start", err)
	}
	h := &ingest.Handler{Store: env.Events(), Suppressor: env.Tombstones(), Secret: env.Config.SharedSecret, Blocked: env.Config.BlockedIDs, Log: env.Log}
	lambda.Start(h.Handle)
}
