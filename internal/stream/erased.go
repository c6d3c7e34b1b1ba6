package stream

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/attribution-dev/attribution/internal/event"
)

// ErasedCheck says whether an event's person was erased (store.Tombstones.EventErased).
// Consumers ask it for every record they would derive something from: an event stored
// just before its person was erased still reaches them after the erasure.
type ErasedCheck func(ctx context.Context, ev event.Event) (bool, error)

// Skip reports whether ev belongs to an erased person, logging the skip; a nil check
// skips nothing. Its error should fail the record: deriving an erased person's data is
// worse than a retry.
func (c ErasedCheck) Skip(ctx context.Context, log *slog.Logger, ev event.Event) (bool, error) {
	if c == nil {
		return false, nil
	}
	erased, err := c(ctx, ev)
	if err != nil {
		return false, fmt.Errorf("check erasure of %s: %w", ev.MessageID, err)
	}
	if erased {
		log.InfoContext(ctx, "skip event of an erased person", "message_id", ev.MessageID)
	}
	return erased, nil
}
