// Command query is the GET /api/user/{id}, /api/anonymous/{id} and
// /api/user/{id}/attribution Lambda.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/query"
	"github.com/attribution-dev/attribution/internal/store"
)

func main() {
	log := logging.ForLambda()
	cfg, err := config.Load()
	if err == nil {
		err = config.RequireInLambda(os.LookupEnv, "EVENTS_TABLE", "IDENTITIES_TABLE", "TOUCHES_TABLE")
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
	h := &query.Handler{People: &people.Resolver{
		Identities: store.NewIdentities(db, cfg.IdentitiesTable),
		Touches:    store.NewTouches(db, cfg.TouchesTable),
		Events:     store.NewEvents(db, cfg.EventsTable),
	}, Log: log}
	lambda.Start(httpapi.RequireAPIKey(cfg.APIKey, h.Handle))
}
