// Command precompute is the scheduled Lambda that refreshes the data-driven models
// (markov, shapley) of the reports once a day: see internal/precompute.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
)

func main() {
	env, err := app.Lambda(context.Background(), app.ConversionVariables...)
	if err != nil {
		env.Fatal("start", err)
	}
	lambda.Start(env.Precomputer().Scheduled)
}
