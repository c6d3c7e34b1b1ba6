// Command conversions is the stream consumer Lambda that turns conversion events (tracks
// named in CONVERSION_EVENTS) into credited conversions and keeps the report rollups.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/ledger"
	"github.com/attribution-dev/attribution/internal/segment"
)

func main() {
	env, err := app.Lambda(context.Background(), app.ConversionVariables...)
	if err != nil {
		env.Fatal("start", err)
	}
	var sender *segment.Client // write-back only with CONVERSION_CREDITS_EVENT
	if env.Config.ConversionCreditsEvent != "" {
		if sender, err = env.Segment(""); err != nil {
			env.Fatal("start", err)
		}
	}
	h := &ledger.Handler{Ledger: env.Ledger(sender), Events: env.Config.ConversionEvents, Log: env.Log,
		Erased: env.Tombstones().EventsErased}
	lambda.Start(h.Handle)
}
