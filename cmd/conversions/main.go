// Command conversions is the stream consumer Lambda that turns conversion events (tracks
// named in CONVERSION_EVENTS) into credited conversions and keeps the report rollups.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/ledger"
)

func main() {
	env, err := app.Lambda(context.Background(), app.ConversionVariables...)
	if err != nil {
		env.Fatal("start", err)
	}
	books, err := env.LambdaLedger() // with CONVERSION_CREDITS_EVENT, writes credits back to Segment
	if err != nil {
		env.Fatal("start", err)
	}
	h := &ledger.Handler{Ledger: books, Events: env.Config.ConversionEvents, Log: env.Log, Erased: env.Tombstones().EventsErased}
	lambda.Start(h.Handle)
}
