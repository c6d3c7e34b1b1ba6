// Package people resolves who a person is across devices: the anonymous ids linked to a
// userId (and back), all of their touches, and their events as one time-ordered stream.
// The query API, the Segment trigger, real-time attribution and erasure share it, so
// every feature agrees on which data belongs to a person.
package people

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
	"golang.org/x/sync/errgroup"
)

// IdentityStore lists identity links.
type IdentityStore interface {
	ByUser(ctx context.Context, userID string) ([]store.Link, error)
	ByAnonymous(ctx context.Context, anonymousID string) ([]store.Link, error)
}

// TouchStore lists touches.
type TouchStore interface {
	ByVisitor(ctx context.Context, visitorID string) ([]attribution.Touch, error)
	ByUser(ctx context.Context, userID string) ([]attribution.Touch, error)
}

// EventStore reads an index partition of the events table, newest first.
type EventStore interface {
	Newest(ctx context.Context, src store.EventSource, after *store.EventPosition, limit int, keep func(event.Event) bool) ([]event.Event, error)
}

var (
	_ IdentityStore = (*store.Identities)(nil)
	_ TouchStore    = (*store.Touches)(nil)
	_ EventStore    = (*store.Events)(nil)
)

// DefaultConcurrency bounds the queries one resolution runs at once.
const DefaultConcurrency = 8

// Resolver finds a person's identities, touches and events. Every read is a Query.
type Resolver struct {
	Identities IdentityStore
	Touches    TouchStore
	Events     EventStore
	// Concurrency bounds the per-anonymous-id queries in flight (default 8).
	Concurrency int
}

// User is everything linked to a userId.
type User struct {
	UserID string
	// Links are the user's identity links, ordered by anonymousId.
	Links []store.Link
	// AnonymousIDs are the links' anonymous ids, in the same order.
	AnonymousIDs []string
	// Touches are the touches of every linked id, deduplicated by messageId, oldest first.
	Touches []attribution.Touch
}

// Anonymous is everything linked to an anonymousId.
type Anonymous struct {
	AnonymousID string
	// Links are the anonymous id's identity links, ordered by userId.
	Links []store.Link
	// UserIDs are the links' userIds, in the same order.
	UserIDs []string
	// Touches are the anonymous id's own touches, oldest first.
	Touches []attribution.Touch
}

// Known reports whether anything links to or was recorded for the user besides events.
func (u User) Known() bool { return len(u.Links) > 0 || len(u.Touches) > 0 }

// Known reports whether anything links to or was recorded for the anonymous id besides events.
func (a Anonymous) Known() bool { return len(a.Links) > 0 || len(a.Touches) > 0 }

// User resolves userID: its links, and the touches recorded under the user and under
// every linked anonymous id.
//
// Touches are looked up under each linked anonymous id (ByVisitor), under the userId as
// carried by page events (ByUser) and as the visitor of server-side page calls without
// an anonymousId (VisitorID("", userID)). A link marked Aliased names an alias's
// previousId, which may have been a userId before the alias: its user-keyed touches are
// read too, so a merged account keeps its history.
func (r *Resolver) User(ctx context.Context, userID string) (User, error) {
	links, err := r.Identities.ByUser(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("resolve user %s: %w", userID, err)
	}
	u := User{UserID: userID, Links: links, AnonymousIDs: make([]string, 0, len(links))}
	lookups := []func(context.Context) ([]attribution.Touch, error){
		r.byUser(userID),
		r.byVisitor(store.VisitorID("", userID)),
	}
	for _, l := range links {
		u.AnonymousIDs = append(u.AnonymousIDs, l.AnonymousID)
		lookups = append(lookups, r.byVisitor(l.AnonymousID))
		if l.Aliased {
			lookups = append(lookups, r.byUser(l.AnonymousID), r.byVisitor(store.VisitorID("", l.AnonymousID)))
		}
	}
	if u.Touches, err = r.touches(ctx, lookups); err != nil {
		return User{}, fmt.Errorf("resolve user %s: %w", userID, err)
	}
	return u, nil
}

// Anonymous resolves anonymousID: the users it identified as, and its own touches.
func (r *Resolver) Anonymous(ctx context.Context, anonymousID string) (Anonymous, error) {
	links, err := r.Identities.ByAnonymous(ctx, anonymousID)
	if err != nil {
		return Anonymous{}, fmt.Errorf("resolve anonymous id %s: %w", anonymousID, err)
	}
	a := Anonymous{AnonymousID: anonymousID, Links: links, UserIDs: make([]string, 0, len(links))}
	for _, l := range links {
		a.UserIDs = append(a.UserIDs, l.UserID)
	}
	if a.Touches, err = r.touches(ctx, []func(context.Context) ([]attribution.Touch, error){r.byVisitor(anonymousID)}); err != nil {
		return Anonymous{}, fmt.Errorf("resolve anonymous id %s: %w", anonymousID, err)
	}
	return a, nil
}

func (r *Resolver) byVisitor(id string) func(context.Context) ([]attribution.Touch, error) {
	return func(ctx context.Context) ([]attribution.Touch, error) { return r.Touches.ByVisitor(ctx, id) }
}

func (r *Resolver) byUser(id string) func(context.Context) ([]attribution.Touch, error) {
	return func(ctx context.Context) ([]attribution.Touch, error) { return r.Touches.ByUser(ctx, id) }
}

// touches runs the lookups with bounded concurrency and merges their results:
// deduplicated by messageId, oldest first (ties by messageId, as attribution orders them).
func (r *Resolver) touches(ctx context.Context, lookups []func(context.Context) ([]attribution.Touch, error)) ([]attribution.Touch, error) {
	results := make([][]attribution.Touch, len(lookups))
	err := r.each(ctx, len(lookups), func(ctx context.Context, i int) error {
		var err error
		results[i], err = lookups[i](ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := []attribution.Touch{}
	for _, ts := range results {
		for _, t := range ts {
			if !seen[t.MessageID] {
				seen[t.MessageID] = true
				out = append(out, t)
			}
		}
	}
	slices.SortFunc(out, func(a, b attribution.Touch) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), strings.Compare(a.MessageID, b.MessageID))
	})
	return out, nil
}

// each runs fn(0..n-1) with at most Concurrency calls in flight; the first error
// cancels the rest and is returned.
func (r *Resolver) each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	workers := r.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range n {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

// UserTouches is every touch of userID over all its linked ids, oldest first.
func (r *Resolver) UserTouches(ctx context.Context, userID string) ([]attribution.Touch, error) {
	u, err := r.User(ctx, userID)
	return u.Touches, err
}

// AnonymousTouches is the touches of one anonymous id, oldest first.
func (r *Resolver) AnonymousTouches(ctx context.Context, anonymousID string) ([]attribution.Touch, error) {
	a, err := r.Anonymous(ctx, anonymousID)
	return a.Touches, err
}
