// Command detect is the stream consumer Lambda that turns page events into touches.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/touches"
)

func main() {
	env, err := app.Lambda(context.Background(), "EVENTS_TABLE", "TOUCHES_TABLE", "IDENTITIES_TABLE")
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
	h := &touches.Handler{Detector: env.Detector(), PageViews: env.Events(), Touches: env.Touches(), Log: env.Log,
		Realtime: push, Erased: env.Tombstones().EventsErased, Conversions: conversions}
	lambda.Start(h.Handle)
}
