// Package query is the debugging API: GET /api/user/{id} and GET /api/anonymous/{id}
// answer a person's identities, touches, first and last touch, credits under every
// attribution model and recent events (paginated); GET /api/user/{id}/attribution
// answers credits under one model, with options.
package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/store"
)

// Route paths, as API Gateway and the local server declare them.
const (
	UserPath        = "/api/user/{id}"
	AnonymousPath   = "/api/anonymous/{id}"
	AttributionPath = "/api/user/{id}/attribution"
)

// Page sizes for events.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Handler serves the query routes.
type Handler struct {
	People *people.Resolver
	Log    *slog.Logger
	// Erase, when set, are DELETE /api/user/{id} and DELETE /api/anonymous/{id}
	// (erase.Handler.Routes): the query Lambda serves the erasure routes too.
	Erase []httpapi.Route
	// MergeCaps, when set, adds each person's merge cap to the answer (mergeCap).
	MergeCaps MergeCaps
}

// MergeCaps reads what the merge caps counted for an id (store.Identities does).
type MergeCaps interface {
	UserMergeCap(ctx context.Context, userID string) (store.MergeCap, error)
	AnonymousMergeCap(ctx context.Context, anonymousID string) (store.MergeCap, error)
}

var _ MergeCaps = (*store.Identities)(nil)

// Event is one stored event as the API shows it: its indexed fields and the original
// JSON the sender wrote.
type Event struct {
	MessageID   string          `json:"messageId"`
	Type        string          `json:"type"`
	Timestamp   time.Time       `json:"timestamp"`
	AnonymousID string          `json:"anonymousId,omitempty"`
	UserID      string          `json:"userId,omitempty"`
	Event       json.RawMessage `json:"event"`
}

// UserResponse answers GET /api/user/{id}.
type UserResponse struct {
	UserID       string   `json:"userId"`
	AnonymousIDs []string `json:"anonymousIds"`
	// MergeCap says how many anonymous ids count against MAX_ANONYMOUS_IDS_PER_USER
	// and whether a link was refused for reaching it.
	MergeCap *store.MergeCap `json:"mergeCap,omitempty"`
	Profile
}

// AnonymousResponse answers GET /api/anonymous/{id}.
type AnonymousResponse struct {
	AnonymousID string   `json:"anonymousId"`
	UserIDs     []string `json:"userIds"`
	// MergeCap is the same for MAX_USERS_PER_ANONYMOUS_ID.
	MergeCap *store.MergeCap `json:"mergeCap,omitempty"`
	Profile
}

// Profile is what both person routes answer beside the person's ids.
type Profile struct {
	Identities []store.Link        `json:"identities"`
	Touches    []attribution.Touch `json:"touches"`
	attribution.Summary
	// Attribution is the credits under every model (attribution.Models), default options.
	Attribution Credits `json:"attribution"`
	Events      []Event `json:"events"`
	// Cursor fetches the next page of events; null on the last page.
	Cursor *string `json:"cursor"`
}

// Credits are a person's credits per model: {"first": [...], ..., "time_decay": [...]},
// each list summing to 1 when the person has touches and empty when not.
type Credits map[attribution.Model][]attribution.Credit

// allCredits computes Credits under every model with default options.
func allCredits(touches []attribution.Touch) (Credits, error) {
	out := make(Credits, len(attribution.Models()))
	for _, m := range attribution.Models() {
		c, err := attribution.Credits(m, touches, attribution.Options{})
		if err != nil {
			return nil, fmt.Errorf("credits under %s: %w", m, err)
		}
		out[m] = c
	}
	return out, nil
}

// AttributionResponse answers GET /api/user/{id}/attribution.
type AttributionResponse struct {
	Model   attribution.Model    `json:"model"`
	Credits []attribution.Credit `json:"credits"`
}

// Routes are the query Lambda's routes: the reads, and the erasures when Erase is set.
func (h *Handler) Routes() []httpapi.Route {
	routes := []httpapi.Route{
		{Method: http.MethodGet, Path: UserPath, Handler: h.User},
		{Method: http.MethodGet, Path: AnonymousPath, Handler: h.Anonymous},
		{Method: http.MethodGet, Path: AttributionPath, Handler: h.Attribution},
	}
	return append(routes, h.Erase...)
}

// User serves GET /api/user/{id}.
func (h *Handler) User(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.person(ctx, req, "user", func(ctx context.Context, id string) (person, func(Profile) any, error) {
		u, err := h.People.User(ctx, id)
		if err != nil {
			return person{}, nil, err
		}
		c, err := h.mergeCap(ctx, true, id)
		return person{u.Links, u.Touches, u.EventSources(), u.Known()}, func(p Profile) any {
			return UserResponse{UserID: id, AnonymousIDs: u.AnonymousIDs, MergeCap: c, Profile: p}
		}, err
	})
}

// Anonymous serves GET /api/anonymous/{id}.
func (h *Handler) Anonymous(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.person(ctx, req, "anonymous", func(ctx context.Context, id string) (person, func(Profile) any, error) {
		a, err := h.People.Anonymous(ctx, id)
		if err != nil {
			return person{}, nil, err
		}
		c, err := h.mergeCap(ctx, false, id)
		return person{a.Links, a.Touches, a.EventSources(), a.Known()}, func(p Profile) any {
			return AnonymousResponse{AnonymousID: id, UserIDs: a.UserIDs, MergeCap: c, Profile: p}
		}, err
	})
}

// mergeCap reads the merge cap of a userId (user) or anonymousId, or nil when
// MergeCaps is not set.
func (h *Handler) mergeCap(ctx context.Context, user bool, id string) (*store.MergeCap, error) {
	if h.MergeCaps == nil {
		return nil, nil
	}
	read := h.MergeCaps.AnonymousMergeCap
	if user {
		read = h.MergeCaps.UserMergeCap
	}
	c, err := read(ctx, id)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// person is what a person route learned about its id.
type person struct {
	links   []store.Link
	touches []attribution.Touch
	sources []store.EventSource
	known   bool
}

// person serves a person route: kind is "user" or "anonymous"; resolve reads the
// person and says how to wrap the shared Profile in the route's response.
func (h *Handler) person(ctx context.Context, req events.APIGatewayV2HTTPRequest, kind string,
	resolve func(ctx context.Context, id string) (person, func(Profile) any, error),
) (events.APIGatewayV2HTTPResponse, error) {
	id := httpapi.PathParam(req, "id")
	if msg := event.CheckID(id); msg != "" {
		return httpapi.Error(http.StatusBadRequest, msg), nil
	}
	limit, msg := parseLimit(req.QueryStringParameters["limit"])
	if msg != "" {
		return httpapi.Error(http.StatusBadRequest, msg), nil
	}
	p, wrap, err := resolve(ctx, id)
	if err != nil {
		return httpapi.Internal(ctx, h.Log, req, "could not read the "+kind+" id", err), nil
	}
	page, resp := h.events(ctx, req, kind+":"+id, p.sources, limit)
	if resp != nil {
		return *resp, nil
	}
	if !p.known && len(page.events) == 0 && page.first {
		return httpapi.Error(http.StatusNotFound, "unknown "+kind+" id"), nil
	}
	credits, err := allCredits(p.touches)
	if err != nil {
		return httpapi.Internal(ctx, h.Log, req, "could not compute credits", err), nil
	}
	return httpapi.JSON(http.StatusOK, wrap(Profile{
		Identities:  nonNil(p.links),
		Touches:     p.touches,
		Summary:     attribution.Summarize(p.touches),
		Attribution: credits,
		Events:      page.events,
		Cursor:      page.cursor,
	})), nil
}

// Attribution serves GET /api/user/{id}/attribution?model=M[&halfLifeDays=D][&until=T].
func (h *Handler) Attribution(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	id := httpapi.PathParam(req, "id")
	if msg := event.CheckID(id); msg != "" {
		return httpapi.Error(http.StatusBadRequest, msg), nil
	}
	q := req.QueryStringParameters
	model, err := attribution.ParseModel(q["model"])
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, err.Error()), nil
	}
	var opts attribution.Options
	if v := q["halfLifeDays"]; v != "" {
		days, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(days) || math.IsInf(days, 0) || days <= 0 || days > 36500 {
			return httpapi.Error(http.StatusBadRequest, "halfLifeDays must be a positive number of days"), nil
		}
		opts.HalfLife = time.Duration(days * float64(24*time.Hour))
	}
	if v := q["until"]; v != "" {
		if opts.ConversionTime, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return httpapi.Error(http.StatusBadRequest, "until must be an RFC 3339 date-time, e.g. 2024-03-01T09:30:00Z"), nil
		}
	}
	u, err := h.People.User(ctx, id)
	if err != nil {
		return httpapi.Internal(ctx, h.Log, req, "could not read the user", err), nil
	}
	if !u.Known() {
		evs, _, err := h.People.EventPage(ctx, people.NewEventCursor(u.EventSources()), 1)
		if err != nil {
			return httpapi.Internal(ctx, h.Log, req, "could not read events", err), nil
		}
		if len(evs) == 0 {
			return httpapi.Error(http.StatusNotFound, "unknown user id"), nil
		}
	}
	credits, err := attribution.Credits(model, u.Touches, opts)
	if errors.Is(err, attribution.ErrInvalidOptions) || errors.Is(err, attribution.ErrUnknownModel) {
		return httpapi.Error(http.StatusBadRequest, err.Error()), nil
	}
	if err != nil {
		return httpapi.Internal(ctx, h.Log, req, "could not compute credits", err), nil
	}
	return httpapi.JSON(http.StatusOK, AttributionResponse{Model: model, Credits: credits}), nil
}

type eventPage struct {
	events []Event
	cursor *string
	first  bool // no cursor was given
}

// events reads one page of events; a non-nil response is the answer to send instead.
func (h *Handler) events(ctx context.Context, req events.APIGatewayV2HTTPRequest, subject string, sources []store.EventSource, limit int) (eventPage, *events.APIGatewayV2HTTPResponse) {
	page := eventPage{events: []Event{}}
	cur := people.NewEventCursor(sources)
	if c, ok := req.QueryStringParameters["cursor"]; ok {
		var err error
		if cur, err = decodeCursor(c, subject, sources); err != nil {
			resp := httpapi.Error(http.StatusBadRequest, err.Error())
			return page, &resp
		}
	} else {
		page.first = true
	}
	evs, next, err := h.People.EventPage(ctx, cur, limit)
	if err != nil {
		resp := httpapi.Internal(ctx, h.Log, req, "could not read events", err)
		return page, &resp
	}
	for _, ev := range evs {
		page.events = append(page.events, toEvent(ev))
	}
	token, err := encodeCursor(subject, next)
	if err != nil {
		resp := httpapi.Internal(ctx, h.Log, req, "could not encode the cursor", err)
		return page, &resp
	}
	if token != "" {
		page.cursor = &token
	}
	return page, nil
}

func toEvent(ev event.Event) Event {
	out := Event{MessageID: ev.MessageID, Type: ev.Type, Timestamp: ev.Timestamp, AnonymousID: ev.AnonymousID, UserID: ev.UserID}
	if json.Valid(ev.Raw) {
		out.Event = json.RawMessage(ev.Raw)
	} else {
		out.Event = json.RawMessage("null")
	}
	return out
}

func parseLimit(v string) (int, string) {
	if v == "" {
		return DefaultLimit, ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fmt.Sprintf("limit must be a whole number from 1 to %d", MaxLimit)
	}
	return n, ""
}

func nonNil(links []store.Link) []store.Link {
	if links == nil {
		return []store.Link{}
	}
	return links
}
