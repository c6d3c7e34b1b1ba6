package people

import (
	"context"
	"fmt"
	"strings"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
)

// EventSources are the index partitions holding a user's events, in a fixed order:
// the userId, each linked anonymous id, then each aliased previousId read as a userId.
func (u User) EventSources() []store.EventSource {
	srcs := []store.EventSource{{ByUser: true, ID: u.UserID}}
	for _, id := range u.AnonymousIDs {
		srcs = append(srcs, store.EventSource{ID: id})
	}
	for _, l := range u.Links {
		if l.Aliased && l.AnonymousID != u.UserID {
			srcs = append(srcs, store.EventSource{ByUser: true, ID: l.AnonymousID})
		}
	}
	return srcs
}

// EventSources is the anonymous id's own partition.
func (a Anonymous) EventSources() []store.EventSource {
	return []store.EventSource{{ID: a.AnonymousID}}
}

// SourceCursor is where a reader is in one source.
type SourceCursor struct {
	Source store.EventSource
	// After is the last event read from the source; nil when none was read yet.
	After *store.EventPosition
	// Done is true when every event of the source has been read.
	Done bool
}

// EventCursor is where a reader is in a person's events: one SourceCursor per source,
// in the order the sources were listed when reading began.
//
// An event is in up to two sources (its userId's and its anonymousId's). It is read
// only from its owner, the first source in the cursor's order that holds it, and every
// other source skips it, so each event appears exactly once across all pages, whatever
// order DynamoDB returns events with equal times in. Ownership is decided from the
// event's own ids, so it needs no memory of what earlier pages returned.
type EventCursor []SourceCursor

// NewEventCursor starts reading sources from their newest events.
func NewEventCursor(sources []store.EventSource) EventCursor {
	c := make(EventCursor, len(sources))
	for i, s := range sources {
		c[i] = SourceCursor{Source: s}
	}
	return c
}

// Done reports whether every source has been read completely.
func (c EventCursor) Done() bool {
	for _, s := range c {
		if !s.Done {
			return false
		}
	}
	return true
}

// EventPage returns up to limit events, newest first, from where cur stands, and the
// cursor for the next page (Done when there is none).
//
// It is a k-way merge: each unfinished source is asked for limit+1 events it owns, in
// parallel, and the newest heads are taken in turn. Asking for one more than limit tells
// a source that was read to its end from one that merely filled the page, so the last
// page ends with a Done cursor rather than a cursor to an empty page.
func (r *Resolver) EventPage(ctx context.Context, cur EventCursor, limit int) ([]event.Event, EventCursor, error) {
	if limit <= 0 {
		return nil, nil, fmt.Errorf("event page: limit %d must be positive", limit)
	}
	bufs := make([][]event.Event, len(cur))
	err := r.each(ctx, len(cur), func(ctx context.Context, i int) error {
		if cur[i].Done {
			return nil
		}
		earlier := cur[:i]
		keep := func(ev event.Event) bool {
			for _, e := range earlier {
				if e.Source.Matches(ev) {
					return false
				}
			}
			return true
		}
		var err error
		bufs[i], err = r.Events.Newest(ctx, cur[i].Source, cur[i].After, limit+1, keep)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("event page: %w", err)
	}

	taken := make([]int, len(cur))
	var out []event.Event
	for len(out) < limit {
		best := -1
		for i, buf := range bufs {
			if taken[i] < len(buf) && (best < 0 || newer(buf[taken[i]], bufs[best][taken[best]])) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out = append(out, bufs[best][taken[best]])
		taken[best]++
	}

	next := make(EventCursor, len(cur))
	for i, c := range cur {
		next[i] = c
		if c.Done {
			continue
		}
		if taken[i] > 0 {
			last := bufs[i][taken[i]-1]
			next[i].After = &store.EventPosition{Time: last.Timestamp, MessageID: last.MessageID}
		}
		// A source that returned fewer than it was asked for has no more events.
		next[i].Done = taken[i] == len(bufs[i]) && len(bufs[i]) <= limit
	}
	return out, next, nil
}

// newer orders the merge: later time first, then larger messageId, matching how
// each source's index returns events of distinct times.
func newer(a, b event.Event) bool {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c > 0
	}
	return strings.Compare(a.MessageID, b.MessageID) > 0
}
