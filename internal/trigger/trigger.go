// Package trigger is the Segment trigger Lambda: GET /segment/identify/user/{id} sends a
// user's attribution traits to Segment as an identify call, and GET
// /segment/track/user/{id} and /segment/track/anonymous/{id} send one track call per
// touch, each with the touch's own historic timestamp. Every answer says what was sent;
// no route answers 2xx when Segment did not take every message.
package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/segment"
)

// Route paths, as serverless.yml declares them.
const (
	IdentifyUserPath   = "/segment/identify/user/{id}"
	TrackUserPath      = "/segment/track/user/{id}"
	TrackAnonymousPath = "/segment/track/anonymous/{id}"
)

// MaxResponseBytes bounds the answer's size. A synchronous Lambda response is at most
// 6 MB; a user with tens of thousands of touches would exceed it with every message's
// properties echoed, so above this the traits and properties are left out of the
// answer (messageIds, types and timestamps stay) and detailsOmitted says so.
const MaxResponseBytes = 5_000_000

// Handler serves the three trigger routes.
type Handler struct {
	People People
	Sender segment.Sender
	// Event is the track event's name (SOURCE_IDENTIFIED_EVENT); config.DefaultSourceEvent when empty.
	Event string
	Log   *slog.Logger
	// Erased, when set, says whether a user or anonymous id was erased
	// (store.Tombstones.IsErased). Nothing is ever sent for an erased id: the routes
	// answer 410 Gone, whatever data may have reappeared for it.
	Erased func(ctx context.Context, id string) (bool, error)
}

// Response is what every trigger route answers, with Error set on a 502.
type Response struct {
	Error       string `json:"error,omitempty"`
	UserID      string `json:"userId,omitempty"`
	AnonymousID string `json:"anonymousId,omitempty"`
	// DryRun is true when the client has no write key and wrote the batches to its
	// outbox file instead of sending them.
	DryRun bool      `json:"dryRun"`
	Sent   []Message `json:"sent"`
	Failed []Message `json:"failed"`
	// DetailsOmitted is true when traits and properties were left out of Sent and
	// Failed to keep the answer under MaxResponseBytes.
	DetailsOmitted bool `json:"detailsOmitted,omitempty"`
}

// Message is one message as sent (or not), with why it failed when it did.
type Message struct {
	MessageID   string         `json:"messageId"`
	Type        string         `json:"type"`
	Event       string         `json:"event,omitempty"`
	UserID      string         `json:"userId,omitempty"`
	AnonymousID string         `json:"anonymousId,omitempty"`
	Timestamp   time.Time      `json:"timestamp,omitzero"`
	Traits      map[string]any `json:"traits,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`

	// Error, StatusCode and Attempts are set for failed messages only. StatusCode is
	// Segment's last answer, 0 when there was none (refused before sending, network
	// error, or the dry-run outbox could not be written).
	Error      string `json:"error,omitempty"`
	StatusCode int    `json:"statusCode,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
}

// Routes are the trigger Lambda's three routes.
func (h *Handler) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: IdentifyUserPath, Handler: h.IdentifyUser},
		{Method: http.MethodGet, Path: TrackUserPath, Handler: h.TrackUser},
		{Method: http.MethodGet, Path: TrackAnonymousPath, Handler: h.TrackAnonymous},
	}
}

// IdentifyUser serves GET /segment/identify/user/{id}.
func (h *Handler) IdentifyUser(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, req, "user", h.People.UserTouches, func(id string, touches []attribution.Touch) []segment.Message {
		msg, _ := attribution.Identify(id, touches)
		return []segment.Message{msg}
	})
}

// TrackUser serves GET /segment/track/user/{id}.
func (h *Handler) TrackUser(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, req, "user", h.People.UserTouches, func(id string, touches []attribution.Touch) []segment.Message {
		msgs := make([]segment.Message, len(touches))
		for i, t := range touches {
			msgs[i] = attribution.UserTrack(id, h.event(), t)
		}
		return msgs
	})
}

// TrackAnonymous serves GET /segment/track/anonymous/{id}.
func (h *Handler) TrackAnonymous(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, req, "anonymous", h.People.AnonymousTouches, func(id string, touches []attribution.Touch) []segment.Message {
		msgs := make([]segment.Message, len(touches))
		for i, t := range touches {
			msgs[i] = attribution.AnonymousTrack(id, h.event(), t)
		}
		return msgs
	})
}

func (h *Handler) event() string {
	if h.Event == "" {
		return config.DefaultSourceEvent
	}
	return h.Event
}

// serve is every route: read the id, find the touches, build the messages, send them
// synchronously and answer with what happened to each.
func (h *Handler) serve(
	ctx context.Context, req events.APIGatewayV2HTTPRequest, kind string,
	find func(context.Context, string) ([]attribution.Touch, error),
	build func(id string, touches []attribution.Touch) []segment.Message,
) (events.APIGatewayV2HTTPResponse, error) {
	id := httpapi.PathParam(req, "id")
	if msg := event.CheckID(id); msg != "" {
		return httpapi.Error(http.StatusBadRequest, msg), nil
	}
	if h.Erased != nil {
		erased, err := h.Erased(ctx, id)
		if err != nil {
			return httpapi.Internal(ctx, h.Log, req, "could not check whether the id was erased", fmt.Errorf("check erased %s: %w", kind, err)), nil
		}
		if erased {
			return httpapi.Error(http.StatusGone, fmt.Sprintf("this %s id was erased; nothing is sent to Segment for it", kind)), nil
		}
	}
	touches, err := find(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && len(touches) == 0) {
		return httpapi.Error(http.StatusNotFound, fmt.Sprintf("no touches for %s id %q", kind, id)), nil
	}
	if err != nil {
		return httpapi.Internal(ctx, h.Log, req, "could not read touches", fmt.Errorf("find touches of %s %s: %w", kind, id, err)), nil
	}

	msgs := build(id, touches)
	results := h.Sender.Send(ctx, msgs)
	resp := Response{Sent: []Message{}, Failed: []Message{}}
	if kind == "user" {
		resp.UserID = id
	} else {
		resp.AnonymousID = id
	}
	for i, r := range results {
		resp.DryRun = resp.DryRun || r.DryRun
		m := describe(msgs[i])
		if r.Sent {
			resp.Sent = append(resp.Sent, m)
			continue
		}
		m.StatusCode, m.Attempts = r.StatusCode, r.Attempts
		if r.Err != nil {
			m.Error = r.Err.Error()
		}
		resp.Failed = append(resp.Failed, m)
	}

	logArgs := []any{"request_id", req.RequestContext.RequestID, "route", req.RouteKey, kind + "_id", id,
		"messages", len(msgs), "sent", len(resp.Sent), "failed", len(resp.Failed), "dry_run", resp.DryRun}
	status := http.StatusOK
	if len(resp.Failed) > 0 {
		// Whatever the reason, the caller must not read a 2xx as "Segment has it all".
		// The messages that were sent are listed, and re-triggering resends them under
		// the same messageIds, which Segment deduplicates.
		status = http.StatusBadGateway
		resp.Error = fmt.Sprintf("%d of %d messages were not sent to Segment", len(resp.Failed), len(msgs))
		first := resp.Failed[0]
		h.Log.WarnContext(ctx, "segment trigger incomplete", append(logArgs,
			"first_failed_message_id", first.MessageID, "status", first.StatusCode, "err", first.Error)...)
	} else {
		// Ids and counts only: traits and properties are personal data.
		h.Log.InfoContext(ctx, "segment trigger", logArgs...)
	}
	return answer(status, resp), nil
}

// describe is the answer's view of a message: what Segment received, in its own keys.
func describe(m segment.Message) Message {
	return Message{
		MessageID: m.MessageID, Type: m.Type, Event: m.Event, UserID: m.UserID, AnonymousID: m.AnonymousID,
		Timestamp: m.Timestamp, Traits: m.Traits, Properties: m.Properties,
	}
}

// answer encodes resp, leaving traits and properties out when the whole would be
// larger than MaxResponseBytes.
func answer(status int, resp Response) events.APIGatewayV2HTTPResponse {
	out := httpapi.JSON(status, resp)
	if len(out.Body) <= MaxResponseBytes {
		return out
	}
	strip := func(ms []Message) []Message {
		stripped := make([]Message, len(ms))
		for i, m := range ms {
			m.Traits, m.Properties = nil, nil
			stripped[i] = m
		}
		return stripped
	}
	resp.Sent, resp.Failed, resp.DetailsOmitted = strip(resp.Sent), strip(resp.Failed), true
	return httpapi.JSON(status, resp)
}
