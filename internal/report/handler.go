package report

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/store"
)

// Route paths, as API Gateway and the local server declare them.
const (
	ReportPath      = "/api/report"
	PathsPath       = "/api/report/paths"
	OptionsPath     = "/api/report/options"
	ConversionsPath = "/api/user/{id}/conversions"
)

// Conversions lists a person's stored conversions (store.Conversions does).
type Conversions interface {
	ByPerson(ctx context.Context, person string) ([]store.Stored, error)
}

var _ Conversions = (*store.Conversions)(nil)

// Handler serves the report routes.
type Handler struct {
	Reporter    *Reporter
	Parser      Parser
	Conversions Conversions
	// Timezone and HalfLifeDays are reported by the options route.
	Timezone     string
	HalfLifeDays float64
	Log          *slog.Logger
}

// Routes are the report routes.
func (h *Handler) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: ReportPath, Handler: h.Report},
		{Method: http.MethodGet, Path: PathsPath, Handler: h.Paths},
		{Method: http.MethodGet, Path: OptionsPath, Handler: h.Options},
		{Method: http.MethodGet, Path: ConversionsPath, Handler: h.UserConversions},
	}
}

// Report serves GET /api/report.
func (h *Handler) Report(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	q, err := h.Parser.Parse(req.QueryStringParameters, ReportParams)
	if err != nil {
		return badRequest(err), nil
	}
	rep, err := h.Reporter.Report(ctx, q)
	if errors.Is(err, ErrNotPrecomputed) {
		return notPrecomputed(err), nil
	}
	if err != nil {
		return httpapi.Internal(ctx, h.Log, req, "could not read the report", err), nil
	}
	if q.Format == "csv" {
		return csvResponse(ReportCSV(rep)), nil
	}
	return httpapi.JSON(http.StatusOK, rep), nil
}

// Paths serves GET /api/report/paths.
func (h *Handler) Paths(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	q, err := h.Parser.Parse(req.QueryStringParameters, PathsParams)
	if err != nil {
		return badRequest(err), nil
	}
	p, err := h.Reporter.Paths(ctx, q)
	if err != nil {
		return httpapi.Internal(ctx, h.Log, req, "could not read the paths", err), nil
	}
	if q.Format == "csv" {
		return csvResponse(PathsCSV(p)), nil
	}
	return httpapi.JSON(http.StatusOK, p), nil
}

// Options are what reports can be asked for.
type Options struct {
	Events       []string `json:"events"`
	Models       []string `json:"models"`
	Dimensions   []string `json:"dimensions"`
	Timezone     string   `json:"timezone"`
	LookbackDays int      `json:"lookbackDays"`
	HalfLifeDays float64  `json:"halfLifeDays"`
}

// Options serves GET /api/report/options.
func (h *Handler) Options(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if len(req.QueryStringParameters) > 0 {
		return httpapi.Error(http.StatusBadRequest, "this route takes no parameters"), nil
	}
	return httpapi.JSON(http.StatusOK, Options{
		Events: nonNil(h.Parser.Events), Models: ModelNames(), Dimensions: conversion.Dimensions,
		Timezone: h.Timezone, LookbackDays: h.Reporter.LookbackDays, HalfLifeDays: h.HalfLifeDays,
	}), nil
}

// UserConversionsResponse answers GET /api/user/{id}/conversions.
type UserConversionsResponse struct {
	UserID      string                  `json:"userId"`
	Conversions []conversion.Conversion `json:"conversions"`
}

// maxID matches what the events table accepts for an id.
const maxID = 1024

// UserConversions serves GET /api/user/{id}/conversions: every conversion credited to
// the user, oldest first, with its touches and their credits under every model.
func (h *Handler) UserConversions(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	id := httpapi.PathParam(req, "id")
	if strings.TrimSpace(id) == "" || len(id) > maxID || !utf8.ValidString(id) {
		return httpapi.Error(http.StatusBadRequest, "the user id must be 1 to 1,024 bytes of UTF-8"), nil
	}
	format := req.QueryStringParameters["format"]
	for name := range req.QueryStringParameters {
		if name != "format" {
			return httpapi.Error(http.StatusBadRequest, "unknown parameter "+name+": use format"), nil
		}
	}
	if format != "" && format != "json" && format != "csv" {
		return httpapi.Error(http.StatusBadRequest, "unknown format "+format+": use json or csv"), nil
	}
	stored, err := h.Conversions.ByPerson(ctx, conversion.UserKey(id))
	if err != nil {
		return httpapi.Internal(ctx, h.Log, req, "could not read the conversions", err), nil
	}
	resp := UserConversionsResponse{UserID: id, Conversions: []conversion.Conversion{}}
	for _, st := range stored {
		if !st.Deleted {
			resp.Conversions = append(resp.Conversions, st.Conversion)
		}
	}
	slices.SortFunc(resp.Conversions, func(a, b conversion.Conversion) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.MessageID, b.MessageID)
	})
	if format == "csv" {
		return csvResponse(ConversionsCSV(resp.Conversions)), nil
	}
	return httpapi.JSON(http.StatusOK, resp), nil
}

func badRequest(err error) events.APIGatewayV2HTTPResponse {
	if errors.Is(err, ErrBadQuery) {
		return httpapi.Error(http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrBadQuery.Error()+": "))
	}
	return httpapi.Error(http.StatusBadRequest, err.Error())
}

// notPrecomputed answers a data-driven model asked over a range nobody computed: 404,
// since the report does not exist (yet), with the ranges that do and how to compute it.
func notPrecomputed(err error) events.APIGatewayV2HTTPResponse {
	msg := err.Error()
	if _, reason, ok := strings.Cut(msg, ErrNotPrecomputed.Error()+": "); ok {
		msg = reason
	}
	return httpapi.Error(http.StatusNotFound, msg)
}

func csvResponse(body string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "text/csv; charset=utf-8"},
		Body:       body,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
