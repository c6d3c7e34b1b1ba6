// Command detect is the stream consumer Lambda that turns page events into touches.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/detect"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

func main() {
	log := logging.ForLambda()
	cfg, err := config.Load()
	if err == nil {
		err = config.RequireInLambda(os.LookupEnv, "EVENTS_TABLE", "TOUCHES_TABLE")
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
	touches := store.NewTouches(db, cfg.TouchesTable)
	touches.Retention = cfg.TouchRetention()
	h := &detect.Handler{
		Detector:  source.New(source.Options{InternalDomains: cfg.InternalDomains, IgnoredReferrers: cfg.IgnoredReferrers}),
		PageViews: store.NewEvents(db, cfg.EventsTable),
		Touches:   touches,
		Log:       log,
	}
	lambda.Start(h.Handle)
}
