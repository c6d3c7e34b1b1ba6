// Package precompute refreshes the data-driven models (markov, shapley) of the reports:
// it reads every identity link and every touch of the served ranges once, with parallel
// Scans, and the conversions of those days with one Query per hour bucket, computes each
// conversion event's rows per range and dimension (package datadriven) and stores them in
// the conversions table, where a report reads them with one GetItem. A scheduled Lambda
// runs it daily; `attribution report -refresh` runs it on demand.
package precompute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/datadriven"
	"github.com/attribution-dev/attribution/internal/store"
)

// TrailingDays are the lengths of the ranges the scheduled refresh serves: the last 7,
// 30 and 90 days, each ending today (what a report asks for by default) and ending
// yesterday (whole days), in the report time zone.
var TrailingDays = []int{7, 30, 90}

// MaxRangeDays bounds a range, as reports bound theirs.
const MaxRangeDays = 731

// ErrInvalidRange is returned (wrapped) for a range that cannot be computed.
var ErrInvalidRange = errors.New("invalid range")

// TrailingRanges are the ranges of TrailingDays ending the day of now in loc, then those
// ending the day before.
func TrailingRanges(now time.Time, loc *time.Location) []datadriven.Range {
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	var out []datadriven.Range
	for _, end := range []time.Time{today, today.AddDate(0, 0, -1)} {
		for _, n := range TrailingDays {
			out = append(out, datadriven.Range{From: end.AddDate(0, 0, 1-n).Format(conversion.DayLayout), To: end.Format(conversion.DayLayout)})
		}
	}
	return out
}

// Refresher computes and stores the data-driven rows.
type Refresher struct {
	Touches     *store.Touches
	Identities  *store.Identities
	Conversions *store.Conversions
	// Events are the conversion events (CONVERSION_EVENTS).
	Events []string
	// Location is the report time zone: it decides which day a touch falls on.
	Location *time.Location
	// Segments is the parallel Scan's segments (store.DefaultScanSegments when 0).
	Segments int
	Now      func() time.Time
	Log      *slog.Logger
}

// Summary says what a refresh read and wrote.
type Summary struct {
	Ranges     []datadriven.Range `json:"ranges"`
	ComputedAt time.Time          `json:"computedAt"`
	Links      int                `json:"links"`
	Touches    int                `json:"touches"`
	People     int                `json:"people"`
	// Conversions counts each event's conversions read over the union of the ranges.
	Conversions map[string]int `json:"conversions"`
	// Items is how many precomputed items were written, Pruned how many ranges removed.
	Items  int `json:"items"`
	Pruned int `json:"pruned"`
}

// Refresh computes every event's rows over each of ranges and stores them. With prune,
// every other range stored for an event is deleted: the scheduled refresh keeps exactly
// its trailing ranges, so an erased person's share of a precomputation lasts at most
// until the next one.
func (r *Refresher) Refresh(ctx context.Context, ranges []datadriven.Range, prune bool) (Summary, error) {
	sum := Summary{Ranges: ranges, ComputedAt: r.now().UTC().Truncate(time.Millisecond), Conversions: map[string]int{}}
	if len(ranges) == 0 || len(r.Events) == 0 {
		return sum, nil
	}
	first, last, err := r.span(ranges)
	if err != nil {
		return sum, err
	}
	since := first
	until := last.AddDate(0, 0, 1)
	segments := r.Segments
	if segments <= 0 {
		segments = store.DefaultScanSegments
	}

	started := time.Now()
	var links []datadriven.Link
	err = r.Identities.ScanLinks(ctx, segments, func(l store.Link) error {
		links = append(links, datadriven.Link{UserID: l.UserID, AnonymousID: l.AnonymousID, Aliased: l.Aliased})
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("refresh data-driven models: %w", err)
	}
	sum.Links = len(links)
	owners := datadriven.NewOwners(links)

	labels := newInterner()
	people := map[string][]datadriven.Touch{}
	err = r.Touches.Scan(ctx, since, until, segments, func(t attribution.Touch) error {
		sum.Touches++
		dt := r.touch(t.MessageID, t.Timestamp, labels.all(conversion.Labels(t)))
		for _, p := range owners.Persons(store.VisitorID(t.AnonymousID, t.UserID), t.UserID) {
			people[labels.one(p)] = append(people[p], dt)
		}
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("refresh data-driven models: %w", err)
	}
	sum.People = len(people)
	r.log().Info("data-driven models: links and touches read", "links", sum.Links, "touches", sum.Touches,
		"people", sum.People, "ms", time.Since(started).Milliseconds())

	var days []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(conversion.DayLayout))
	}
	for _, ev := range r.Events {
		var conversions []datadriven.Conversion
		err := r.Conversions.InDays(ctx, ev, days, func(c conversion.Conversion) error {
			dc := datadriven.Conversion{Person: c.Person, Day: c.Day, Value: c.Value, Currency: c.Currency,
				Touches: make([]datadriven.Touch, len(c.Touches))}
			for i, t := range c.Touches {
				dc.Touches[i] = r.touch(t.MessageID, t.Timestamp, labels.all(storedLabels(t)))
			}
			conversions = append(conversions, dc)
			return nil
		})
		if err != nil {
			return sum, fmt.Errorf("refresh data-driven models of %s: %w", ev, err)
		}
		sum.Conversions[ev] = len(conversions)
		r.log().Info("data-driven models: conversions read", "event", ev, "conversions", len(conversions),
			"days", len(days), "ms", time.Since(started).Milliseconds())
		for _, rg := range ranges {
			res, err := datadriven.Compute(datadriven.Input{Range: rg, Dimensions: conversion.Dimensions, Conversions: conversions, People: people})
			if err != nil {
				return sum, fmt.Errorf("refresh data-driven models of %s: %w", ev, err)
			}
			for _, dim := range conversion.Dimensions {
				err := r.Conversions.PutPrecomputed(ctx, store.Precomputed{Event: ev, Range: rg, Dimension: dim, ComputedAt: sum.ComputedAt,
					Conversions: res.Conversions, Nulls: res.Nulls, Rows: res.Rows[dim]})
				if err != nil {
					return sum, fmt.Errorf("refresh data-driven models of %s: %w", ev, err)
				}
				sum.Items++
			}
			r.log().Info("data-driven models computed", "event", ev, "from", rg.From, "to", rg.To,
				"conversions", res.Conversions, "nulls", res.Nulls, "ms", time.Since(started).Milliseconds())
		}
		if prune {
			n, err := r.prune(ctx, ev, ranges)
			sum.Pruned += n
			if err != nil {
				return sum, fmt.Errorf("refresh data-driven models of %s: %w", ev, err)
			}
		}
	}
	return sum, nil
}

// Scheduled is the daily refresh, as the EventBridge schedule invokes it: the trailing
// ranges of the day the event was scheduled for (so a retried invoke computes the same
// ranges), every other range pruned.
func (r *Refresher) Scheduled(ctx context.Context, ev events.EventBridgeEvent) (Summary, error) {
	at := ev.Time
	if at.IsZero() {
		at = r.now()
	}
	sum, err := r.Refresh(ctx, TrailingRanges(at, r.Location), true)
	if err != nil {
		r.log().Error("data-driven models not refreshed", "err", err)
		return sum, err
	}
	r.log().Info("data-driven models refreshed", "ranges", len(sum.Ranges), "links", sum.Links, "touches", sum.Touches,
		"people", sum.People, "items", sum.Items, "pruned", sum.Pruned)
	return sum, nil
}

func (r *Refresher) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Refresher) prune(ctx context.Context, ev string, keep []datadriven.Range) (int, error) {
	stored, err := r.Conversions.PrecomputedRanges(ctx, ev)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range stored {
		if slices.Contains(keep, s.Range) {
			continue
		}
		if err := r.Conversions.DeletePrecomputed(ctx, ev, s.Range, conversion.Dimensions); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// storedLabels are a credited touch's rows as its conversion stored them, so the
// data-driven rows line up with the rule-based ones; a conversion stored before a
// dimension was added has its touch labelled again from the stored description.
func storedLabels(t conversion.Touch) []string {
	if len(t.Labels) == len(conversion.Dimensions) {
		return t.Labels
	}
	return conversion.Labels(attribution.Touch{MessageID: t.MessageID, AnonymousID: t.AnonymousID, UserID: t.UserID,
		Timestamp: t.Timestamp, URL: t.URL, Referrer: t.Referrer, Description: t.Description})
}

func (r *Refresher) touch(id string, at time.Time, labels []string) datadriven.Touch {
	return datadriven.Touch{MessageID: id, Time: at, Day: at.In(r.Location).Format(conversion.DayLayout), Labels: labels}
}

// span checks ranges and returns the start of the first day and of the last, in the
// report time zone.
func (r *Refresher) span(ranges []datadriven.Range) (first, last time.Time, err error) {
	for i, rg := range ranges {
		from, err1 := time.ParseInLocation(conversion.DayLayout, rg.From, r.Location)
		to, err2 := time.ParseInLocation(conversion.DayLayout, rg.To, r.Location)
		switch {
		case err1 != nil || err2 != nil:
			return first, last, fmt.Errorf("%w %s: dates are YYYY-MM-DD", ErrInvalidRange, rg)
		case from.After(to):
			return first, last, fmt.Errorf("%w %s: from is after to", ErrInvalidRange, rg)
		case from.AddDate(0, 0, MaxRangeDays-1).Before(to):
			return first, last, fmt.Errorf("%w %s: more than %d days", ErrInvalidRange, rg, MaxRangeDays)
		}
		if i == 0 || from.Before(first) {
			first = from
		}
		if i == 0 || to.After(last) {
			last = to
		}
	}
	return first, last, nil
}

func (r *Refresher) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// interner keeps one copy of each label and person key: millions of touches share a few
// thousand distinct strings.
type interner map[string]string

func newInterner() interner { return interner{} }

func (in interner) one(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	in[s] = s
	return s
}

func (in interner) all(ss []string) []string {
	for i, s := range ss {
		ss[i] = in.one(s)
	}
	return ss
}
