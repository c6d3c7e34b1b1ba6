// Command trigger is the GET /segment/identify/user/{id}, /segment/track/user/{id} and
// /segment/track/anonymous/{id} Lambda: it sends attribution to Segment.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/trigger"
)

func main() {
	log := logging.ForLambda()
	cfg, err := config.Load()
	if err == nil {
		// The write key is required: without it the client would dry-run into an outbox
		// file, which Lambda's read-only disk cannot hold, and answer as if nothing were
		// wrong.
		err = config.RequireInLambda(os.LookupEnv, "TOUCHES_TABLE", "SEGMENT_WRITE_KEY")
	}
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(1)
	}
	db, err := store.NewClient(context.Background(), store.ClientOptions{Region: cfg.Region, Endpoint: cfg.DynamoDBEndpoint})
	if err != nil {
		log.Error("dynamodb client", "err", err)
		os.Exit(1)
	}
	sender, err := trigger.NewSegmentClient(cfg, "", log)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(1)
	}
	h := &trigger.Handler{
		People: trigger.StorePeople{Touches: store.NewTouches(db, cfg.TouchesTable)},
		Sender: sender,
		Event:  cfg.SourceIdentifiedEvent,
		Log:    log,
	}
	lambda.Start(httpapi.RequireAPIKey(cfg.APIKey, h.Handle))
}
