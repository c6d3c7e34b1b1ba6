// Command identify is the stream consumer Lambda that records anonymousId ↔ userId links
// from identify and alias events.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/links"
)

func main() {
	env, err := app.Lambda(context.Background(), "IDENTITIES_TABLE")
	if err != nil {
		env.Fatal("start", err)
	}
	push, err := env.LambdaPusher() // nil when REALTIME=false
	if err != nil {
		env.Fatal("start", err)
	}
	conversions, err := env.LambdaConversionFollowUp() // nil without CONVERSION_EVENTS
	if err != nil {
		env.Fatal("start", err)
	}
	h := &links.Handler{Identities: env.Identities(), Log: env.Log, Realtime: push, Erased: env.Tombstones().EventsErased,
		Blocked: env.Config.BlockedIDs, Conversions: conversions}
	lambda.Start(h.Handle)
}
