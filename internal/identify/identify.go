// Package identify is the events stream's consumer for identify and alias events: it
// records which anonymous ids belong to which user, so a person's touches on every
// device before sign-up are attributed to them.
//
// identify(anonymousId, userId) links the two. alias(previousId → userId) links
// previousId to userId as if it were an anonymous id, marked Aliased; and when previousId
// was itself a userId with links, every one of its anonymous ids is linked to userId
// too (Via previousId). Readers (package people) treat an Aliased id as possibly a
// former userId and also read what is keyed by it as a userId: its events by userId and
// its "user:"+previousId touches. So both shapes of alias work without guessing, at
// alias time, which kind of id previousId is; an alias processed before the old user's
// identify events only misses the anonymous ids linked to the old user afterwards.
//
// Every write is idempotent (store.Identities.Put), so a redelivered record changes
// nothing.
package identify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// Store records and lists identity links.
type Store interface {
	Put(ctx context.Context, l store.Link) error
	ByUser(ctx context.Context, userID string) ([]store.Link, error)
}

var _ Store = (*store.Identities)(nil)

// Handler is the stream consumer.
type Handler struct {
	Identities Store
	Log        *slog.Logger
}

// ErrUnusable marks an event that can never produce a link; its record is skipped.
var ErrUnusable = errors.New("event cannot be linked")

// Handle is the Lambda handler; failures are reported per record.
func (h *Handler) Handle(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return stream.ProcessBatch(ctx, h.Log, batch, h.record), nil
}

func (h *Handler) record(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if rec.EventName == "REMOVE" {
		return nil
	}
	ev, err := stream.EventFromRecord(rec)
	if err != nil {
		h.Log.WarnContext(ctx, "skip unreadable stream record", "event_id", rec.EventID, "err", err)
		return nil
	}
	err = h.Apply(ctx, ev)
	if errors.Is(err, ErrUnusable) || errors.Is(err, store.ErrInvalidLink) {
		h.Log.WarnContext(ctx, "skip event", "event_id", rec.EventID, "message_id", ev.MessageID, "type", ev.Type, "reason", err.Error())
		return nil
	}
	return err
}

// Apply records the links ev establishes. Events of other types are ignored. It is
// exported for callers that replay stored events (import, backfill).
func (h *Handler) Apply(ctx context.Context, ev event.Event) error {
	switch ev.Type {
	case event.TypeIdentify:
		if ev.AnonymousID == "" || ev.UserID == "" {
			return fmt.Errorf("%w: identify %s needs both anonymousId and userId", ErrUnusable, ev.MessageID)
		}
		return h.Identities.Put(ctx, store.Link{
			UserID: ev.UserID, AnonymousID: ev.AnonymousID,
			Source: store.LinkIdentify, MessageID: ev.MessageID, FirstSeen: ev.Timestamp,
		})
	case event.TypeAlias:
		return h.alias(ctx, ev)
	}
	return nil
}

func (h *Handler) alias(ctx context.Context, ev event.Event) error {
	prev, user := ev.PreviousID, ev.UserID
	switch {
	case prev == "" || user == "":
		return fmt.Errorf("%w: alias %s needs previousId and userId", ErrUnusable, ev.MessageID)
	case prev == user:
		return fmt.Errorf("%w: alias %s has previousId equal to userId", ErrUnusable, ev.MessageID)
	}
	link := func(anonymousID, via string, aliased bool) store.Link {
		return store.Link{
			UserID: user, AnonymousID: anonymousID, Source: store.LinkAlias,
			MessageID: ev.MessageID, FirstSeen: ev.Timestamp, Via: via, Aliased: aliased,
		}
	}
	// The previousId first: if a later step fails, the retry redoes it harmlessly.
	if err := h.Identities.Put(ctx, link(prev, "", true)); err != nil {
		return err
	}
	// The alias event's own anonymousId is the device that made the call.
	if ev.AnonymousID != "" && ev.AnonymousID != prev {
		if err := h.Identities.Put(ctx, link(ev.AnonymousID, "", false)); err != nil {
			return err
		}
	}
	inherited, err := h.Identities.ByUser(ctx, prev)
	if err != nil {
		return err
	}
	for _, l := range inherited {
		if l.AnonymousID == user {
			continue // a link back to the new userId itself: nothing to inherit
		}
		if err := h.Identities.Put(ctx, link(l.AnonymousID, prev, l.Aliased)); err != nil {
			return err
		}
	}
	return nil
}
