// Command identify is the events stream consumer for identify and alias events: it
// links anonymous ids to user ids in the identities table.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/identify"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/store"
)

func main() {
	log := logging.ForLambda()
	cfg, err := config.Load()
	if err == nil {
		err = config.RequireInLambda(os.LookupEnv, "IDENTITIES_TABLE")
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
	h := &identify.Handler{Identities: store.NewIdentities(db, cfg.IdentitiesTable), Log: log}
	lambda.Start(h.Handle)
}
