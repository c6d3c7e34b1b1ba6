// Package ledger keeps the books of conversions: it credits each conversion over its
// person's touches, stores it, recomputes it when the person's touches or links change,
// forgets it on erasure, and keeps the rollups reports read equal to the sum of the
// stored conversions.
//
// Every change follows the same steps, each idempotent, so a failure anywhere is
// repaired by running them again (the stream redelivers): store the conversion, then
// Settle: count the change on its hour and recompute the hour's rollup, count it on its
// day and recompute the day's rollups, and send the write-back.
//
// What tells a rerun that a stored conversion may not be settled yet depends on who
// stored it. A recompute after a touch or link changed (FollowUp, erasure) finds most
// conversions unchanged, so it marks the ones it changes pending (or deleted), and
// Settle clears the mark (or deletes them) last; a rerun stores a pending conversion
// again and settles it. The conversions consumer does the same when it writes credits
// back, so a redelivery sends nothing twice. Without write-back it stores a new
// conversion unmarked: its record is the conversion's only source, so a rerun is always
// a redelivery of that record, which finds the conversion stored and rolls up its hour
// and day again. Redeliveries are rare; clearing a mark costs a write per conversion.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/store"
	"golang.org/x/sync/errgroup"
)

// Store keeps conversions and their rollups (store.Conversions does).
type Store interface {
	Put(ctx context.Context, c conversion.Conversion, pending bool) (version string, wrote bool, err error)
	Get(ctx context.Context, b store.Bucket, messageID string) (st store.Stored, found bool, err error)
	MarkDeleted(ctx context.Context, b store.Bucket, messageID string) error
	Settle(ctx context.Context, b store.Bucket, messageID, version string, deleted bool) error
	ByPerson(ctx context.Context, person string) ([]store.Stored, error)
	RollUpHour(ctx context.Context, b store.Bucket) error
	RollUpDay(ctx context.Context, event, day string) error
}

// People resolves a user's touches over every linked id (people.Resolver does).
type People interface {
	UserTouches(ctx context.Context, userID string) ([]attribution.Touch, error)
}

// Touches lists one visitor's touches (store.Touches does).
type Touches interface {
	ByVisitor(ctx context.Context, visitorID string) ([]attribution.Touch, error)
}

// Links finds the users an anonymous id identified as, ordered by userId (store.Identities does).
type Links interface {
	ByAnonymous(ctx context.Context, anonymousID string) ([]store.Link, error)
}

// Sender delivers messages synchronously, reporting per message (segment.Client does).
type Sender = segment.Sender

var (
	_ Store   = (*store.Conversions)(nil)
	_ People  = (*people.Resolver)(nil)
	_ Touches = (*store.Touches)(nil)
	_ Links   = (*store.Identities)(nil)
	_ Sender  = (*segment.Client)(nil)
)

// concurrency bounds the conversions, hours and days worked on at once.
const concurrency = 8

// each runs fn(0..n-1), at most concurrency at once; the first error cancels the rest
// and is returned.
func each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i := range n {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

// Ledger credits, stores and rolls up conversions.
type Ledger struct {
	Store    Store
	People   People
	Touches  Touches
	Links    Links
	Settings conversion.Settings
	Log      *slog.Logger
	// CreditsEvent, when set with Sender, is the track event each credited touch of a
	// changed conversion is sent to Segment as (CONVERSION_CREDITS_EVENT).
	CreditsEvent string
	Sender       Sender
}

// Change is a stored conversion whose rollups (and write-back) are to be settled.
type Change struct {
	Conversion conversion.Conversion
	Version    string
	// Pending says the conversion is stored marked pending: Settle clears the mark last.
	Pending bool
	// Deleted says the conversion is marked deleted: Settle deletes it last.
	Deleted bool
}

func (c Change) bucket() store.Bucket { return store.BucketOf(c.Conversion) }

// Record credits and stores the conversion in describes, returning the change to
// settle, or nil when there is none. Without write-back, a conversion found stored
// already is returned too: its record is redelivered only when a previous run may have
// failed before settling it (see the package comment).
//
// The touch and link consumers may store a touch or link of the person while this runs:
// they recompute the person's conversions after storing, but they find this one only
// once it is stored. So once stored, the person's links and touches are read again, and
// the conversion recomputed if they changed meanwhile: one of the two always sees the
// other's write. The read before storing only guesses the credits, so that the read
// after usually confirms them: it reads the anonymous id's touches alone, since an
// anonymous conversion rarely comes from a device already linked to a user, and the read
// after finds the links.
func (l *Ledger) Record(ctx context.Context, in conversion.Input) (*Change, error) {
	var last *Change
	for i := range 4 {
		c, err := l.compute(ctx, in, i == 0)
		if err != nil {
			return nil, err
		}
		version, _, err := store.Version(c)
		if err != nil {
			return nil, err
		}
		if last != nil && version == last.Version {
			return last, nil // confirmed
		}
		_, wrote, err := l.Store.Put(ctx, c, l.writesBack())
		if err != nil {
			return nil, err
		}
		if wrote {
			last = &Change{Conversion: c, Version: version, Pending: l.writesBack()}
			continue
		}
		// Stored already: by a run of this record that may have failed before reading
		// the links after storing, so they are read now.
		if last, err = l.stored(ctx, c); last == nil || err != nil {
			return nil, err
		}
	}
	return last, nil
}

// stored is the change to settle for the conversion c that Put found stored already
// (as c and settled, or marked deleted): the stored one when it was stored unmarked, nil
// when it was settled for sure or is being erased.
func (l *Ledger) stored(ctx context.Context, c conversion.Conversion) (*Change, error) {
	if l.writesBack() {
		return nil, nil // stored marked, and the mark is cleared: settled
	}
	st, found, err := l.Store.Get(ctx, store.BucketOf(c), c.MessageID)
	if err != nil {
		return nil, fmt.Errorf("credit conversion %s: %w", c.MessageID, err)
	}
	if !found || st.Deleted {
		return nil, nil
	}
	return &Change{Conversion: st.Conversion, Version: st.Version, Pending: st.Pending}, nil
}

// writesBack says whether changed conversions are sent to Segment.
func (l *Ledger) writesBack() bool { return l.CreditsEvent != "" && l.Sender != nil }

// update computes in and stores it marked pending unless it is the stored, settled
// version. It returns the change to settle, nil when there is none.
func (l *Ledger) update(ctx context.Context, in conversion.Input) (*Change, error) {
	c, err := l.compute(ctx, in, false)
	if err != nil {
		return nil, err
	}
	version, wrote, err := l.Store.Put(ctx, c, true)
	if err != nil || !wrote {
		return nil, err
	}
	return &Change{Conversion: c, Version: version, Pending: true}, nil
}

// compute credits in over its person's touches. A conversion without a userId belongs
// to the first user (by userId) its anonymous id is linked to, once linked: an identify
// often arrives after the conversion it explains. A guess takes such a conversion's
// anonymous id as unlinked, reading its touches alone.
func (l *Ledger) compute(ctx context.Context, in conversion.Input, guess bool) (conversion.Conversion, error) {
	userID := in.UserID
	if userID == "" && in.AnonymousID != "" && guess {
		own, err := l.Touches.ByVisitor(ctx, in.AnonymousID)
		if err != nil {
			return conversion.Conversion{}, fmt.Errorf("credit conversion %s: %w", in.MessageID, err)
		}
		in.Person = conversion.AnonymousKey(in.AnonymousID)
		return conversion.Compute(in, own, l.Settings)
	}
	if userID == "" && in.AnonymousID != "" {
		// Most such conversions come from a device nobody identified yet: its links and
		// its touches are read at once, and the touches left if it turns out linked.
		var links []store.Link
		var own []attribution.Touch
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) { links, err = l.Links.ByAnonymous(gctx, in.AnonymousID); return err })
		g.Go(func() (err error) { own, err = l.Touches.ByVisitor(gctx, in.AnonymousID); return err })
		if err := g.Wait(); err != nil {
			return conversion.Conversion{}, fmt.Errorf("credit conversion %s: %w", in.MessageID, err)
		}
		if len(links) == 0 {
			in.Person = conversion.AnonymousKey(in.AnonymousID)
			return conversion.Compute(in, own, l.Settings)
		}
		userID = links[0].UserID
	}
	in.Person = conversion.UserKey(userID)
	touches, err := l.People.UserTouches(ctx, userID)
	if err != nil {
		return conversion.Conversion{}, fmt.Errorf("credit conversion %s: %w", in.MessageID, err)
	}
	return conversion.Compute(in, touches, l.Settings)
}

// inputOf is what a stored conversion was computed from.
func inputOf(c conversion.Conversion) conversion.Input {
	return conversion.Input{
		MessageID: c.MessageID, Event: c.Event, Timestamp: c.Timestamp, Value: c.Value, Currency: c.Currency,
		UserID: c.UserID, AnonymousID: c.AnonymousID,
	}
}

// Recompute credits again the conversions of persons (conversion person keys) whose
// touches or links changed, and returns the changes to settle. An anonymous visitor's
// key also covers the users it is linked to: its touches are theirs.
func (l *Ledger) Recompute(ctx context.Context, persons []string) ([]Change, error) {
	stored, err := l.conversionsOf(ctx, persons, false)
	if err != nil {
		return nil, err
	}
	changes := make([]*Change, len(stored))
	err = each(ctx, len(stored), func(ctx context.Context, i int) error {
		if stored[i].Deleted {
			return nil
		}
		ch, err := l.update(ctx, inputOf(stored[i].Conversion))
		changes[i] = ch
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("recompute conversions: %w", err)
	}
	return compact(changes), nil
}

// Forget marks every conversion of persons deleted and returns the changes to settle;
// for an anonymous visitor that includes the conversions it made as a linked user's.
func (l *Ledger) Forget(ctx context.Context, persons []string) ([]Change, error) {
	stored, err := l.conversionsOf(ctx, persons, true)
	if err != nil {
		return nil, err
	}
	changes := make([]Change, len(stored))
	err = each(ctx, len(stored), func(ctx context.Context, i int) error {
		c := stored[i].Conversion
		changes[i] = Change{Conversion: c, Pending: true, Deleted: true}
		return l.Store.MarkDeleted(ctx, store.BucketOf(c), c.MessageID)
	})
	if err != nil {
		return nil, fmt.Errorf("forget conversions: %w", err)
	}
	return changes, nil
}

// conversionsOf lists the stored conversions of persons, each once. With own, the
// conversions found through an anonymous id's linked users are only those it made.
func (l *Ledger) conversionsOf(ctx context.Context, persons []string, own bool) ([]store.Stored, error) {
	type lookup struct {
		person    string
		anonymous string // when set, keep only conversions made by this anonymous id
	}
	var lookups []lookup
	for _, p := range persons {
		lookups = append(lookups, lookup{person: p})
		_, anon, ok := conversion.ParsePersonKey(p)
		if !ok || anon == "" {
			continue
		}
		links, err := l.Links.ByAnonymous(ctx, anon)
		if err != nil {
			return nil, fmt.Errorf("conversions of %s: %w", p, err)
		}
		for _, link := range links {
			lk := lookup{person: conversion.UserKey(link.UserID)}
			if own {
				lk.anonymous = anon
			}
			lookups = append(lookups, lk)
		}
	}
	results := make([][]store.Stored, len(lookups))
	err := each(ctx, len(lookups), func(ctx context.Context, i int) error {
		var err error
		results[i], err = l.Store.ByPerson(ctx, lookups[i].person)
		return err
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []store.Stored
	for i, rs := range results {
		for _, st := range rs {
			if lookups[i].anonymous != "" && (st.AnonymousID != lookups[i].anonymous || st.UserID != "") {
				continue
			}
			if !seen[st.MessageID] {
				seen[st.MessageID] = true
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// Settle brings the rollups and the write-back up to date with changes, then clears the
// pending marks (or deletes the conversions marked deleted). Hours and days are
// recomputed once each, however many of the changes fall in them.
func (l *Ledger) Settle(ctx context.Context, changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	var buckets []store.Bucket
	type day struct{ event, day string }
	var days []day
	var marked []Change
	for _, ch := range changes {
		b := ch.bucket()
		if !slices.Contains(buckets, b) {
			buckets = append(buckets, b)
		}
		if d := (day{b.Event, b.Day}); !slices.Contains(days, d) {
			days = append(days, d)
		}
		if ch.Pending || ch.Deleted {
			marked = append(marked, ch)
		}
	}
	// Each hour's change is counted after its conversions were stored and before its
	// rollup is recomputed: see store.Conversions.
	err := each(ctx, len(buckets), func(ctx context.Context, i int) error {
		return l.Store.RollUpHour(ctx, buckets[i])
	})
	if err != nil {
		return fmt.Errorf("settle conversions: %w", err)
	}
	err = each(ctx, len(days), func(ctx context.Context, i int) error {
		return l.Store.RollUpDay(ctx, days[i].event, days[i].day)
	})
	if err != nil {
		return fmt.Errorf("settle conversions: %w", err)
	}
	if err := l.writeBack(ctx, changes); err != nil {
		return fmt.Errorf("settle conversions: %w", err)
	}
	err = each(ctx, len(marked), func(ctx context.Context, i int) error {
		ch := marked[i]
		return l.Store.Settle(ctx, ch.bucket(), ch.Conversion.MessageID, ch.Version, ch.Deleted)
	})
	if err != nil {
		return fmt.Errorf("settle conversions: %w", err)
	}
	return nil
}

// writeBack sends each changed conversion's credited touches to Segment.
func (l *Ledger) writeBack(ctx context.Context, changes []Change) error {
	if !l.writesBack() {
		return nil
	}
	var msgs []segment.Message
	for _, ch := range changes {
		if !ch.Deleted {
			msgs = append(msgs, CreditMessages(ch.Conversion, l.CreditsEvent)...)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	var errs []error
	for i, r := range l.Sender.Send(ctx, msgs) {
		if !r.Sent {
			errs = append(errs, fmt.Errorf("send %s: %w", msgs[i].MessageID, cmpErr(r.Err)))
		}
	}
	return errors.Join(errs...)
}

func cmpErr(err error) error {
	if err == nil {
		return errors.New("not sent")
	}
	return err
}

func compact(changes []*Change) []Change {
	out := make([]Change, 0, len(changes))
	for _, ch := range changes {
		if ch != nil {
			out = append(out, *ch)
		}
	}
	return out
}
