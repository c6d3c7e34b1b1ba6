// Package detect is the stream consumer that turns page events into touches: it
// describes each page view's source and stores a touch when the page view enters a
// visit (DESIGN.md, "Touches").
package detect

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// PageViews finds a visitor's previous page view (store.Events does).
type PageViews interface {
	PreviousPageView(ctx context.Context, anonymousID, userID string, ts time.Time, messageID string) (time.Time, bool, error)
}

// Touches reads and writes touches (store.Touches does).
type Touches interface {
	LatestBefore(ctx context.Context, visitorID string, ts time.Time, messageID string) (*attribution.Touch, error)
	Put(ctx context.Context, t attribution.Touch) error
}

// Handler is the detect Lambda.
type Handler struct {
	Detector  *source.Detector
	PageViews PageViews
	Touches   Touches
	Log       *slog.Logger
	// OnTouch, when set, is called after each new touch is stored (real-time attribution).
	// Its error fails the record, so the stream redelivers it; storing the touch again is
	// a no-op.
	OnTouch func(ctx context.Context, t attribution.Touch) error
}

// Handle processes a batch of stream records, reporting partial batch failures.
func (h *Handler) Handle(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return stream.ProcessBatch(ctx, h.Log, batch, h.record), nil
}

func (h *Handler) record(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if rec.EventName != "INSERT" {
		return nil
	}
	ev, err := stream.EventFromRecord(rec)
	if err != nil {
		// Retrying cannot fix a record we cannot read: log it and move on.
		h.Log.WarnContext(ctx, "skip unreadable stream record", "event_id", rec.EventID, "err", err)
		return nil
	}
	if ev.Type != event.TypePage {
		return nil
	}
	touch, err := h.Touch(ctx, ev)
	if err != nil || touch == nil {
		return err
	}
	if h.OnTouch != nil {
		return h.OnTouch(ctx, *touch)
	}
	return nil
}

// Touch stores the touch a page event starts, if it starts one, and returns it (nil
// when the page view continues a visit or is internal). It reads only what happened
// before the event, so handling the same event again gives the same answer.
func (h *Handler) Touch(ctx context.Context, ev event.Event) (*attribution.Touch, error) {
	d := h.Detector.Detect(ev.URL, ev.Referrer)
	if d.Referrer.Type == source.TypeInternal {
		return nil, nil
	}
	prev, hasPrev, err := h.PageViews.PreviousPageView(ctx, ev.AnonymousID, ev.UserID, ev.Timestamp, ev.MessageID)
	if err != nil {
		return nil, fmt.Errorf("detect touch of %s: %w", ev.MessageID, err)
	}
	var latestDesc *source.Description
	if hasPrev && ev.Timestamp.Sub(prev) < source.VisitTimeout {
		latest, err := h.Touches.LatestBefore(ctx, store.VisitorID(ev.AnonymousID, ev.UserID), ev.Timestamp, ev.MessageID)
		if err != nil {
			return nil, fmt.Errorf("detect touch of %s: %w", ev.MessageID, err)
		}
		if latest != nil {
			latestDesc = &latest.Description
		}
	}
	if !source.IsNewTouch(d, ev.Timestamp.Sub(prev), hasPrev, latestDesc) {
		return nil, nil
	}
	t := attribution.Touch{
		MessageID:   ev.MessageID,
		AnonymousID: ev.AnonymousID,
		UserID:      ev.UserID,
		Timestamp:   ev.Timestamp,
		URL:         ev.URL,
		Referrer:    ev.Referrer,
		Description: d,
	}
	if err := h.Touches.Put(ctx, t); err != nil {
		return nil, fmt.Errorf("detect touch of %s: %w", ev.MessageID, err)
	}
	h.Log.DebugContext(ctx, "touch stored", "message_id", t.MessageID, "anonymous_id", t.AnonymousID, "type", d.Referrer.Type, "channel", d.Channel)
	return &t, nil
}
