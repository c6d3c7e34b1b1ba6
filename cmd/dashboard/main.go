// Command dashboard is the Lambda behind GET / and GET /assets/{name}, the web page
// that shows the reports, and GET /api/detect, the detector the page lets people try.
// It reads no table: the page fetches its data from the other /api routes.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/dashboard"
	"github.com/attribution-dev/attribution/internal/httpapi"
)

func main() {
	env, err := app.Lambda(context.Background())
	if err != nil {
		env.Fatal("start", err)
	}
	h, err := dashboard.New(env.Detector(), env.Log)
	if err != nil {
		env.Fatal("start", err)
	}
	lambda.Start(httpapi.Dispatch(h.Routes(env.Config.APIKey)...))
}
