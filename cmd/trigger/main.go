// Command trigger is the Lambda behind GET /segment/...: it sends a person's attribution
// to Segment as identify traits or Source Identified track events.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/trigger"
)

func main() {
	// A write key is required here: Lambda's disk is read-only, so no dry-run outbox.
	env, err := app.Lambda(context.Background(), "EVENTS_TABLE", "IDENTITIES_TABLE", "TOUCHES_TABLE", "SEGMENT_WRITE_KEY")
	if err != nil {
		env.Fatal("start", err)
	}
	sender, err := env.Segment("")
	if err != nil {
		env.Fatal("start", err)
	}
	h := &trigger.Handler{People: env.People(), Sender: sender, Event: env.Config.SourceIdentifiedEvent, Log: env.Log, Erased: env.Tombstones().IsErased}
	lambda.Start(httpapi.RequireAPIKey(env.Config.APIKey, httpapi.Dispatch(h.Routes()...)))
}
