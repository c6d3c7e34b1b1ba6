// Package touches is the stream consumer that turns page events into touches: it
// describes each page view's source and stores a touch when the page view enters a
// visit (source.IsNewTouch).
package touches

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/realtime"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// PageViews finds a visitor's previous page view (store.Events does).
type PageViews interface {
	PreviousPageView(ctx context.Context, anonymousID, userID string, ts, since time.Time, messageID string) (time.Time, bool, error)
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
	// Erased, when set, says whether a page event's person was erased; their events
	// are skipped.
	Erased erase.ErasedCheck
	// OnTouch, when set, is called after each new touch is stored (real-time attribution).
	// Its error fails the record, so the stream redelivers it; storing the touch again is
	// a no-op.
	OnTouch func(ctx context.Context, t attribution.Touch) error
	// Realtime, when set (REALTIME), pushes the attribution of every user a batch's new
	// touches affect, once per user after the whole batch is stored: a burst of touches
	// sends the final state once. A user whose push fails fails the batch from the first
	// record that touched them on (stream.ProcessBatchThen); redelivery stores those
	// touches again, a no-op, and pushes again.
	Realtime *realtime.Pusher
	// Conversions, when set, recomputes the conversions of the persons (person keys) a
	// batch's new touches belong to, once per batch after it is stored
	// (ledger.Ledger.FollowUp): a late touch changes the credits of conversions after it.
	Conversions stream.FollowUpFunc
}

// Handle processes a batch of stream records, reporting partial batch failures.
func (h *Handler) Handle(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	erased := h.Erased.ForBatch(ctx, batch)
	if h.Realtime == nil && h.Conversions == nil {
		return stream.ProcessBatch(ctx, h.Log, batch, func(ctx context.Context, rec events.DynamoDBEventRecord) error {
			_, err := h.record(ctx, rec, erased)
			return err
		}), nil
	}
	fresh := map[string][]attribution.Touch{} // userId → touches stored by this batch
	linked := map[string][]string{}           // anonymousId → linked users, read once per batch
	// Keys are person keys (conversion.UserKey, AnonymousKey): the users to push, and the persons
	// whose conversions to recompute.
	keyed := func(ctx context.Context, rec events.DynamoDBEventRecord) ([]string, error) {
		touch, err := h.record(ctx, rec, erased)
		if err != nil || touch == nil {
			return nil, err
		}
		var keys []string
		if h.Conversions != nil {
			if touch.UserID != "" {
				keys = append(keys, conversion.UserKey(touch.UserID))
			}
			if touch.AnonymousID != "" {
				keys = append(keys, conversion.AnonymousKey(touch.AnonymousID))
			}
		}
		if h.Realtime == nil {
			return keys, nil
		}
		users, ok := linked[touch.AnonymousID]
		if !ok {
			if users, err = h.Realtime.Linked(ctx, touch.AnonymousID); err != nil {
				return nil, fmt.Errorf("detect touch of %s: %w", touch.MessageID, err)
			}
			linked[touch.AnonymousID] = users
		}
		for _, u := range realtime.WithUser(touch.UserID, users) {
			fresh[u] = append(fresh[u], *touch)
			keys = append(keys, conversion.UserKey(u))
		}
		return keys, nil
	}
	var followUps []stream.FollowUpFunc
	if h.Conversions != nil {
		followUps = append(followUps, h.Conversions)
	}
	if h.Realtime != nil {
		followUps = append(followUps, h.Realtime.PersonFollowUp(fresh))
	}
	return stream.ProcessBatchThen(ctx, h.Log, batch, keyed, stream.JoinFollowUps(followUps...)), nil
}

// record stores the touch rec's page event starts, if any, and returns it.
func (h *Handler) record(ctx context.Context, rec events.DynamoDBEventRecord, erased *erase.Erasures) (*attribution.Touch, error) {
	if rec.EventName != "INSERT" {
		return nil, nil
	}
	ev, err := stream.EventFromRecord(rec)
	if err != nil {
		// Retrying cannot fix a record we cannot read: log it and move on.
		h.Log.WarnContext(ctx, "skip unreadable stream record", "event_id", rec.EventID, "err", err)
		return nil, nil
	}
	if ev.Type != event.TypePage {
		return nil, nil
	}
	if skip, err := erased.Skip(ctx, h.Log, ev); skip || err != nil {
		return nil, err
	}
	touch, err := h.Touch(ctx, ev)
	if err != nil || touch == nil {
		return nil, err
	}
	if h.OnTouch != nil {
		if err := h.OnTouch(ctx, *touch); err != nil {
			return nil, err
		}
	}
	return touch, nil
}

// Touch stores the touch a page event starts, if it starts one, and returns it (nil
// when the page view continues a visit or is internal). It reads only what happened
// before the event, so handling the same event again gives the same answer.
func (h *Handler) Touch(ctx context.Context, ev event.Event) (*attribution.Touch, error) {
	// Detection reads the whole URL; what is stored and compared is clipped the same way
	// (attribution.Touch.Clipped), or a fresh description with an overlong utm value
	// would never equal the stored one and every reload would count as a new touch.
	t := attribution.Touch{
		MessageID:   ev.MessageID,
		AnonymousID: ev.AnonymousID,
		UserID:      ev.UserID,
		Timestamp:   ev.Timestamp,
		URL:         ev.URL,
		Referrer:    ev.Referrer,
		Description: h.Detector.Detect(ev.URL, ev.Referrer),
	}.Clipped()
	d := t.Description
	if d.Referrer.Type == source.TypeInternal {
		return nil, nil
	}
	// Only a page view within the visit timeout changes the answer (source.IsNewTouch),
	// so none older is looked for.
	prev, hasPrev, err := h.PageViews.PreviousPageView(ctx, ev.AnonymousID, ev.UserID, ev.Timestamp, ev.Timestamp.Add(-source.VisitTimeout), ev.MessageID)
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
	if err := h.Touches.Put(ctx, t); err != nil {
		return nil, fmt.Errorf("detect touch of %s: %w", ev.MessageID, err)
	}
	h.Log.DebugContext(ctx, "touch stored", "message_id", t.MessageID, "anonymous_id", t.AnonymousID, "type", d.Referrer.Type, "channel", d.Channel)
	return &t, nil
}
