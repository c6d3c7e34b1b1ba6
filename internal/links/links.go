// Package links is the events stream's consumer for identify and alias events: it
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
package links

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/realtime"
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
	// Realtime, when set (REALTIME), pushes the attribution of every user a batch linked
	// an id to, once per user after the whole batch is stored: a newly linked device can
	// bring earlier touches. A user whose push fails fails the batch from the first
	// record naming them on (stream.ProcessBatchThen); redelivered links are no-ops.
	Realtime *realtime.Pusher
	// Erased, when set, says whether an event's person was erased; their identify and
	// alias events link nothing.
	Erased erase.ErasedCheck
	// Blocked are ids that never link (nil: the built-in list). The webhook already
	// drops them; checking again here covers events stored before an id was blocked.
	Blocked *event.Blocklist
	// Conversions, when set, recomputes the conversions of the persons (person keys) a
	// batch linked, once per batch after it is stored (ledger.Ledger.FollowUp): a newly
	// linked device brings its touches to the user's conversions, and a conversion made
	// on it becomes the user's.
	Conversions stream.FollowUpFunc
}

// ErrUnusable marks an event that can never produce a link; its record is skipped.
var ErrUnusable = errors.New("event cannot be linked")

// Handle is the Lambda handler; failures are reported per record.
func (h *Handler) Handle(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	erased := h.Erased.ForBatch(ctx, batch)
	record := func(ctx context.Context, rec events.DynamoDBEventRecord) ([]string, error) {
		return h.record(ctx, rec, erased)
	}
	if h.Realtime == nil && h.Conversions == nil {
		return stream.ProcessBatch(ctx, h.Log, batch, func(ctx context.Context, rec events.DynamoDBEventRecord) error {
			_, err := record(ctx, rec)
			return err
		}), nil
	}
	// Every linked user is pushed, whether or not the linked id has touches: the pusher
	// sends nothing for a user without touches or with unchanged traits.
	var followUps []stream.FollowUpFunc
	if h.Conversions != nil {
		followUps = append(followUps, h.Conversions)
	}
	if h.Realtime != nil {
		followUps = append(followUps, h.Realtime.PersonFollowUp(nil))
	}
	return stream.ProcessBatchThen(ctx, h.Log, batch, record, stream.JoinFollowUps(followUps...)), nil
}

// record applies rec's event and returns the persons (person keys) it linked: the user,
// and the ids linked to them.
func (h *Handler) record(ctx context.Context, rec events.DynamoDBEventRecord, erased *erase.Erasures) ([]string, error) {
	if rec.EventName == "REMOVE" {
		return nil, nil
	}
	ev, err := stream.EventFromRecord(rec)
	if err != nil {
		h.Log.WarnContext(ctx, "skip unreadable stream record", "event_id", rec.EventID, "err", err)
		return nil, nil
	}
	if ev.Type == event.TypeIdentify || ev.Type == event.TypeAlias {
		if skip, err := erased.Skip(ctx, h.Log, ev); skip || err != nil {
			return nil, err
		}
	}
	err = h.Apply(ctx, ev)
	if h.capped(ctx, err) {
		return nil, nil
	}
	if errors.Is(err, ErrUnusable) || errors.Is(err, store.ErrInvalidLink) {
		h.Log.WarnContext(ctx, "skip event", "event_id", rec.EventID, "message_id", ev.MessageID, "type", ev.Type, "reason", err.Error())
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ev.Type != event.TypeIdentify && ev.Type != event.TypeAlias {
		return nil, nil
	}
	keys := []string{conversion.UserKey(ev.UserID)}
	if ev.AnonymousID != "" {
		keys = append(keys, conversion.AnonymousKey(ev.AnonymousID))
	}
	if ev.Type == event.TypeAlias {
		keys = append(keys, conversion.AnonymousKey(ev.PreviousID), conversion.UserKey(ev.PreviousID))
	}
	return keys, nil
}

// Apply records the links ev establishes. Events of other types are ignored. It is
// exported for callers that replay stored events (import, backfill).
func (h *Handler) Apply(ctx context.Context, ev event.Event) error {
	switch ev.Type {
	case event.TypeIdentify:
		if h.Blocked.Blocked(ev.AnonymousID) || h.Blocked.Blocked(ev.UserID) {
			return fmt.Errorf("%w: identify %s needs both anonymousId and userId, not blocked", ErrUnusable, ev.MessageID)
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
	prev, user, device := ev.PreviousID, ev.UserID, ev.AnonymousID
	if h.Blocked.Blocked(prev) {
		prev = "" // links nothing, but the device that made the call still counts
	}
	if h.Blocked.Blocked(device) {
		device = ""
	}
	switch {
	case h.Blocked.Blocked(user) || (prev == "" && device == ""):
		return fmt.Errorf("%w: alias %s needs a userId and a previousId or anonymousId, not blocked", ErrUnusable, ev.MessageID)
	case prev == user:
		return fmt.Errorf("%w: alias %s has previousId equal to userId", ErrUnusable, ev.MessageID)
	}
	link := func(anonymousID, via string, aliased bool) store.Link {
		return store.Link{
			UserID: user, AnonymousID: anonymousID, Source: store.LinkAlias,
			MessageID: ev.MessageID, FirstSeen: ev.Timestamp, Via: via, Aliased: aliased,
		}
	}
	// The previousId first: if a later step fails, the retry redoes it harmlessly. A
	// previousId no link can hold (a reserved "#" id, a blocked one) links nothing and
	// has nothing to inherit, but the device that made the call is still linked.
	prevErr := fmt.Errorf("%w: alias %s: previousId is blocked", store.ErrInvalidLink, ev.MessageID)
	if prev != "" {
		prevErr = h.Identities.Put(ctx, link(prev, "", true))
	}
	if prevErr != nil && !errors.Is(prevErr, store.ErrInvalidLink) {
		return prevErr
	}
	// The alias event's own anonymousId is the device that made the call.
	if device != "" && device != prev {
		if err := h.Identities.Put(ctx, link(device, "", false)); err != nil {
			return err
		}
	}
	if prevErr != nil {
		return prevErr // reported as a skipped link; the record is not failed
	}
	inherited, err := h.Identities.ByUser(ctx, prev)
	if err != nil {
		return err
	}
	// Each Put is up to five conditional writes (two merge-cap counts, three on the
	// link); a previousId with many links would otherwise outlast the Lambda on every
	// retry.
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(inheritWorkers)
	for _, l := range inherited {
		if l.AnonymousID == user {
			continue // a link back to the new userId itself: nothing to inherit
		}
		g.Go(func() error {
			err := h.Identities.Put(ctx, link(l.AnonymousID, prev, l.Aliased))
			if h.capped(ctx, err) {
				return nil // one device past a cap does not stop the others
			}
			return err
		})
	}
	return g.Wait()
}

// capped reports whether err is a link refused by a merge cap, which skips the link
// (a retry would be refused again). The first refusal for an id is a warning: from then
// on that id gains no links, which an operator should look at; later ones are debug.
func (h *Handler) capped(ctx context.Context, err error) bool {
	var capErr *store.CapError
	if !errors.As(err, &capErr) {
		return false
	}
	level := slog.LevelDebug
	if capErr.First {
		level = slog.LevelWarn
	}
	h.Log.Log(ctx, level, "merge cap reached: new links refused", "kind", capErr.Kind, "id", capErr.ID, "cap", capErr.Cap)
	return true
}

// inheritWorkers bounds the links an alias copies at once.
const inheritWorkers = 16
