// Package erase forgets a person on request: DELETE /api/user/{id}, DELETE
// /api/anonymous/{id} and `attribution forget` remove every event, touch and identity
// link about them, and leave a hashed tombstone so that later events for them are
// dropped and nothing is sent to Segment for them again.
//
// Who a user is follows the people resolver: the userId, its linked anonymous ids and
// the previousIds of its aliases (read both as anonymous ids and as former userIds).
//
// A shared device, an anonymous id linked to this user and to another user as well,
// still belongs to that other user: its anonymous history stays, and so does the
// suppression-free future of the device. Only what is this user's on it goes: the
// link, and every event and touch that carries this userId. An anonymous id linked to
// this user alone (or only to ids erased with it) is erased entirely and tombstoned.
//
// Erasing is idempotent and resumable: the tombstone is written first, so suppression
// starts before anything is deleted; identity links are deleted last, so a retry after
// a failure can still find every linked anonymous id. A second call answers the same
// shape with zero counts.
package erase

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/store"
)

// Eraser removes a person's data from the three tables.
type Eraser struct {
	Events     *store.Events
	Touches    *store.Touches
	Identities *store.Identities
	Tombstones *store.Tombstones
	Log        *slog.Logger
	// Conversions, when set, forgets the conversions of persons (conversion person keys)
	// and their part of every report, returning how many it removed
	// (ledger.Ledger.Erase).
	Conversions func(ctx context.Context, persons []string) (int, error)
	// Recredit, when set, credits again the conversions of persons who keep something
	// the erased person shared (a device): the erased touches leave their conversions
	// (ledger.Ledger.Refresh).
	Recredit func(ctx context.Context, persons []string) error
}

// maxAliasRounds bounds how far a chain of aliases (a previousId that itself had
// aliases) is followed.
const maxAliasRounds = 16

// Removed counts the items deleted per table.
type Removed struct {
	Events     int `json:"events"`
	Touches    int `json:"touches"`
	Identities int `json:"identities"`
	// Conversions are the person's conversions, gone from every report (absent when none).
	Conversions int `json:"conversions,omitempty"`
}

// Result is what an erasure answers.
type Result struct {
	UserID      string  `json:"userId,omitempty"`
	AnonymousID string  `json:"anonymousId,omitempty"`
	Removed     Removed `json:"removed"`
	// AnonymousIDs are the ids erased and suppressed with the person: linked anonymous
	// ids used by no one else, and aliases' previousIds.
	AnonymousIDs []string `json:"anonymousIds"`
	// SharedAnonymousIDs are devices also linked to another user: only this person's
	// link and the events and touches carrying their userId were removed from them.
	SharedAnonymousIDs []string `json:"sharedAnonymousIds,omitempty"`
	// UserIDs, for an anonymous id, are the users it was linked to; they are kept.
	UserIDs []string `json:"userIds,omitempty"`
	// AlreadyErased is true when a tombstone existed before this call.
	AlreadyErased bool `json:"alreadyErased"`
}

// plan is what an erasure of a user removes.
type plan struct {
	users  []string // the userId, then exclusively owned aliased previousIds
	anons  []string // anonymous ids erased entirely (sorted)
	shared []string // anonymous ids also linked to someone else (sorted)
	links  []store.LinkRef
}

// User erases userID and everything linked to it alone.
func (e *Eraser) User(ctx context.Context, userID string) (Result, error) {
	hash := store.IDHash(userID)
	res := Result{UserID: userID}
	var err error
	if res.AlreadyErased, err = e.Tombstones.IsErased(ctx, userID); err != nil {
		return Result{}, fmt.Errorf("erase user %s: %w", hash, err)
	}
	// Suppression first: from here on the webhook drops this user's events.
	if err := e.Tombstones.Erase(ctx, userID); err != nil {
		return Result{}, fmt.Errorf("erase user %s: %w", hash, err)
	}
	p, err := e.plan(ctx, userID)
	if err != nil {
		return Result{}, fmt.Errorf("erase user %s: %w", hash, err)
	}
	if err := e.Tombstones.Erase(ctx, append(slices.Clone(p.users), p.anons...)...); err != nil {
		return Result{}, fmt.Errorf("erase user %s: %w", hash, err)
	}

	var eventSources []store.EventSource
	var touchVisitors, touchUsers []string
	for _, u := range p.users {
		eventSources = append(eventSources, store.EventSource{ByUser: true, ID: u})
		touchUsers = append(touchUsers, u)
		touchVisitors = append(touchVisitors, store.VisitorID("", u))
	}
	for _, a := range p.anons {
		eventSources = append(eventSources, store.EventSource{ID: a})
		touchVisitors = append(touchVisitors, a)
	}
	var persons []string
	for _, u := range p.users {
		persons = append(persons, conversion.UserKey(u))
	}
	for _, a := range p.anons {
		persons = append(persons, conversion.AnonymousKey(a))
	}
	var kept []string
	for _, a := range p.shared {
		kept = append(kept, conversion.AnonymousKey(a))
	}
	if res.Removed, err = e.remove(ctx, persons, kept, eventSources, touchVisitors, touchUsers, p.links); err != nil {
		return Result{}, fmt.Errorf("erase user %s: %w", hash, err)
	}
	res.AnonymousIDs = nonNil(without(append(slices.Clone(p.users[1:]), p.anons...), userID))
	slices.Sort(res.AnonymousIDs)
	res.AnonymousIDs = slices.Compact(res.AnonymousIDs)
	res.SharedAnonymousIDs = p.shared
	e.Log.InfoContext(ctx, "user erased", "id_hash", hash, "already_erased", res.AlreadyErased,
		"events", res.Removed.Events, "touches", res.Removed.Touches, "identities", res.Removed.Identities,
		"anonymous_ids", len(res.AnonymousIDs), "shared_anonymous_ids", len(res.SharedAnonymousIDs))
	return res, nil
}

// plan works out which ids a user's erasure covers. Every user partition in the plan
// is read; every anonymous id those partitions link is checked for other owners
// through the byAnonymousId index; an aliased previousId owned by no one else joins
// the users (it was this person's userId before the alias) and its partition is read
// in the next round.
func (e *Eraser) plan(ctx context.Context, userID string) (plan, error) {
	users := []string{userID}
	isUser := map[string]bool{userID: true}
	read := map[string]bool{}
	aliased := map[string]bool{}
	owners := map[string][]string{}
	var candidates []string
	var links []store.LinkRef
	for round := 0; ; round++ {
		if round == maxAliasRounds {
			return plan{}, fmt.Errorf("aliases nest deeper than %d", maxAliasRounds)
		}
		for _, u := range users {
			if read[u] {
				continue
			}
			read[u] = true
			refs, err := e.Identities.PartitionRefs(ctx, u)
			if err != nil {
				return plan{}, err
			}
			// Every item of the partition goes, reserved state included.
			links = append(links, refs...)
			for _, r := range refs {
				if store.Reserved(r.AnonymousID) {
					continue
				}
				if _, seen := owners[r.AnonymousID]; !seen {
					owners[r.AnonymousID] = nil
					candidates = append(candidates, r.AnonymousID)
				}
				aliased[r.AnonymousID] = aliased[r.AnonymousID] || r.Aliased
			}
			// Links naming this user as an anonymous id: another user aliased it.
			byAnon, err := e.Identities.AnonymousRefs(ctx, u)
			if err != nil {
				return plan{}, err
			}
			links = append(links, byAnon...)
		}
		for _, a := range candidates {
			if owners[a] != nil {
				continue
			}
			refs, err := e.Identities.AnonymousRefs(ctx, a)
			if err != nil {
				return plan{}, err
			}
			owners[a] = []string{}
			for _, r := range refs {
				owners[a] = append(owners[a], r.UserID)
			}
		}
		grew := false
		for _, a := range candidates {
			if aliased[a] && !isUser[a] && e.exclusive(owners[a], isUser) {
				users, isUser[a], grew = append(users, a), true, true
			}
		}
		if !grew {
			break
		}
	}

	p := plan{users: users}
	for _, a := range candidates {
		if e.exclusive(owners[a], isUser) {
			p.anons = append(p.anons, a)
			// Every link to it goes: all of them are links from the erased users.
			for _, u := range owners[a] {
				links = append(links, store.LinkRef{UserID: u, AnonymousID: a})
			}
		} else {
			p.shared = append(p.shared, a)
		}
	}
	slices.Sort(p.anons)
	slices.Sort(p.shared)
	p.links = links
	return p, nil
}

// exclusive reports whether every owner of an anonymous id is being erased.
func (e *Eraser) exclusive(owners []string, isUser map[string]bool) bool {
	for _, u := range owners {
		if !isUser[u] {
			return false
		}
	}
	return true
}

// Anonymous erases one anonymous id: its events, its touches and every link to it.
// The users it was linked to are kept, with their other devices. An id some alias named
// as its previousId is also erased as the userId it may have been.
func (e *Eraser) Anonymous(ctx context.Context, anonymousID string) (Result, error) {
	hash := store.IDHash(anonymousID)
	res := Result{AnonymousID: anonymousID, AnonymousIDs: []string{anonymousID}}
	var err error
	if res.AlreadyErased, err = e.Tombstones.IsErased(ctx, anonymousID); err != nil {
		return Result{}, fmt.Errorf("erase anonymous id %s: %w", hash, err)
	}
	if err := e.Tombstones.Erase(ctx, anonymousID); err != nil {
		return Result{}, fmt.Errorf("erase anonymous id %s: %w", hash, err)
	}
	links, err := e.Identities.AnonymousRefs(ctx, anonymousID)
	if err != nil {
		return Result{}, fmt.Errorf("erase anonymous id %s: %w", hash, err)
	}
	sources, visitors, touchUsers := []store.EventSource{{ID: anonymousID}}, []string{anonymousID}, []string(nil)
	persons := []string{conversion.AnonymousKey(anonymousID)}
	formerUser := false
	for _, l := range links {
		res.UserIDs = append(res.UserIDs, l.UserID)
		formerUser = formerUser || l.Aliased
	}
	if formerUser {
		// An alias's previousId may have been a userId: readers then also take what is
		// keyed by it as a userId (package people) to be this id's, so that goes too:
		// its events and touches as a userId, and its own partition of links.
		sources = append(sources, store.EventSource{ByUser: true, ID: anonymousID})
		visitors = append(visitors, store.VisitorID("", anonymousID))
		touchUsers = append(touchUsers, anonymousID)
		persons = append(persons, conversion.UserKey(anonymousID))
		own, err := e.Identities.PartitionRefs(ctx, anonymousID)
		if err != nil {
			return Result{}, fmt.Errorf("erase anonymous id %s: %w", hash, err)
		}
		links = append(links, own...)
	}
	var kept []string
	for _, u := range res.UserIDs {
		kept = append(kept, conversion.UserKey(u))
	}
	res.Removed, err = e.remove(ctx, persons, kept, sources, visitors, touchUsers, links)
	if err != nil {
		return Result{}, fmt.Errorf("erase anonymous id %s: %w", hash, err)
	}
	e.Log.InfoContext(ctx, "anonymous id erased", "id_hash", hash, "already_erased", res.AlreadyErased,
		"events", res.Removed.Events, "touches", res.Removed.Touches, "identities", res.Removed.Identities,
		"linked_users", len(res.UserIDs))
	return res, nil
}

// remove deletes the conversions of persons, events, then touches, then credits the
// conversions of the kept persons again without those touches, then deletes identity
// links: the links last, since they are how a retry finds the rest.
func (e *Eraser) remove(ctx context.Context, persons, kept []string, sources []store.EventSource, visitors, touchUsers []string, links []store.LinkRef) (Removed, error) {
	var n Removed
	if e.Conversions != nil {
		var err error
		if n.Conversions, err = e.Conversions(ctx, persons); err != nil {
			return n, err
		}
	}
	var ids []string
	for _, src := range sources {
		got, err := e.Events.MessageIDs(ctx, src)
		if err != nil {
			return n, err
		}
		ids = append(ids, got...)
	}
	var err error
	if n.Events, err = e.Events.Delete(ctx, ids); err != nil {
		return n, err
	}

	var touches []store.TouchRef
	for _, v := range visitors {
		got, err := e.Touches.VisitorRefs(ctx, v)
		if err != nil {
			return n, err
		}
		touches = append(touches, got...)
	}
	for _, u := range touchUsers {
		got, err := e.Touches.UserRefs(ctx, u)
		if err != nil {
			return n, err
		}
		touches = append(touches, got...)
	}
	if n.Touches, err = e.Touches.Delete(ctx, touches); err != nil {
		return n, err
	}
	if e.Recredit != nil && len(kept) > 0 {
		if err := e.Recredit(ctx, kept); err != nil {
			return n, err
		}
	}
	if n.Identities, err = e.Identities.Delete(ctx, links); err != nil {
		return n, err
	}
	return n, nil
}

func without(ids []string, drop string) []string {
	return slices.DeleteFunc(ids, func(id string) bool { return id == drop })
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}
