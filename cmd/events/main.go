// Command events is the POST /events Lambda: the Segment webhook.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/ingest"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/store"
)

func main() {
	log := logging.ForLambda()
	cfg, err := config.Load()
	if err == nil {
		err = config.RequireInLambda(os.LookupEnv, "EVENTS_TABLE")
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
	events := store.NewEvents(db, cfg.EventsTable)
	events.Retention = cfg.EventRetention()
	h := &ingest.Handler{Store: events, Secret: cfg.SharedSecret, Log: log}
	lambda.Start(h.Handle)
}
