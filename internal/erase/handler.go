package erase

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/httpapi"
)

// Route paths: the query routes, with DELETE. The query Lambda serves them.
const (
	UserPath      = "/api/user/{id}"
	AnonymousPath = "/api/anonymous/{id}"
)

// Handler serves DELETE /api/user/{id} and DELETE /api/anonymous/{id}.
//
// Both answer 200 with the counts removed, also when there was nothing (left) to
// remove: "erased" is a state, and a caller retrying after a timeout must not read a
// 404 as a failure. The id is tombstoned either way, so events still in flight for an
// id the service has not stored yet are dropped when they arrive.
type Handler struct {
	Eraser *Eraser
	Log    *slog.Logger
}

// Routes are the two erasure routes.
func (h *Handler) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodDelete, Path: UserPath, Handler: h.User},
		{Method: http.MethodDelete, Path: AnonymousPath, Handler: h.Anonymous},
	}
}

// User serves DELETE /api/user/{id}.
func (h *Handler) User(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, req, h.Eraser.User)
}

// Anonymous serves DELETE /api/anonymous/{id}.
func (h *Handler) Anonymous(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, req, h.Eraser.Anonymous)
}

func (h *Handler) serve(ctx context.Context, req events.APIGatewayV2HTTPRequest, erase func(context.Context, string) (Result, error)) (events.APIGatewayV2HTTPResponse, error) {
	id := httpapi.PathParam(req, "id")
	if msg := event.CheckID(id); msg != "" {
		return httpapi.Error(http.StatusBadRequest, msg), nil
	}
	res, err := erase(ctx, id)
	if err != nil {
		// The error names the id's hash, never the id. Retrying is safe and resumes.
		return httpapi.Internal(ctx, h.Log, req, "could not finish the erasure; retry, it resumes where it stopped", err), nil
	}
	return httpapi.JSON(http.StatusOK, res), nil
}
