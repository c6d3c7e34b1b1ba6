// Command query is the Lambda behind GET /api/user/{id}, GET /api/anonymous/{id},
// GET /api/user/{id}/attribution and GET /api/user/{id}/conversions: what the system
// knows about a person; behind DELETE /api/user/{id} and DELETE /api/anonymous/{id}:
// forget them; and behind the reports, GET /api/report, /api/report/paths and
// /api/report/options.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/query"
)

func main() {
	env, err := app.Lambda(context.Background(), "EVENTS_TABLE", "IDENTITIES_TABLE", "TOUCHES_TABLE", "CONVERSIONS_TABLE")
	if err != nil {
		env.Fatal("start", err)
	}
	eraser := &erase.Handler{Eraser: env.Eraser(), Log: env.Log}
	h := &query.Handler{People: env.People(), Log: env.Log, Erase: eraser.Routes(), MergeCaps: env.Identities()}
	routes := append(h.Routes(), env.Reports().Routes()...)
	lambda.Start(httpapi.RequireAPIKey(env.Config.APIKey, httpapi.Dispatch(routes...)))
}
